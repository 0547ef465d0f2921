/* d4rl_write.h — transitions written as a D4RL flat HDF5 file: what `cuiql gen` produces, and
 * what data/d4rl.c reads back. */
#ifndef CUIQL_DATA_D4RL_WRITE_H
#define CUIQL_DATA_D4RL_WRITE_H

#include <stdint.h>

#include "cuiql/error.h"

/* A root attribute: a string (text != NULL) or an int64. */
typedef struct {
    const char *name;
    const char *text;
    int64_t number;
} D4rlAttr;

typedef struct {
    int obs_dim, act_dim;
    int64_t n;                        /* transitions, rows of every array */
    const float *observations;        /* [n, obs_dim] */
    const float *actions;             /* [n, act_dim] */
    const float *rewards;             /* [n] */
    const float *next_observations;   /* [n, obs_dim] */
    const uint8_t *terminals;         /* [n] 0/1: the environment ended the episode */
    const uint8_t *timeouts;          /* [n] 0/1: a time limit cut it (never terminal) */
    const D4rlAttr *attrs;            /* root attributes (env, behavior, seed, ...) */
    int n_attrs;
} D4rlArrays;

/* Writes d to path atomically (base/files.h): PATH is the old file or the complete new one. */
int d4rl_write(const char *path, const D4rlArrays *d, Error *err);

#endif
