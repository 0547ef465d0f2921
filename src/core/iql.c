/* iql.c — one IQL gradient step for P members, as SPEC.md "One gradient step" reads:
 *
 *   v = V(s), v' = V(s'), y = r + γ(1 − d) v'
 *   u = y − v (td) or min(Q̄1, Q̄2)(s, a) − v (q);   L_V = mean(|τ − 1[u<0]| u²)
 *   L_Q = ½[mean((Q1 − y)²) + mean((Q2 − y)²)]
 *   adv = min(Q̂1, Q̂2)(s, a) − v, w = min(exp(β adv), clip);   L_π = −mean(w log π(a|s))
 *   all three losses at the pre-step parameters, then AdamW, then Q̄ ← (1 − ρ)Q̄ + ρQ.
 *
 * Every network is a stack of strided-batched GEMMs over its ensemble members (P, or 2P for
 * the twin critics); every other operation is one backend call. The backend decides where it
 * runs (src/cpu/, kernels/). */
#include "core/iql.h"

#include <stdlib.h>
#include <string.h>

const char *const train_scalar_tags[LOG_TRAIN_SCALAR_COUNT] = {
    "loss/value", "loss/q", "loss/policy", "value/mean", "q/mean", "adv/mean", "weight/mean",
    "weight/clipped_fraction", "lr/policy", "lr/value", "lr/q",
};

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

    /* activations, per network and layer: [E, B, out_l] */
    float *act_v[MODEL_MAX_LAYERS], *act_v_next[MODEL_MAX_LAYERS];
    float *act_q[MODEL_MAX_LAYERS], *act_q_target[MODEL_MAX_LAYERS];
    float *act_pi[MODEL_MAX_LAYERS];
    /* dL/d(output of layer l), [E, B, out_l], per network and hidden layer: one buffer each,
     * not a ping-pong pair, because a layer's weight gradients (on their own lane) may still
     * be reading one while the chain of dX products has moved on. */
    float *grad_hidden[NET_COUNT][MODEL_MAX_LAYERS];

    float *ones;                   /* [B] of 1.0: bias gradients are the GEMM 1ᵀ · dY */
    float *dv, *dq, *weight, *dpre, *dlog_std_elem;
    float *stats;                  /* [P, IQL_STAT_COUNT, B] */
    float *stat_sums;              /* [P · IQL_STAT_COUNT] */

    HeadsArgs heads;
    PolicyHeadArgs policy;
    AdamWArgs adamw;

    void *buffers[IQL_MAX_BUFFERS];
    int n_buffers;
};

/* Allocates n floats (zeroed) of backend memory, remembered for iql_destroy. */
static float *state_alloc(IqlState *s, size_t n, Error *err) {
    if (s->n_buffers == IQL_MAX_BUFFERS) {
        error_set(err, "internal: more than %d buffers", IQL_MAX_BUFFERS);
        return NULL;
    }
    float *p = s->ops->alloc(s->b, n * sizeof(float), err);
    if (p) s->buffers[s->n_buffers++] = p;
    return p;
}

/* ---- one network, forward and backward -------------------------------------------------- */

/* acts[l] = act(X_l · W_lᵀ + b_l) for every ensemble member; the input is shared by all members.
 * weights_base points at the network's first parameter (the online params or the targets). */
static void mlp_forward(IqlState *s, const NetLayout *net, const float *weights_base, const float *input,
                        float *const *acts) {
    for (int l = 0; l < net->n_layers; l++) {
        int in = net->in[l], out = net->out[l];
        GemmArgs g = {
            .trans_a = 0, .trans_b = 1, .m = s->B, .n = out, .k = in, .alpha = 1.0f, .beta = 0.0f,
            .a = l == 0 ? input : acts[l - 1], .lda = in, .stride_a = l == 0 ? 0 : (int64_t)s->B * in,
            .b = weights_base + (net->weight[l] - net->begin), .ldb = in, .stride_b = (int64_t)out * in,
            .c = acts[l], .ldc = out, .stride_c = (int64_t)s->B * out, .batch = net->members,
        };
        s->ops->gemm_bias_activation(s->b, &g, weights_base + (net->bias[l] - net->begin),
                                     l + 1 < net->n_layers ? ACTIVATION_RELU : ACTIVATION_NONE);
    }
}

/* Backpropagates dout ([E, B, out_last], consumed) through the network, writing the
 * gradients of its weights and biases (each parameter gets exactly one contribution per
 * step, so they are written, not accumulated).
 *
 * Two lanes: `chain` carries dY down the layers (ReLU mask, then dX = dY·W), `weights` takes
 * each layer's dW and db as soon as its dY is final. The chain is the critical path: half the
 * launches of doing all three products per layer in one sequence. */
static void mlp_backward(IqlState *s, NetId id, int chain, int weights, const float *input, float *const *acts,
                         float *dout) {
    const NetLayout *net = &s->layout.net[id];
    float *dy = dout;
    for (int l = net->n_layers - 1; l >= 0; l--) {
        int in = net->in[l], out = net->out[l];
        const float *x = l == 0 ? input : acts[l - 1];
        s->ops->lane(s->b, chain);
        if (l + 1 < net->n_layers) s->ops->relu_backward(s->b, dy, acts[l], (int64_t)net->members * s->B * out);
        s->ops->lane_wait(s->b, weights, chain);  /* dY_l is final */
        s->ops->lane(s->b, weights);
        GemmArgs dw = {  /* dW_e = dY_eᵀ · X_e */
            .trans_a = 1, .trans_b = 0, .m = out, .n = in, .k = s->B, .alpha = 1.0f, .beta = 0.0f,
            .a = dy, .lda = out, .stride_a = (int64_t)s->B * out,
            .b = x, .ldb = in, .stride_b = l == 0 ? 0 : (int64_t)s->B * in,
            .c = s->grads + net->weight[l], .ldc = in, .stride_c = (int64_t)out * in, .batch = net->members,
        };
        s->ops->gemm(s->b, &dw);
        /* db_e = 1ᵀ · dY_e: a GEMM rather than a column-sum kernel, because cuBLAS spreads the
         * sum over the batch across the whole GPU (at B = 65536 a per-column kernel would have
         * only a few blocks per layer), in a fixed order. */
        GemmArgs db = {
            .trans_a = 0, .trans_b = 0, .m = 1, .n = out, .k = s->B, .alpha = 1.0f, .beta = 0.0f,
            .a = s->ones, .lda = s->B, .stride_a = 0,
            .b = dy, .ldb = out, .stride_b = (int64_t)s->B * out,
            .c = s->grads + net->bias[l], .ldc = out, .stride_c = out, .batch = net->members,
        };
        s->ops->gemm(s->b, &db);
        if (l == 0) break;
        s->ops->lane(s->b, chain);
        float *dx = s->grad_hidden[id][l - 1];
        GemmArgs dxa = {  /* dX_e = dY_e · W_e */
            .trans_a = 0, .trans_b = 0, .m = s->B, .n = in, .k = out, .alpha = 1.0f, .beta = 0.0f,
            .a = dy, .lda = out, .stride_a = (int64_t)s->B * out,
            .b = s->params + net->weight[l], .ldb = in, .stride_b = (int64_t)out * in,
            .c = dx, .ldc = in, .stride_c = (int64_t)s->B * in, .batch = net->members,
        };
        s->ops->gemm(s->b, &dxa);
        dy = dx;
    }
}

/* ---- the step ------------------------------------------------------------------------------ */

/* The step in its phases, in order. Each is a sequence of backend calls; issue_step makes
 * them all, iql_profile_step times them one by one. */
static void phase_sample(IqlState *s) {
    s->ops->prepare_step(s->b, s->scalars, s->schedule, s->cfg.adam_beta1, s->cfg.adam_beta2);
    s->ops->sample_batch(s->b, s->replay, &s->sampling, s->scalars, &s->batch);
}

/* Forward passes, all at the pre-step parameters. They are independent, so each takes a lane
 * of its own: on a GPU the small GEMMs of B = 256 fill a few SMs each, and side by side they
 * fill more (the CPU runs lanes in order). */
static void phase_forward(IqlState *s) {
    const NetLayout *value = &s->layout.net[NET_VALUE], *q = &s->layout.net[NET_Q], *pi = &s->layout.net[NET_POLICY];
    const Batch *batch = &s->batch;
    int lane = 0;
    s->ops->fork(s->b, s->use_target ? 5 : 4);
    s->ops->lane(s->b, lane++);
    mlp_forward(s, value, s->params + value->begin, batch->state, s->act_v);
    s->ops->lane(s->b, lane++);
    mlp_forward(s, value, s->params + value->begin, batch->next_state, s->act_v_next);
    s->ops->lane(s->b, lane++);
    mlp_forward(s, q, s->params + q->begin, batch->state_action, s->act_q);
    if (s->use_target) {
        s->ops->lane(s->b, lane++);
        mlp_forward(s, q, s->target, batch->state_action, s->act_q_target);
    }
    s->ops->lane(s->b, lane++);
    mlp_forward(s, pi, s->params + pi->begin, batch->state, s->act_pi);
    s->ops->join(s->b);
}

/* Losses and their gradients at the network outputs. */
static void phase_heads(IqlState *s) {
    s->ops->value_critic_heads(s->b, &s->heads);
    s->ops->policy_head(s->b, &s->policy);
}

/* Backward passes into the one gradient buffer: each network writes its own part of it, so
 * the three run side by side too, on two lanes each (mlp_backward). */
static void phase_backward(IqlState *s) {
    const Batch *batch = &s->batch;
    s->ops->fork(s->b, 6);
    mlp_backward(s, NET_VALUE, 0, 1, batch->state, s->act_v, s->dv);
    mlp_backward(s, NET_Q, 2, 3, batch->state_action, s->act_q, s->dq);
    mlp_backward(s, NET_POLICY, 4, 5, batch->state, s->act_pi, s->dpre);
    if (!s->policy.deterministic)  /* on the policy's weights lane, beside its other gradients */
        s->ops->column_sums(s->b, s->grads + s->layout.net[NET_POLICY].log_std, s->dlog_std_elem, s->P, s->B, s->A);
    s->ops->join(s->b);
}

/* The three optimisers are one fused pass; then the target critics move. */
static void phase_optimize(IqlState *s) {
    s->ops->adamw(s->b, &s->adamw);
    if (s->use_target)
        s->ops->polyak(s->b, s->target, s->params + s->layout.net[NET_Q].begin, (float)s->cfg.target_update_rate,
                       (int64_t)model_target_size(&s->layout));
    s->ops->finish_step(s->b, s->scalars);
}

static void (*const phases[IQL_PHASE_COUNT])(IqlState *) = {
    [IQL_PHASE_SAMPLE] = phase_sample, [IQL_PHASE_FORWARD] = phase_forward, [IQL_PHASE_HEADS] = phase_heads,
    [IQL_PHASE_BACKWARD] = phase_backward, [IQL_PHASE_OPTIMIZE] = phase_optimize,
};
const char *const iql_phase_names[IQL_PHASE_COUNT] = {"sample", "forward", "heads", "backward", "optimize"};

static void issue_step(void *arg) {
    for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) phases[ph]((IqlState *)arg);
}

_Static_assert(IQL_PHASE_COUNT + 1 <= BACKEND_TIME_SLOTS, "a stamp before each phase and after the last");

int iql_profile_step(IqlState *s, double seconds[IQL_PHASE_COUNT], Error *err) {
    if (s->ops->synchronize(s->b, err)) return -1;
    s->ops->time_mark(s->b, 0);
    for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) {
        phases[ph](s);
        s->ops->time_mark(s->b, ph + 1);
    }
    for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) {
        double t;
        if (s->ops->time_elapsed(s->b, ph, ph + 1, &t, err)) return -1;
        seconds[ph] += t;
    }
    return 0;
}

void iql_step(IqlState *s) { s->ops->run_step(s->b, issue_step, s); }

/* ---- setup ----------------------------------------------------------------------------------- */

static void build_schedule(IqlState *s) {
    const Config *c = &s->cfg;
    int64_t epochs = c->steps / (c->steps_per_epoch > 0 ? c->steps_per_epoch : 1);
    for (int g = 0; g < LR_GROUP_COUNT; g++) {
        s->schedule[g] = (LrSchedule){
            .lr0 = (float)c->lr[g], .lr_min = (float)c->lr_min,
            .t_max = c->lr_t_max > 0 ? c->lr_t_max : (epochs > 0 ? epochs : 1),
            .steps_per_unit = c->steps_per_epoch, .cosine = c->lr_schedule == LR_SCHEDULE_COSINE && c->lr_schedule_groups[g],
        };
    }
}

/* Initialises every tensor from its member's seed with the backend's own Philox draw. */
static void init_params(IqlState *s, const MemberSpec *members) {
    for (int n = 0; n < NET_COUNT; n++) {
        const NetLayout *net = &s->layout.net[n];
        int per_member = net->members / s->P;
        for (int l = 0; l < net->n_layers; l++) {
            float bound = 1.0f / sqrtf((float)net->in[l]);
            int64_t wsize = (int64_t)net->out[l] * net->in[l];
            for (int e = 0; e < net->members; e++) {
                uint64_t seed = members[e / per_member].seed;
                int critic = e % per_member;
                s->ops->init_uniform(s->b, s->params + net->weight[l] + e * wsize, wsize, bound, seed,
                                     model_init_subsequence((NetId)n, l, 0, critic));
                s->ops->init_uniform(s->b, s->params + net->bias[l] + (int64_t)e * net->out[l], net->out[l], bound,
                                     seed, model_init_subsequence((NetId)n, l, 1, critic));
            }
        }
    }
    /* log σ starts at 0: the buffer is zero-filled. The targets start as the critics. */
    s->ops->copy(s->b, s->target, s->params + s->layout.net[NET_Q].begin, (int64_t)model_target_size(&s->layout));
}

static int alloc_activations(IqlState *s, const NetLayout *net, float **acts, Error *err) {
    for (int l = 0; l < net->n_layers; l++)
        if (!(acts[l] = state_alloc(s, (size_t)net->members * s->B * net->out[l], err))) return -1;
    return 0;
}

/* Per-member τ and β live in backend memory, where the head ops read them. */
static int upload_member_settings(IqlState *s, const MemberSpec *members, Error *err) {
    float *host = malloc(sizeof(float) * 2 * s->P);
    if (!host) return error_set(err, "out of host memory");
    for (int p = 0; p < s->P; p++) {
        host[p] = (float)members[p].tau;
        host[s->P + p] = (float)members[p].beta;
    }
    int rc = s->ops->upload(s->b, s->tau, host, sizeof(float) * s->P, err) ||
             s->ops->upload(s->b, s->beta, host + s->P, sizeof(float) * s->P, err);
    free(host);
    return rc ? -1 : 0;
}

static int upload_ones(IqlState *s, Error *err) {
    float *host = malloc(sizeof(float) * s->B);
    if (!host) return error_set(err, "out of host memory");
    for (int i = 0; i < s->B; i++) host[i] = 1.0f;
    int rc = s->ops->upload(s->b, s->ones, host, sizeof(float) * s->B, err);
    free(host);
    return rc;
}

IqlState *iql_create(Backend *b, const Config *cfg, const MemberSpec *members, int n_members,
                     const ReplaySource *data, Error *err) {
    IqlState *s = calloc(1, sizeof *s);
    if (!s) {
        error_set(err, "out of host memory");
        return NULL;
    }
    s->b = b;
    s->ops = b->ops;
    s->cfg = *cfg;
    s->P = n_members;
    s->B = cfg->batch_size;
    s->S = data->obs_dim;
    s->A = data->act_dim;
    s->use_target = cfg->target_update_rate < 1.0;
    if (data->n < 1 || data->n > UINT32_MAX) {
        error_set(err, "dataset has %lld transitions; cuiql handles 1 to 2^32 - 1", (long long)data->n);
        goto fail;
    }
    if (model_layout_init(&s->layout, n_members, s->S, s->A, cfg->hidden, cfg->n_hidden, err)) goto fail;

    const ModelLayout *L = &s->layout;
    size_t np = L->n_params, nt = model_target_size(L);
    int P = s->P, B = s->B, S = s->S, A = s->A;

    if (!(s->params = state_alloc(s, np, err)) || !(s->grads = state_alloc(s, np, err)) ||
        !(s->adam_m = state_alloc(s, np, err)) || !(s->adam_v = state_alloc(s, np, err)) ||
        !(s->target = state_alloc(s, nt, err)) || !(s->tau = state_alloc(s, P, err)) ||
        !(s->beta = state_alloc(s, P, err)))
        goto fail;
    s->scalars = s->ops->alloc(b, sizeof(StepScalars), err);
    if (!s->scalars) goto fail;
    s->buffers[s->n_buffers++] = s->scalars;

    Batch *bt = &s->batch;
    bt->rows = B;
    if (!(bt->state = state_alloc(s, (size_t)B * S, err)) || !(bt->next_state = state_alloc(s, (size_t)B * S, err)) ||
        !(bt->state_action = state_alloc(s, (size_t)B * (S + A), err)) ||
        !(bt->action = state_alloc(s, (size_t)B * A, err)) || !(bt->reward = state_alloc(s, B, err)) ||
        !(bt->terminal = state_alloc(s, B, err)) || !(bt->index = (uint32_t *)state_alloc(s, B, err)))
        goto fail;

    if (alloc_activations(s, &L->net[NET_VALUE], s->act_v, err) ||
        alloc_activations(s, &L->net[NET_VALUE], s->act_v_next, err) ||
        alloc_activations(s, &L->net[NET_Q], s->act_q, err) ||
        (s->use_target && alloc_activations(s, &L->net[NET_Q], s->act_q_target, err)) ||
        alloc_activations(s, &L->net[NET_POLICY], s->act_pi, err))
        goto fail;
    for (int n = 0; n < NET_COUNT; n++)
        for (int l = 0; l + 1 < L->net[n].n_layers; l++)
            if (!(s->grad_hidden[n][l] = state_alloc(s, (size_t)L->net[n].members * B * L->net[n].out[l], err)))
                goto fail;
    if (!(s->ones = state_alloc(s, (size_t)B, err)) || !(s->dv = state_alloc(s, (size_t)P * B, err)) || !(s->dq = state_alloc(s, (size_t)2 * P * B, err)) ||
        !(s->weight = state_alloc(s, (size_t)P * B, err)) || !(s->dpre = state_alloc(s, (size_t)P * B * A, err)) ||
        !(s->dlog_std_elem = state_alloc(s, (size_t)P * B * A, err)) ||
        !(s->stats = state_alloc(s, (size_t)P * IQL_STAT_COUNT * B, err)) ||
        !(s->stat_sums = state_alloc(s, (size_t)P * IQL_STAT_COUNT, err)))
        goto fail;

    if (upload_member_settings(s, members, err) || upload_ones(s, err)) goto fail;

    if (!(s->replay = s->ops->replay_create(b, data, cfg->replay, B, err))) goto fail;
    s->sampling = (SamplingArgs){
        .sequential = cfg->sampling == SAMPLING_SEQUENTIAL,
        .seed = cfg->batch_seed >= 0 ? (uint64_t)cfg->batch_seed : cfg->seed,
    };
    build_schedule(s);

    int last = L->net[NET_VALUE].n_layers - 1;
    s->heads = (HeadsArgs){
        .members = P, .rows = B,
        .v = s->act_v[last], .v_next = s->act_v_next[last],
        .q = s->act_q[last], .q_hat = s->use_target ? s->act_q_target[last] : s->act_q[last],
        .reward = bt->reward, .terminal = bt->terminal, .tau = s->tau, .beta = s->beta,
        .discount = (float)cfg->discount, .adv_clip = (float)cfg->adv_clip,
        .q_scale = cfg->q_loss == Q_LOSS_SUM ? 1.0f : 0.5f,
        .value_target_q = cfg->value_target == VALUE_TARGET_Q,
        .dv = s->dv, .dq = s->dq, .weight = s->weight, .stats = s->stats,
    };
    s->policy = (PolicyHeadArgs){
        .members = P, .rows = B, .act_dim = A, .deterministic = cfg->policy == POLICY_DETERMINISTIC,
        .pre = s->act_pi[last], .log_std = s->params + L->net[NET_POLICY].log_std, .action = bt->action,
        .weight = s->weight, .max_action = (float)cfg->max_action,
        .log_std_min = (float)cfg->log_std_min, .log_std_max = (float)cfg->log_std_max,
        .dpre = s->dpre, .dlog_std_elem = s->dlog_std_elem, .stats = s->stats,
    };
    s->adamw = (AdamWArgs){
        .param = s->params, .grad = s->grads, .m = s->adam_m, .v = s->adam_v, .n = (int64_t)np,
        .group_end = {(int64_t)L->net[NET_POLICY].end, (int64_t)L->net[NET_VALUE].end, (int64_t)L->net[NET_Q].end},
        .hyper = iql_adam_hyper(cfg->adam_beta1, cfg->adam_beta2, cfg->adam_eps, cfg->weight_decay),
        .scalars = s->scalars,
    };

    init_params(s, members);
    if (s->ops->status(b, err) || s->ops->synchronize(b, err)) goto fail;
    return s;

fail:
    iql_destroy(s);
    return NULL;
}

void iql_destroy(IqlState *s) {
    if (!s) return;
    if (s->replay) s->ops->replay_destroy(s->b, s->replay);
    for (int i = 0; i < s->n_buffers; i++) s->ops->release(s->b, s->buffers[i]);
    free(s);
}

const ModelLayout *iql_layout(const IqlState *s) { return &s->layout; }

int iql_set_step_count(IqlState *s, int64_t step, Error *err) {
    StepScalars host = {.step = step};
    return s->ops->upload(s->b, s->scalars, &host, sizeof host, err);
}

/* ---- host views ------------------------------------------------------------------------------ */

int iql_read_scalars(IqlState *s, double *out, Error *err) {
    int P = s->P, B = s->B;
    s->ops->row_sums(s->b, s->stat_sums, s->stats, (int64_t)P * IQL_STAT_COUNT, B);
    float sums[P * IQL_STAT_COUNT];
    StepScalars sc;
    if (s->ops->status(s->b, err) || s->ops->download(s->b, sums, s->stat_sums, sizeof sums, err) ||
        s->ops->download(s->b, &sc, s->scalars, sizeof sc, err))
        return -1;
    static const int stat_of[] = {
        [LOG_LOSS_VALUE] = IQL_STAT_VALUE_LOSS, [LOG_LOSS_Q] = IQL_STAT_Q_LOSS,
        [LOG_LOSS_POLICY] = IQL_STAT_POLICY_LOSS, [LOG_VALUE_MEAN] = IQL_STAT_VALUE, [LOG_Q_MEAN] = IQL_STAT_Q,
        [LOG_ADV_MEAN] = IQL_STAT_ADVANTAGE, [LOG_WEIGHT_MEAN] = IQL_STAT_WEIGHT,
        [LOG_WEIGHT_CLIPPED] = IQL_STAT_WEIGHT_CLIPPED,
    };
    for (int p = 0; p < P; p++) {
        double *row = out + (size_t)p * LOG_TRAIN_SCALAR_COUNT;
        for (int t = LOG_LOSS_VALUE; t <= LOG_WEIGHT_CLIPPED; t++)
            row[t] = sums[p * IQL_STAT_COUNT + stat_of[t]] / (double)B;
        row[LOG_LR_POLICY] = sc.lr[LR_GROUP_POLICY];
        row[LOG_LR_VALUE] = sc.lr[LR_GROUP_VALUE];
        row[LOG_LR_Q] = sc.lr[LR_GROUP_Q];
    }
    return 0;
}

/* Downloads a whole population buffer, or uploads it after `edit` changed one member. */
static float *download_buffer(IqlState *s, const float *buf, size_t n, Error *err) {
    float *host = malloc(n * sizeof(float));
    if (!host) {
        error_set(err, "out of host memory (%zu bytes)", n * sizeof(float));
        return NULL;
    }
    if (s->ops->download(s->b, host, buf, n * sizeof(float), err)) {
        free(host);
        return NULL;
    }
    return host;
}

static int get_one(IqlState *s, const float *buf, int member, float *single, int q_only, Error *err) {
    size_t n = q_only ? model_target_size(&s->layout) : s->layout.n_params;
    float *host = download_buffer(s, buf, n, err);
    if (!host) return -1;
    model_member_gather(&s->layout, member, host, single, q_only);
    free(host);
    return 0;
}

int iql_get_member(IqlState *s, int member, float *params, float *target, float *adam_m, float *adam_v, Error *err) {
    size_t np = s->layout.n_params;
    float *host = malloc(np * sizeof(float));  /* the target span is smaller than np */
    if (!host) return error_set(err, "out of host memory (%zu bytes)", np * sizeof(float));
    float *outs[] = {params, target, adam_m, adam_v};
    int rc = 0;
    for (int k = 0; k < 4 && !rc; k++) {
        if (!outs[k]) continue;
        rc = iql_get_population(s, k == 0 ? host : NULL, k == 1 ? host : NULL, k == 2 ? host : NULL,
                                k == 3 ? host : NULL, err);
        if (!rc) model_member_gather(&s->layout, member, host, outs[k], k == 1);
    }
    free(host);
    return rc;
}

int iql_get_population(IqlState *s, float *params, float *target, float *adam_m, float *adam_v, Error *err) {
    size_t np = s->layout.n_params, nt = model_target_size(&s->layout);
    const BackendOps *o = s->ops;
    if ((params && o->download(s->b, params, s->params, np * sizeof(float), err)) ||
        (adam_m && o->download(s->b, adam_m, s->adam_m, np * sizeof(float), err)) ||
        (adam_v && o->download(s->b, adam_v, s->adam_v, np * sizeof(float), err)))
        return -1;
    if (!target) return 0;
    /* ρ = 1: after every step Q̄ = Q, so the targets are the critics' own span. */
    const float *src = s->use_target ? s->target : s->params + s->layout.net[NET_Q].begin;
    return o->download(s->b, target, src, nt * sizeof(float), err);
}

int iql_get_gradients(IqlState *s, int member, float *grads, Error *err) {
    return get_one(s, s->grads, member, grads, 0, err);
}

int iql_set_population(IqlState *s, const float *params, const float *target, const float *adam_m,
                       const float *adam_v, Error *err) {
    size_t np = s->layout.n_params * sizeof(float), nt = model_target_size(&s->layout) * sizeof(float);
    const BackendOps *o = s->ops;
    if ((params && o->upload(s->b, s->params, params, np, err)) || (target && o->upload(s->b, s->target, target, nt, err)) ||
        (adam_m && o->upload(s->b, s->adam_m, adam_m, np, err)) || (adam_v && o->upload(s->b, s->adam_v, adam_v, np, err)))
        return -1;
    return o->status(s->b, err);
}

void iql_targets_from_critics(const IqlState *s, int member, const float *single, float *pop_target) {
    /* The member view's q span starts where its critics do; the target buffer is that span. */
    ModelLayout one;
    if (model_layout_init(&one, 1, s->S, s->A, s->cfg.hidden, s->cfg.n_hidden, NULL)) return;
    model_member_scatter(&s->layout, member, single + one.net[NET_Q].begin, pop_target, 1);
}

int iql_set_member(IqlState *s, int member, const float *params, const float *target, const float *adam_m,
                   const float *adam_v, Error *err) {
    size_t np = s->layout.n_params, nt = model_target_size(&s->layout);
    float *pp = malloc(np * sizeof(float)), *pt = malloc(nt * sizeof(float));
    float *pm = malloc(np * sizeof(float)), *pv = malloc(np * sizeof(float));
    int rc = !pp || !pt || !pm || !pv ? error_set(err, "out of host memory")
                                      : iql_get_population(s, pp, NULL, pm, pv, err);
    /* the stored targets, not the ρ = 1 view of them: they are what this call may replace */
    if (!rc) rc = s->ops->download(s->b, pt, s->target, nt * sizeof(float), err);
    if (!rc) {
        if (params) model_member_scatter(&s->layout, member, params, pp, 0);
        if (adam_m) model_member_scatter(&s->layout, member, adam_m, pm, 0);
        if (adam_v) model_member_scatter(&s->layout, member, adam_v, pv, 0);
        if (target) model_member_scatter(&s->layout, member, target, pt, 1);
        else if (params) iql_targets_from_critics(s, member, params, pt);
        rc = iql_set_population(s, pp, pt, pm, pv, err);
    }
    free(pp), free(pt), free(pm), free(pv);
    return rc;
}

