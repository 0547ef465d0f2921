/* cuda_emu.h — runs the project's CUDA backend on the CPU, for machines without a GPU.
 *
 * The kernels/ sources are compiled a second time, by the host C++ compiler, with this
 * header forced in front (-include) and each `kernel<<<grid, block, smem, stream>>>(args)`
 * rewritten by translate_launches.py into `cuda_emu::launch(grid, block, smem, stream)(kernel,
 * args)`. The kernel bodies, their launch configurations and all the host code around them
 * are then the real ones; what this header supplies is CUDA's execution model:
 *   - every thread of a block is a fiber (ucontext) with its own threadIdx, blocks run one
 *     after another; a fiber runs until it reaches __syncthreads(), a warp shuffle or its end
 *     (kernels with neither run their threads one after another, without fibers);
 *   - __syncthreads() releases a block only when all of its threads have reached it; threads
 *     that exited or wait elsewhere meanwhile are reported as an error;
 *   - __shfl_sync / __shfl_xor_sync exchange values once every lane named in the mask has
 *     arrived; a named lane that has exited or waits elsewhere is an error (on a GPU: undefined);
 *   - __shared__ variables are one copy per block (blocks do not overlap in time);
 *   - the runtime (cudart_emu.cpp): device memory is host memory, filled with NaN bytes by
 *     cudaMalloc so reading it before writing shows; streams are queues run, when the host
 *     waits, in an adversarial but legal order; capture records graphs and refuses what a
 *     real capture refuses; one emulated sm_90 device;
 *   - launch-configuration errors come back from cudaGetLastError() at once, a kernel that
 *     breaks the rules above fails stickily, as a faulting kernel does on a GPU.
 * cuRAND's device API is NVIDIA's own header, compiled for the host. gemm.cu's cuBLAS and
 * cuBLASLt calls go to cublas_emu.cpp, a reference for the documented semantics of those
 * calls (not a cuBLAS): it checks how gemm.cu translates row-major products into them.
 *
 * What it cannot show: speed, races between the threads of a kernel (fibers switch only at
 * synchronisation points), and what the real libraries and hardware do. The GPU tests and
 * compute-sanitizer on a device cover those. */
#ifndef CUIQL_CUDA_EMU_H
#define CUIQL_CUDA_EMU_H

/* Device code of the project's own headers (cuiql/sampling.h) takes its cuRAND branch here too. */
#define CUIQL_CUDA_EMU 1

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
void run_grid(dim3 grid, dim3 block, const std::function<void()> &body);
/* The same for a kernel that never synchronises: each thread runs to its end in turn. */
void run_grid_flat(dim3 grid, dim3 block, const std::function<void()> &body);

/* Puts work on a stream (cudart_emu.cpp): run at once on the null stream (after everything
 * queued elsewhere), queued on any other, recorded into the graph while a capture is on. */
void enqueue(cudaStream_t stream, std::function<void()> work);
/* A launch's configuration as a GPU would check it when the launch is made; false (and the
 * error kept for cudaGetLastError) if it is invalid. */
bool launch_valid(dim3 grid, dim3 block, size_t shared_bytes);

struct Launch {
    dim3 grid, block;
    size_t shared_bytes;
    cudaStream_t stream;
    bool flat; /* the kernel never synchronises: its threads run one after another, no fibers */
    /* Like a real launch, the arguments are converted to the kernel's parameter types and
     * copied when the launch is made; the kernel runs when its stream gets to it. */
    template <class... Params, class... Args> void operator()(void (*kernel)(Params...), Args &&...args) const {
        if (!launch_valid(grid, block, shared_bytes)) return;
        std::tuple<std::decay_t<Params>...> params(std::forward<Args>(args)...);
        dim3 g = grid, b = block;
        bool f = flat;
        enqueue(stream, [=]() mutable {
            if (f)
                run_grid_flat(g, b, [&] { std::apply(kernel, params); });
            else
                run_grid(g, b, [&] { std::apply(kernel, params); });
        });
    }
};
inline Launch launch(dim3 grid, dim3 block, size_t shared_bytes = 0, cudaStream_t stream = nullptr) {
    return Launch{grid, block, shared_bytes, stream, false};
}
/* translate_launches.py uses this for kernels whose source has no __syncthreads() or shuffle. */
inline Launch launch_flat(dim3 grid, dim3 block, size_t shared_bytes = 0, cudaStream_t stream = nullptr) {
    return Launch{grid, block, shared_bytes, stream, true};
}

/* __syncthreads() */
void sync_block();

/* Warp shuffles move a value's bytes (up to 8); shuffle_exchange does the waiting. */
uint64_t shuffle_exchange(unsigned mask, uint64_t bits, int lane_arg, int width, int is_xor);
template <class T> T shfl(unsigned mask, T value, int lane_arg, int width, int is_xor) {
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
/* Records an error for cudaGetLastError (and, when sticky, for every later synchronising call). */
void set_error(cudaError_t code, bool sticky, const char *fmt, ...);

/* ---- cudart stand-ins (cudart_emu.cpp) ----
 * Streams are queues of work; an event marks a point in one; cudaStreamWaitEvent queues a wait
 * for that point. Queued work runs when the host waits for it (a synchronize, a query, a
 * download, a graph launch), in an order the scheduler picks among everything the waits
 * allow: CUDA_EMU_SCHEDULE=reverse (default) runs later-created streams first, forward
 * earlier ones first. A dependency missing between two streams then shows as a wrong result
 * under one order or the other. Capture records the queued work and its waits as a graph; a
 * graph launch runs it with the same freedom of order. Calls a capture forbids (synchronize,
 * cudaMalloc, cudaFree, copies to or from pageable host memory) fail and invalidate it. */
extern int64_t launches;
/* cudaMemGetInfo: total, and free before anything is allocated (tests lower it to make a
 * dataset "not fit"); allocations count against it. */
extern size_t reported_free_bytes, reported_total_bytes;
/* Kept when a queued kernel fails while running (a deadlock, a bad shuffle): like a GPU's
 * sticky error, every later synchronising call returns it. */
cudaError_t device_error();
void clear_device_error(); /* tests only: after checking an intended failure */

template <class F> cudaError_t func_get_attributes(cudaFuncAttributes *attr, F *) {
    std::memset(attr, 0, sizeof *attr);
    return cudaSuccess;
}
cudaError_t malloc_device(void **ptr, size_t bytes);
cudaError_t host_alloc(void **ptr, size_t bytes, unsigned flags);
cudaError_t free_memory(void *ptr);
cudaError_t memcpy_async(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t memcpy_sync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t memset_async(void *dst, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t mem_get_info(size_t *free_bytes, size_t *total_bytes);
cudaError_t host_get_device_pointer(void **dev, void *host, unsigned flags);
cudaError_t stream_create(cudaStream_t *stream, unsigned flags = 0);
cudaError_t stream_destroy(cudaStream_t stream);
cudaError_t stream_synchronize(cudaStream_t stream);
cudaError_t stream_query(cudaStream_t stream);
cudaError_t stream_wait_event(cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);
cudaError_t event_create(cudaEvent_t *event, unsigned flags = 0);
cudaError_t event_destroy(cudaEvent_t event);
cudaError_t event_record(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t event_synchronize(cudaEvent_t event);
cudaError_t event_elapsed_time(float *ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t launch_host_func(cudaStream_t stream, cudaHostFn_t fn, void *arg);
cudaError_t peek_at_last_error();
cudaError_t begin_capture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t end_capture(cudaStream_t stream, cudaGraph_t *graph);
cudaError_t graph_instantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t graph_launch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t graph_destroy(cudaGraph_t graph);
cudaError_t graph_exec_destroy(cudaGraphExec_t exec);
cudaError_t get_device_count(int *count);
cudaError_t get_device_properties(cudaDeviceProp *prop, int device);
cudaError_t set_device(int device);
cudaError_t driver_get_version(int *version);
cudaError_t runtime_get_version(int *version);

template <class T> cudaError_t malloc_device(T **ptr, size_t bytes) {
    return malloc_device((void **)ptr, bytes);
}
template <class T> cudaError_t host_alloc(T **ptr, size_t bytes, unsigned flags) {
    return host_alloc((void **)ptr, bytes, flags);
}
template <class T> cudaError_t host_get_device_pointer(T **dev, void *host, unsigned flags) {
    return host_get_device_pointer((void **)dev, host, flags);
}

/* ---- cuBLAS / cuBLASLt as gemm.cu calls them (cublas_emu.cpp) ---- */
/* Tests set these to make cuBLASLt refuse, at planning or at the call, as it may on a GPU. */
extern bool lt_refuse_heuristic, lt_refuse_matmul;
extern int64_t lt_matmuls; /* cublasLtMatmul calls that computed */
cublasStatus_t sgemm_strided_batched(cublasHandle_t, cublasOperation_t, cublasOperation_t, int m, int n, int k,
                                     const float *alpha, const float *A, int lda, long long sa, const float *B, int ldb,
                                     long long sb, const float *beta, float *C, int ldc, long long sc, int batch);
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
cublasStatus_t blas_create(cublasHandle_t *);
cublasStatus_t blas_destroy(cublasHandle_t);
cublasStatus_t blas_set_stream(cublasHandle_t, cudaStream_t);
cublasStatus_t lt_create(cublasLtHandle_t *);
cublasStatus_t lt_destroy(cublasLtHandle_t);
cublasStatus_t lt_matmul(cublasLtHandle_t, cublasLtMatmulDesc_t, const void *alpha, const void *A,
                         cublasLtMatrixLayout_t, const void *B, cublasLtMatrixLayout_t, const void *beta, const void *C,
                         cublasLtMatrixLayout_t, void *D, cublasLtMatrixLayout_t, const cublasLtMatmulAlgo_t *,
                         void *workspace, size_t workspace_bytes, cudaStream_t);

} // namespace cuda_emu

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
#define __threadfence() ((void)0) /* one thread runs at a time: every write is visible */
#define __threadfence_system() ((void)0)
#define __shfl_sync(mask, v, src, ...) ::cuda_emu::shfl((mask), (v), (src), 32, 0)
#define __shfl_xor_sync(mask, v, lane_mask, ...) ::cuda_emu::shfl((mask), (v), (lane_mask), 32, 1)

/* ---- the runtime calls kernels/ makes ---- */
#define cudaGetLastError() ::cuda_emu::get_last_error()
#define cudaPeekAtLastError() ::cuda_emu::peek_at_last_error()
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
#define cudaStreamQuery(s) ::cuda_emu::stream_query(s)
#define cudaStreamWaitEvent(...) ::cuda_emu::stream_wait_event(__VA_ARGS__)
#define cudaEventCreate(...) ::cuda_emu::event_create(__VA_ARGS__)
#define cudaEventCreateWithFlags(...) ::cuda_emu::event_create(__VA_ARGS__)
#define cudaEventDestroy(e) ::cuda_emu::event_destroy(e)
#define cudaEventRecord(...) ::cuda_emu::event_record(__VA_ARGS__)
#define cudaEventSynchronize(e) ::cuda_emu::event_synchronize(e)
#define cudaEventElapsedTime(...) ::cuda_emu::event_elapsed_time(__VA_ARGS__)
#define cudaLaunchHostFunc(...) ::cuda_emu::launch_host_func(__VA_ARGS__)
#define cudaFuncGetAttributes(...) ::cuda_emu::func_get_attributes(__VA_ARGS__)
#define cudaStreamBeginCapture(...) ::cuda_emu::begin_capture(__VA_ARGS__)
#define cudaStreamEndCapture(...) ::cuda_emu::end_capture(__VA_ARGS__)
#define cudaGraphInstantiate(...) ::cuda_emu::graph_instantiate(__VA_ARGS__)
#define cudaGraphLaunch(...) ::cuda_emu::graph_launch(__VA_ARGS__)
#define cudaGraphDestroy(g) ::cuda_emu::graph_destroy(g)
#define cudaGraphExecDestroy(g) ::cuda_emu::graph_exec_destroy(g)
#define cudaGetDeviceCount(n) ::cuda_emu::get_device_count(n)
#define cudaGetDeviceProperties(...) ::cuda_emu::get_device_properties(__VA_ARGS__)
#define cudaSetDevice(d) ::cuda_emu::set_device(d)
#define cudaDriverGetVersion(v) ::cuda_emu::driver_get_version(v)
#define cudaRuntimeGetVersion(v) ::cuda_emu::runtime_get_version(v)

/* ---- the cuBLAS and cuBLASLt calls of gemm.cu ---- */
#undef cublasSgemmStridedBatched
#define cublasSgemmStridedBatched(...) ::cuda_emu::sgemm_strided_batched(__VA_ARGS__)
#undef cublasGemmStridedBatchedEx
#define cublasGemmStridedBatchedEx(...) ::cuda_emu::gemm_strided_batched_ex(__VA_ARGS__)
#undef cublasLtMatmulDescCreate
#define cublasLtMatmulDescCreate(...) ::cuda_emu::lt_desc_create(__VA_ARGS__)
#undef cublasLtMatmulDescSetAttribute
#define cublasLtMatmulDescSetAttribute(...) ::cuda_emu::lt_desc_set(__VA_ARGS__)
#undef cublasLtMatmulDescDestroy
#define cublasLtMatmulDescDestroy(...) ::cuda_emu::lt_desc_destroy(__VA_ARGS__)
#undef cublasLtMatrixLayoutCreate
#define cublasLtMatrixLayoutCreate(...) ::cuda_emu::lt_layout_create(__VA_ARGS__)
#undef cublasLtMatrixLayoutSetAttribute
#define cublasLtMatrixLayoutSetAttribute(...) ::cuda_emu::lt_layout_set(__VA_ARGS__)
#undef cublasLtMatrixLayoutDestroy
#define cublasLtMatrixLayoutDestroy(...) ::cuda_emu::lt_layout_destroy(__VA_ARGS__)
#undef cublasLtMatmulPreferenceCreate
#define cublasLtMatmulPreferenceCreate(...) ::cuda_emu::lt_pref_create(__VA_ARGS__)
#undef cublasLtMatmulPreferenceSetAttribute
#define cublasLtMatmulPreferenceSetAttribute(...) ::cuda_emu::lt_pref_set(__VA_ARGS__)
#undef cublasLtMatmulPreferenceDestroy
#define cublasLtMatmulPreferenceDestroy(...) ::cuda_emu::lt_pref_destroy(__VA_ARGS__)
#undef cublasLtMatmulAlgoGetHeuristic
#define cublasLtMatmulAlgoGetHeuristic(...) ::cuda_emu::lt_heuristic(__VA_ARGS__)
#undef cublasLtMatmulAlgoCheck
#define cublasLtMatmulAlgoCheck(...) ::cuda_emu::lt_algo_check(__VA_ARGS__)
#undef cublasLtMatmul
#define cublasLtMatmul(...) ::cuda_emu::lt_matmul(__VA_ARGS__)
#undef cublasCreate
#define cublasCreate(h) ::cuda_emu::blas_create(h)
#undef cublasDestroy
#define cublasDestroy(h) ::cuda_emu::blas_destroy(h)
#undef cublasSetStream
#define cublasSetStream(h, s) ::cuda_emu::blas_set_stream(h, s)
#undef cublasSetWorkspace
#define cublasSetWorkspace(...) CUBLAS_STATUS_SUCCESS
#undef cublasSetPointerMode
#define cublasSetPointerMode(...) CUBLAS_STATUS_SUCCESS /* host: the only mode gemm.cu uses */
#undef cublasSetMathMode
#define cublasSetMathMode(...) CUBLAS_STATUS_SUCCESS
#undef cublasLtCreate
#define cublasLtCreate(h) ::cuda_emu::lt_create(h)
#undef cublasLtDestroy
#define cublasLtDestroy(h) ::cuda_emu::lt_destroy(h)

#endif
