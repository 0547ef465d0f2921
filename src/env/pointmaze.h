/* pointmaze.h — the pointmaze's geometry, for dataset generation and tests (design and
 * rationale: docs/environments.md).
 *
 * The maze is a 7×7 grid whose free cells form one S-shaped corridor of POINTMAZE_PATH_LEN
 * cells from the start (path index 0) to the goal (the last index). Cell (row r, column c)
 * covers x ∈ [c, c+1), y ∈ [r, r+1); the agent is a square of half-size POINTMAZE_RADIUS
 * centred at (x, y) = (state x[0], x[1]). */
#ifndef CUIQL_ENV_POINTMAZE_H
#define CUIQL_ENV_POINTMAZE_H

#include "env/env.h"

#define POINTMAZE_ROWS 7
#define POINTMAZE_COLS 7
#define POINTMAZE_PATH_LEN 17
#define POINTMAZE_SPEED 0.2         /* displacement per step at action 1 */
#define POINTMAZE_RADIUS 0.1        /* agent's half-size, for collisions */
#define POINTMAZE_GOAL_RADIUS 0.5   /* success within this distance of the goal cell's centre */
#define POINTMAZE_START_JITTER 0.2  /* reset: start cell's centre ± U(−jitter, jitter) per axis */

/* 1 when (row, col) is a wall or outside the grid. */
int pointmaze_is_wall(int row, int col);
/* Path cell k (0 = start, POINTMAZE_PATH_LEN − 1 = goal). */
void pointmaze_path_cell(int k, int *row, int *col);
/* Path index of the cell holding the agent's centre; −1 if none (cannot happen in an episode). */
int pointmaze_path_index(double x, double y);
/* Starts an episode near the centre of path cell k (what reset does with k = 0). */
void pointmaze_reset_at(EnvState *st, int k, EnvRng *rng);
/* Waypoint follower: the action that moves along the corridor towards path cell `target`
 * (forward or backward), aiming at the next cell's centre; in [−1, 1]². */
void pointmaze_follow(const EnvState *st, int target, float *action);

#endif
