/* dataset.h — offline transitions in memory, read from D4RL or Minari HDF5 files.
 *
 * States are stored once in a table and transitions point into it, so a file without
 * next_observations (s' = the next row) costs no second copy of the states:
 *   s_i  = states[state_row[i]],  s'_i = states[next_row[i]].
 * Everything is float32 in memory whatever the file held; flags are 0.0f / 1.0f. */
#ifndef CUIQL_DATASET_H
#define CUIQL_DATASET_H

#include <stdint.h>

#include "core/config.h"
#include "core/error.h"

typedef enum { DATASET_D4RL, DATASET_MINARI } DatasetFormat;

typedef struct {
    DatasetFormat format;
    int64_t n;              /* transitions */
    int obs_dim, act_dim;

    int64_t n_states;       /* rows of the state table */
    float *states;          /* [n_states, obs_dim] */
    uint32_t *state_row;    /* [n] row of s_i in states */
    uint32_t *next_row;     /* [n] row of s'_i in states */
    float *actions;         /* [n, act_dim] */
    float *rewards;         /* [n] */
    float *terminals;       /* [n] 1 = environment termination (never a time-limit truncation) */

    /* episodes, in transition order: episode e covers [episode_start[e], episode_start[e+1]) */
    int64_t n_episodes;
    int64_t *episode_start; /* [n_episodes + 1] */

    /* what the reader saw, for `cuiql info` */
    int64_t rows_in_file;   /* rows before dropping unusable steps */
    int64_t dropped;        /* steps dropped because their next state is unknown */
    int64_t n_terminals, n_timeouts;
    int had_next_observations;

    /* preprocessing applied (dataset_preprocess), recorded in checkpoints */
    float *state_mean;      /* [obs_dim]; zeros when not normalised */
    float *state_std;       /* [obs_dim]; ones when not normalised (std + 1e-3 when normalised) */
    int states_normalized;
    double reward_scale, reward_shift; /* r' = r·scale + shift as applied */
} Dataset;

/* Reads a D4RL flat file or a Minari episode file (the format is detected). On failure the
 * message names the file, the dataset and the problem; *out is left empty. */
int dataset_load(const char *path, Dataset *out, Error *err);

/* Applies the config's state normalisation and reward transform in place. */
int dataset_preprocess(Dataset *d, const Config *cfg, Error *err);

/* Undiscounted return of every episode (raw rewards as currently stored): [n_episodes]. */
int dataset_episode_returns(const Dataset *d, double *returns);

void dataset_free(Dataset *d);

const char *dataset_format_name(DatasetFormat f);

#endif
