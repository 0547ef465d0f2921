/* test_env_dynamics.c — the built-in environments on their own: lookup, resets, a hand-computed
 * pendulum step, the time limit, the pointmaze's walls and goal, and the scripted experts'
 * returns. (Agreement with gymnasium step for step is test_gym_match.py's job.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/env.h"
#include "env/pointmaze.h"
#include "test_util.h"

static void test_lookup(void) {
    CHECK(env_count() == 3, "env_count %d", env_count());
    const char *names[] = {"pendulum", "mountaincar", "pointmaze"};
    for (int i = 0; i < 3; i++) {
        const Env *e = env_lookup(names[i]);
        CHECK(e && !strcmp(e->name, names[i]), "lookup %s", names[i]);
    }
    Error err;
    CHECK(env_find("cartpole", &err) == NULL, "unknown env found");
    CHECK(!strcmp(err.msg, "unknown environment 'cartpole' (known: pendulum, mountaincar, pointmaze)"), "message '%s'",
          err.msg);
    CHECK(env_lookup(NULL) == NULL && env_lookup("") == NULL, "NULL / empty name");
}

static void test_resets(void) {
    const Env *pend = env_lookup("pendulum"), *mc = env_lookup("mountaincar"), *pm = env_lookup("pointmaze");
    double lo_th = 1e9, hi_th = -1e9, lo_p = 1e9, hi_p = -1e9;
    for (int e = 0; e < 2000; e++) {
        EnvRng rng;
        EnvState a, b;
        env_rng_init(&rng, 3, ENV_STREAM_EVAL, e);
        pend->reset(&a, &rng);
        env_rng_init(&rng, 3, ENV_STREAM_EVAL, e);
        pend->reset(&b, &rng);
        CHECK(a.x[0] == b.x[0] && a.x[1] == b.x[1] && a.t == 0, "pendulum reset not deterministic at %d", e);
        CHECK(fabs(a.x[0]) <= M_PI && fabs(a.x[1]) <= 1.0, "pendulum reset out of range: %g %g", a.x[0], a.x[1]);
        lo_th = fmin(lo_th, a.x[0]);
        hi_th = fmax(hi_th, a.x[0]);
        env_rng_init(&rng, 3, ENV_STREAM_EVAL, e);
        mc->reset(&a, &rng);
        CHECK(a.x[0] >= -0.6 && a.x[0] <= -0.4 && a.x[1] == 0.0, "mountaincar reset %g %g", a.x[0], a.x[1]);
        lo_p = fmin(lo_p, a.x[0]);
        hi_p = fmax(hi_p, a.x[0]);
        env_rng_init(&rng, 3, ENV_STREAM_EVAL, e);
        pm->reset(&a, &rng);
        CHECK(pointmaze_path_index(a.x[0], a.x[1]) == 0, "pointmaze starts outside the start cell: %g %g", a.x[0],
              a.x[1]);
    }
    /* the draws cover their ranges */
    CHECK(lo_th < -3.0 && hi_th > 3.0, "pendulum θ range [%g, %g]", lo_th, hi_th);
    CHECK(lo_p < -0.59 && hi_p > -0.41, "mountaincar position range [%g, %g]", lo_p, hi_p);
    /* streams and episodes give different starts */
    EnvRng r1, r2, r3;
    EnvState s1, s2, s3;
    env_rng_init(&r1, 3, ENV_STREAM_EVAL, 0);
    env_rng_init(&r2, 3, ENV_STREAM_GEN, 0);
    env_rng_init(&r3, 4, ENV_STREAM_EVAL, 0);
    pend->reset(&s1, &r1);
    pend->reset(&s2, &r2);
    pend->reset(&s3, &r3);
    CHECK(s1.x[0] != s2.x[0] && s1.x[0] != s3.x[0], "streams / seeds share start states");
    /* normal draws: mean 0, variance 1 */
    EnvRng rng;
    env_rng_init(&rng, 9, ENV_STREAM_GEN, 0);
    double m = 0, v = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double z = env_rng_normal(&rng);
        m += z;
        v += z * z;
    }
    m /= n;
    v = v / n - m * m;
    CHECK(fabs(m) < 0.01 && fabs(v - 1.0) < 0.02, "normal draws: mean %g variance %g", m, v);
}

static void test_pendulum_step(void) {
    const Env *env = env_lookup("pendulum");
    EnvState st = {{0.0, 0.0}, 0};
    float u = 1.0f;
    EnvStep r;
    env_step(env, &st, &u, &r);
    /* θ̇' = 0 + (15 sin 0 + 3 · 1) · 0.05 = 0.15, θ' = 0.15 · 0.05, cost = 0.001 · 1² */
    CHECK(fabs(st.x[1] - 0.15) < 1e-15 && fabs(st.x[0] - 0.0075) < 1e-15, "state %.17g %.17g", st.x[0], st.x[1]);
    CHECK(fabs(r.reward + 0.001) < 1e-15, "reward %.17g", r.reward);
    /* the torque is clipped to 2 in the dynamics and in the cost; θ is normalised in the cost */
    st = (EnvState){{2.0 * M_PI + 0.5, 1.0}, 0};
    u = 7.0f;
    env_step(env, &st, &u, &r);
    double thdot = 1.0 + (15.0 * sin(2.0 * M_PI + 0.5) + 3.0 * 2.0) * 0.05;
    CHECK(fabs(st.x[1] - thdot) < 1e-12, "clipped torque: θ̇ %.17g vs %.17g", st.x[1], thdot);
    CHECK(fabs(r.reward + (0.25 + 0.1 + 0.004)) < 1e-12, "clipped cost %.17g", r.reward);
    float obs[3];
    env->observe(&st, obs);
    CHECK(obs[0] == (float)cos(st.x[0]) && obs[1] == (float)sin(st.x[0]) && obs[2] == (float)st.x[1], "observation");
}

static void test_time_limits(void) {
    for (int i = 0; i < env_count(); i++) {
        const Env *env = env_at(i);
        EnvRng rng;
        env_rng_init(&rng, 1, ENV_STREAM_EVAL, 0);
        EnvState st;
        env->reset(&st, &rng);
        float zero[ENV_MAX_DIM] = {0};
        EnvStep r;
        int steps = 0, terminated = 0;
        do {
            env_step(env, &st, zero, &r);
            steps++;
            terminated |= r.terminated;
        } while (!r.terminated && !r.truncated);
        CHECK(steps == env->max_steps && r.truncated && !terminated, "%s: zero action ran %d steps (limit %d)",
              env->name, steps, env->max_steps);
    }
    CHECK(env_lookup("pendulum")->max_steps == 200 && env_lookup("mountaincar")->max_steps == 999 &&
          env_lookup("pointmaze")->max_steps == 300, "time limits");
}

static void test_pointmaze_geometry(void) {
    int free_cells = 0;
    for (int r = 0; r < POINTMAZE_ROWS; r++)
        for (int c = 0; c < POINTMAZE_COLS; c++) free_cells += !pointmaze_is_wall(r, c);
    CHECK(free_cells == POINTMAZE_PATH_LEN, "%d free cells, path has %d", free_cells, POINTMAZE_PATH_LEN);
    CHECK(pointmaze_is_wall(-1, 3) && pointmaze_is_wall(3, POINTMAZE_COLS), "outside the grid is wall");
    for (int k = 0; k < POINTMAZE_PATH_LEN; k++) {
        int r, c;
        pointmaze_path_cell(k, &r, &c);
        CHECK(!pointmaze_is_wall(r, c), "path cell %d (%d, %d) is a wall", k, r, c);
        CHECK(pointmaze_path_index(c + 0.5, r + 0.5) == k, "path index of cell %d", k);
        if (k > 0) {
            int pr, pc;
            pointmaze_path_cell(k - 1, &pr, &pc);
            CHECK(abs(pr - r) + abs(pc - c) == 1, "path cells %d and %d are not adjacent", k - 1, k);
        }
    }
}

/* Does the agent's square overlap a wall? */
static int overlaps_wall(double x, double y) {
    double R = POINTMAZE_RADIUS;
    double xs[2] = {x - R, x + R - 1e-12}, ys[2] = {y - R, y + R - 1e-12};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (pointmaze_is_wall((int)floor(ys[j]), (int)floor(xs[i]))) return 1;
    return 0;
}

static void test_pointmaze_walls(void) {
    const Env *env = env_lookup("pointmaze");
    EnvStep r;
    /* up and left from the start cell: the outer walls stop the square at x, y = 1 + R */
    EnvState st = {{1.5, 1.5}, 0};
    float up_left[2] = {-1.0f, -1.0f};
    for (int i = 0; i < 10; i++) env_step(env, &st, up_left, &r);
    CHECK(fabs(st.x[0] - (1.0 + POINTMAZE_RADIUS)) < 1e-5 && fabs(st.x[1] - (1.0 + POINTMAZE_RADIUS)) < 1e-5,
          "corner: %g %g", st.x[0], st.x[1]);
    CHECK(r.reward == 0 && !r.terminated, "no reward against a wall");
    /* down from the start cell: row 2 is wall below it */
    st = (EnvState){{1.5, 1.5}, 0};
    float down[2] = {0.0f, 1.0f};
    for (int i = 0; i < 10; i++) env_step(env, &st, down, &r);
    CHECK(fabs(st.x[1] - (2.0 - POINTMAZE_RADIUS)) < 1e-5 && st.x[0] == 1.5, "down: %g %g", st.x[0], st.x[1]);
    /* axis-separated: pushing right and down in the top-right corner cell, x stops at the wall
     * while y goes on into the free cell below */
    st = (EnvState){{5.5, 1.5}, 0};
    float right_down[2] = {1.0f, 1.0f};
    env_step(env, &st, right_down, &r);
    env_step(env, &st, right_down, &r);
    env_step(env, &st, right_down, &r);
    CHECK(fabs(st.x[0] - (6.0 - POINTMAZE_RADIUS)) < 1e-5 && fabs(st.x[1] - 2.1) < 1e-9, "slide: %g %g", st.x[0],
          st.x[1]);
    /* a long random walk never overlaps a wall */
    EnvRng rng;
    env_rng_init(&rng, 5, ENV_STREAM_GEN, 0);
    env->reset(&st, &rng);
    int bad = 0, far = 0;
    for (int i = 0; i < 100000; i++) {
        float a[2] = {(float)env_rng_uniform(&rng, -1.5, 1.5), (float)env_rng_uniform(&rng, -1.5, 1.5)};
        double before[2] = {st.x[0], st.x[1]};
        env->dynamics(&st, a, &r);
        bad += overlaps_wall(st.x[0], st.x[1]);
        far += fabs(st.x[0] - before[0]) > POINTMAZE_SPEED + 1e-12 || fabs(st.x[1] - before[1]) > POINTMAZE_SPEED + 1e-12;
        if (r.terminated) env->reset(&st, &rng);
    }
    CHECK(bad == 0, "the square overlapped a wall %d times", bad);
    CHECK(far == 0, "%d moves were longer than the speed (the action is clipped)", far);
}

static void test_pointmaze_goal(void) {
    const Env *env = env_lookup("pointmaze");
    EnvState st = {{4.5, 5.5}, 0};
    float right[2] = {1.0f, 0.0f};
    EnvStep r;
    env_step(env, &st, right, &r); /* 4.7: 0.8 from the goal's centre (5.5, 5.5) */
    CHECK(r.reward == 0 && !r.terminated, "reward %g at %g", r.reward, st.x[0]);
    env_step(env, &st, right, &r); /* 4.9 */
    CHECK(r.reward == 0 && !r.terminated, "reward %g at %g", r.reward, st.x[0]);
    env_step(env, &st, right, &r); /* 5.1: inside the radius 0.5 */
    CHECK(r.reward == 1.0 && r.terminated && r.success && !r.truncated, "goal: reward %g terminated %d at %g", r.reward,
          r.terminated, st.x[0]);
}

/* Runs the env's expert for `episodes` evaluation episodes. */
static void run_expert(const Env *env, int episodes, double *mean_return, double *min_return, int *successes,
                       double *max_final_angle) {
    *mean_return = 0;
    *min_return = INFINITY;
    *successes = 0;
    *max_final_angle = 0;
    for (int e = 0; e < episodes; e++) {
        EnvRng rng;
        env_rng_init(&rng, 2024, ENV_STREAM_EVAL, e);
        EnvState st;
        env->reset(&st, &rng);
        double ret = 0;
        int success = 0;
        EnvStep r;
        do {
            float a[ENV_MAX_DIM];
            env->expert(&st, a);
            env_step(env, &st, a, &r);
            ret += r.reward;
            success |= r.success;
            if (st.t > env->max_steps - 50) {  /* the last 50 steps: how upright is the pendulum */
                double th = remainder(st.x[0], 2.0 * M_PI);
                if (fabs(th) > *max_final_angle) *max_final_angle = fabs(th);
            }
        } while (!r.terminated && !r.truncated);
        *mean_return += ret / episodes;
        *min_return = fmin(*min_return, ret);
        *successes += success;
    }
}

static void test_experts(void) {
    double mean, min, angle;
    int succ;
    /* thresholds: the measured means (env tables) with room for a different sample of starts */
    run_expert(env_lookup("pendulum"), 100, &mean, &min, &succ, &angle);
    printf("pendulum expert: mean %.2f min %.2f, largest angle in the last 50 steps %.4f\n", mean, min, angle);
    CHECK(mean > -180.0 && min > -450.0, "pendulum expert: mean %.2f min %.2f", mean, min);
    CHECK(angle < 0.01, "pendulum expert does not balance: |θ| up to %g in the last 50 steps", angle);
    run_expert(env_lookup("mountaincar"), 100, &mean, &min, &succ, &angle);
    printf("mountaincar expert: mean %.2f min %.2f success %d/100\n", mean, min, succ);
    CHECK(succ == 100 && min > 88.0, "mountaincar expert: %d successes, min return %.2f", succ, min);
    run_expert(env_lookup("pointmaze"), 100, &mean, &min, &succ, &angle);
    printf("pointmaze expert: success %d/100\n", succ);
    CHECK(succ == 100, "pointmaze expert: %d successes", succ);
    /* the reference returns are the measured ones, ordered */
    for (int i = 0; i < env_count(); i++)
        CHECK(env_at(i)->expert_return > env_at(i)->random_return, "%s: expert %.4f <= random %.4f", env_at(i)->name,
              env_at(i)->expert_return, env_at(i)->random_return);
    const Env *p = env_lookup("pendulum");
    CHECK(fabs(env_normalized_score(p, p->expert_return) - 100.0) < 1e-9 &&
          fabs(env_normalized_score(p, p->random_return)) < 1e-9, "normalised score end points");
}

int main(void) {
    test_lookup();
    test_resets();
    test_pendulum_step();
    test_time_limits();
    test_pointmaze_geometry();
    test_pointmaze_walls();
    test_pointmaze_goal();
    test_experts();
    return test_finish("test_env_dynamics", 0);
}
