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
    if (idx >= (int64_t)h.members * h.rows) return;
    iql_value_critic_row(&h, (int)(idx / h.rows), (int)(idx % h.rows), inv_batch);
}

void cuda_value_critic_heads(Backend *b, const HeadsArgs *h) {
    CudaBackend *cb = (CudaBackend *)b;
    int64_t n = (int64_t)h->members * h->rows;
    if (n <= 0) return;
    float inv_batch = iql_inv_batch(h->rows, h->mean_rows);  /* the CPU's value, computed the same way */
    unsigned blocks = (unsigned)((n + HEAD_THREADS - 1) / HEAD_THREADS);
    value_critic_heads_kernel<<<blocks, HEAD_THREADS, 0, cb->op_stream>>>(*h, inv_batch);
    CUDA_RECORD_LAUNCH(cb, value_critic_heads_kernel);
}

/* One thread per (member p, row i), looping over the A action dimensions in order so the
 * row's log-probability is summed exactly as on the CPU. pre, dpre, dlog_std_elem [P, B, A];
 * action [B, A]; log_std [P, A]; weight [P, B]. A thread's A elements are contiguous, so a
 * warp's accesses span 32·A consecutive floats that L1 serves in a few lines. */
__global__ void __launch_bounds__(HEAD_THREADS) policy_head_kernel(PolicyHeadArgs h, float inv_batch) {
    int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (idx >= (int64_t)h.members * h.rows) return;
    iql_policy_row(&h, (int)(idx / h.rows), (int)(idx % h.rows), inv_batch);
}

void cuda_policy_head(Backend *b, const PolicyHeadArgs *h) {
    CudaBackend *cb = (CudaBackend *)b;
    int64_t n = (int64_t)h->members * h->rows;
    if (n <= 0) return;
    float inv_batch = iql_inv_batch(h->rows, h->mean_rows);
    unsigned blocks = (unsigned)((n + HEAD_THREADS - 1) / HEAD_THREADS);
    policy_head_kernel<<<blocks, HEAD_THREADS, 0, cb->op_stream>>>(*h, inv_batch);
    CUDA_RECORD_LAUNCH(cb, policy_head_kernel);
}
