/* heads.cu — the loss heads at the networks' outputs: the value and critic losses with their
 * gradients and advantage weights (value_critic_heads), and the advantage-weighted policy
 * loss (policy_head). Per element, the arithmetic is the iql_math.h functions, called exactly
 * as the CPU backend calls them; the kernels only index.
 *
 * Expected bottleneck: latency. A head touches P·B elements (a few thousand): one or a few
 * waves of short threads, a few µs, dominated by launch and memory latency; the graph hides
 * the launch. Reads and writes are coalesced along the batch (consecutive threads, consecutive
 * rows b). */
#include "cuda_backend.h"  /* defines: CudaBackend, CUDA_RECORD_LAUNCH */

#define HEAD_THREADS 256

/* One thread per (member p, row i). Layouts: v, dv, weight [P, B]; q, q_hat, dq [P, 2, B];
 * stats [P, IQL_STAT_COUNT, B]. */
__global__ void __launch_bounds__(HEAD_THREADS) value_critic_heads_kernel(HeadsArgs h, float inv_batch) {
    int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    int B = h.rows;
    if (idx >= (int64_t)h.members * B) return;
    int p = (int)(idx / B), i = (int)(idx % B);
    float tau = h.tau[p], beta = h.beta[p];
    int64_t pb = (int64_t)p * B + i;
    int64_t q1i = (int64_t)(2 * p) * B + i, q2i = q1i + B;
    float q1 = h.q[q1i], q2 = h.q[q2i];
    float qh1 = h.q_hat[q1i], qh2 = h.q_hat[q2i];
    float v = h.v[pb];

    float y = iql_td_target(h.reward[i], h.terminal[i], h.discount, h.v_next[pb]);
    float q_min = qh1 < qh2 ? qh1 : qh2;
    float u = h.value_target_q ? q_min - v : y - v;
    float adv = q_min - v;
    float w = iql_advantage_weight(beta, adv, h.adv_clip);
    h.dv[pb] = iql_expectile_grad_v(tau, u, inv_batch);
    h.dq[q1i] = iql_critic_grad(q1, y, h.q_scale, inv_batch);
    h.dq[q2i] = iql_critic_grad(q2, y, h.q_scale, inv_batch);
    h.weight[pb] = w;

    float e1 = q1 - y, e2 = q2 - y;
    float *stats = h.stats + (int64_t)p * IQL_STAT_COUNT * B + i;
    stats[IQL_STAT_VALUE_LOSS * B] = iql_expectile_loss(tau, u);
    stats[IQL_STAT_Q_LOSS * B] = h.q_scale * (e1 * e1 + e2 * e2);
    stats[IQL_STAT_VALUE * B] = v;
    stats[IQL_STAT_Q * B] = 0.5f * (q1 + q2);
    stats[IQL_STAT_ADVANTAGE * B] = adv;
    stats[IQL_STAT_WEIGHT * B] = w;
    stats[IQL_STAT_WEIGHT_CLIPPED * B] = iql_weight_is_clipped(beta, adv, h.adv_clip);
}

void cuda_value_critic_heads(Backend *b, const HeadsArgs *h) {
    CudaBackend *cb = (CudaBackend *)b;
    int64_t n = (int64_t)h->members * h->rows;
    if (n <= 0) return;
    float inv_batch = 1.0f / (float)h->rows;  /* the CPU's value, computed the same way */
    unsigned blocks = (unsigned)((n + HEAD_THREADS - 1) / HEAD_THREADS);
    value_critic_heads_kernel<<<blocks, HEAD_THREADS, 0, cb->stream>>>(*h, inv_batch);
    CUDA_RECORD_LAUNCH(cb, value_critic_heads_kernel);
}

/* One thread per (member p, row i), looping over the A action dimensions in order so the
 * row's log-probability is summed exactly as on the CPU. pre, dpre, dlog_std_elem [P, B, A];
 * action [B, A]; log_std [P, A]; weight [P, B]. A thread's A elements are contiguous, so a
 * warp's accesses span 32·A consecutive floats that L1 serves in a few lines. */
__global__ void __launch_bounds__(HEAD_THREADS) policy_head_kernel(PolicyHeadArgs h, float inv_batch) {
    int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    int B = h.rows, A = h.act_dim;
    if (idx >= (int64_t)h.members * B) return;
    int p = (int)(idx / B), i = (int)(idx % B);
    int64_t row = idx * A;  /* ((p·B) + i)·A */
    float w = h.weight[idx];
    float coef = w * inv_batch;
    float total = 0.0f;
    for (int j = 0; j < A; j++) {
        float dz, dls;
        float a = h.action[(int64_t)i * A + j];
        if (h.deterministic) {
            total += iql_deterministic_policy_elem(h.pre[row + j], a, coef, h.max_action, &dz);
            dls = 0.0f;
        } else {
            total += iql_gaussian_policy_elem(h.pre[row + j], h.log_std[(int64_t)p * A + j], a, coef, h.max_action,
                                              h.log_std_min, h.log_std_max, &dz, &dls);
        }
        h.dpre[row + j] = dz;
        if (h.dlog_std_elem) h.dlog_std_elem[row + j] = dls;
    }
    /* Gaussian: the loss is −w·log π; deterministic: w·‖π − a‖². */
    h.stats[((int64_t)p * IQL_STAT_COUNT + IQL_STAT_POLICY_LOSS) * B + i] = h.deterministic ? w * total : -w * total;
}

void cuda_policy_head(Backend *b, const PolicyHeadArgs *h) {
    CudaBackend *cb = (CudaBackend *)b;
    int64_t n = (int64_t)h->members * h->rows;
    if (n <= 0) return;
    float inv_batch = 1.0f / (float)h->rows;
    unsigned blocks = (unsigned)((n + HEAD_THREADS - 1) / HEAD_THREADS);
    policy_head_kernel<<<blocks, HEAD_THREADS, 0, cb->stream>>>(*h, inv_batch);
    CUDA_RECORD_LAUNCH(cb, policy_head_kernel);
}
