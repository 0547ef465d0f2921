/* model.h — where every network's parameters live in the one parameter buffer.
 *
 * The buffer holds, in this order (the learning-rate groups), each as P members:
 *   policy: layer l weight [P, out_l, in_l], bias [P, out_l] for each l, then log_std [P, A]
 *   value:  the same layers (output 1)
 *   q:      the same layers with 2P members: critic k of member p is ensemble member 2p + k
 * A layer's weights for all members are one block with a fixed member stride, so each layer of
 * a network is one strided-batched GEMM. Gradients and both Adam moments mirror this layout,
 * so AdamW is one pass. The target critics are a separate buffer laid out like the q span.
 *
 * Two packings of the same tensors:
 *   packed  — every tensor right after the previous one (model_layout_init). The "member
 *             view" is this with P = 1: what one run's checkpoint stores, and what the host
 *             works with.
 *   aligned — what the backends hold (model_layout_init_aligned): every tensor starts on a
 *             256-byte boundary, each member's weights and biases on a 16-byte one, and the
 *             first layer's input width (S, and S + A for the critics) is padded to a multiple
 *             of 4 with zero columns whose weights are zero and stay zero (their gradient is
 *             Σ dY·0 = 0, and AdamW keeps a zero with a zero gradient at zero). cuBLAS then
 *             gets 16-byte operands (its vectorised and TMA kernels), cuBLASLt plans are
 *             made for 16-byte alignment, and the elementwise kernels take their float4 paths.
 *             Padding elements are zero in every buffer (parameters, gradients, moments).
 * model_member_gather/scatter move a member between the two by logical shape. */
#ifndef CUIQL_MODEL_H
#define CUIQL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cuiql/error.h"

#define MODEL_MAX_LAYERS 9  /* CONFIG_MAX_HIDDEN hidden layers + the output layer */
#define MODEL_MAX_WIDTH 4096 /* widest hidden layer (and action vector) */
#define MODEL_MAX_INPUT (1 << 20) /* widest state: bounds every width sum the layout forms in int */

typedef enum { NET_POLICY, NET_VALUE, NET_Q, NET_COUNT } NetId;

/* Aligned packing: tensors start on multiples of this many floats (256 bytes: cudaMalloc's own
 * alignment, and a whole number of cache lines), member slices on multiples of MODEL_VEC_FLOATS
 * (16 bytes: one float4). */
#define MODEL_ALIGN_FLOATS 64
#define MODEL_VEC_FLOATS 4

typedef struct {
    int n_layers;                  /* linear layers */
    int members;                   /* E: P for policy and value, 2P for the critics */
    int in[MODEL_MAX_LAYERS], out[MODEL_MAX_LAYERS];
    int ld[MODEL_MAX_LAYERS];      /* stored length of a weight row = the row stride of the layer's
                                      input (in, or the first layer's padded width) */
    size_t weight[MODEL_MAX_LAYERS]; /* offset (floats) of [E, out, ld] */
    size_t weight_stride[MODEL_MAX_LAYERS]; /* floats from one member's weights to the next's */
    size_t bias[MODEL_MAX_LAYERS];   /* offset of [E, out] */
    size_t bias_stride[MODEL_MAX_LAYERS];   /* floats from one member's bias to the next's */
    size_t log_std;                /* policy: offset of [E, A] (members A apart); value, q: SIZE_MAX */
    size_t begin, end;             /* the network's span (aligned: padded to the next tensor) */
} NetLayout;

typedef struct {
    int members;                   /* P */
    int obs_dim, act_dim;
    int n_hidden;
    int hidden[MODEL_MAX_LAYERS];
    int aligned;                   /* 1: model_layout_init_aligned's packing */
    int state_ld;                  /* row stride of the networks' state input: S, or S padded */
    int state_action_ld;           /* row stride of the critics' (s, a) input: S + A, or padded */
    NetLayout net[NET_COUNT];
    size_t n_params;               /* floats in the buffer, padding included */
    size_t n_logical;              /* parameters proper (the packed n_params) */
} ModelLayout;

/* Lays out P members' networks for the given sizes, packed (the member view with P = 1). */
int model_layout_init(ModelLayout *layout, int members, int obs_dim, int act_dim,
                      const int *hidden, int n_hidden, Error *err);

/* The same networks in the aligned packing the backends hold (see the top of this file). */
int model_layout_init_aligned(ModelLayout *layout, int members, int obs_dim, int act_dim,
                              const int *hidden, int n_hidden, Error *err);

/* Number of floats in the target-critic buffer (the q span). */
size_t model_target_size(const ModelLayout *layout);

/* Copies member `member`'s slices out of / into a population buffer (either packing); `single`
 * has the packed layout of the same model with P = 1. Tensors move by logical shape: padding
 * is neither read nor written. For a target buffer pass q_only = 1 (only the q span, laid out
 * from offset 0). */
void model_member_gather(const ModelLayout *pop, int member, const float *pop_buf, float *single, int q_only);
void model_member_scatter(const ModelLayout *pop, int member, const float *single, float *pop_buf, int q_only);

/* Fills params on the host exactly as the backends' init_uniform does: PyTorch's nn.Linear
 * default, U(−1/√fan_in, 1/√fan_in) for weights and biases, log_std = 0, from Philox with the
 * member's seed (so a member's initial weights depend only on its seed, not on its index).
 * Weight element (o, c) draws word o·in + c whatever the packing; padding is set to zero. */
void model_init_host(const ModelLayout *layout, float *params, const uint64_t *member_seeds);
/* One member's weight matrix of one layer, by that rule (element (o, c) takes word o·in + c of
 * the layer's subsequence; padding columns are not written): `critic` is the member's index
 * within its net (Q1/Q2), `w` its [out, ld] rows. */
void model_init_weight(const NetLayout *net, NetId n, int layer, int critic, uint64_t seed, float *w);

/* The Philox subsequence that initialises one tensor of one critic (k = 0, 1; 0 elsewhere). */
uint64_t model_init_subsequence(NetId net, int layer, int is_bias, int critic);

/* The policy's mean action for one (normalised) state, on the host: max_action · tanh(MLP(s)).
 * params has the layout `layout`; member selects the member. */
void model_policy_mean(const ModelLayout *layout, const float *params, int member, const float *state,
                       float max_action, float *action);

#endif
