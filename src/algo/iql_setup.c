/* iql_setup.c — creating a population's training state: every buffer in backend memory, the
 * initial weights, and the arguments of every call the step makes (see iql_state.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "algo/iql_state.h"
#include "algo/large_batch.h"
#include "cuiql/philox.h"

_Static_assert(2 * NET_COUNT <= BACKEND_MAX_LANES, "the backward passes take two lanes each");
_Static_assert(NET_COUNT + 2 <= BACKEND_MAX_LANES, "each forward pass takes a lane");
_Static_assert(sizeof(StepScalars) % sizeof(float) == 0, "the step scalars are allocated as floats");

/* Allocates n floats (zeroed) of backend memory, remembered for iql_destroy. Each buffer is
 * its own allocation, so it starts on the backend's alignment (256 bytes on CUDA, 64 on the CPU). */
static float *state_alloc(IqlState *s, size_t n, Error *err) {
    if (s->n_buffers == IQL_MAX_BUFFERS) {
        error_set(err, "internal: more than %d buffers", IQL_MAX_BUFFERS);
        return NULL;
    }
    float *p = s->ops->alloc(s->b, n * sizeof(float), err);
    if (p) {
        s->buffers[s->n_buffers++] = p;
        s->bytes += n * sizeof(float);
    }
    return p;
}

static void build_schedule(IqlState *s) {
    const Config *c = &s->cfg;
    int64_t epochs = c->steps / (c->steps_per_epoch > 0 ? c->steps_per_epoch : 1);
    double scale = large_batch_lr_factor(c);  /* 1 unless lr_scaling: see large_batch.h */
    for (int g = 0; g < LR_GROUP_COUNT; g++) {
        s->schedule[g] = (LrSchedule){
            .lr0 = (float)(c->lr[g] * scale), .lr_min = (float)(c->lr_min * scale),
            .t_max = c->lr_t_max > 0 ? c->lr_t_max : (epochs > 0 ? epochs : 1),
            .steps_per_unit = c->steps_per_epoch, .cosine = c->lr_schedule == LR_SCHEDULE_COSINE && c->lr_schedule_groups[g],
            .warmup_steps = c->lr_warmup_steps,
        };
    }
}

/* A first layer whose rows carry padding (ld > in): its weights for all members, drawn on the
 * host by model_init_host's rule (element (o, c) takes word o·in + c; padding 0) and uploaded
 * in one piece, since init_uniform draws a contiguous run of words. At most [2P, 256, ld]. */
static int init_padded_weights(IqlState *s, const NetLayout *net, NetId n, int l, const MemberSpec *members,
                               Error *err) {
    int per_member = net->members / s->P;
    size_t count = (size_t)net->members * net->weight_stride[l];
    float *host = calloc(count, sizeof(float));
    if (!host) return error_set(err, "out of host memory (%zu floats)", count);
    for (int e = 0; e < net->members; e++)
        model_init_weight(net, n, l, e % per_member, members[e / per_member].seed, host + (size_t)e * net->weight_stride[l]);
    int rc = s->ops->upload(s->b, s->params + net->weight[l], host, count * sizeof(float), err);
    free(host);
    return rc;
}

/* Initialises every tensor from its member's seed with the backend's own Philox draw. */
static int init_params(IqlState *s, const MemberSpec *members, Error *err) {
    for (int n = 0; n < NET_COUNT; n++) {
        const NetLayout *net = &s->layout.net[n];
        int per_member = net->members / s->P;
        for (int l = 0; l < net->n_layers; l++) {
            float bound = 1.0f / sqrtf((float)net->in[l]);
            int out = net->out[l];
            if (net->ld[l] != net->in[l] && init_padded_weights(s, net, (NetId)n, l, members, err)) return -1;
            for (int e = 0; e < net->members; e++) {
                uint64_t seed = members[e / per_member].seed;
                int critic = e % per_member;
                if (net->ld[l] == net->in[l])
                    s->ops->init_uniform(s->b, s->params + net->weight[l] + (size_t)e * net->weight_stride[l],
                                         (int64_t)out * net->in[l], bound, seed,
                                         model_init_subsequence((NetId)n, l, 0, critic));
                s->ops->init_uniform(s->b, s->params + net->bias[l] + (size_t)e * net->bias_stride[l], out, bound,
                                     seed, model_init_subsequence((NetId)n, l, 1, critic));
            }
        }
    }
    /* log σ starts at 0: the buffer is zero-filled. The targets start as the critics. */
    s->ops->copy(s->b, s->target, s->params + s->layout.net[NET_Q].begin, (int64_t)model_target_size(&s->layout));
    return 0;
}

/* Activations of one forward pass, [E, B, out_l] per layer. `borrowed` (or NULL) supplies the
 * hidden layers of a pass that backward never reads: V(s') and Q̄(s, a) need only their
 * outputs, so their hidden activations live in the same network's dL/d(hidden) buffers, which
 * are of the same shape and hold nothing between the end of one backward phase and the start
 * of the next (forward, heads, backward run in that order on the step stream). */
static int alloc_activations(IqlState *s, const NetLayout *net, float **acts, float *const *borrowed, Error *err) {
    for (int l = 0; l < net->n_layers; l++) {
        if (borrowed && l + 1 < net->n_layers) {
            acts[l] = borrowed[l];
            continue;
        }
        if (!(acts[l] = state_alloc(s, (size_t)net->members * s->B * net->out[l], err))) return -1;
    }
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

static int alloc_buffers(IqlState *s, Error *err) {
    const ModelLayout *L = &s->layout;
    size_t np = L->n_params, nt = model_target_size(L);
    int P = s->P, B = s->B, A = s->A;
    size_t ld = (size_t)L->state_ld, ld_sa = (size_t)L->state_action_ld;
    if (!(s->params = state_alloc(s, np, err)) || !(s->grads = state_alloc(s, np, err)) ||
        !(s->adam_m = state_alloc(s, np, err)) || !(s->adam_v = state_alloc(s, np, err)) ||
        !(s->target = state_alloc(s, nt, err)) || !(s->tau = state_alloc(s, P, err)) ||
        !(s->beta = state_alloc(s, P, err)) ||
        !(s->scalars = (StepScalars *)state_alloc(s, sizeof(StepScalars) / sizeof(float), err)))
        return -1;

    Batch *bt = &s->batch;
    bt->rows = B;
    bt->state_ld = L->state_ld;
    bt->state_action_ld = L->state_action_ld;
    if (!(bt->state = state_alloc(s, B * ld, err)) || !(bt->next_state = state_alloc(s, B * ld, err)) ||
        !(bt->state_action = state_alloc(s, B * ld_sa, err)) ||
        !(bt->action = state_alloc(s, (size_t)B * A, err)) || !(bt->reward = state_alloc(s, B, err)) ||
        !(bt->terminal = state_alloc(s, B, err)) || !(bt->index = (uint32_t *)state_alloc(s, B, err)))
        return -1;

    for (int n = 0; n < NET_COUNT; n++)
        for (int l = 0; l + 1 < L->net[n].n_layers; l++)
            if (!(s->grad_hidden[n][l] = state_alloc(s, (size_t)L->net[n].members * B * L->net[n].out[l], err)))
                return -1;
    if (alloc_activations(s, &L->net[NET_VALUE], s->act_v, NULL, err) ||
        alloc_activations(s, &L->net[NET_VALUE], s->act_v_next, s->grad_hidden[NET_VALUE], err) ||
        alloc_activations(s, &L->net[NET_Q], s->act_q, NULL, err) ||
        (s->use_target && alloc_activations(s, &L->net[NET_Q], s->act_q_target, s->grad_hidden[NET_Q], err)) ||
        alloc_activations(s, &L->net[NET_POLICY], s->act_pi, NULL, err))
        return -1;
    if (!(s->ones = state_alloc(s, (size_t)B, err)) || !(s->dv = state_alloc(s, (size_t)P * B, err)) ||
        !(s->dq = state_alloc(s, (size_t)2 * P * B, err)) || !(s->weight = state_alloc(s, (size_t)P * B, err)) ||
        !(s->dpre = state_alloc(s, (size_t)P * B * A, err)) ||
        !(s->dlog_std_elem = state_alloc(s, (size_t)P * B * A, err)) ||
        !(s->stats = state_alloc(s, (size_t)P * IQL_STAT_COUNT * B, err)) ||
        !(s->stat_sums = state_alloc(s, (size_t)P * IQL_STAT_COUNT, err)))
        return -1;
    return 0;
}

/* The same buffers as alloc_buffers, counted by kind (bytes). */
void iql_memory_plan(const ModelLayout *L, int B, int use_target, IqlMemory *m) {
    memset(m, 0, sizeof *m);
    size_t P = (size_t)L->members, A = (size_t)L->act_dim, b = (size_t)B, f = sizeof(float);
    m->model = f * (4 * L->n_params + model_target_size(L) + 2 * P) + sizeof(StepScalars);
    m->batch = f * b * (2 * (size_t)L->state_ld + (size_t)L->state_action_ld + A + 3);
    for (int n = 0; n < NET_COUNT; n++) {
        const NetLayout *net = &L->net[n];
        size_t last = f * net->members * b * net->out[net->n_layers - 1];
        for (int l = 0; l + 1 < net->n_layers; l++) {
            size_t bytes = f * net->members * b * net->out[l];
            m->gradients += bytes;    /* grad_hidden */
            m->activations += bytes;  /* the pass backward reads */
        }
        m->activations += last;
        if (n == NET_VALUE) m->activations += last;          /* V(s'): its output only */
        if (n == NET_Q && use_target) m->activations += last; /* Q̄(s, a): its output only */
    }
    m->heads = f * (b + P * b * (1 + 2 + 1 + 2 * A + IQL_STAT_COUNT) + P * IQL_STAT_COUNT);
    m->total = m->model + m->batch + m->activations + m->gradients + m->heads;
}

size_t iql_state_bytes(const IqlState *s) { return s->bytes; }

/* The arguments of every call of the step (iql.c), which never change afterwards. */
static void build_calls(IqlState *s) {
    const ModelLayout *L = &s->layout;
    const Config *cfg = &s->cfg;
    const Batch *bt = &s->batch;
    const NetLayout *value = &L->net[NET_VALUE], *q = &L->net[NET_Q], *pi = &L->net[NET_POLICY];
    int P = s->P, B = s->B, A = s->A;

    s->mlp = (MlpContext){.b = s->b, .rows = B, .ones = s->ones};
    int n = 0;
    s->forward[n++] = (MlpForward){value, s->params + value->begin, bt->state, s->act_v};
    s->forward[n++] = (MlpForward){value, s->params + value->begin, bt->next_state, s->act_v_next};
    s->forward[n++] = (MlpForward){q, s->params + q->begin, bt->state_action, s->act_q};
    if (s->use_target) s->forward[n++] = (MlpForward){q, s->target, bt->state_action, s->act_q_target};
    s->forward[n++] = (MlpForward){pi, s->params + pi->begin, bt->state, s->act_pi};
    s->n_forward = n;

    s->backward[0] = (MlpBackward){value, s->params, s->grads, bt->state, s->act_v, s->dv, s->grad_hidden[NET_VALUE]};
    s->backward[1] = (MlpBackward){q, s->params, s->grads, bt->state_action, s->act_q, s->dq, s->grad_hidden[NET_Q]};
    s->backward[2] = (MlpBackward){pi, s->params, s->grads, bt->state, s->act_pi, s->dpre, s->grad_hidden[NET_POLICY]};

    int last = value->n_layers - 1;
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
        .pre = s->act_pi[last], .log_std = s->params + pi->log_std, .action = bt->action,
        .weight = s->weight, .max_action = (float)cfg->max_action,
        .log_std_min = (float)cfg->log_std_min, .log_std_max = (float)cfg->log_std_max,
        .dpre = s->dpre, .dlog_std_elem = s->dlog_std_elem, .stats = s->stats,
    };
    _Static_assert((int)LR_GROUP_POLICY == (int)NET_POLICY && (int)LR_GROUP_VALUE == (int)NET_VALUE &&
                       (int)LR_GROUP_Q == (int)NET_Q && (int)LR_GROUP_COUNT == (int)NET_COUNT,
                   "learning-rate group g is network g's span of the parameter buffer");
    s->adamw = (AdamWArgs){
        .param = s->params, .grad = s->grads, .m = s->adam_m, .v = s->adam_v, .n = (int64_t)L->n_params,
        .hyper = iql_adam_hyper(cfg->adam_beta1, cfg->adam_beta2, cfg->adam_eps, cfg->weight_decay),
        .scalars = s->scalars,
    };
    for (int g = 0; g < LR_GROUP_COUNT; g++) s->adamw.group_end[g] = (int64_t)L->net[g].end;
}

IqlState *iql_create(Backend *b, const Config *cfg, const MemberSpec *members, int n_members,
                     const ReplaySource *data, Error *err) {
    return iql_create_parallel(b, cfg, members, n_members, data, NULL, err);
}

IqlState *iql_create_parallel(Backend *b, const Config *cfg, const MemberSpec *members, int n_members,
                              const ReplaySource *data, Comm *comm, Error *err) {
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
    if (iql_parallel_init(s, comm, err) ||  /* data parallel: B becomes this rank's share */
        model_layout_init_aligned(&s->layout, n_members, s->S, s->A, cfg->hidden, cfg->n_hidden, err) ||
        alloc_buffers(s, err) || upload_member_settings(s, members, err) || upload_ones(s, err))
        goto fail;
    if (!(s->replay = s->ops->replay_create(b, data, cfg->replay, s->B, err))) goto fail;
    s->sampling = (SamplingArgs){.sequential = cfg->sampling == SAMPLING_SEQUENTIAL, .seed = config_batch_seed(cfg)};
    build_schedule(s);
    build_calls(s);
    iql_parallel_calls(s);

    if (init_params(s, members, err)) goto fail;
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
