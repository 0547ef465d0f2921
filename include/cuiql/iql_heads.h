/* iql_heads.h — one batch row of the loss heads, shared by the CPU loops and the CUDA kernels.
 *
 * iql_math.h holds the formulas; these two functions hold how a row assembles them (which
 * target the value regresses on, which critics the advantage uses, where each statistic goes),
 * so that assembly too is written once. The CPU backend calls them in a loop over (p, i); the
 * CUDA kernels call them once per thread. */
#ifndef CUIQL_IQL_HEADS_H
#define CUIQL_IQL_HEADS_H

#include "cuiql/backend.h"
#include "cuiql/iql_math.h"

/* 1/B for the losses' means, B the whole batch's rows: in a data-parallel run each rank holds
 * `rows` of the global batch's `mean_rows`, so the gradients summed over the ranks are the
 * global batch's mean (docs/algorithm.md, "Data parallel"). */
CUIQL_HD static inline float iql_inv_batch(int rows, int mean_rows) {
    return 1.0f / (float)(mean_rows > 0 ? mean_rows : rows);
}

/* Member p, row i of HeadsArgs: dv, dq, the advantage weight and every stat but POLICY_LOSS. */
CUIQL_HD static inline void iql_value_critic_row(const HeadsArgs *h, int p, int i, float inv_batch) {
    int B = h->rows;
    int64_t pb = (int64_t)p * B + i;
    int64_t q1i = (int64_t)(2 * p) * B + i, q2i = q1i + B;
    float tau = h->tau[p], beta = h->beta[p];
    float q1 = h->q[q1i], q2 = h->q[q2i], v = h->v[pb];
    float qh1 = h->q_hat[q1i], qh2 = h->q_hat[q2i];

    float y = iql_td_target(h->reward[i], h->terminal[i], h->discount, h->v_next[pb]);
    float q_min = qh1 < qh2 ? qh1 : qh2;
    float u = h->value_target_q ? q_min - v : y - v;
    float adv = q_min - v;
    float w = iql_advantage_weight(beta, adv, h->adv_clip);
    h->dv[pb] = iql_expectile_grad_v(tau, u, inv_batch);
    h->dq[q1i] = iql_critic_grad(q1, y, h->q_scale, inv_batch);
    h->dq[q2i] = iql_critic_grad(q2, y, h->q_scale, inv_batch);
    h->weight[pb] = w;

    float e1 = q1 - y, e2 = q2 - y;
    float *stats = h->stats + (int64_t)p * IQL_STAT_COUNT * B + i;
    stats[IQL_STAT_VALUE_LOSS * B] = iql_expectile_loss(tau, u);
    stats[IQL_STAT_Q_LOSS * B] = h->q_scale * (e1 * e1 + e2 * e2);
    stats[IQL_STAT_VALUE * B] = v;
    stats[IQL_STAT_Q * B] = 0.5f * (q1 + q2);
    stats[IQL_STAT_ADVANTAGE * B] = adv;
    stats[IQL_STAT_WEIGHT * B] = w;
    stats[IQL_STAT_WEIGHT_CLIPPED * B] = iql_weight_is_clipped(beta, adv, h->adv_clip);
}

/* Member p, row i of PolicyHeadArgs: dpre, dlog_std_elem and POLICY_LOSS, summing the A action
 * dimensions in order (so both backends add them identically). */
CUIQL_HD static inline void iql_policy_row(const PolicyHeadArgs *h, int p, int i, float inv_batch) {
    int B = h->rows, A = h->act_dim;
    int64_t row = ((int64_t)p * B + i) * A;
    float w = h->weight[(int64_t)p * B + i];
    float coef = w * inv_batch;
    float total = 0.0f;
    for (int j = 0; j < A; j++) {
        float dz, dls = 0.0f;
        float a = h->action[(int64_t)i * A + j];
        if (h->deterministic)
            total += iql_deterministic_policy_elem(h->pre[row + j], a, coef, h->max_action, &dz);
        else
            total += iql_gaussian_policy_elem(h->pre[row + j], h->log_std[(int64_t)p * A + j], a, coef, h->max_action,
                                              h->log_std_min, h->log_std_max, &dz, &dls);
        h->dpre[row + j] = dz;
        if (h->dlog_std_elem) h->dlog_std_elem[row + j] = dls;
    }
    /* Gaussian: the loss is −w·log π; deterministic: w·‖π − a‖². */
    h->stats[((int64_t)p * IQL_STAT_COUNT + IQL_STAT_POLICY_LOSS) * B + i] = h->deterministic ? w * total : -w * total;
}

#endif
