/* generate.h — datasets from the built-in environments (what `cuiql gen` writes).
 *
 * A behaviour picks the actions; every episode e draws its start state and its noise from
 * Philox stream (seed, ENV_STREAM_GEN, e), so a dataset is a pure function of
 * (env, behaviour, episodes, seed). Behaviours (docs/environments.md):
 *   random        uniform actions in the action box
 *   expert        the env's scripted controller
 *   noisy-expert  expert + Gaussian noise of std GEN_NOISE_STD · max_action, clipped to the box
 *   mixed         pendulum, mountaincar: every GEN_MIXED_PERIOD-th episode noisy-expert, the rest
 *                 random (good episodes are a 1/GEN_MIXED_PERIOD minority);
 *                 pointmaze: short noisy segments between nearby corridor cells in both
 *                 directions, never the whole route (the data that needs stitching). */
#ifndef CUIQL_ENV_GENERATE_H
#define CUIQL_ENV_GENERATE_H

#include <stdint.h>

#include "cuiql/error.h"
#include "env/env.h"

typedef enum { BEHAVIOR_RANDOM, BEHAVIOR_EXPERT, BEHAVIOR_NOISY_EXPERT, BEHAVIOR_MIXED, BEHAVIOR_COUNT } Behavior;

#define GEN_NOISE_STD 0.3        /* noisy-expert: σ as a fraction of max_action */
#define GEN_MIXED_PERIOD 5       /* mixed: episode e is noisy-expert when e % 5 == 4 (20%) */
#define GEN_SEGMENT_MIN 3        /* pointmaze mixed: a segment spans 3..6 corridor cells */
#define GEN_SEGMENT_MAX 6
#define GEN_SEGMENT_STEPS 60     /* pointmaze mixed: a segment is cut (timeout) after this many steps */
#define GEN_SEGMENT_ARRIVE 0.25  /* pointmaze mixed: a segment ends within this of its target's centre */

const char *behavior_name(Behavior b);
int behavior_from_name(const char *name, Behavior *out, Error *err);

/* A D4RL-layout dataset in memory; row i is transition i, episodes in order. `cuiql gen`
 * writes it with data/d4rl_write.h. */
typedef struct {
    int obs_dim, act_dim;
    int64_t n, capacity;
    float *observations;       /* [n, obs_dim] */
    float *actions;            /* [n, act_dim] */
    float *rewards;            /* [n] */
    float *next_observations;  /* [n, obs_dim] */
    uint8_t *terminals;        /* [n] environment termination */
    uint8_t *timeouts;         /* [n] episode cut by a time limit (not terminal) */
    int episodes;
    double *episode_return;    /* [episodes] */
    int *episode_length;       /* [episodes] */
    uint8_t *episode_success;  /* [episodes] */
} GenData;

/* Runs `episodes` episodes of behaviour b in env; *out is filled (free with gen_data_free). */
int env_generate(const Env *env, Behavior b, int episodes, uint64_t seed, GenData *out, Error *err);
void gen_data_free(GenData *d);

#endif
