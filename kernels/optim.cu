/* optim.cu — the optimiser side of a step and parameter initialisation: the per-step scalars
 * (prepare_step / finish_step, on the device so a captured graph needs no host input), fused
 * AdamW over the whole parameter buffer, the Polyak target update, copy, and init_uniform
 * (cuRAND's Philox, mapped to floats by philox.h so host and device agree bit for bit). */
#include <curand_kernel.h>

#include "cuda_backend.h"  /* defines: CudaBackend, cuda_grid, cuda_aligned16, CUDA_RECORD_LAUNCH */

#define OPTIM_THREADS 256

/* ---- per-step scalars ---------------------------------------------------------------------------- */

/* The three schedules, passed by value (a captured graph keeps them as kernel parameters). */
typedef struct {
    LrSchedule g[LR_GROUP_COUNT];
} ScheduleSet;

/* One thread: lr per group and Adam's bias corrections from the device-side step counter.
 * A single thread's few double-precision pow/cos: launch latency is the whole cost. */
__global__ void prepare_step_kernel(StepScalars *scalars, ScheduleSet sched, double beta1, double beta2) {
    *scalars = iql_step_scalars(sched.g, scalars->step, beta1, beta2);
}

__global__ void finish_step_kernel(StepScalars *scalars) { scalars->step += 1; }

void cuda_prepare_step(Backend *b, StepScalars *scalars, const LrSchedule schedule[LR_GROUP_COUNT], double beta1,
                       double beta2) {
    CudaBackend *cb = (CudaBackend *)b;
    ScheduleSet sched;
    for (int g = 0; g < LR_GROUP_COUNT; g++) sched.g[g] = schedule[g];
    prepare_step_kernel<<<1, 1, 0, cb->op_stream>>>(scalars, sched, beta1, beta2);
    CUDA_RECORD_LAUNCH(cb, prepare_step_kernel);
}

void cuda_finish_step(Backend *b, StepScalars *scalars) {
    CudaBackend *cb = (CudaBackend *)b;
    finish_step_kernel<<<1, 1, 0, cb->op_stream>>>(scalars);
    CUDA_RECORD_LAUNCH(cb, finish_step_kernel);
}

/* ---- AdamW ---------------------------------------------------------------------------------------------
 * One launch over all three learning-rate groups: element i takes the lr of the first group
 * with i < group_end[g]; elements at or past the last group_end are left alone, as on the CPU.
 * Memory-bound: 16 bytes read (param, grad, m, v) and 12 written per element, so float4 access
 * when all four buffers are 16-byte aligned. The StepScalars are read by every thread but live
 * in one cache line, served from L1/L2. */

/* The group of element i: how many group ends lie at or below it (the ends ascend). Unrolled,
 * so group_end is read with constant indices straight from the kernel parameters. */
__device__ __forceinline__ int lr_group(int64_t i, const AdamWArgs &a) {
    int g = 0;
#pragma unroll
    for (int k = 0; k < LR_GROUP_COUNT - 1; k++) g += i >= a.group_end[k];
    return g;
}

__device__ __forceinline__ void adamw_one(const AdamWArgs &a, int64_t i, float *p, float *m, float *v, float grad) {
    const StepScalars *s = a.scalars;
    iql_adamw_elem(p, m, v, grad, s->lr[lr_group(i, a)], a.hyper, s->bias_correction1, s->bias_correction2);
}

__global__ void __launch_bounds__(OPTIM_THREADS) adamw_kernel(AdamWArgs a, int64_t limit, int vec4) {
    int64_t tid = blockIdx.x * (int64_t)blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
    int64_t n4 = vec4 ? limit / 4 : 0;
    for (int64_t q = tid; q < n4; q += stride) {
        float4 p = reinterpret_cast<float4 *>(a.param)[q];
        float4 m = reinterpret_cast<float4 *>(a.m)[q];
        float4 v = reinterpret_cast<float4 *>(a.v)[q];
        float4 g = reinterpret_cast<const float4 *>(a.grad)[q];
        int64_t i = q * 4;
        adamw_one(a, i + 0, &p.x, &m.x, &v.x, g.x);
        adamw_one(a, i + 1, &p.y, &m.y, &v.y, g.y);
        adamw_one(a, i + 2, &p.z, &m.z, &v.z, g.z);
        adamw_one(a, i + 3, &p.w, &m.w, &v.w, g.w);
        reinterpret_cast<float4 *>(a.param)[q] = p;
        reinterpret_cast<float4 *>(a.m)[q] = m;
        reinterpret_cast<float4 *>(a.v)[q] = v;
    }
    for (int64_t i = n4 * 4 + tid; i < limit; i += stride) {
        float p = a.param[i], m = a.m[i], v = a.v[i];
        adamw_one(a, i, &p, &m, &v, a.grad[i]);
        a.param[i] = p;
        a.m[i] = m;
        a.v[i] = v;
    }
}

void cuda_adamw(Backend *b, const AdamWArgs *a) {
    CudaBackend *cb = (CudaBackend *)b;
    int64_t limit = a->n < a->group_end[LR_GROUP_COUNT - 1] ? a->n : a->group_end[LR_GROUP_COUNT - 1];
    if (limit <= 0) return;
    int vec4 = cuda_aligned16(a->param) && cuda_aligned16(a->grad) && cuda_aligned16(a->m) && cuda_aligned16(a->v);
    adamw_kernel<<<cuda_grid(cb, vec4 ? (limit + 3) / 4 : limit, OPTIM_THREADS), OPTIM_THREADS, 0, cb->op_stream>>>(
        *a, limit, vec4);
    CUDA_RECORD_LAUNCH(cb, adamw_kernel);
}

/* ---- Polyak: target = (1 − ρ)·target + ρ·online ----------------------------------------------------------
 * Memory-bound: 8 bytes read and 4 written per element; float4 when both are aligned. */

__global__ void __launch_bounds__(OPTIM_THREADS)
polyak_kernel(float *target, const float *online, float rho, int64_t n, int vec4) {
    int64_t tid = blockIdx.x * (int64_t)blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
    int64_t n4 = vec4 ? n / 4 : 0;
    for (int64_t q = tid; q < n4; q += stride) {
        float4 t = reinterpret_cast<float4 *>(target)[q];
        float4 o = reinterpret_cast<const float4 *>(online)[q];
        t.x = iql_polyak(t.x, o.x, rho);
        t.y = iql_polyak(t.y, o.y, rho);
        t.z = iql_polyak(t.z, o.z, rho);
        t.w = iql_polyak(t.w, o.w, rho);
        reinterpret_cast<float4 *>(target)[q] = t;
    }
    for (int64_t i = n4 * 4 + tid; i < n; i += stride) target[i] = iql_polyak(target[i], online[i], rho);
}

void cuda_polyak(Backend *b, float *target, const float *online, float rho, int64_t n) {
    CudaBackend *cb = (CudaBackend *)b;
    if (n <= 0) return;
    int vec4 = cuda_aligned16(target) && cuda_aligned16(online);
    polyak_kernel<<<cuda_grid(cb, vec4 ? (n + 3) / 4 : n, OPTIM_THREADS), OPTIM_THREADS, 0, cb->op_stream>>>(
        target, online, rho, n, vec4);
    CUDA_RECORD_LAUNCH(cb, polyak_kernel);
}

/* ---- copy ------------------------------------------------------------------------------------------------ */

/* A device-to-device copy on the step stream: the copy engine's (or a copy kernel's) own
 * bandwidth, and capturable as a memcpy node. */
void cuda_copy(Backend *b, float *dst, const float *src, int64_t n) {
    CudaBackend *cb = (CudaBackend *)b;
    if (n <= 0) return;
    CUDA_RECORD(cb, cudaMemcpyAsync(dst, src, sizeof(float) * (size_t)n, cudaMemcpyDeviceToDevice, cb->op_stream));
}

/* ---- init_uniform: dst[j] = bound·(2·philox_uniform01(word j of stream (seed, subsequence)) − 1) ----------
 * cuRAND's Philox4_32_10: curand_init(seed, subsequence, j) then curand() is word j of the
 * stream, which philox.h's philox_value(seed, subsequence, j) reproduces on the host. Each
 * thread starts at j = 4q and draws four consecutive words (one Philox block), the same
 * numbers as one curand_init per element at a quarter of the setup cost. Setup-time only;
 * bound by Philox's integer multiplies (three 10-round blocks per four outputs), not memory. */

__global__ void __launch_bounds__(OPTIM_THREADS)
init_uniform_kernel(float *dst, int64_t n, float bound, uint64_t seed, uint64_t subsequence) {
    int64_t blocks4 = (n + 3) / 4;
    for (int64_t q = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; q < blocks4; q += (int64_t)gridDim.x * blockDim.x) {
        curandStatePhilox4_32_10_t state;
        curand_init(seed, subsequence, (unsigned long long)q * 4, &state);
        for (int k = 0; k < 4; k++) {
            uint32_t u = curand(&state);
            int64_t j = q * 4 + k;
            if (j < n) dst[j] = bound * (2.0f * philox_uniform01(u) - 1.0f);
        }
    }
}

void cuda_init_uniform(Backend *b, float *dst, int64_t n, float bound, uint64_t seed, uint64_t subsequence) {
    CudaBackend *cb = (CudaBackend *)b;
    if (n <= 0) return;
    init_uniform_kernel<<<cuda_grid(cb, (n + 3) / 4, OPTIM_THREADS), OPTIM_THREADS, 0, cb->op_stream>>>(dst, n, bound, seed,
                                                                                                     subsequence);
    CUDA_RECORD_LAUNCH(cb, init_uniform_kernel);
}
