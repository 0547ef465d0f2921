/* iql_host.c — the host's views of a training state: the logged scalars, whole-population and
 * single-member copies of the parameters, targets and AdamW moments (for checkpoints, resume
 * and evaluation), and the step counter. Setup, logging and checkpoint time only: each of
 * these copies to or from the backend and synchronises. */
#include <stdlib.h>
#include <string.h>

#include "algo/iql_state.h"

const char *const train_scalar_tags[LOG_TRAIN_SCALAR_COUNT] = {
    "loss/value", "loss/q", "loss/policy", "value/mean", "q/mean", "adv/mean", "weight/mean",
    "weight/clipped_fraction", "lr/policy", "lr/value", "lr/q",
};

int iql_set_step_count(IqlState *s, int64_t step, Error *err) {
    StepScalars host = {.step = step};
    return s->ops->upload(s->b, s->scalars, &host, sizeof host, err);
}


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
    double total[P * IQL_STAT_COUNT];
    for (int i = 0; i < P * IQL_STAT_COUNT; i++) total[i] = sums[i];
    if (iql_parallel_sum_stats(s, total, P * IQL_STAT_COUNT, err)) return -1;  /* data parallel: all ranks' rows */
    for (int p = 0; p < P; p++) {
        double *row = out + (size_t)p * LOG_TRAIN_SCALAR_COUNT;
        for (int t = LOG_LOSS_VALUE; t <= LOG_WEIGHT_CLIPPED; t++)
            row[t] = total[p * IQL_STAT_COUNT + stat_of[t]] / (double)s->global_batch;
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

