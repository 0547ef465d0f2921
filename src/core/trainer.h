/* trainer.h — a whole training run: dataset → population → steps → logs, checkpoints, eval.
 *
 * A run directory holds config.yaml (resolved), metrics.csv, an event file, checkpoint.h5
 * (latest) and checkpoint-STEP.h5 (periodic). A sweep trains the cross product of its axes
 * as members of one population; each member gets a subdirectory named
 * tau{τ}-beta{β}-seed{seed} with its own config, logs and checkpoints. */
#ifndef CUIQL_TRAINER_H
#define CUIQL_TRAINER_H

#include "core/config.h"
#include "core/error.h"

#define SWEEP_MAX_AXES 3
#define SWEEP_MAX_VALUES 256
#define TRAIN_PATH_MAX 4096

typedef struct {
    char key[8];                     /* tau, beta or seed */
    int n;
    double values[SWEEP_MAX_VALUES];
} SweepAxis;

typedef struct {
    Config cfg;                      /* resolved base config */
    char out_dir[TRAIN_PATH_MAX];
    int resume;                      /* continue from out_dir's checkpoints */
    char init_from[TRAIN_PATH_MAX];  /* "" or a checkpoint whose weights start every member */
    SweepAxis sweep[SWEEP_MAX_AXES];
    int n_sweep;
    int threads;                     /* CPU BLAS threads, 0 = all */
    int use_graphs;                  /* CUDA graphs (default 1) */
    int gemm_epilogues;              /* CUDA: bias + ReLU fused into the GEMMs (default 0) */
    int parallel_nets;               /* CUDA: the networks on streams of their own (default 0) */
    int quiet;                       /* no progress lines */
} TrainOptions;

/* Parses "KEY=V1,V2,..." (KEY: tau, beta, seed) into opt->sweep. */
int train_add_sweep(TrainOptions *opt, const char *assignment, Error *err);

/* Runs training. Returns 0 when done; on failure or interruption the message says what and
 * where, and checkpoints written before are intact. *interrupted is set when a signal ended it. */
int train_run(const TrainOptions *opt, int *interrupted, Error *err);

#endif
