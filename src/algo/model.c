/* model.c — parameter layout of the population's networks (see model.h). */
#include "algo/model.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cuiql/philox.h"

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

/* Lays out one MLP of `members` ensemble members starting at *offset: per layer the weights of
 * all members, then their biases (so each layer is one strided-batched GEMM and one bias op).
 * in_ld is the row stride of the first layer's input. Aligned: each block starts on a
 * MODEL_ALIGN_FLOATS boundary and member slices are MODEL_VEC_FLOATS apart at least. */
static void layout_mlp(NetLayout *net, int members, int in, int in_ld, int out, const int *hidden, int n_hidden,
                       int aligned, size_t *offset) {
    size_t block = aligned ? MODEL_ALIGN_FLOATS : 1, vec = aligned ? MODEL_VEC_FLOATS : 1;
    net->members = members;
    net->n_layers = n_hidden + 1;
    *offset = round_up(*offset, block);
    net->begin = *offset;
    int width_in = in, ld = in_ld;
    for (int l = 0; l < net->n_layers; l++) {
        int width_out = l < n_hidden ? hidden[l] : out;
        net->in[l] = width_in;
        net->out[l] = width_out;
        net->ld[l] = ld;
        net->weight_stride[l] = round_up((size_t)width_out * ld, vec);
        net->bias_stride[l] = round_up((size_t)width_out, vec);
        *offset = round_up(*offset, block);
        net->weight[l] = *offset;
        *offset += (size_t)members * net->weight_stride[l];
        *offset = round_up(*offset, block);
        net->bias[l] = *offset;
        *offset += (size_t)members * net->bias_stride[l];
        width_in = ld = width_out;  /* hidden activations are packed [E, B, out] */
    }
    net->log_std = SIZE_MAX;
    *offset = round_up(*offset, block);
    net->end = *offset;
}

static int layout_init(ModelLayout *layout, int members, int obs_dim, int act_dim, const int *hidden, int n_hidden,
                       int aligned, Error *err) {
    memset(layout, 0, sizeof *layout);
    if (members < 1) return error_set(err, "model: need at least one member, got %d", members);
    if (obs_dim < 1 || act_dim < 1)
        return error_set(err, "model: state and action dimensions must be positive (got %d, %d)", obs_dim, act_dim);
    if (n_hidden < 1 || n_hidden >= MODEL_MAX_LAYERS)
        return error_set(err, "model: between 1 and %d hidden layers, got %d", MODEL_MAX_LAYERS - 1, n_hidden);
    for (int i = 0; i < n_hidden; i++)
        if (hidden[i] < 1 || hidden[i] > MODEL_MAX_WIDTH)
            return error_set(err, "model: hidden layer %d has size %d (allowed 1..%d)", i, hidden[i], MODEL_MAX_WIDTH);
    if (act_dim > MODEL_MAX_WIDTH) return error_set(err, "model: action dimension %d is over %d", act_dim, MODEL_MAX_WIDTH);
    if (obs_dim > MODEL_MAX_INPUT) return error_set(err, "model: state dimension %d is over %d", obs_dim, MODEL_MAX_INPUT);
    layout->members = members;
    layout->obs_dim = obs_dim;
    layout->act_dim = act_dim;
    layout->n_hidden = n_hidden;
    layout->aligned = aligned;
    memcpy(layout->hidden, hidden, sizeof(int) * n_hidden);
    size_t vec = aligned ? MODEL_VEC_FLOATS : 1;
    layout->state_ld = (int)round_up((size_t)obs_dim, vec);
    layout->state_action_ld = (int)round_up((size_t)obs_dim + act_dim, vec);

    size_t offset = 0;
    NetLayout *policy = &layout->net[NET_POLICY];
    layout_mlp(policy, members, obs_dim, layout->state_ld, act_dim, hidden, n_hidden, aligned, &offset);
    policy->log_std = offset;  /* log σ belongs to the policy's learning-rate group */
    offset += (size_t)members * act_dim;
    offset = round_up(offset, aligned ? MODEL_ALIGN_FLOATS : 1);
    policy->end = offset;
    layout_mlp(&layout->net[NET_VALUE], members, obs_dim, layout->state_ld, 1, hidden, n_hidden, aligned, &offset);
    layout_mlp(&layout->net[NET_Q], 2 * members, obs_dim + act_dim, layout->state_action_ld, 1, hidden, n_hidden,
               aligned, &offset);
    layout->n_params = offset;
    size_t logical = (size_t)members * act_dim;
    for (int n = 0; n < NET_COUNT; n++) {
        const NetLayout *net = &layout->net[n];
        for (int l = 0; l < net->n_layers; l++)
            logical += (size_t)net->members * ((size_t)net->out[l] * net->in[l] + net->out[l]);
    }
    layout->n_logical = logical;
    return 0;
}

int model_layout_init(ModelLayout *layout, int members, int obs_dim, int act_dim, const int *hidden, int n_hidden,
                      Error *err) {
    return layout_init(layout, members, obs_dim, act_dim, hidden, n_hidden, 0, err);
}

int model_layout_init_aligned(ModelLayout *layout, int members, int obs_dim, int act_dim, const int *hidden,
                              int n_hidden, Error *err) {
    return layout_init(layout, members, obs_dim, act_dim, hidden, n_hidden, 1, err);
}

size_t model_target_size(const ModelLayout *layout) {
    return layout->net[NET_Q].end - layout->net[NET_Q].begin;
}

/* Copies one member's tensors between a population layout (either packing) and the packed
 * P = 1 layout, row by row of `in` floats, so padding is neither read nor written. For the
 * critics a member owns ensemble members 2p and 2p+1. `to_single` picks the direction. */
static void member_copy(const ModelLayout *pop, int member, float *pop_buf, float *single, int q_only,
                        int to_single) {
    ModelLayout one;
    if (model_layout_init(&one, 1, pop->obs_dim, pop->act_dim, pop->hidden, pop->n_hidden, NULL) != 0) return;
    for (int n = q_only ? NET_Q : 0; n < NET_COUNT; n++) {
        const NetLayout *pn = &pop->net[n], *sn = &one.net[n];
        int per_member = pn->members / pop->members;  /* 1, or 2 for the critics */
        size_t base_pop = q_only ? pop->net[NET_Q].begin : 0, base_one = q_only ? one.net[NET_Q].begin : 0;
        for (int l = 0; l < pn->n_layers; l++) {
            size_t in = (size_t)pn->in[l], out = (size_t)pn->out[l];
            for (int k = 0; k < per_member; k++) {
                size_t e = (size_t)member * per_member + k;
                float *pw = pop_buf + pn->weight[l] - base_pop + e * pn->weight_stride[l];
                float *pb = pop_buf + pn->bias[l] - base_pop + e * pn->bias_stride[l];
                float *sw = single + sn->weight[l] - base_one + (size_t)k * sn->weight_stride[l];
                float *sb = single + sn->bias[l] - base_one + (size_t)k * sn->bias_stride[l];
                for (size_t o = 0; o < out; o++) {
                    float *prow = pw + o * pn->ld[l], *srow = sw + o * in;
                    memcpy(to_single ? srow : prow, to_single ? prow : srow, in * sizeof(float));
                }
                memcpy(to_single ? sb : pb, to_single ? pb : sb, out * sizeof(float));
            }
        }
        if (pn->log_std != SIZE_MAX) {
            float *pl = pop_buf + pn->log_std + (size_t)member * pop->act_dim;
            float *sl = single + sn->log_std;
            if (to_single) memcpy(sl, pl, pop->act_dim * sizeof(float));
            else memcpy(pl, sl, pop->act_dim * sizeof(float));
        }
    }
}

void model_member_gather(const ModelLayout *pop, int member, const float *pop_buf, float *single, int q_only) {
    member_copy(pop, member, (float *)pop_buf, single, q_only, 1);  /* read-only in this direction */
}

void model_member_scatter(const ModelLayout *pop, int member, const float *single, float *pop_buf, int q_only) {
    member_copy(pop, member, pop_buf, (float *)single, q_only, 0);
}

uint64_t model_init_subsequence(NetId net, int layer, int is_bias, int critic) {
    return PHILOX_INIT_SUBSEQUENCE_BASE + ((((uint64_t)net * MODEL_MAX_LAYERS + layer) * 2 + is_bias) * 2 + critic);
}

void model_init_weight(const NetLayout *net, NetId n, int layer, int critic, uint64_t seed, float *w) {
    int in = net->in[layer], ld = net->ld[layer];
    float bound = 1.0f / sqrtf((float)in);
    uint64_t ws = model_init_subsequence(n, layer, 0, critic);
    for (int o = 0; o < net->out[layer]; o++)
        for (int c = 0; c < in; c++)
            w[(size_t)o * ld + c] = bound * (2.0f * philox_uniform01(philox_value(seed, ws, (uint64_t)o * in + c)) - 1.0f);
}

void model_init_host(const ModelLayout *layout, float *params, const uint64_t *member_seeds) {
    memset(params, 0, sizeof(float) * layout->n_params);  /* padding, and log σ = 0 */
    for (int n = 0; n < NET_COUNT; n++) {
        const NetLayout *net = &layout->net[n];
        int per_member = net->members / layout->members;
        for (int l = 0; l < net->n_layers; l++) {
            float bound = 1.0f / sqrtf((float)net->in[l]);
            for (int e = 0; e < net->members; e++) {
                uint64_t seed = member_seeds[e / per_member];
                int critic = e % per_member;
                model_init_weight(net, (NetId)n, l, critic, seed, params + net->weight[l] + (size_t)e * net->weight_stride[l]);
                float *b = params + net->bias[l] + (size_t)e * net->bias_stride[l];
                uint64_t bs = model_init_subsequence((NetId)n, l, 1, critic);
                for (int j = 0; j < net->out[l]; j++)
                    b[j] = bound * (2.0f * philox_uniform01(philox_value(seed, bs, (uint64_t)j)) - 1.0f);
            }
        }
    }
}

void model_policy_mean(const ModelLayout *layout, const float *params, int member, const float *state,
                       float max_action, float *action) {
    const NetLayout *net = &layout->net[NET_POLICY];
    float buf[2][MODEL_MAX_WIDTH];  /* widths are bounded by model_layout_init */
    const float *x = state;
    for (int l = 0; l < net->n_layers; l++) {
        int in = net->in[l], out = net->out[l];
        const float *w = params + net->weight[l] + (size_t)member * net->weight_stride[l];
        const float *b = params + net->bias[l] + (size_t)member * net->bias_stride[l];
        float *y = buf[l & 1];
        for (int o = 0; o < out; o++) {
            double acc = b[o];
            for (int i = 0; i < in; i++) acc += (double)w[(size_t)o * net->ld[l] + i] * x[i];
            y[o] = l + 1 < net->n_layers ? (acc > 0 ? (float)acc : 0.0f) : (float)acc;
        }
        x = y;
    }
    for (int j = 0; j < layout->act_dim; j++) action[j] = max_action * tanhf(x[j]);
}
