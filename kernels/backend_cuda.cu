/* backend_cuda.cu — the CUDA backend's lifetime: probe, create, destroy, error state, memory,
 * host transfers, and run_step (eager launches, or one captured CUDA graph per step function).
 * The ops themselves live beside this file: gemm.cu, layers.cu, heads.cu, optim.cu, replay.cu. */
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"  /* defines: CudaBackend, the per-file ops, CUDA_RECORD & co. */

/* Both entry points have C linkage (backend.h is a C header); this declaration comes first so
 * the definitions below keep it. */
extern "C" Backend *cuda_backend_create(const BackendOptions *opt, Error *err);
extern "C" int cuda_backend_probe(int device_index, char *desc, size_t len);

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

/* ---- lifetime ------------------------------------------------------------------------------- */

void cuda_drop_graphs(CudaBackend *cb) {
    for (int i = 0; i < CUDA_GRAPH_SLOTS; i++) {
        if (cb->graphs[i].exec) CUDA_RECORD(cb, cudaGraphExecDestroy(cb->graphs[i].exec));
        cb->graphs[i] = StepGraph{NULL, NULL, NULL};
    }
    cb->next_graph_slot = 0;
}

static void lanes_destroy(CudaBackend *cb);

static void cuda_destroy(Backend *b) {
    CudaBackend *cb = (CudaBackend *)b;
    if (!cb) return;
    /* Teardown: errors are ignored, there is no one left to report them to. */
    if (cb->stream) cudaStreamSynchronize(cb->stream);
    lanes_destroy(cb);
    for (int i = 0; i < CUDA_GRAPH_SLOTS; i++)
        if (cb->graphs[i].exec) cudaGraphExecDestroy(cb->graphs[i].exec);
    for (int i = 0; i < BACKEND_TIME_SLOTS; i++)
        if (cb->stamps[i]) cudaEventDestroy(cb->stamps[i]);
    cuda_lt_plans_destroy(cb);
    if (cb->lt) cublasLtDestroy(cb->lt);
    if (cb->blas) cublasDestroy(cb->blas);
    if (cb->blas_workspace) cudaFree(cb->blas_workspace);
    if (cb->stream) cudaStreamDestroy(cb->stream);
    free(cb);
}

static int cuda_status(Backend *b, Error *err) {
    CudaBackend *cb = (CudaBackend *)b;
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

/* ---- run_step: eager, or a captured graph ------------------------------------------------------ */

/* Captures issue(arg) on the step stream into a new graph slot. Host-replay copy streams fork
 * from the step stream inside sample_batch and are joined before the capture ends, so the
 * graph holds the whole step, copies included. NULL (and the error recorded) on failure. */
static StepGraph *capture_step(CudaBackend *cb, void (*issue)(void *), void *arg) {
    StepGraph *slot = &cb->graphs[cb->next_graph_slot];
    cb->next_graph_slot = (cb->next_graph_slot + 1) % CUDA_GRAPH_SLOTS;
    if (slot->exec) CUDA_RECORD(cb, cudaGraphExecDestroy(slot->exec));
    *slot = StepGraph{NULL, NULL, NULL};

    /* Thread-local mode: other threads of the process may use CUDA meanwhile, and a stray
     * synchronising call from this thread still fails the capture instead of being recorded. */
    CUDA_RECORD(cb, cudaStreamBeginCapture(cb->stream, cudaStreamCaptureModeThreadLocal));
    if (cb->failed) return NULL;
    issue(arg);
    cuda_replays_join(cb);
    cudaGraph_t graph = NULL;
    CUDA_RECORD(cb, cudaStreamEndCapture(cb->stream, &graph));  /* always: leaves capture mode */
    if (cb->failed) {
        if (graph) cudaGraphDestroy(graph);
        return NULL;
    }
    cudaGraphExec_t exec = NULL;
    CUDA_RECORD(cb, cudaGraphInstantiate(&exec, graph, 0));
    CUDA_RECORD(cb, cudaGraphDestroy(graph));
    if (cb->failed) {
        if (exec) cudaGraphExecDestroy(exec);
        return NULL;
    }
    *slot = StepGraph{issue, arg, exec};
    return slot;
}

static void cuda_run_step(Backend *b, void (*issue)(void *), void *arg) {
    CudaBackend *cb = (CudaBackend *)b;
    if (cb->failed) return;  /* nothing more after a failure; status() says what went wrong */
    /* Copies left in flight by a sample_batch outside run_step: joined here, eagerly, since a
     * capture may not wait on work recorded before it began. */
    cuda_replays_join(cb);
    if (!cb->use_graphs) {
        issue(arg);
        cuda_replays_join(cb);
        return;
    }
    StepGraph *g = NULL;
    for (int i = 0; i < CUDA_GRAPH_SLOTS && !g; i++)
        if (cb->graphs[i].exec && cb->graphs[i].issue == issue && cb->graphs[i].arg == arg) g = &cb->graphs[i];
    if (!g) {
        /* The first call of a step function runs eagerly: one-time work (each cuBLAS handle's
         * first call, cuBLASLt's plans, lazy loading of kernel images) then happens outside
         * any capture, where it may synchronise. The second call is captured. */
        int warmed = 0;
        for (int i = 0; i < CUDA_GRAPH_SLOTS; i++) warmed |= cb->warmed[i].issue == issue && cb->warmed[i].arg == arg;
        if (!warmed) {
            cb->warmed[cb->next_warmed] = StepGraph{issue, arg, NULL};
            cb->next_warmed = (cb->next_warmed + 1) % CUDA_GRAPH_SLOTS;
            issue(arg);
            cuda_replays_join(cb);
            return;
        }
        g = capture_step(cb, issue, arg);
    }
    if (g) CUDA_RECORD(cb, cudaGraphLaunch(g->exec, cb->stream));
}

/* ---- lanes: fork/join ------------------------------------------------------------------------- */

/* Without parallel_nets every lane is the step stream and these only check their arguments. */
void cuda_fork(Backend *b, int lanes) {
    CudaBackend *cb = (CudaBackend *)b;
    if (cb->lanes_open) {
        cuda_record_error(cb, "fork", __func__, __FILE__, __LINE__, "invalid argument", "fork inside an open fork");
        return;
    }
    if (!cb->parallel_nets || lanes < 2) return;
    cb->lanes_open = lanes < CUDA_LANES ? lanes : CUDA_LANES;
    /* Inside a capture this event is what pulls the lane streams into the graph. */
    CUDA_RECORD(cb, cudaEventRecord(cb->fork_event, cb->stream));
    for (int i = 1; i < cb->lanes_open; i++) CUDA_RECORD(cb, cudaStreamWaitEvent(cb->lane_stream[i], cb->fork_event, 0));
}

void cuda_lane(Backend *b, int index) {
    CudaBackend *cb = (CudaBackend *)b;
    if (!cb->lanes_open) return;
    if (index < 0) {
        cuda_record_error(cb, "lane", __func__, __FILE__, __LINE__, "invalid argument", "negative lane index");
        return;
    }
    int i = index % cb->lanes_open;  /* more lanes asked for than there are: they share */
    cb->op_stream = cb->lane_stream[i];
    cb->op_blas = cb->lane_blas[i];
    cb->op_workspace = cb->lane_workspace[i];
}

void cuda_lane_wait(Backend *b, int waiter, int source) {
    CudaBackend *cb = (CudaBackend *)b;
    if (!cb->lanes_open) return;
    if (waiter < 0 || source < 0) {
        cuda_record_error(cb, "lane_wait", __func__, __FILE__, __LINE__, "invalid argument", "negative lane index");
        return;
    }
    int w = waiter % cb->lanes_open, src = source % cb->lanes_open;
    if (w == src) return;  /* one stream: already in order */
    /* One event per source lane is enough: a wait takes the event's latest record, which the
     * host made just before it (in a capture too). */
    CUDA_RECORD(cb, cudaEventRecord(cb->lane_mark[src], cb->lane_stream[src]));
    CUDA_RECORD(cb, cudaStreamWaitEvent(cb->lane_stream[w], cb->lane_mark[src], 0));
}

void cuda_join(Backend *b) {
    CudaBackend *cb = (CudaBackend *)b;
    if (cb->lanes_open) {
        for (int i = 1; i < cb->lanes_open; i++) {
            CUDA_RECORD(cb, cudaEventRecord(cb->lane_done[i], cb->lane_stream[i]));
            CUDA_RECORD(cb, cudaStreamWaitEvent(cb->stream, cb->lane_done[i], 0));
        }
        cb->lanes_open = 0;
    }
    cb->op_stream = cb->stream;
    cb->op_blas = cb->blas;
    cb->op_workspace = cb->blas_workspace;
}

static int lanes_create(CudaBackend *cb, Error *err) {
    cb->lane_stream[0] = cb->stream;
    cb->lane_blas[0] = cb->blas;
    cb->lane_workspace[0] = cb->blas_workspace;
    if (!cb->parallel_nets) return 0;
    CUDA_RETURN_IF_ERROR(err, cudaEventCreateWithFlags(&cb->fork_event, cudaEventDisableTiming));
    for (int i = 0; i < CUDA_LANES; i++)
        CUDA_RETURN_IF_ERROR(err, cudaEventCreateWithFlags(&cb->lane_mark[i], cudaEventDisableTiming));
    for (int i = 1; i < CUDA_LANES; i++) {
        CUDA_RETURN_IF_ERROR(err, cudaStreamCreateWithFlags(&cb->lane_stream[i], cudaStreamNonBlocking));
        CUDA_RETURN_IF_ERROR(err, cudaEventCreateWithFlags(&cb->lane_done[i], cudaEventDisableTiming));
        CUBLAS_RETURN_IF_ERROR(err, cublasCreate(&cb->lane_blas[i]));
        CUBLAS_RETURN_IF_ERROR(err, cublasSetStream(cb->lane_blas[i], cb->lane_stream[i]));
        CUDA_RETURN_IF_ERROR(err, cudaMalloc(&cb->lane_workspace[i], CUDA_BLAS_WORKSPACE_BYTES));
        CUBLAS_RETURN_IF_ERROR(err, cublasSetWorkspace(cb->lane_blas[i], cb->lane_workspace[i], CUDA_BLAS_WORKSPACE_BYTES));
        CUBLAS_RETURN_IF_ERROR(err, cublasSetPointerMode(cb->lane_blas[i], CUBLAS_POINTER_MODE_HOST));
        CUBLAS_RETURN_IF_ERROR(err, cublasSetMathMode(cb->lane_blas[i], CUBLAS_DEFAULT_MATH));
    }
    return 0;
}

static void lanes_destroy(CudaBackend *cb) {
    for (int i = 1; i < CUDA_LANES; i++) {
        if (cb->lane_stream[i]) cudaStreamSynchronize(cb->lane_stream[i]);
        if (cb->lane_blas[i]) cublasDestroy(cb->lane_blas[i]);
        if (cb->lane_workspace[i]) cudaFree(cb->lane_workspace[i]);
        if (cb->lane_done[i]) cudaEventDestroy(cb->lane_done[i]);
        if (cb->lane_stream[i]) cudaStreamDestroy(cb->lane_stream[i]);
    }
    for (int i = 0; i < CUDA_LANES; i++)
        if (cb->lane_mark[i]) cudaEventDestroy(cb->lane_mark[i]);
    if (cb->fork_event) cudaEventDestroy(cb->fork_event);
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

static const BackendOps cuda_ops = {
    "cuda",
    cuda_destroy,
    cuda_status,
    cuda_synchronize,
    cuda_describe,
    cuda_alloc,
    cuda_release,
    cuda_upload,
    cuda_download,
    cuda_replay_create,
    cuda_replay_destroy,
    cuda_run_step,
    cuda_fork,
    cuda_lane,
    cuda_lane_wait,
    cuda_join,
    cuda_prepare_step,
    cuda_finish_step,
    cuda_sample_batch,
    cuda_gemm,
    cuda_gemm_bias_activation,
    cuda_bias_activation,
    cuda_relu_backward,
    cuda_column_sums,
    cuda_row_sums,
    cuda_value_critic_heads,
    cuda_policy_head,
    cuda_adamw,
    cuda_polyak,
    cuda_copy,
    cuda_init_uniform,
    cuda_time_mark,
    cuda_time_elapsed,
    cuda_memory_info,
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
    if (lanes_create(cb, err)) return -1;
    cuda_join(&cb->base);  /* no lane open: step ops go to the step stream */
    return 0;
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
