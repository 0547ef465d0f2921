/* pendulum.c — gymnasium's Pendulum-v1, step for step (gymnasium/envs/classic_control/pendulum.py).
 *
 * State x[0] = θ (0 = upright, unbounded), x[1] = θ̇. Observation (cos θ, sin θ, θ̇) as float32.
 * The dynamics run in double like NumPy's float64 state; the reward is computed from the state
 * before the step. Tests compare against gymnasium itself (tests/env/test_gym_match.py). */
#include <math.h>

#include "env/builtin.h"

#define PEND_G 10.0
#define PEND_M 1.0
#define PEND_L 1.0
#define PEND_DT 0.05
#define PEND_MAX_SPEED 8.0
#define PEND_MAX_TORQUE 2.0

static double clip(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ((x + π) mod 2π) − π with Python's floored modulo (result in [−π, π)). */
static double angle_normalize(double x) {
    double r = fmod(x + M_PI, 2.0 * M_PI);
    if (r < 0) r += 2.0 * M_PI;
    return r - M_PI;
}

static void pendulum_reset(EnvState *st, EnvRng *rng) {
    st->x[0] = env_rng_uniform(rng, -M_PI, M_PI);
    st->x[1] = env_rng_uniform(rng, -1.0, 1.0);
    st->t = 0;
}

static void pendulum_observe(const EnvState *st, float *obs) {
    obs[0] = (float)cos(st->x[0]);
    obs[1] = (float)sin(st->x[0]);
    obs[2] = (float)st->x[1];
}

static void pendulum_dynamics(EnvState *st, const float *action, EnvStep *out) {
    double th = st->x[0], thdot = st->x[1];
    double u = clip((double)action[0], -PEND_MAX_TORQUE, PEND_MAX_TORQUE);
    double an = angle_normalize(th);
    double cost = an * an + 0.1 * thdot * thdot + 0.001 * (u * u);
    double newthdot = thdot + (3.0 * PEND_G / (2.0 * PEND_L) * sin(th) + 3.0 / (PEND_M * PEND_L * PEND_L) * u) * PEND_DT;
    newthdot = clip(newthdot, -PEND_MAX_SPEED, PEND_MAX_SPEED);
    st->x[0] = th + newthdot * PEND_DT;
    st->x[1] = newthdot;
    out->reward = -cost;
}

/* Scripted expert: energy pumping far from upright, a PD balance near it.
 * With θ̈ = a sin θ + b u (a = 3g/2l = 15, b = 3/ml² = 3), the energy E = ½θ̇² + a(cos θ − 1)
 * is 0 upright at rest and changes as dE/dt = b θ̇ u, so u ∝ −E θ̇ drives E to 0 (the upright
 * orbit); once near the top, u = −(k_p θ + k_d θ̇) gives θ̈ ≈ (a − b k_p) θ − b k_d θ̇, stable for
 * k_p > a / b = 5. Gains were tuned for return (see docs/environments.md). */
static void pendulum_expert(const EnvState *st, float *action) {
    const double a = 3.0 * PEND_G / (2.0 * PEND_L), b = 3.0 / (PEND_M * PEND_L * PEND_L);
    double th = angle_normalize(st->x[0]), thdot = st->x[1];
    double energy = 0.5 * thdot * thdot + a * (cos(th) - 1.0);
    double u;
    if (fabs(th) < 0.6 && fabs(energy) < 4.0) {
        u = -(10.0 * th + 2.0 * thdot);
    } else {
        u = -0.5 * energy * thdot / b;
    }
    action[0] = (float)clip(u, -PEND_MAX_TORQUE, PEND_MAX_TORQUE);
}

const Env env_pendulum = {
    .name = "pendulum",
    .summary = "gymnasium Pendulum-v1: swing up and balance, 200 steps",
    .state_dim = 2, .obs_dim = 3, .act_dim = 1,
    .max_action = (float)PEND_MAX_TORQUE,
    .max_steps = 200,
    .has_success = 0,
    /* mean episode return over 1000 episodes, printed by
     *   cuiql gen --env pendulum --behavior random --episodes 1000 --seed 0 --out /tmp/p.h5
     * and the same with --behavior expert */
    .random_return = -1230.5763,
    .expert_return = -153.7814,
    .reset = pendulum_reset,
    .observe = pendulum_observe,
    .dynamics = pendulum_dynamics,
    .expert = pendulum_expert,
};
