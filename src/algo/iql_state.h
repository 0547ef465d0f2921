/* iql_state.h — the IqlState struct, shared by iql.c (the step), iql_setup.c (creating it) and
 * iql_host.c (the host's views of it); other modules see it only through iql.h. */
#ifndef CUIQL_ALGO_IQL_STATE_H
#define CUIQL_ALGO_IQL_STATE_H

#include "algo/iql.h"
#include "algo/mlp.h"

/* Every backend allocation of a state, freed together by iql_destroy. */
#define IQL_MAX_BUFFERS 128

struct IqlState {
    Backend *b;
    const BackendOps *ops;
    Config cfg;
    int P, B, S, A;
    ModelLayout layout;
    int use_target;                /* ρ < 1: a separate target network exists */

    /* parameters, gradients, AdamW moments: one contiguous buffer each (model.h layout) */
    float *params, *grads, *adam_m, *adam_v;
    float *target;                 /* [q span] target critics */
    float *tau, *beta;             /* [P] */
    StepScalars *scalars;          /* step count, learning rates, bias corrections */

    Replay *replay;
    Batch batch;
    SamplingArgs sampling;
    LrSchedule schedule[LR_GROUP_COUNT];

    /* activations, per network and layer: [E, B, out_l]. V(s') and Q̄ are never back-propagated:
     * only their outputs have buffers of their own, their hidden layers borrow grad_hidden of
     * the same network (free from the end of one backward phase to the start of the next). */
    float *act_v[MODEL_MAX_LAYERS], *act_v_next[MODEL_MAX_LAYERS];
    float *act_q[MODEL_MAX_LAYERS], *act_q_target[MODEL_MAX_LAYERS];
    float *act_pi[MODEL_MAX_LAYERS];
    /* dL/d(output of layer l), [E, B, out_l], per network and hidden layer: one buffer each,
     * not a ping-pong pair, because a layer's weight gradients (on their own lane) may still
     * be reading one while the chain of dX products has moved on. */
    float *grad_hidden[NET_COUNT][MODEL_MAX_LAYERS];

    float *ones;                   /* [B] of 1.0 */
    float *dv, *dq, *weight, *dpre, *dlog_std_elem;
    float *stats;                  /* [P, IQL_STAT_COUNT, B] */
    float *stat_sums;              /* [P · IQL_STAT_COUNT] */

    /* The arguments of every call of the step, fixed at creation: a CUDA graph replays the
     * same calls with the same arguments. */
    MlpContext mlp;
    MlpForward forward[NET_COUNT + 2];  /* V(s), V(s'), Q, Q̄ (ρ < 1), π */
    int n_forward;
    MlpBackward backward[NET_COUNT];
    HeadsArgs heads;
    PolicyHeadArgs policy;
    AdamWArgs adamw;

    void *buffers[IQL_MAX_BUFFERS];
    int n_buffers;

    /* data parallel (iql_parallel.c): B is this rank's share of the global batch */
    Comm *comm;                    /* NULL: a single process */
    int global_batch;              /* G, the batch the losses' means are over (B when single) */
    size_t bytes;                  /* backend memory the buffers take (iql_memory_plan's total) */
};

/* iql_parallel.c: the two hooks iql_create_parallel calls. init (before any buffer) sets comm,
 * the global batch and this rank's B, refusing a batch the ranks do not divide; calls (after the
 * step's calls are built) makes the heads divide by G and the gather draw this rank's slots. */
int iql_parallel_init(IqlState *s, Comm *comm, Error *err);
void iql_parallel_calls(IqlState *s);
/* The logged sums [n] of this rank's rows → the global batch's sums (in place, collective). */
int iql_parallel_sum_stats(IqlState *s, double *sums, int n, Error *err);

#endif
