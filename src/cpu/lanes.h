/* lanes.h — the CPU backend's lanes (backend.h fork/lane/lane_wait/join) run on threads.
 *
 * Between fork and join the backend records its calls instead of running them, with the lane
 * each was issued on. At join, lanes joined by a lane_wait form one group; groups are
 * independent by backend.h's contract (a lane uses another's output only after a wait), so they
 * run on up to `workers` threads at once, each group's calls in the order they were issued. */
#ifndef CUIQL_CPU_LANES_H
#define CUIQL_CPU_LANES_H

#include "cuiql/backend.h"

#define LANES_MAX_CALLS 256

typedef enum { LANE_GEMM, LANE_GEMM_BIAS_ACTIVATION, LANE_RELU_BACKWARD } LaneCallKind;

typedef struct {
    LaneCallKind kind;
    int lane;
    GemmArgs g;           /* LANE_GEMM, LANE_GEMM_BIAS_ACTIVATION */
    const float *bias;    /* LANE_GEMM_BIAS_ACTIVATION: member e's at bias + e·bias_stride */
    int64_t bias_stride;
    Activation act;
    float *dy;            /* LANE_RELU_BACKWARD */
    const float *y;
    int64_t n;
} LaneCall;

typedef void (*LaneRun)(Backend *b, const LaneCall *call);

/* The worker threads of lanes_join and lanes_split, started at the first call that needs them and kept until
 * lanes_destroy: a thread created and joined at every join cost more than the work it took on
 * for the thin networks (bench/RESULTS.md §6). */
typedef struct LanePool LanePool;

typedef struct {
    LanePool *pool; /* NULL until a join runs on threads */
    int recording;
    int current;
    int group[BACKEND_MAX_LANES];
    int n_calls;
    LaneCall calls[LANES_MAX_CALLS];
} Lanes;

void lanes_fork(Lanes *l);
void lanes_select(Lanes *l, int lane);
void lanes_wait(Lanes *l, int waiter, int source);
/* A slot for the next call on the current lane; NULL when full (the caller runs what was
 * recorded first: lanes_flush). */
LaneCall *lanes_record(Lanes *l);
/* Runs every recorded call in issue order on this thread (no parallelism), keeps recording. */
void lanes_flush(Lanes *l, Backend *b, LaneRun run);
/* How many independent groups the recorded calls form. */
int lanes_group_count(const Lanes *l);
/* Runs the recorded calls, groups in parallel on up to `workers` threads, and stops recording. */
void lanes_join(Lanes *l, Backend *b, LaneRun run, int workers);
/* A job split over workers: job(ctx, worker, workers) runs once for each worker in 0..workers-1,
 * all at once, and returns when all have (worker 0 on the calling thread). */
typedef void (*LaneJob)(void *ctx, int worker, int workers);
/* Runs `job` on up to `workers` threads of the pool (fewer if threads cannot be had: then
 * job(ctx, 0, 1)). For elementwise passes outside a fork (AdamW). */
void lanes_split(Lanes *l, int workers, LaneJob job, void *ctx);
/* Ends the worker threads (the backend's destroy). */
void lanes_destroy(Lanes *l);

#endif
