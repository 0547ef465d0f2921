/* cuda_emu.h — runs the project's CUDA kernels on the CPU, for CI machines without a GPU.
 *
 * The kernels/ sources are compiled a second time, by the host C++ compiler, with this
 * header forced in front (-include) and each `kernel<<<grid, block, smem, stream>>>(args)`
 * rewritten by translate_launches.py into `cuda_emu::launch(grid, block, smem, stream)(kernel,
 * args)`.
 * The kernel bodies, their launch configurations and the host code around them are then the
 * real ones; what this header supplies is CUDA's execution model:
 *   - every thread of a block is a fiber (ucontext) with its own threadIdx, blocks run one
 *     after another; a fiber runs until it reaches __syncthreads(), a warp shuffle or its end;
 *   - __syncthreads() releases a block only when every live thread has reached it; a block
 *     whose live threads wait at different places is a deadlock, reported as a launch error;
 *   - __shfl_sync / __shfl_xor_sync exchange values once every lane named in the mask has
 *     arrived; a named lane that has exited or waits elsewhere is an error (on a GPU: undefined);
 *   - __shared__ variables are one copy per block (blocks do not overlap in time);
 *   - the cudart calls the kernels' host code makes are synchronous stand-ins: device memory
 *     is host memory (filled with NaN bytes by cudaMalloc, so reading it before writing shows),
 *     streams and events are tokens, a host function runs when it is enqueued;
 *   - launch-configuration errors and the errors above come back from cudaGetLastError(),
 *     which the kernels' wrappers already check after every launch.
 * cuRAND's device API is NVIDIA's own header, compiled for the host.
 *
 * gemm.cu's cuBLAS and cuBLASLt calls go to cublas_emu.cpp, a reference for the documented
 * semantics of those calls (not a cuBLAS): it checks how gemm.cu translates row-major
 * products into them.
 *
 * What it cannot show: timing, races between threads (fibers switch only at synchronisation
 * points), and what the real libraries and hardware do. The GPU tests and compute-sanitizer
 * on a device cover those. */
#ifndef CUIQL_CUDA_EMU_H
#define CUIQL_CUDA_EMU_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand_kernel.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cuda_emu {

/* The running thread's built-in variables; the scheduler sets them before each switch. */
struct Builtins {
    uint3 thread_idx, block_idx;
    dim3 block_dim, grid_dim;
};
extern Builtins current;

/* Runs body once per thread of every block of the grid (see the top of this file). Errors
 * are kept for cudaGetLastError(). */
void run_grid(dim3 grid, dim3 block, size_t shared_bytes, const std::function<void()> &body);

struct Launch {
    dim3 grid, block;
    size_t shared_bytes;
    /* Like a real launch, the arguments are converted to the kernel's parameter types and
     * copied once, when the launch is made; every thread then reads that copy. */
    template <class... Params, class... Args>
    void operator()(void (*kernel)(Params...), Args &&...args) const {
        std::tuple<std::decay_t<Params>...> params(std::forward<Args>(args)...);
        run_grid(grid, block, shared_bytes, [&] { std::apply(kernel, params); });
    }
};
inline Launch launch(dim3 grid, dim3 block, size_t shared_bytes = 0, cudaStream_t = nullptr) {
    return Launch{grid, block, shared_bytes};
}

/* __syncthreads() */
void sync_block();

/* Warp shuffles move a value's bytes (up to 8); shuffle_exchange does the waiting. */
uint64_t shuffle_exchange(unsigned mask, uint64_t bits, int lane_arg, int width, int is_xor);
template <class T>
T shfl(unsigned mask, T value, int lane_arg, int width, int is_xor) {
    static_assert(sizeof(T) <= sizeof(uint64_t) && std::is_trivially_copyable<T>::value, "shuffle of a word");
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    bits = shuffle_exchange(mask, bits, lane_arg, width, is_xor);
    T out;
    std::memcpy(&out, &bits, sizeof(T));
    return out;
}

/* The last error of the emulated runtime; reading it clears it, as in CUDA. */
cudaError_t get_last_error();
/* The text of the last emulator-detected error (what went wrong, which kernel thread). */
const char *last_error_detail();
/* Launches so far, and the free / total bytes cudaMemGetInfo reports (tests set them). */
extern int64_t launches;
extern size_t reported_free_bytes, reported_total_bytes;

/* ---- cudart stand-ins (synchronous) ---- */
/* nvcc's template overload takes the kernel itself; the host compiler only has the C form. */
template <class F> cudaError_t func_get_attributes(cudaFuncAttributes *attr, F *kernel) {
    return cudaFuncGetAttributes(attr, reinterpret_cast<const void *>(kernel));
}
cudaError_t malloc_device(void **ptr, size_t bytes);
cudaError_t host_alloc(void **ptr, size_t bytes, unsigned flags);
cudaError_t free_memory(void *ptr);
cudaError_t memcpy_async(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t memcpy_sync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t memset_async(void *dst, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t mem_get_info(size_t *free_bytes, size_t *total_bytes);
cudaError_t host_get_device_pointer(void **dev, void *host, unsigned flags);
cudaError_t stream_create(cudaStream_t *stream, unsigned flags);
cudaError_t stream_destroy(cudaStream_t stream);
cudaError_t stream_synchronize(cudaStream_t stream);
cudaError_t stream_wait_event(cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);
cudaError_t event_create(cudaEvent_t *event, unsigned flags);
cudaError_t event_destroy(cudaEvent_t event);
cudaError_t event_record(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t launch_host_func(cudaStream_t stream, cudaHostFn_t fn, void *arg);

template <class T> cudaError_t malloc_device(T **ptr, size_t bytes) { return malloc_device((void **)ptr, bytes); }
template <class T> cudaError_t host_alloc(T **ptr, size_t bytes, unsigned flags) {
    return host_alloc((void **)ptr, bytes, flags);
}
template <class T> cudaError_t host_get_device_pointer(T **dev, void *host, unsigned flags) {
    return host_get_device_pointer((void **)dev, host, flags);
}

/* ---- cuBLAS / cuBLASLt as gemm.cu calls them (cublas_emu.cpp) ---- */
/* Tests set these to make cuBLASLt refuse, at planning or at the call, as it may on a GPU. */
extern bool lt_refuse_heuristic, lt_refuse_matmul;
extern int64_t lt_matmuls;  /* cublasLtMatmul calls that computed */
cublasStatus_t sgemm_strided_batched(cublasHandle_t, cublasOperation_t, cublasOperation_t, int m, int n, int k,
                                     const float *alpha, const float *A, int lda, long long sa, const float *B,
                                     int ldb, long long sb, const float *beta, float *C, int ldc, long long sc,
                                     int batch);
cublasStatus_t gemm_strided_batched_ex(cublasHandle_t, cublasOperation_t, cublasOperation_t, int m, int n, int k,
                                       const void *alpha, const void *A, cudaDataType, int lda, long long sa,
                                       const void *B, cudaDataType, int ldb, long long sb, const void *beta, void *C,
                                       cudaDataType, int ldc, long long sc, int batch, cublasComputeType_t,
                                       cublasGemmAlgo_t);
cublasStatus_t lt_desc_create(cublasLtMatmulDesc_t *, cublasComputeType_t, cudaDataType);
cublasStatus_t lt_desc_set(cublasLtMatmulDesc_t, cublasLtMatmulDescAttributes_t, const void *, size_t);
cublasStatus_t lt_desc_destroy(cublasLtMatmulDesc_t);
cublasStatus_t lt_layout_create(cublasLtMatrixLayout_t *, cudaDataType, uint64_t rows, uint64_t cols, int64_t ld);
cublasStatus_t lt_layout_set(cublasLtMatrixLayout_t, cublasLtMatrixLayoutAttribute_t, const void *, size_t);
cublasStatus_t lt_layout_destroy(cublasLtMatrixLayout_t);
cublasStatus_t lt_pref_create(cublasLtMatmulPreference_t *);
cublasStatus_t lt_pref_set(cublasLtMatmulPreference_t, cublasLtMatmulPreferenceAttributes_t, const void *, size_t);
cublasStatus_t lt_pref_destroy(cublasLtMatmulPreference_t);
cublasStatus_t lt_heuristic(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                            cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatmulPreference_t, int requested,
                            cublasLtMatmulHeuristicResult_t *, int *found);
cublasStatus_t lt_algo_check(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                             cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, const cublasLtMatmulAlgo_t *,
                             cublasLtMatmulHeuristicResult_t *);
cublasStatus_t lt_matmul(cublasLtHandle_t, cublasLtMatmulDesc_t, const void *alpha, const void *A,
                         cublasLtMatrixLayout_t, const void *B, cublasLtMatrixLayout_t, const void *beta, const void *C,
                         cublasLtMatrixLayout_t, void *D, cublasLtMatrixLayout_t, const cublasLtMatmulAlgo_t *,
                         void *workspace, size_t workspace_bytes, cudaStream_t);

}  // namespace cuda_emu

/* ---- CUDA's built-ins, as the kernels spell them ---- */
#define threadIdx (::cuda_emu::current.thread_idx)
#define blockIdx (::cuda_emu::current.block_idx)
#define blockDim (::cuda_emu::current.block_dim)
#define gridDim (::cuda_emu::current.grid_dim)

#undef __shared__
#define __shared__ static /* one copy per block: blocks run one at a time */
#undef __launch_bounds__
#define __launch_bounds__(...)

#define __syncthreads() ::cuda_emu::sync_block()
#define __threadfence() ((void)0)         /* one thread runs at a time: every write is visible */
#define __threadfence_system() ((void)0)
#define __shfl_sync(mask, v, src, ...) ::cuda_emu::shfl((mask), (v), (src), 32, 0)
#define __shfl_xor_sync(mask, v, lane_mask, ...) ::cuda_emu::shfl((mask), (v), (lane_mask), 32, 1)

/* ---- the runtime calls kernels/ makes around its kernels ---- */
#define cudaGetLastError() ::cuda_emu::get_last_error()
#define cudaMalloc(...) ::cuda_emu::malloc_device(__VA_ARGS__)
#define cudaHostAlloc(...) ::cuda_emu::host_alloc(__VA_ARGS__)
#define cudaFree(p) ::cuda_emu::free_memory(p)
#define cudaFreeHost(p) ::cuda_emu::free_memory(p)
#define cudaMemcpyAsync(...) ::cuda_emu::memcpy_async(__VA_ARGS__)
#define cudaMemcpy(...) ::cuda_emu::memcpy_sync(__VA_ARGS__)
#define cudaMemsetAsync(...) ::cuda_emu::memset_async(__VA_ARGS__)
#define cudaMemGetInfo(...) ::cuda_emu::mem_get_info(__VA_ARGS__)
#define cudaHostGetDevicePointer(...) ::cuda_emu::host_get_device_pointer(__VA_ARGS__)
#define cudaStreamCreateWithFlags(...) ::cuda_emu::stream_create(__VA_ARGS__)
#define cudaStreamDestroy(s) ::cuda_emu::stream_destroy(s)
#define cudaStreamSynchronize(s) ::cuda_emu::stream_synchronize(s)
#define cudaStreamWaitEvent(...) ::cuda_emu::stream_wait_event(__VA_ARGS__)
#define cudaEventCreateWithFlags(...) ::cuda_emu::event_create(__VA_ARGS__)
#define cudaEventDestroy(e) ::cuda_emu::event_destroy(e)
#define cudaEventRecord(...) ::cuda_emu::event_record(__VA_ARGS__)
#define cudaLaunchHostFunc(...) ::cuda_emu::launch_host_func(__VA_ARGS__)
#define cudaFuncGetAttributes(...) ::cuda_emu::func_get_attributes(__VA_ARGS__)

/* ---- the cuBLAS and cuBLASLt calls of gemm.cu ---- */
#define cublasSgemmStridedBatched(...) ::cuda_emu::sgemm_strided_batched(__VA_ARGS__)
#define cublasGemmStridedBatchedEx(...) ::cuda_emu::gemm_strided_batched_ex(__VA_ARGS__)
#define cublasLtMatmulDescCreate(...) ::cuda_emu::lt_desc_create(__VA_ARGS__)
#define cublasLtMatmulDescSetAttribute(...) ::cuda_emu::lt_desc_set(__VA_ARGS__)
#define cublasLtMatmulDescDestroy(...) ::cuda_emu::lt_desc_destroy(__VA_ARGS__)
#define cublasLtMatrixLayoutCreate(...) ::cuda_emu::lt_layout_create(__VA_ARGS__)
#define cublasLtMatrixLayoutSetAttribute(...) ::cuda_emu::lt_layout_set(__VA_ARGS__)
#define cublasLtMatrixLayoutDestroy(...) ::cuda_emu::lt_layout_destroy(__VA_ARGS__)
#define cublasLtMatmulPreferenceCreate(...) ::cuda_emu::lt_pref_create(__VA_ARGS__)
#define cublasLtMatmulPreferenceSetAttribute(...) ::cuda_emu::lt_pref_set(__VA_ARGS__)
#define cublasLtMatmulPreferenceDestroy(...) ::cuda_emu::lt_pref_destroy(__VA_ARGS__)
#define cublasLtMatmulAlgoGetHeuristic(...) ::cuda_emu::lt_heuristic(__VA_ARGS__)
#define cublasLtMatmulAlgoCheck(...) ::cuda_emu::lt_algo_check(__VA_ARGS__)
#define cublasLtMatmul(...) ::cuda_emu::lt_matmul(__VA_ARGS__)

#endif
