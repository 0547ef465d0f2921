/* backend_cuda.cu — the CUDA backend's lifetime: probe, create, destroy, error state, memory,
 * host transfers, measurement, and its table of ops. The ops themselves live beside this file:
 * graph.cu (run_step), lanes.cu (fork/join), gemm.cu and gemm_epilogue.cu, layers.cu,
 * heads.cu, optim.cu, replay.cu. */
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"  /* defines: CudaBackend, the per-file ops, CUDA_RECORD & co. */

/* Both entry points have C linkage (backend.h is a C header); this declaration comes first so
 * the definitions below keep it. */
extern "C" Backend *cuda_backend_create(const BackendOptions *opt, Error *err);
extern "C" int cuda_backend_probe(int device_index, char *desc, size_t len);
extern "C" int cuda_backend_device_count(void);

/* ---- errors --------------------------------------------------------------------------------- */

/* "…/kernels/gemm.cu" → "kernels/gemm.cu": the build's absolute paths say nothing useful. */
static const char *short_path(const char *file) {
    const char *last = NULL, *prev = NULL;
    for (const char *p = file; *p; p++)
        if (*p == '/') {
            prev = last;
            last = p;
        }
    return prev ? prev + 1 : file;
}

int cuda_error_set(Error *err, const char *call, const char *func, const char *file, int line, const char *name,
                   const char *text) {
    return error_set(err, "%s in %s (%s:%d): %s: %s", call, func, short_path(file), line, name, text);
}

void cuda_record_error(CudaBackend *cb, const char *call, const char *func, const char *file, int line,
                       const char *name, const char *text) {
    if (cb->failed) return;  /* the first failure is the cause; later ones are its echoes */
    cb->failed = 1;
    cuda_error_set(&cb->error, call, func, file, line, name, text);
}

/* ---- probe ---------------------------------------------------------------------------------- */

/* Exists so the probe can ask whether this build's kernels have an image for the device. */
__global__ void probe_kernel(int *unused) { (void)unused; }

static void version_text(int v, char *buf, size_t len) { snprintf(buf, len, "%d.%d", v / 1000, (v % 1000) / 10); }

int cuda_backend_probe(int device_index, char *desc, size_t len) {
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);   /* 0 when no driver is installed at all */
    cudaRuntimeGetVersion(&runtime);
    char dv[16], rv[16];
    version_text(driver, dv, sizeof dv);
    version_text(runtime, rv, sizeof rv);

    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaErrorInsufficientDriver && driver == 0) {
        snprintf(desc, len, "no CUDA device: no NVIDIA driver found (cudaGetDeviceCount: %s)", cudaGetErrorString(e));
        return 0;
    }
    if (e == cudaErrorInsufficientDriver) {
        snprintf(desc, len, "driver too old: it supports CUDA %s, this build needs %s (cudaGetDeviceCount: %s)", dv,
                 rv, cudaGetErrorString(e));
        return 0;
    }
    if (e != cudaSuccess) {
        snprintf(desc, len, "no CUDA device: cudaGetDeviceCount: %s", cudaGetErrorString(e));
        return 0;
    }
    if (count == 0) {
        snprintf(desc, len, "no CUDA device: cudaGetDeviceCount found none");
        return 0;
    }
    if (device_index < 0 || device_index >= count) {
        snprintf(desc, len, "no CUDA device %d: %d device%s present (indices 0 to %d)", device_index, count,
                 count == 1 ? "" : "s", count - 1);
        return 0;
    }
    cudaDeviceProp prop;
    e = cudaGetDeviceProperties(&prop, device_index);
    if (e != cudaSuccess) {
        snprintf(desc, len, "CUDA device %d unusable: cudaGetDeviceProperties: %s", device_index, cudaGetErrorString(e));
        return 0;
    }
    e = cudaSetDevice(device_index);
    if (e == cudaSuccess) e = cudaFree(0);  /* creates the context: fails on a busy exclusive-mode GPU */
    if (e != cudaSuccess) {
        snprintf(desc, len, "CUDA device %d (%s) unusable: %s", device_index, prop.name, cudaGetErrorString(e));
        return 0;
    }
    cudaFuncAttributes attr;
    e = cudaFuncGetAttributes(&attr, probe_kernel);
    if (e != cudaSuccess) {
        snprintf(desc, len,
                 "CUDA device %d (%s) is sm_%d%d, which this build has no kernels for (%s); rebuild with "
                 "-DCMAKE_CUDA_ARCHITECTURES=%d%d",
                 device_index, prop.name, prop.major, prop.minor, cudaGetErrorString(e), prop.major, prop.minor);
        return 0;
    }
    snprintf(desc, len, "%s (sm_%d%d, %.1f GiB, driver %s)", prop.name, prop.major, prop.minor,
             (double)prop.totalGlobalMem / (double)(1ull << 30), dv);
    return 1;
}

int cuda_backend_device_count(void) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  /* no driver or device: none, not an error left for later */
        return 0;
    }
    return count;
}

/* ---- lifetime ------------------------------------------------------------------------------- */

static void cuda_destroy(Backend *b) {
    CudaBackend *cb = (CudaBackend *)b;
    if (!cb) return;
    /* Teardown: errors are ignored, there is no one left to report them to. */
    if (cb->stream) cudaStreamSynchronize(cb->stream);
    cuda_comm_destroy(cb);
    cuda_lanes_destroy(cb);
    for (int i = 0; i < CUDA_GRAPH_SLOTS; i++)
        if (cb->graphs[i].exec) cudaGraphExecDestroy(cb->graphs[i].exec);
    for (int i = 0; i < BACKEND_TIME_SLOTS; i++)
        if (cb->stamps[i]) cudaEventDestroy(cb->stamps[i]);
    cuda_lt_plans_destroy(cb);
    if (cb->lt) cublasLtDestroy(cb->lt);
    if (cb->blas) cublasDestroy(cb->blas);
    if (cb->blas_workspace) cudaFree(cb->blas_workspace);
    if (cb->reduce_workspace) cudaFree(cb->reduce_workspace);
    if (cb->stream) cudaStreamDestroy(cb->stream);
    free(cb);
}

static int cuda_status(Backend *b, Error *err) {
    CudaBackend *cb = (CudaBackend *)b;
    cuda_comm_status(cb);
    if (!cb->failed) {
        /* A launch error not yet seen, then a fault inside a kernel that already ran: neither waits. */
        CUDA_RECORD(cb, cudaPeekAtLastError());
        cudaError_t e = cudaStreamQuery(cb->stream);
        if (e == cudaErrorNotReady)
            cudaGetLastError();  /* "still running" is no error: don't leave it for the next launch check */
        else
            CUDA_RECORD(cb, e);
    }
    if (!cb->failed) return 0;
    return error_set(err, "CUDA backend: %s", cb->error.msg);
}

static int cuda_synchronize(Backend *b, Error *err) {
    CudaBackend *cb = (CudaBackend *)b;
    if (cuda_replays_synchronize(cb, err)) return -1;
    CUDA_RETURN_IF_ERROR(err, cudaStreamSynchronize(cb->stream));
    return cuda_status(b, err);
}

static void cuda_describe(Backend *b, char *buf, size_t len) {
    CudaBackend *cb = (CudaBackend *)b;
    snprintf(buf, len, "%s (sm_%d%d, %d SMs, %.1f GiB)", cb->name, cb->cc_major, cb->cc_minor, cb->sm_count,
             (double)cb->total_mem / (double)(1ull << 30));
}

/* ---- memory (setup time only) ----------------------------------------------------------------- */

static int alloc_zeroed(CudaBackend *cb, size_t bytes, void **out, Error *err) {
    *out = NULL;
    /* Never a zero-size request: callers get a real pointer for an empty buffer, as on the CPU. */
    size_t request = bytes ? bytes : 16;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, request);
    if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError();  /* clear it: the failure is reported here, as a value */
        size_t free_bytes = 0, total = 0;
        cudaMemGetInfo(&free_bytes, &total);
        return error_set(err, "out of GPU memory: asked for %zu bytes (%.1f MiB), %.1f MiB free of %.1f MiB", bytes,
                         (double)bytes / (1 << 20), (double)free_bytes / (1 << 20), (double)total / (1 << 20));
    }
    if (e != cudaSuccess) {
        cudaGetLastError();  /* reported here, as a value (see CUDA_RETURN_IF_ERROR) */
        return cuda_error_set(err, "cudaMalloc(&p, request)", __func__, __FILE__, __LINE__, cudaGetErrorName(e),
                              cudaGetErrorString(e));
    }
    *out = p;
    /* On the step stream, then waited for: zeros are in place for every stream after this. */
    CUDA_RETURN_IF_ERROR(err, cudaMemsetAsync(p, 0, request, cb->stream));
    CUDA_RETURN_IF_ERROR(err, cudaStreamSynchronize(cb->stream));
    return 0;
}

static void *cuda_alloc(Backend *b, size_t bytes, Error *err) {
    CudaBackend *cb = (CudaBackend *)b;
    void *p = NULL;
    if (alloc_zeroed(cb, bytes, &p, err)) {
        if (p) cudaFree(p);
        return NULL;
    }
    return p;
}

static void cuda_release(Backend *b, void *ptr) {
    CudaBackend *cb = (CudaBackend *)b;
    if (!ptr) return;
    cuda_drop_graphs(cb);  /* a captured graph may point into this buffer */
    CUDA_RECORD(cb, cudaFree(ptr));
}

/* Host transfers are for setup, logging and checkpoints: synchronous with the step stream, so
 * they see every step issued before them and the host buffer is free on return. */
static int cuda_upload(Backend *b, void *dst, const void *src, size_t bytes, Error *err) {
    CudaBackend *cb = (CudaBackend *)b;
    if (!bytes) return 0;
    CUDA_RETURN_IF_ERROR(err, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cb->stream));
    CUDA_RETURN_IF_ERROR(err, cudaStreamSynchronize(cb->stream));
    return 0;
}

static int cuda_download(Backend *b, void *dst, const void *src, size_t bytes, Error *err) {
    CudaBackend *cb = (CudaBackend *)b;
    if (!bytes) return 0;
    CUDA_RETURN_IF_ERROR(err, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, cb->stream));
    CUDA_RETURN_IF_ERROR(err, cudaStreamSynchronize(cb->stream));
    return 0;
}

/* ---- measurement ------------------------------------------------------------------------------ */

static void cuda_time_mark(Backend *b, int slot) {
    CudaBackend *cb = (CudaBackend *)b;
    if (slot < 0 || slot >= BACKEND_TIME_SLOTS) {
        cuda_record_error(cb, "time_mark", __func__, __FILE__, __LINE__, "invalid argument", "slot out of range");
        return;
    }
    CUDA_RECORD(cb, cudaEventRecord(cb->stamps[slot], cb->stream));
}

static int cuda_time_elapsed(Backend *b, int from, int to, double *seconds, Error *err) {
    CudaBackend *cb = (CudaBackend *)b;
    if (from < 0 || to < 0 || from >= BACKEND_TIME_SLOTS || to >= BACKEND_TIME_SLOTS)
        return error_set(err, "time_elapsed: slots %d, %d outside [0, %d)", from, to, BACKEND_TIME_SLOTS);
    float ms = 0;
    CUDA_RETURN_IF_ERROR(err, cudaEventSynchronize(cb->stamps[to]));
    CUDA_RETURN_IF_ERROR(err, cudaEventElapsedTime(&ms, cb->stamps[from], cb->stamps[to]));
    *seconds = ms * 1e-3;
    return cuda_status(b, err);
}

static int cuda_memory_info(Backend *b, size_t *free_bytes, size_t *total_bytes, Error *err) {
    (void)b;
    CUDA_RETURN_IF_ERROR(err, cudaMemGetInfo(free_bytes, total_bytes));
    return 0;
}

/* ---- the table and creation ---------------------------------------------------------------------- */

/* Filled by field name (C++20 designated initialisers, in declaration order): a field of
 * backend.h that moves makes this table a compile error, never a silently misplaced function. */
static const BackendOps cuda_ops = {
    .name = "cuda",
    .destroy = cuda_destroy,
    .status = cuda_status,
    .synchronize = cuda_synchronize,
    .describe = cuda_describe,
    .alloc = cuda_alloc,
    .release = cuda_release,
    .upload = cuda_upload,
    .download = cuda_download,
    .replay_create = cuda_replay_create,
    .replay_destroy = cuda_replay_destroy,
    .run_step = cuda_run_step,
    .fork = cuda_fork,
    .lane = cuda_lane,
    .lane_wait = cuda_lane_wait,
    .join = cuda_join,
    .prepare_step = cuda_prepare_step,
    .finish_step = cuda_finish_step,
    .sample_batch = cuda_sample_batch,
    .gemm = cuda_gemm,
    .gemm_bias_activation = cuda_gemm_bias_activation,
    .bias_activation = cuda_bias_activation,
    .relu_backward = cuda_relu_backward,
    .column_sums = cuda_column_sums,
    .row_sums = cuda_row_sums,
    .value_critic_heads = cuda_value_critic_heads,
    .policy_head = cuda_policy_head,
    .adamw = cuda_adamw,
    .polyak = cuda_polyak,
    .copy = cuda_copy,
    .allreduce_sum = cuda_allreduce_sum,
    .init_uniform = cuda_init_uniform,
    .time_mark = cuda_time_mark,
    .time_elapsed = cuda_time_elapsed,
    .memory_info = cuda_memory_info,
};

static int setup(CudaBackend *cb, const BackendOptions *opt, Error *err) {
    cb->device = opt ? opt->device_index : 0;
    cb->precision = opt ? opt->precision : PRECISION_FP32;
    cb->use_graphs = opt ? opt->use_graphs : 1;
    cb->gemm_epilogues = opt ? opt->gemm_epilogues : 0;
    cb->parallel_nets = opt ? opt->parallel_nets : 0;

    CUDA_RETURN_IF_ERROR(err, cudaSetDevice(cb->device));
    cudaDeviceProp prop;
    CUDA_RETURN_IF_ERROR(err, cudaGetDeviceProperties(&prop, cb->device));
    snprintf(cb->name, sizeof cb->name, "%s", prop.name);
    cb->cc_major = prop.major;
    cb->cc_minor = prop.minor;
    cb->sm_count = prop.multiProcessorCount;
    cb->total_mem = prop.totalGlobalMem;

    /* Non-blocking: the legacy default stream never orders against ours, and capture needs a
     * stream of its own. */
    CUDA_RETURN_IF_ERROR(err, cudaStreamCreateWithFlags(&cb->stream, cudaStreamNonBlocking));
    for (int i = 0; i < BACKEND_TIME_SLOTS; i++) CUDA_RETURN_IF_ERROR(err, cudaEventCreate(&cb->stamps[i]));
    CUBLAS_RETURN_IF_ERROR(err, cublasCreate(&cb->blas));
    CUBLAS_RETURN_IF_ERROR(err, cublasLtCreate(&cb->lt));
    /* cublasSetStream resets the workspace to cuBLAS's own pool, so the workspace comes after. */
    CUBLAS_RETURN_IF_ERROR(err, cublasSetStream(cb->blas, cb->stream));
    CUDA_RETURN_IF_ERROR(err, cudaMalloc(&cb->blas_workspace, CUDA_BLAS_WORKSPACE_BYTES));
    CUBLAS_RETURN_IF_ERROR(err, cublasSetWorkspace(cb->blas, cb->blas_workspace, CUDA_BLAS_WORKSPACE_BYTES));
    CUBLAS_RETURN_IF_ERROR(err, cublasSetPointerMode(cb->blas, CUBLAS_POINTER_MODE_HOST));
    /* Default math: SGEMM stays in FP32 (TF32 needs CUBLAS_TF32_TENSOR_OP_MATH, never set);
     * tf32 precision is asked for per call, through the compute type (gemm.cu). */
    CUBLAS_RETURN_IF_ERROR(err, cublasSetMathMode(cb->blas, CUBLAS_DEFAULT_MATH));
    CUDA_RETURN_IF_ERROR(err, cudaMalloc(&cb->reduce_workspace, CUDA_REDUCE_WORKSPACE_BYTES));
    if (cuda_lanes_create(cb, err)) return -1;
    cuda_join(&cb->base);  /* no lane open: step ops go to the step stream */
    return cuda_comm_create(cb, opt ? opt->comm : NULL, err);  /* data parallel: collective */
}

Backend *cuda_backend_create(const BackendOptions *opt, Error *err) {
    char desc[256];
    int device = opt ? opt->device_index : 0;
    if (!cuda_backend_probe(device, desc, sizeof desc)) {
        error_set(err, "CUDA backend: %s", desc);
        return NULL;
    }
    CudaBackend *cb = (CudaBackend *)calloc(1, sizeof *cb);
    if (!cb) {
        error_set(err, "out of host memory creating the CUDA backend");
        return NULL;
    }
    cb->base.ops = &cuda_ops;
    if (setup(cb, opt, err)) {
        error_prefix(err, "CUDA backend on device %d", device);
        cuda_destroy(&cb->base);
        return NULL;
    }
    return &cb->base;
}
