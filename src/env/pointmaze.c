/* pointmaze.c — a 2-D point in an S-shaped corridor maze with a sparse goal reward: a toy
 * AntMaze whose datasets hold only short segments, so reaching the goal needs stitching
 * (docs/environments.md).
 *
 * State x[0], x[1] = (x, y) position; observation = the same as float32. Action a ∈ [−1, 1]²
 * (clipped) is a velocity: the agent moves by POINTMAZE_SPEED · a, first along x then along y,
 * each axis stopped at the first wall its square would enter. Reward 1 and termination when the
 * centre is within POINTMAZE_GOAL_RADIUS of the goal cell's centre, else 0; 300-step limit. */
#include "env/pointmaze.h"

#include <math.h>

#include "env/builtin.h"

static const char MAZE[POINTMAZE_ROWS][POINTMAZE_COLS + 1] = {
    "#######",
    "#S....#",
    "#####.#",
    "#.....#",
    "#.#####",
    "#....G#",
    "#######",
};

/* The corridor from S to G, cell by cell ({row, col}); tests check it against MAZE. */
static const int PATH[POINTMAZE_PATH_LEN][2] = {
    {1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}, {2, 5},
    {3, 5}, {3, 4}, {3, 3}, {3, 2}, {3, 1}, {4, 1},
    {5, 1}, {5, 2}, {5, 3}, {5, 4}, {5, 5},
};

/* Keeps a blocked square this far from the wall it touches, so that the cell arithmetic
 * below never sees an edge exactly on a cell boundary after rounding. */
#define WALL_GAP 1e-6

int pointmaze_is_wall(int row, int col) {
    if (row < 0 || row >= POINTMAZE_ROWS || col < 0 || col >= POINTMAZE_COLS) return 1;
    return MAZE[row][col] == '#';
}

void pointmaze_path_cell(int k, int *row, int *col) {
    if (k < 0) k = 0;
    if (k >= POINTMAZE_PATH_LEN) k = POINTMAZE_PATH_LEN - 1;
    *row = PATH[k][0];
    *col = PATH[k][1];
}

int pointmaze_path_index(double x, double y) {
    int col = (int)floor(x), row = (int)floor(y);
    for (int k = 0; k < POINTMAZE_PATH_LEN; k++)
        if (PATH[k][0] == row && PATH[k][1] == col) return k;
    return -1;
}

/* Does the square [x−R, x+R) × [y−R, y+R) overlap a wall cell? */
static int square_hits_wall(double x, double y) {
    int c0 = (int)floor(x - POINTMAZE_RADIUS), c1 = (int)ceil(x + POINTMAZE_RADIUS) - 1;
    int r0 = (int)floor(y - POINTMAZE_RADIUS), r1 = (int)ceil(y + POINTMAZE_RADIUS) - 1;
    for (int r = r0; r <= r1; r++)
        for (int c = c0; c <= c1; c++)
            if (pointmaze_is_wall(r, c)) return 1;
    return 0;
}

/* Moves coordinate `axis` (0 = x, 1 = y) of p by delta, stopping the square against the
 * first wall it would enter. |delta| < 1, so at most one new cell line is crossed; the square
 * starts clear of walls, so only the leading edge matters. */
static void move_axis(double *p, int axis, double delta) {
    double q[2] = {p[0], p[1]};
    q[axis] += delta;
    if (!square_hits_wall(q[0], q[1])) {
        p[axis] = q[axis];
        return;
    }
    if (delta > 0)  /* the wall's cell line starts at the integer just past the old leading edge */
        p[axis] = ceil(p[axis] + POINTMAZE_RADIUS) - POINTMAZE_RADIUS - WALL_GAP;
    else
        p[axis] = floor(p[axis] - POINTMAZE_RADIUS) + POINTMAZE_RADIUS + WALL_GAP;
}

static void goal_centre(double *gx, double *gy) {
    *gx = PATH[POINTMAZE_PATH_LEN - 1][1] + 0.5;
    *gy = PATH[POINTMAZE_PATH_LEN - 1][0] + 0.5;
}

void pointmaze_reset_at(EnvState *st, int k, EnvRng *rng) {
    int row, col;
    pointmaze_path_cell(k, &row, &col);
    st->x[0] = col + 0.5 + env_rng_uniform(rng, -POINTMAZE_START_JITTER, POINTMAZE_START_JITTER);
    st->x[1] = row + 0.5 + env_rng_uniform(rng, -POINTMAZE_START_JITTER, POINTMAZE_START_JITTER);
    st->x[2] = st->x[3] = 0;
    st->t = 0;
}

static void pointmaze_reset(EnvState *st, EnvRng *rng) { pointmaze_reset_at(st, 0, rng); }

static void pointmaze_observe(const EnvState *st, float *obs) {
    obs[0] = (float)st->x[0];
    obs[1] = (float)st->x[1];
}

static double clip1(double v) { return v < -1.0 ? -1.0 : v > 1.0 ? 1.0 : v; }

static void pointmaze_dynamics(EnvState *st, const float *action, EnvStep *out) {
    double p[2] = {st->x[0], st->x[1]};
    move_axis(p, 0, POINTMAZE_SPEED * clip1(action[0]));
    move_axis(p, 1, POINTMAZE_SPEED * clip1(action[1]));
    st->x[0] = p[0];
    st->x[1] = p[1];
    double gx, gy;
    goal_centre(&gx, &gy);
    int reached = hypot(p[0] - gx, p[1] - gy) <= POINTMAZE_GOAL_RADIUS;
    out->reward = reached ? 1.0 : 0.0;
    out->terminated = reached;
    out->success = reached;
}

void pointmaze_follow(const EnvState *st, int target, float *action) {
    if (target < 0) target = 0;
    if (target >= POINTMAZE_PATH_LEN) target = POINTMAZE_PATH_LEN - 1;
    int k = pointmaze_path_index(st->x[0], st->x[1]);
    int aim = k < 0 || k == target ? target : k + (target > k ? 1 : -1);
    double ax = PATH[aim][1] + 0.5, ay = PATH[aim][0] + 0.5;
    /* full speed towards the next cell's centre, slowing only in the last step before it */
    action[0] = (float)clip1((ax - st->x[0]) / POINTMAZE_SPEED);
    action[1] = (float)clip1((ay - st->x[1]) / POINTMAZE_SPEED);
}

static void pointmaze_expert(const EnvState *st, float *action) {
    pointmaze_follow(st, POINTMAZE_PATH_LEN - 1, action);
}

const Env env_pointmaze = {
    .name = "pointmaze",
    .summary = "S-shaped corridor maze, sparse goal reward, 300 steps (needs stitching)",
    .state_dim = 2, .obs_dim = 2, .act_dim = 2,
    .max_action = 1.0f,
    .max_steps = 300,
    .has_success = 1,
    /* the return is the success (0 or 1); measured by
     *   cuiql gen --env pointmaze --behavior random --episodes 1000 --seed 0 --out /tmp/q.h5
     * (0 successes in 1000) and --behavior expert (1000 of 1000), so the score is 100 · success */
    .random_return = 0.0,
    .expert_return = 1.0,
    .reset = pointmaze_reset,
    .observe = pointmaze_observe,
    .dynamics = pointmaze_dynamics,
    .expert = pointmaze_expert,
};
