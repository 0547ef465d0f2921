/* mountaincar.c — gymnasium's MountainCarContinuous-v0, step for step
 * (gymnasium/envs/classic_control/continuous_mountain_car.py).
 *
 * State x[0] = position, x[1] = velocity; the observation is the state as float32. Like the
 * original, the reset state is float64 and every later state is stored as float32 (gymnasium
 * keeps `self.state` as a float32 array after a step), so we round to float after each step and
 * compute 3·position in float32 once the state is a float32 one (NumPy scalar arithmetic). */
#include <math.h>

#include "env/builtin.h"

#define MC_MIN_POSITION -1.2
#define MC_MAX_POSITION 0.6
#define MC_MAX_SPEED 0.07
#define MC_GOAL_POSITION 0.45
#define MC_GOAL_VELOCITY 0.0
#define MC_POWER 0.0015

static void mc_reset(EnvState *st, EnvRng *rng) {
    st->x[0] = env_rng_uniform(rng, -0.6, -0.4);
    st->x[1] = 0.0;
    st->t = 0;
}

static void mc_observe(const EnvState *st, float *obs) {
    obs[0] = (float)st->x[0];
    obs[1] = (float)st->x[1];
}

static void mc_dynamics(EnvState *st, const float *action, EnvStep *out) {
    double position = st->x[0], velocity = st->x[1];
    double a = (double)action[0];
    double force = a < -1.0 ? -1.0 : a > 1.0 ? 1.0 : a;
    /* after the first step the state is float32, and NumPy multiplies a float32 scalar by the
     * Python int 3 in float32 */
    double three_pos = st->t > 0 ? (double)(3.0f * (float)position) : 3.0 * position;
    velocity += force * MC_POWER - 0.0025 * cos(three_pos);
    if (velocity > MC_MAX_SPEED) velocity = MC_MAX_SPEED;
    if (velocity < -MC_MAX_SPEED) velocity = -MC_MAX_SPEED;
    position += velocity;
    if (position > MC_MAX_POSITION) position = MC_MAX_POSITION;
    if (position < MC_MIN_POSITION) position = MC_MIN_POSITION;
    if (position == MC_MIN_POSITION && velocity < 0) velocity = 0;  /* inelastic left wall */

    int terminated = position >= MC_GOAL_POSITION && velocity >= MC_GOAL_VELOCITY;
    double reward = terminated ? 100.0 : 0.0;
    reward -= a * a * 0.1;  /* the unclipped action, as in the original */

    st->x[0] = (double)(float)position;
    st->x[1] = (double)(float)velocity;
    out->reward = reward;
    out->terminated = terminated;
    out->success = terminated;
}

/* Scripted expert: full force in the direction of motion (bang-bang on the velocity's sign),
 * which pumps energy into the oscillation until the car clears the right hill. */
static void mc_expert(const EnvState *st, float *action) {
    action[0] = st->x[1] >= 0.0 ? 1.0f : -1.0f;
}

const Env env_mountaincar = {
    .name = "mountaincar",
    .summary = "gymnasium MountainCarContinuous-v0: drive up the right hill, 999 steps",
    .state_dim = 2, .obs_dim = 2, .act_dim = 1,
    .max_action = 1.0f,
    .max_steps = 999,
    .has_success = 1,
    /* mean episode return over 1000 episodes, printed by
     *   cuiql gen --env mountaincar --behavior random --episodes 1000 --seed 0 --out /tmp/m.h5
     * and the same with --behavior expert (random reached the goal in 2 of the 1000) */
    .random_return = -33.0903,
    .expert_return = 89.3488,
    .reset = mc_reset,
    .observe = mc_observe,
    .dynamics = mc_dynamics,
    .expert = mc_expert,
};
