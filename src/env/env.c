/* env.c — the environment registry, the episode random numbers and the time limit (env.h). */
#include "env/env.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "cuiql/philox.h"
#include "env/builtin.h"

static const Env *const ENVS[] = {&env_pendulum, &env_mountaincar, &env_pointmaze};
#define N_ENVS ((int)(sizeof ENVS / sizeof ENVS[0]))

void env_rng_init(EnvRng *rng, uint64_t seed, unsigned stream, uint64_t episode) {
    rng->seed = seed;
    rng->subsequence = ((uint64_t)stream << 40) | (episode & ((1ull << 40) - 1));
    rng->offset = 0;
}

/* (0, 1], never 0, so log() below is safe. */
static double next_uniform01(EnvRng *rng) {
    return (double)philox_uniform01(philox_value(rng->seed, rng->subsequence, rng->offset++));
}

double env_rng_uniform(EnvRng *rng, double lo, double hi) {
    /* u ∈ (0, 1] maps to (lo, hi]; the end point has probability 2^-32 and does not matter. */
    return lo + (hi - lo) * next_uniform01(rng);
}

double env_rng_normal(EnvRng *rng) {
    double u1 = next_uniform01(rng), u2 = next_uniform01(rng);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int env_count(void) { return N_ENVS; }

const Env *env_at(int i) { return i >= 0 && i < N_ENVS ? ENVS[i] : NULL; }

const Env *env_lookup(const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < N_ENVS; i++)
        if (!strcmp(ENVS[i]->name, name)) return ENVS[i];
    return NULL;
}

const Env *env_find(const char *name, Error *err) {
    const Env *env = env_lookup(name);
    if (env) return env;
    char known[256] = "";
    for (int i = 0; i < N_ENVS; i++) {
        if (i) strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, ENVS[i]->name, sizeof known - strlen(known) - 1);
    }
    error_set(err, "unknown environment '%s' (known: %s)", name ? name : "", known);
    return NULL;
}

void env_step(const Env *env, EnvState *st, const float *action, EnvStep *out) {
    out->reward = 0;
    out->terminated = out->truncated = out->success = 0;
    env->dynamics(st, action, out);
    st->t++;
    /* gymnasium's TimeLimit: truncated when the step count reaches the limit, reported even
     * when the env also terminated; we keep only the termination then, since D4RL's
     * timeouts mark steps whose next state is a cut, not an end. */
    if (!out->terminated && st->t >= env->max_steps) out->truncated = 1;
}

double env_normalized_score(const Env *env, double episode_return) {
    return 100.0 * (episode_return - env->random_return) / (env->expert_return - env->random_return);
}
