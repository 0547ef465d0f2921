/* debug_philox.cu — exposes the raw cuRAND Philox stream for tests/gpu/test_cuda_philox.c,
 * which checks it word for word against philox.h's philox_value: the promise that the CPU
 * backend and the kernels draw the same numbers rests on that equality. */
#include <curand_kernel.h>

#include "cuda_backend.h"  /* defines: CudaBackend, cuda_grid, CUDA_RECORD_LAUNCH */
#include "cuda_debug.h"    /* declares: cuda_debug_philox_words */

#define DEBUG_THREADS 256

/* One thread walks the stream: crosses Philox blocks through curand's own counter increment. */
__global__ void philox_walk_kernel(uint32_t *dst, int64_t n, uint64_t seed, uint64_t subsequence, uint64_t offset) {
    curandStatePhilox4_32_10_t state;
    curand_init(seed, subsequence, offset, &state);
    for (int64_t j = 0; j < n; j++) dst[j] = curand(&state);
}

/* Thread j jumps straight to word offset + j, as the gather and init kernels do. */
__global__ void __launch_bounds__(DEBUG_THREADS)
philox_jump_kernel(uint32_t *dst, int64_t n, uint64_t seed, uint64_t subsequence, uint64_t offset) {
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
        curandStatePhilox4_32_10_t state;
        curand_init(seed, subsequence, offset + (uint64_t)j, &state);
        dst[j] = curand(&state);
    }
}

void cuda_debug_philox_words(Backend *b, uint32_t *dst, int64_t n, uint64_t seed, uint64_t subsequence,
                             uint64_t offset, int one_thread) {
    CudaBackend *cb = (CudaBackend *)b;
    if (n <= 0) return;
    if (one_thread) {
        philox_walk_kernel<<<1, 1, 0, cb->stream>>>(dst, n, seed, subsequence, offset);
        CUDA_RECORD_LAUNCH(cb, philox_walk_kernel);
    } else {
        philox_jump_kernel<<<cuda_grid(cb, n, DEBUG_THREADS), DEBUG_THREADS, 0, cb->stream>>>(dst, n, seed, subsequence,
                                                                                             offset);
        CUDA_RECORD_LAUNCH(cb, philox_jump_kernel);
    }
}
