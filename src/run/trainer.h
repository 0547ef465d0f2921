/* trainer.h — a whole training run: dataset → population → steps → logs, checkpoints, eval.
 *
 * A run directory holds config.yaml (resolved), metrics.csv, an event file, checkpoint.h5
 * (latest) and checkpoint-STEP.h5 (periodic). A sweep (run/sweep.h) trains the cross product
 * of its axes as members of one population; each member gets a subdirectory named
 * tau{τ}-beta{β}-seed{seed} with its own config, logs and checkpoints.
 *
 * The run layer's files by job: trainer.c (the loop), run_dir.c (the directories and the files
 * written at the start), checkpoints.c (saving, resuming, --init-from), evaluation.c (scoring
 * members in an environment), gym_eval.c (in gymnasium, through the bridge), progress.c (what the terminal shows), sweep.c (members and
 * sweep.txt), policy.c (a network as a policy), backend_select.c. */
#ifndef CUIQL_RUN_TRAINER_H
#define CUIQL_RUN_TRAINER_H

#include "algo/config.h"
#include "cuiql/comm.h"
#include "cuiql/error.h"
#include "run/sweep.h"
#include "run/sweep_shard.h"

#define TRAIN_PATH_MAX 4096

typedef struct {
    Config cfg;                      /* resolved base config */
    char out_dir[TRAIN_PATH_MAX];
    int resume;                      /* continue from out_dir's checkpoints */
    int force;                       /* a new run where one is: the old one is moved aside (run_lock.h) */
    char init_from[TRAIN_PATH_MAX];  /* "" or a checkpoint whose weights start every member */
    Sweep sweep;
    int threads;                     /* CPU BLAS threads, 0 = all */
    int use_graphs;                  /* CUDA graphs (default 1) */
    int gemm_epilogues;              /* CUDA: bias + ReLU fused into the GEMMs (default 0) */
    int parallel_nets;               /* CUDA: the networks on streams of their own (default 0) */
    int quiet;                       /* no progress lines */
    Comm *comm;                      /* --data-parallel: this process's ranks; NULL: one process
                                        (run/data_parallel.h) */
    SweepShard shard;                /* --shard I/N; count 0 when not given (then from the launcher) */
    size_t memory_budget;            /* --memory-budget: bytes a population may use; 0 = the backend's free memory */
    double progress_every;           /* seconds without a line before a step/rate line (0: only logged steps) */
} TrainOptions;

/* Runs training. Returns 0 when done; on failure or interruption the message says what and
 * where, and checkpoints written before are intact. *interrupted is set to the signal's number
 * when a signal ended it (SIGINT, SIGTERM, SIGHUP or SIGPIPE: the step finishes and a checkpoint
 * is written), else 0. Data parallel: collective; an error returned is every rank's (rank 0
 * prints it), and a failure of one rank alone ends every rank from inside (run/data_parallel.h). */
int train_run(const TrainOptions *opt, int *interrupted, Error *err);

#endif
