/* mlp.h — a network's forward and backward passes as backend calls, for all of its ensemble
 * members at once (each layer one strided-batched GEMM), and several independent passes side
 * by side.
 *
 * Side by side means on the backend's lanes (backend.h: fork/lane/lane_wait/join). On the CPU
 * lanes run in order and change nothing; on CUDA with --parallel-nets each lane is a stream of
 * its own, so the small GEMMs of several networks fill the GPU together. That concurrency is
 * an experiment until measured on a GPU (bench/RESULTS.md §3), and it lives here, not in the
 * step (iql.c), which only says which passes are independent. */
#ifndef CUIQL_ALGO_MLP_H
#define CUIQL_ALGO_MLP_H

#include "algo/model.h"
#include "cuiql/backend.h"

typedef struct {
    Backend *b;
    int rows;               /* B */
    const float *ones;      /* [B] of 1.0: bias gradients are 1ᵀ · dY */
} MlpContext;

/* acts[l] = act(X_l · W_lᵀ + b_l) for every member; the input is shared by all members. */
typedef struct {
    const NetLayout *net;
    const float *weights;   /* the network's first parameter: net->begin of the online params, or the targets */
    const float *input;     /* [B, ld_0]: rows padded to the first layer's stored width (model.h) */
    float *const *acts;     /* acts[l]: [E, B, out_l] */
} MlpForward;

/* Backpropagates dout ([E, B, out_last], consumed) through the network into the gradient
 * buffer. Each parameter gets exactly one contribution per step, so gradients are written,
 * not accumulated. */
typedef struct {
    const NetLayout *net;
    const float *params;    /* the whole parameter buffer (net's offsets index it) */
    float *grads;           /* the whole gradient buffer, same layout */
    const float *input;     /* [B, ld_0] */
    float *const *acts;     /* the forward pass's activations */
    float *dout;            /* [E, B, out_last] */
    float *const *dhidden;  /* dhidden[l]: [E, B, out_l] for each hidden layer l */
} MlpBackward;

/* Runs n independent forward passes, one lane each (n ≤ BACKEND_MAX_LANES). */
void mlp_forward_all(const MlpContext *ctx, const MlpForward *passes, int n);

/* Runs n independent backward passes, two lanes each (2n ≤ BACKEND_MAX_LANES): one carries dY
 * down the layers, the other takes each layer's dW and db as soon as its dY is final. */
void mlp_backward_all(const MlpContext *ctx, const MlpBackward *passes, int n);

#endif
