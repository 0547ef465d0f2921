/* model.h — where every network's parameters live in the one parameter buffer.
 *
 * The buffer holds, in this order (the learning-rate groups), each as P members:
 *   policy: layer l weight [P, out_l, in_l], bias [P, out_l] for each l, then log_std [P, A]
 *   value:  the same layers (output 1)
 *   q:      the same layers with 2P members: critic k of member p is ensemble member 2p + k
 * A layer's weights for all members are contiguous with a fixed stride, so each layer of a
 * network is one strided-batched GEMM. Gradients and both Adam moments mirror this layout,
 * so AdamW is one pass. The target critics are a separate buffer laid out like the q span.
 *
 * A "member view" is the same layout with P = 1: what one run's checkpoint stores. */
#ifndef CUIQL_MODEL_H
#define CUIQL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cuiql/error.h"

#define MODEL_MAX_LAYERS 9  /* CONFIG_MAX_HIDDEN hidden layers + the output layer */
#define MODEL_MAX_WIDTH 4096 /* widest hidden layer (and action vector) */

typedef enum { NET_POLICY, NET_VALUE, NET_Q, NET_COUNT } NetId;

typedef struct {
    int n_layers;                  /* linear layers */
    int members;                   /* E: P for policy and value, 2P for the critics */
    int in[MODEL_MAX_LAYERS], out[MODEL_MAX_LAYERS];
    size_t weight[MODEL_MAX_LAYERS]; /* offset (floats) of [E, out, in] */
    size_t bias[MODEL_MAX_LAYERS];   /* offset of [E, out] */
    size_t log_std;                /* policy: offset of [E, A]; value, q: SIZE_MAX */
    size_t begin, end;             /* the network's span */
} NetLayout;

typedef struct {
    int members;                   /* P */
    int obs_dim, act_dim;
    int n_hidden;
    int hidden[MODEL_MAX_LAYERS];
    NetLayout net[NET_COUNT];
    size_t n_params;
} ModelLayout;

/* Lays out P members' networks for the given sizes. */
int model_layout_init(ModelLayout *layout, int members, int obs_dim, int act_dim,
                      const int *hidden, int n_hidden, Error *err);

/* Number of floats in the target-critic buffer (the q span). */
size_t model_target_size(const ModelLayout *layout);

/* Copies member `member`'s slices out of / into a population buffer; `single` has the layout of
 * the same model with P = 1. For a target buffer pass q_only = 1 (only the q span, laid out
 * from offset 0). */
void model_member_gather(const ModelLayout *pop, int member, const float *pop_buf, float *single, int q_only);
void model_member_scatter(const ModelLayout *pop, int member, const float *single, float *pop_buf, int q_only);

/* Fills params on the host exactly as the backends' init_uniform does: PyTorch's nn.Linear
 * default, U(−1/√fan_in, 1/√fan_in) for weights and biases, log_std = 0, from Philox with the
 * member's seed (so a member's initial weights depend only on its seed, not on its index). */
void model_init_host(const ModelLayout *layout, float *params, const uint64_t *member_seeds);

/* The Philox subsequence that initialises one tensor of one critic (k = 0, 1; 0 elsewhere). */
uint64_t model_init_subsequence(NetId net, int layer, int is_bias, int critic);

/* The policy's mean action for one (normalised) state, on the host: max_action · tanh(MLP(s)).
 * params has the layout `layout`; member selects the member. */
void model_policy_mean(const ModelLayout *layout, const float *params, int member, const float *state,
                       float max_action, float *action);

#endif
