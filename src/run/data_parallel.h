/* data_parallel.h — the run layer's part of data-parallel training (`cuiql train
 * --data-parallel` under mpirun or srun; docs/algorithm.md, "Data parallel"). The step's part
 * (the batch slice, the gradient all-reduce) is algo/iql_parallel.c and the backends'.
 *
 * Every rank holds the whole population and trains on its slice of each global batch; rank 0
 * alone writes the run directory (config, logs, checkpoints) and evaluates. Failures: until
 * training starts, the ranks agree (comm_agree) and rank 0 prints the first failing rank's
 * line; once it runs, a failing rank ends all of them at once (comm_fail), and a checkpoint is
 * only ever replaced by a complete one.
 *
 * With run->opt->comm NULL (a single process) every function here is a no-op that succeeds,
 * and dp_is_writer is 1. */
#ifndef CUIQL_RUN_DATA_PARALLEL_H
#define CUIQL_RUN_DATA_PARALLEL_H

#include "run/run_state.h"

/* 1 on the rank that writes the run directory, prints and evaluates (rank 0, or the only one). */
int dp_is_writer(const Run *run);

/* The GPU of this rank: its place among its node's ranks, modulo the devices it sees. */
int dp_device_index(const Run *run);

/* Collective, after each rank's own setup (rc: its result). The ranks agree that every one
 * succeeded, then compare their settings with rank 0's: the resolved config, the sweep, resume
 * and --init-from, the backend, and the fingerprint of the dataset as read. A rank that differs is
 * refused with the first differing line. -1 on every rank (err the same) on any failure. */
int dp_check_setup(Run *run, int rc, Error *err);

/* Collective: the ranks agree on a result the writer alone produced (resume, outputs): 0, or -1
 * on every rank with the writer's message. */
int dp_agree(Run *run, int rc, Error *err);

/* Collective: every rank takes the writer's population (parameters, targets, Adam moments) and
 * its step count (*start on return), so all replicas start identical whatever each computed. */
int dp_share_state(Run *run, int64_t *start, Error *err);

/* Collective, once per step: *stop becomes the largest signal number any rank received, so all
 * stop after the same step. */
int dp_agree_stop(Run *run, int *stop, Error *err);

/* Collective, at checkpoints: the replicas' parameters are bit for bit the same (the all-reduce
 * gives every rank the same sum); -1 on every rank if not. Downloads the parameters. */
int dp_check_replicas(Run *run, int64_t step, Error *err);

/* A failure this rank met alone once training runs: prints it with the rank and ends every
 * rank. Returns (doing nothing) in a single process. */
void dp_fail_alone(Run *run, const Error *err);

#endif
