/* dataset.h — offline transitions in memory, read from D4RL or Minari HDF5 files.
 *
 * States are stored once in a table and transitions point into it, so a file without
 * next_observations (s' = the next row) costs no second copy of the states:
 *   s_i  = states[state_row[i]],  s'_i = states[next_row[i]].
 * Everything is float32 in memory whatever the file held; flags are 0.0f / 1.0f.
 *
 * Which rows become transitions, and where episodes end, is documented at the top of d4rl.c
 * (D4RL: timeout rows and the last row are dropped unless terminal, when there is no
 * next_observations) and minari.c (every step of every episode_<id> group, in id order).
 * dataset.c opens the file and hands it to one of them; preprocess.c normalises.
 *
 *   Dataset d;  Error err;
 *   if (dataset_load("hopper-medium-v2.hdf5", &d, &err) < 0) { puts(err.msg); return 1; }
 *   if (dataset_preprocess(&d, &cfg, &err) < 0) { ... }
 *   ... d.states + d.state_row[i] * d.obs_dim is s_i ...
 *   dataset_free(&d);
 *
 * Not thread-safe while loading (HDF5's error-printing setting is process-wide). */
#ifndef CUIQL_DATASET_H
#define CUIQL_DATASET_H

#include <stdint.h>

#include "cuiql/error.h"
#include "cuiql/settings.h"

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
    int64_t n_terminals;    /* terminal transitions (terminal rows are never dropped) */
    int64_t n_timeouts;     /* rows of the file flagged timeout (D4RL) or truncation (Minari) */
    int had_next_observations; /* D4RL file had next_observations (0 for Minari) */

    /* preprocessing applied (dataset_preprocess), recorded in checkpoints */
    float *state_mean;      /* [obs_dim]; zeros when not normalised */
    float *state_std;       /* [obs_dim]; ones when not normalised (std + 1e-3 when normalised) */
    int states_normalized;
    double reward_scale, reward_shift; /* r' = r·scale + shift as applied */
    int preprocessed;       /* dataset_preprocess has run (it refuses to run twice) */
} Dataset;

/* Reads a D4RL flat file or a Minari episode file (the format is detected), unpreprocessed
 * (state_mean 0, state_std 1, rewards as stored). On failure the message names the file, the
 * dataset and the problem; *out is left empty. */
int dataset_load(const char *path, Dataset *out, Error *err);

/* What preprocessing to apply: the run layer cuts it from the config. */
typedef struct {
    int normalize_states;              /* bool */
    RewardTransform reward_transform;
    double reward_scale, reward_shift; /* used by REWARD_SCALE_SHIFT */
} DataPrep;

/* Applies the state normalisation and reward transform in place (docs/algorithm.md, "Data"):
 * normalize_states → mean and population std over the transitions' states (rows state_row[]),
 * std + 1e-3, applied to the whole state table; reward_transform none | iql-locomotion
 * (r · 1000 / (max − min episode return)) | antmaze (r − 1) | scale/shift (r · scale + shift).
 * Records state_mean/state_std and the reward_scale/reward_shift applied. On failure (e.g. all
 * episode returns equal under iql-locomotion) nothing has changed. Runs once per load. */
int dataset_preprocess(Dataset *d, const DataPrep *prep, Error *err);

/* Undiscounted return of every episode (rewards as currently stored): [n_episodes]. Returns 0. */
int dataset_episode_returns(const Dataset *d, double *returns);

/* A 64-bit fingerprint of the transitions as read: the state table, both row indices, actions,
 * rewards and terminals, bit for bit. Call it before dataset_preprocess: it identifies the
 * data, not the preprocessing. A run records it so that a resume on other data is refused
 * whatever the file is called now (run/run_history.h). */
uint64_t dataset_fingerprint(const Dataset *d);

/* Frees everything and zeroes *d; safe twice and on a zeroed struct. */
void dataset_free(Dataset *d);

const char *dataset_format_name(DatasetFormat f);

#endif
