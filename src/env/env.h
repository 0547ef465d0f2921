/* env.h — the built-in environments: a small, deterministic interface that `cuiql gen` uses to
 * make datasets and `cuiql eval` / training's evaluation use to score a policy.
 *
 * An environment is a const table of functions over an EnvState (its physical state in double
 * precision, as the Python originals keep it). Randomness comes only from an EnvRng that the
 * caller owns (Philox, include/cuiql/philox.h), so an episode is a pure function of
 * (seed, stream, episode index): no global state, nothing depends on the order episodes run.
 *
 *   const Env *env = env_lookup("pendulum");
 *   EnvRng rng; env_rng_init(&rng, seed, ENV_STREAM_EVAL, episode);
 *   EnvState st; env->reset(&st, &rng);
 *   float obs[ENV_MAX_DIM]; env->observe(&st, obs);
 *   EnvStep r; do { ...choose action...; env_step(env, &st, action, &r); } while (!r.terminated && !r.truncated);
 *
 * Environments (docs/environments.md): pendulum (gymnasium Pendulum-v1), mountaincar (gymnasium
 * MountainCarContinuous-v0), pointmaze (our S-shaped corridor maze that needs stitching). */
#ifndef CUIQL_ENV_H
#define CUIQL_ENV_H

#include <stdint.h>

#include "cuiql/error.h"

#define ENV_MAX_DIM 4  /* largest state, observation and action dimension of a built-in env */

/* Philox streams: a dataset's episode e and an evaluation's episode e with the same seed start
 * from different states, so evaluation never replays the dataset's starts. */
#define ENV_STREAM_GEN 0u
#define ENV_STREAM_EVAL 1u

typedef struct {
    uint64_t seed;
    uint64_t subsequence;  /* (stream << 40) | episode */
    uint64_t offset;       /* next 32-bit word of the stream */
} EnvRng;

void env_rng_init(EnvRng *rng, uint64_t seed, unsigned stream, uint64_t episode);
double env_rng_uniform(EnvRng *rng, double lo, double hi);  /* U(lo, hi) */
double env_rng_normal(EnvRng *rng);                          /* N(0, 1), Box–Muller */

typedef struct {
    double x[ENV_MAX_DIM];  /* physical state; meaning per environment (see its .c file) */
    int t;                  /* steps taken in this episode */
} EnvState;

typedef struct {
    double reward;
    int terminated;  /* the environment ended the episode (goal reached) */
    int truncated;   /* the time limit ended it (not terminal: bootstrap through it) */
    int success;     /* reached the goal on this step (envs with has_success) */
} EnvStep;

typedef struct {
    const char *name;
    const char *summary;     /* one line for --help and errors */
    int state_dim, obs_dim, act_dim;
    float max_action;        /* action box is [−max_action, max_action]^act_dim */
    int max_steps;           /* time limit (truncation) */
    int has_success;         /* success rate is defined (goal-reaching tasks) */
    double random_return;    /* reference returns for the normalised score: 0 = random ... */
    double expert_return;    /* ... 100 = the scripted expert (measured; see the env's .c file) */
    void (*reset)(EnvState *st, EnvRng *rng);
    void (*observe)(const EnvState *st, float *obs);
    /* One step of the dynamics; the env clips the action itself exactly as its Python original
     * does. Fills reward, terminated, success; env_step() adds the time limit. */
    void (*dynamics)(EnvState *st, const float *action, EnvStep *out);
    /* The scripted expert's action for this state (full state access is fine: it is scripted). */
    void (*expert)(const EnvState *st, float *action);
} Env;

/* Known environments, in a fixed order. */
int env_count(void);
const Env *env_at(int i);
const Env *env_lookup(const char *name);  /* NULL when unknown */
/* Like env_lookup, with "unknown environment 'x' (known: pendulum, mountaincar, pointmaze)". */
const Env *env_find(const char *name, Error *err);

/* One step with the time limit: out->truncated = 1 when this step reaches max_steps and the
 * environment did not terminate. */
void env_step(const Env *env, EnvState *st, const float *action, EnvStep *out);

/* Normalised score 100 · (R − random) / (expert − random). */
double env_normalized_score(const Env *env, double episode_return);

#endif
