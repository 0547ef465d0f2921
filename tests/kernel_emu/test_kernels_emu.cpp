/* test_kernels_emu.cpp — the CUDA backend's own kernels, launch code included, run on the CPU
 * through cuda_emu.h and checked against the CPU backend (the oracle), on a machine without a
 * GPU: every custom kernel (bias + activation, ReLU backward, column and row sums, the loss
 * heads, AdamW with its step scalars, Polyak, init_uniform, the replay gather in device and
 * host placement, the raw cuRAND stream), and gemm.cu's translation of row-major products into
 * cuBLAS and cuBLASLt calls (against cublas_emu.cpp's model of them, cuBLASLt refusals
 * included), on awkward sizes, 16-byte aligned buffers and not, grids of one SM's worth of
 * blocks (so every grid-stride loop goes round) and of an H100's. Outputs start as NaN on both
 * sides, so an element never written, or written out of bounds, shows.
 *
 * cuRAND here is NVIDIA's device code compiled for the host: init_uniform, the gather's
 * draws and the raw stream are compared with philox.h, the CPU's own Philox, bit for bit.
 *
 * The emulator checks itself first: a shuffle naming an exited lane, a divergent
 * __syncthreads() and an impossible block size must be reported as launch errors. */
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cuda_backend.h"
#include "cuda_debug.h"
extern "C" {
#include "test_util.h"
}

/* ---- two copies of every buffer: the CPU backend's and the emulated GPU's ---------------------------------- */

struct Pair {
    std::vector<float> cpu_mem, gpu_mem;
    float *cpu = nullptr, *gpu = nullptr;
    size_t n = 0;
};

/* n floats starting `offset` floats after a 16-byte boundary (offset 1: the scalar paths). */
static Pair pair_new(size_t n, size_t offset) {
    Pair p;
    p.n = n;
    p.cpu_mem.assign(n + offset + 8, NAN);
    p.gpu_mem.assign(n + offset + 8, NAN);
    auto place = [&](std::vector<float> &mem) {
        size_t skip = (16 - (uintptr_t)mem.data() % 16) % 16 / sizeof(float);
        return mem.data() + skip + offset;
    };
    p.cpu = place(p.cpu_mem);
    p.gpu = place(p.gpu_mem);
    return p;
}

static void pair_fill(Pair &p, float lo, float hi) {
    for (size_t i = 0; i < p.n; i++) p.cpu[i] = p.gpu[i] = lo + (hi - lo) * (float)rand() / (float)RAND_MAX;
}

/* NaN exactly where the CPU has NaN; elsewhere bit for bit (tol 0) or each element within
 * tol·(|cpu| + rms(cpu)). The guard floats around the buffer must still be NaN too. */
static void pair_check(const Pair &p, double tol, const char *what) {
    size_t bad = 0, first = 0;
    double rms = 0;
    for (size_t i = 0; i < p.n; i++)
        if (!std::isnan(p.cpu[i])) rms += (double)p.cpu[i] * p.cpu[i];
    rms = std::sqrt(rms / (double)(p.n ? p.n : 1));
    for (size_t i = 0; i < p.n; i++) {
        float a = p.gpu[i], b = p.cpu[i];
        bool ok = std::isnan(b) ? std::isnan(a)
                  : tol == 0    ? std::memcmp(&a, &b, sizeof a) == 0
                                : std::fabs((double)a - b) <= tol * (std::fabs((double)b) + rms);
        if (!ok && !bad++) first = i;
    }
    CHECK(bad == 0, "%s: %zu of %zu elements differ, first at %zu: emulated GPU %.9g, CPU %.9g", what, bad, p.n, first,
          bad ? p.gpu[first] : 0.0, bad ? p.cpu[first] : 0.0);
    const float *lo = p.gpu - 1, *hi = p.gpu + p.n;
    if (lo >= p.gpu_mem.data()) CHECK(std::isnan(*lo), "%s: the float before the buffer was written", what);
    CHECK(std::isnan(*hi), "%s: the float after the buffer was written", what);
}

/* ---- the two backends -------------------------------------------------------------------------------------------- */

static Backend *cpu;

/* A CUDA backend as its ops see it: the kernels read sm_count (grid sizes), the streams (null
 * here, so each op runs as it is issued) and the cuBLAS handles. */
static CudaBackend *emulated_gpu(int sm_count) {
    static CudaBackend cb;
    static cublasHandle_t blas;
    static cublasLtHandle_t lt;
    if (!blas && (cublasCreate(&blas) != CUBLAS_STATUS_SUCCESS || cublasLtCreate(&lt) != CUBLAS_STATUS_SUCCESS))
        abort();
    std::memset((void *)&cb, 0, sizeof cb);
    cb.sm_count = sm_count;
    cb.precision = PRECISION_FP32;
    cb.blas = cb.op_blas = blas; /* on the null stream: every op runs when it is issued */
    cb.lt = lt;
    return &cb;
}

static Backend *as_backend(CudaBackend *cb) {
    return (Backend *)cb;
}

/* Every op must leave no recorded failure behind. */
static void check_clean(CudaBackend *cb, const char *what) {
    CHECK(!cb->failed, "%s: the backend recorded a failure: %s", what, cb->error.msg);
}

static const int sm_counts[] = {1, 132};

/* ---- the emulator's own checks -------------------------------------------------------------------------------- */

__global__ void shuffle_after_exit_kernel(float *out) {
    if (threadIdx.x == 5) return;
    out[threadIdx.x] = __shfl_sync(0xffffffffu, 1.0f, 0);
}

__global__ void divergent_barrier_kernel(float *out) {
    if (threadIdx.x < 16) __syncthreads();
    out[threadIdx.x] = 1.0f;
}

__global__ void butterfly_and_shared_kernel(float *out) {
    __shared__ float partial[2];
    float v = (float)(threadIdx.x + 1);
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
    if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x == 0) out[blockIdx.x] = partial[0] + partial[1] + (float)blockIdx.x;
}

static void test_emulator() {
    std::vector<float> out(64, 0.0f);
    cuda_emu::launch(1, 32)(shuffle_after_exit_kernel, out.data());
    cudaError_t e = cudaGetLastError();
    CHECK(e == cudaErrorIllegalInstruction, "a shuffle naming an exited lane must fail, got %s", cudaGetErrorName(e));
    CHECK(std::strstr(cuda_emu::last_error_detail(), "lane 5 has exited") != nullptr, "detail: %s",
          cuda_emu::last_error_detail());
    CHECK(cuda_emu::device_error() == cudaErrorIllegalInstruction, "a kernel's failure is sticky, as on a GPU");
    cuda_emu::clear_device_error();

    cuda_emu::launch(1, 32)(divergent_barrier_kernel, out.data());
    e = cudaGetLastError();
    CHECK(e == cudaErrorIllegalInstruction, "a divergent __syncthreads() must fail, got %s", cudaGetErrorName(e));
    cuda_emu::clear_device_error();

    cuda_emu::launch(1, 2048)(divergent_barrier_kernel, out.data());
    e = cudaGetLastError();
    CHECK(e == cudaErrorInvalidConfiguration, "2048 threads per block must fail, got %s", cudaGetErrorName(e));
    CHECK(cudaGetLastError() == cudaSuccess, "reading a launch error clears it");

    cuda_emu::launch(3, 64)(butterfly_and_shared_kernel, out.data());
    e = cudaGetLastError();
    CHECK(e == cudaSuccess, "butterfly: %s", cudaGetErrorName(e));
    /* each warp sums 32 consecutive integers: 1..32 and 33..64, 2080 in all */
    for (int b = 0; b < 3; b++) CHECK(out[b] == 2080.0f + (float)b, "block %d: %g, want %g", b, out[b], 2080.0 + b);
}

__global__ void store_kernel(float *x, float value) {
    *x = value;
}
__global__ void copy_kernel(float *dst, const float *src) {
    *dst = *src;
}

/* Streams: a reader on another stream that does not wait for the writer sees the old value in
 * reverse order (so such a race shows), the written one once it waits; a capture refuses a
 * synchronize; a graph replays its work on every launch. */
static void test_emulated_streams() {
    bool reverse = !(getenv("CUDA_EMU_SCHEDULE") && std::strcmp(getenv("CUDA_EMU_SCHEDULE"), "forward") == 0);
    cudaStream_t writer, reader;
    cudaEvent_t written;
    CHECK(cudaStreamCreateWithFlags(&writer, cudaStreamNonBlocking) == cudaSuccess &&
              cudaStreamCreateWithFlags(&reader, cudaStreamNonBlocking) == cudaSuccess &&
              cudaEventCreateWithFlags(&written, cudaEventDisableTiming) == cudaSuccess,
          "streams and an event");
    float x = 0, y = -1;
    cuda_emu::launch(1, 1, 0, writer)(store_kernel, &x, 1.0f);
    cuda_emu::launch(1, 1, 0, reader)(copy_kernel, &y, (const float *)&x);
    CHECK(y == -1.0f, "queued work must not run before the host waits for it");
    cudaStreamSynchronize(reader);
    CHECK(y == (reverse ? 0.0f : 1.0f), "unordered streams: the reader saw %g (order %s)", y,
          reverse ? "reverse" : "forward");
    x = 0, y = -1;
    cuda_emu::launch(1, 1, 0, writer)(store_kernel, &x, 1.0f);
    cudaEventRecord(written, writer);
    cudaStreamWaitEvent(reader, written, 0);
    cuda_emu::launch(1, 1, 0, reader)(copy_kernel, &y, (const float *)&x);
    cudaStreamSynchronize(reader);
    CHECK(y == 1.0f, "a reader that waits for the writer's event must see 1, saw %g", y);

    cudaGraph_t graph = nullptr;
    CHECK(cudaStreamBeginCapture(writer, cudaStreamCaptureModeThreadLocal) == cudaSuccess, "begin capture");
    CHECK(cudaStreamSynchronize(writer) == cudaErrorStreamCaptureUnsupported,
          "a synchronize inside a capture must fail");
    CHECK(cudaStreamEndCapture(writer, &graph) == cudaErrorStreamCaptureInvalidated && !graph,
          "a capture that saw a synchronize must end invalidated");
    cudaGetLastError();

    float counter = 0;
    CHECK(cudaStreamBeginCapture(writer, cudaStreamCaptureModeThreadLocal) == cudaSuccess, "begin capture");
    cuda_emu::launch(1, 1, 0, writer)(copy_kernel, &y, (const float *)&counter);
    CHECK(cudaStreamEndCapture(writer, &graph) == cudaSuccess && graph, "end capture");
    cudaGraphExec_t exec = nullptr;
    CHECK(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess, "instantiate");
    for (int i = 1; i <= 3; i++) {
        counter = (float)i;
        cudaGraphLaunch(exec, writer);
        cudaStreamSynchronize(writer);
        CHECK(y == (float)i, "graph launch %d copied %g", i, y);
    }
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaEventDestroy(written);
    cudaStreamDestroy(writer);
    cudaStreamDestroy(reader);
}

/* ---- layers.cu ------------------------------------------------------------------------------------------------------ */

static void test_bias_activation() {
    static const int shapes[][3] = {{1, 1, 1}, {2, 3, 4}, {3, 257, 5}, {2, 255, 256}, {1, 256, 256}};
    for (auto &s : shapes)
        for (int act = 0; act < 2; act++)
            for (int offset = 0; offset < 2; offset++)
                for (int sms : sm_counts) {
                    int members = s[0], rows = s[1], cols = s[2];
                    CudaBackend *cb = emulated_gpu(sms);
                    Pair y = pair_new((size_t)members * rows * cols, offset),
                         bias = pair_new((size_t)members * cols, offset);
                    pair_fill(y, -1, 1);
                    pair_fill(bias, -1, 1);
                    Activation a = act ? ACTIVATION_RELU : ACTIVATION_NONE;
                    cpu->ops->bias_activation(cpu, y.cpu, bias.cpu, members, rows, cols, a);
                    cuda_bias_activation(as_backend(cb), y.gpu, bias.gpu, members, rows, cols, a);
                    char what[160];
                    snprintf(what, sizeof what, "bias_activation %dx%dx%d act=%d offset=%d sms=%d", members, rows, cols,
                             act, offset, sms);
                    pair_check(y, 0, what);
                    check_clean(cb, what);
                }
}

static void test_relu_backward() {
    static const int64_t sizes[] = {1, 3, 4, 5, 1000, 65537};
    for (int64_t n : sizes)
        for (int offset = 0; offset < 2; offset++)
            for (int sms : sm_counts) {
                CudaBackend *cb = emulated_gpu(sms);
                Pair dy = pair_new((size_t)n, offset), y = pair_new((size_t)n, offset);
                pair_fill(dy, -1, 1);
                pair_fill(y, -1, 1);
                cpu->ops->relu_backward(cpu, dy.cpu, y.cpu, n);
                cuda_relu_backward(as_backend(cb), dy.gpu, y.gpu, n);
                char what[120];
                snprintf(what, sizeof what, "relu_backward n=%lld offset=%d sms=%d", (long long)n, offset, sms);
                pair_check(dy, 0, what);
                check_clean(cb, what);
            }
}

static void test_column_sums() {
    static const int shapes[][3] = {{1, 1, 1}, {3, 257, 33}, {2, 256, 256}, {5, 1, 70}, {1, 1000, 6}};
    for (auto &s : shapes)
        for (int sms : sm_counts) {
            int members = s[0], rows = s[1], cols = s[2];
            CudaBackend *cb = emulated_gpu(sms);
            Pair in = pair_new((size_t)members * rows * cols, 0), out = pair_new((size_t)members * cols, 0);
            pair_fill(in, -1, 1);
            cpu->ops->column_sums(cpu, out.cpu, in.cpu, members, rows, cols);
            cuda_column_sums(as_backend(cb), out.gpu, in.gpu, members, rows, cols);
            char what[120];
            snprintf(what, sizeof what, "column_sums %dx%dx%d sms=%d", members, rows, cols, sms);
            pair_check(out, 1e-5, what); /* a different, fixed summation order */
            check_clean(cb, what);
        }
}

static void test_row_sums() {
    static const int shapes[][2] = {{1, 1}, {7, 31}, {300, 33}, {16, 256}, {3, 1000}};
    for (auto &s : shapes)
        for (int sms : sm_counts) {
            int rows = s[0], cols = s[1];
            CudaBackend *cb = emulated_gpu(sms);
            Pair in = pair_new((size_t)rows * cols, 0), out = pair_new((size_t)rows, 0);
            pair_fill(in, -1, 1);
            cpu->ops->row_sums(cpu, out.cpu, in.cpu, rows, cols);
            cuda_row_sums(as_backend(cb), out.gpu, in.gpu, rows, cols);
            char what[120];
            snprintf(what, sizeof what, "row_sums %dx%d sms=%d", rows, cols, sms);
            pair_check(out, 1e-6, what); /* both sum in double, in different orders */
            check_clean(cb, what);
        }
}

/* ---- gemm.cu ------------------------------------------------------------------------------------------------------- */

/* One strided-batched GEMM on both sides (see test_cuda_ops.c's gemm_case): share 1 = A shared
 * by the batch (stride 0), 2 = B shared; pad widens every leading dimension. */
static void gemm_case(PrecisionKind precision, int m, int n, int k, int ta, int tb, int share, int batch, int pad,
                      float alpha, float beta) {
    int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    int64_t rows_a = ta ? k : m, rows_b = tb ? n : k;
    int64_t sa = share == 1 ? 0 : rows_a * lda, sb = share == 2 ? 0 : rows_b * ldb, sc = (int64_t)m * ldc;
    Pair A = pair_new((size_t)((batch - 1) * sa + rows_a * lda), 0),
         B = pair_new((size_t)((batch - 1) * sb + rows_b * ldb), 0), C = pair_new((size_t)(batch * sc), 0);
    pair_fill(A, -1, 1);
    pair_fill(B, -1, 1);
    if (beta != 0) pair_fill(C, -1, 1); /* beta = 0: C stays NaN, which must never be read */
    GemmArgs g = {};
    g.trans_a = ta, g.trans_b = tb, g.m = m, g.n = n, g.k = k, g.alpha = alpha, g.beta = beta;
    g.lda = lda, g.stride_a = sa, g.ldb = ldb, g.stride_b = sb, g.ldc = ldc, g.stride_c = sc, g.batch = batch;
    g.a = A.cpu, g.b = B.cpu, g.c = C.cpu;
    cpu->ops->gemm(cpu, &g);
    CudaBackend *cb = emulated_gpu(132);
    cb->precision = precision;
    g.a = A.gpu, g.b = B.gpu, g.c = C.gpu;
    cuda_gemm(as_backend(cb), &g);
    char what[200];
    snprintf(what, sizeof what, "gemm %s m=%d n=%d k=%d ta=%d tb=%d share=%d batch=%d pad=%d beta=%g",
             precision == PRECISION_TF32 ? "tf32" : "fp32", m, n, k, ta, tb, share, batch, pad, beta);
    /* the padding columns of C are NaN on the CPU side: they must stay untouched */
    pair_check(C, 1e-5, what);
    check_clean(cb, what);
}

static void test_gemm() {
    static const int sizes[] = {1, 3, 64, 257};
    int c = 0;
    for (PrecisionKind precision : {PRECISION_FP32, PRECISION_TF32})
        for (int si = 0; si < 4; si++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++)
                    for (int share = 0; share < 3; share++, c++) {
                        int m = sizes[si], n = sizes[(si + c) % 4], k = sizes[(si + 2 * c + 1) % 4];
                        int batch = c % 2 ? 3 : 1 + share;
                        bool beta0 = c % 2 == 0;
                        gemm_case(precision, m, n, k, ta, tb, share, batch, c % 3 == 0 ? 2 : 0, beta0 ? 1.0f : 0.5f,
                                  beta0 ? 0.0f : 0.75f);
                    }
    /* the trainer's shapes: forward X·Wᵀ (input shared), dW = dYᵀ·X, dX = dY·W, db = 1ᵀ·dY */
    gemm_case(PRECISION_FP32, 256, 256, 17, 0, 1, 1, 4, 0, 1, 0);
    gemm_case(PRECISION_FP32, 256, 17, 256, 1, 0, 2, 4, 0, 1, 0);
    gemm_case(PRECISION_FP32, 256, 17, 256, 0, 0, 0, 4, 0, 1, 0);
    gemm_case(PRECISION_FP32, 1, 256, 256, 0, 0, 1, 4, 0, 1, 0);
}

/* A layer's forward pass, X·Wᵀ + b then the activation, through cuBLASLt's epilogue (or the
 * fallback when epilogues are off or cuBLASLt refuses), twice per shape with different biases
 * (the plan is cached; the bias pointer is the call's). */
enum LtMode { LT_OFF, LT_FUSED, LT_REFUSED_AT_PLAN, LT_REFUSED_AT_CALL };

static void gemm_bias_activation_case(LtMode mode, int members, int rows, int in, int out, int shared_input, int offset,
                                      Activation act) {
    CudaBackend *cb = emulated_gpu(132);
    cb->gemm_epilogues = mode != LT_OFF;
    cuda_emu::lt_refuse_heuristic = mode == LT_REFUSED_AT_PLAN;
    cuda_emu::lt_refuse_matmul = mode == LT_REFUSED_AT_CALL;
    int64_t matmuls_before = cuda_emu::lt_matmuls;
    Pair X = pair_new((size_t)(shared_input ? 1 : members) * rows * in, offset),
         W = pair_new((size_t)members * out * in, offset), Y = pair_new((size_t)members * rows * out, offset);
    pair_fill(X, -1, 1);
    pair_fill(W, -1, 1);
    char what[200];
    snprintf(what, sizeof what,
             "gemm_bias_activation mode=%d members=%d rows=%d in=%d out=%d shared=%d offset=%d act=%d", (int)mode,
             members, rows, in, out, shared_input, offset, (int)act);
    for (int call = 0; call < 2; call++) {
        Pair bias = pair_new((size_t)members * out, offset);
        pair_fill(bias, -1, 1);
        std::fill(Y.cpu, Y.cpu + Y.n, NAN), std::fill(Y.gpu, Y.gpu + Y.n, NAN);
        GemmArgs g = {};
        g.trans_a = 0, g.trans_b = 1, g.m = rows, g.n = out, g.k = in, g.alpha = 1, g.beta = 0;
        g.lda = in, g.stride_a = shared_input ? 0 : (int64_t)rows * in;
        g.ldb = in, g.stride_b = (int64_t)out * in, g.ldc = out, g.stride_c = (int64_t)rows * out, g.batch = members;
        g.a = X.cpu, g.b = W.cpu, g.c = Y.cpu;
        cpu->ops->gemm_bias_activation(cpu, &g, bias.cpu, act);
        g.a = X.gpu, g.b = W.gpu, g.c = Y.gpu;
        cuda_gemm_bias_activation(as_backend(cb), &g, bias.gpu, act);
        pair_check(Y, 1e-5, what);
    }
    int64_t fused = 0, unfused = 0;
    cuda_debug_epilogue_calls(as_backend(cb), &fused, &unfused);
    int64_t want_fused = mode == LT_FUSED ? 2 : 0;
    CHECK(fused == want_fused && unfused == 2 - want_fused && cuda_emu::lt_matmuls - matmuls_before == want_fused,
          "%s: %lld fused and %lld unfused calls (%lld cuBLASLt products), expected %lld fused", what, (long long)fused,
          (long long)unfused, (long long)(cuda_emu::lt_matmuls - matmuls_before), (long long)want_fused);
    check_clean(cb, what);
    cuda_lt_plans_destroy(cb);
    cuda_emu::lt_refuse_heuristic = cuda_emu::lt_refuse_matmul = false;
}

static void test_gemm_bias_activation() {
    static const int shapes[][4] = {{1, 256, 17, 256}, {4, 255, 23, 256}, {3, 1, 5, 3}, {2, 257, 256, 1}};
    for (LtMode mode : {LT_OFF, LT_FUSED, LT_REFUSED_AT_PLAN, LT_REFUSED_AT_CALL})
        for (auto &s : shapes)
            for (int shared = 0; shared < 2; shared++)
                for (int act = 0; act < 2; act++)
                    gemm_bias_activation_case(mode, s[0], s[1], s[2], s[3], shared, (s[1] + act) % 2,
                                              act ? ACTIVATION_RELU : ACTIVATION_NONE);
    /* the contract: beta 0 and a packed C, or the call records an error and writes nothing */
    CudaBackend *cb = emulated_gpu(1);
    cb->gemm_epilogues = 1;
    Pair X = pair_new(6, 0), W = pair_new(6, 0), Y = pair_new(4, 0), bias = pair_new(2, 0);
    GemmArgs g = {};
    g.m = 2, g.n = 2, g.k = 3, g.alpha = 1, g.beta = 1, g.trans_b = 1, g.lda = 3, g.ldb = 3, g.ldc = 2, g.batch = 1;
    g.stride_c = 4, g.a = X.gpu, g.b = W.gpu, g.c = Y.gpu;
    cuda_gemm_bias_activation(as_backend(cb), &g, bias.gpu, ACTIVATION_RELU);
    CHECK(cb->failed && std::strstr(cb->error.msg, "beta = 0") != nullptr,
          "gemm_bias_activation with beta 1 must record an error, got: %s", cb->failed ? cb->error.msg : "none");
    cuda_lt_plans_destroy(cb);
}

/* ---- heads.cu ---------------------------------------------------------------------------------------------------------- */

/* The heads' arithmetic is one iql_heads.h function per row on both sides; the compilers
 * may contract a multiply-add differently, so a few ulp, not bits. */
#define TOL_HEADS 1e-6

static void test_value_critic_heads() {
    static const int shapes[][2] = {{1, 1}, {1, 255}, {3, 257}};
    for (auto &s : shapes)
        for (int target_q = 0; target_q < 2; target_q++) {
            int P = s[0], B = s[1];
            CudaBackend *cb = emulated_gpu(132);
            Pair v = pair_new((size_t)P * B, 0), v_next = pair_new((size_t)P * B, 0),
                 q = pair_new((size_t)P * 2 * B, 0), q_hat = pair_new((size_t)P * 2 * B, 0),
                 reward = pair_new((size_t)B, 0), terminal = pair_new((size_t)B, 0), tau = pair_new((size_t)P, 0),
                 beta = pair_new((size_t)P, 0);
            Pair dv = pair_new((size_t)P * B, 0), dq = pair_new((size_t)P * 2 * B, 0),
                 weight = pair_new((size_t)P * B, 0), stats = pair_new((size_t)P * IQL_STAT_COUNT * B, 0);
            for (Pair *p : {&v, &v_next, &q, &q_hat, &reward}) pair_fill(*p, -3, 3);
            pair_fill(tau, 0.5f, 0.95f);
            pair_fill(beta, 0.5f, 10.0f);
            for (int i = 0; i < B; i++) terminal.cpu[i] = terminal.gpu[i] = (float)(i % 7 == 0);
            auto args = [&](bool gpu) {
                auto side = [gpu](Pair &p) { return gpu ? p.gpu : p.cpu; };
                HeadsArgs h = {};
                h.members = P, h.rows = B;
                h.v = side(v), h.v_next = side(v_next), h.q = side(q), h.q_hat = side(q_hat);
                h.reward = side(reward), h.terminal = side(terminal), h.tau = side(tau), h.beta = side(beta);
                h.discount = 0.99f, h.adv_clip = 100.0f, h.q_scale = 0.5f, h.value_target_q = target_q;
                h.dv = side(dv), h.dq = side(dq), h.weight = side(weight), h.stats = side(stats);
                return h;
            };
            HeadsArgs hc = args(false), hg = args(true);
            cpu->ops->value_critic_heads(cpu, &hc);
            cuda_value_critic_heads(as_backend(cb), &hg);
            char what[120];
            snprintf(what, sizeof what, "value_critic_heads P=%d B=%d value_target_q=%d", P, B, target_q);
            for (const Pair *p : {&dv, &dq, &weight, &stats}) pair_check(*p, TOL_HEADS, what);
            check_clean(cb, what);
        }
}

static void test_policy_head() {
    static const int shapes[][3] = {{1, 1, 1}, {1, 255, 6}, {3, 257, 3}};
    for (auto &s : shapes)
        for (int deterministic = 0; deterministic < 2; deterministic++) {
            int P = s[0], B = s[1], A = s[2];
            CudaBackend *cb = emulated_gpu(132);
            Pair pre = pair_new((size_t)P * B * A, 0), log_std = pair_new((size_t)P * A, 0),
                 action = pair_new((size_t)B * A, 0), weight = pair_new((size_t)P * B, 0);
            Pair dpre = pair_new((size_t)P * B * A, 0), dlog = pair_new((size_t)P * B * A, 0),
                 stats = pair_new((size_t)P * IQL_STAT_COUNT * B, 0);
            pair_fill(pre, -3, 3);
            pair_fill(log_std, -2, 1);
            pair_fill(action, -0.99f, 0.99f);
            pair_fill(weight, 0, 5);
            auto args = [&](bool gpu) {
                auto side = [gpu](Pair &p) { return gpu ? p.gpu : p.cpu; };
                PolicyHeadArgs h = {};
                h.members = P, h.rows = B, h.act_dim = A, h.deterministic = deterministic;
                h.pre = side(pre), h.log_std = side(log_std), h.action = side(action), h.weight = side(weight);
                h.max_action = 1.0f, h.log_std_min = -5.0f, h.log_std_max = 2.0f;
                h.dpre = side(dpre), h.dlog_std_elem = side(dlog), h.stats = side(stats);
                return h;
            };
            PolicyHeadArgs hc = args(false), hg = args(true);
            cpu->ops->policy_head(cpu, &hc);
            cuda_policy_head(as_backend(cb), &hg);
            char what[120];
            snprintf(what, sizeof what, "policy_head P=%d B=%d A=%d deterministic=%d", P, B, A, deterministic);
            pair_check(dpre, TOL_HEADS, what);
            pair_check(stats, TOL_HEADS, what);
            if (!deterministic) pair_check(dlog, TOL_HEADS, what);
            check_clean(cb, what);
        }
}

/* ---- optim.cu ---------------------------------------------------------------------------------------------------------- */

/* Three steps of prepare_step, AdamW over three groups (the last ending before n, so the tail
 * must stay untouched), finish_step, on both sides. */
static void test_adamw() {
    static const int64_t sizes[] = {1, 7, 1001, 65536 + 3};
    for (int64_t n : sizes)
        for (int offset = 0; offset < 2; offset++)
            for (int sms : sm_counts) {
                CudaBackend *cb = emulated_gpu(sms);
                Pair p = pair_new((size_t)n, offset), g = pair_new((size_t)n, offset), m = pair_new((size_t)n, offset),
                     v = pair_new((size_t)n, offset);
                pair_fill(p, -1, 1);
                pair_fill(m, -0.1f, 0.1f);
                pair_fill(v, 0, 0.01f);
                StepScalars sc_cpu = {}, sc_gpu = {};
                sc_cpu.step = sc_gpu.step = 41;
                LrSchedule sched[LR_GROUP_COUNT];
                for (int k = 0; k < LR_GROUP_COUNT; k++)
                    sched[k] = LrSchedule{3e-4f * (float)(k + 1), 1e-5f, 1000, 1, k != 1};
                AdamWArgs a = {};
                a.n = n;
                a.group_end[0] = n / 3, a.group_end[1] = 2 * n / 3, a.group_end[2] = n > 1 ? n - 1 : n;
                a.hyper = iql_adam_hyper(0.9, 0.999, 1e-8, 0.01);
                for (int step = 0; step < 3; step++) {
                    pair_fill(g, -1, 1);
                    cpu->ops->prepare_step(cpu, &sc_cpu, sched, 0.9, 0.999);
                    cuda_prepare_step(as_backend(cb), &sc_gpu, sched, 0.9, 0.999);
                    a.param = p.cpu, a.grad = g.cpu, a.m = m.cpu, a.v = v.cpu, a.scalars = &sc_cpu;
                    cpu->ops->adamw(cpu, &a);
                    a.param = p.gpu, a.grad = g.gpu, a.m = m.gpu, a.v = v.gpu, a.scalars = &sc_gpu;
                    cuda_adamw(as_backend(cb), &a);
                    cpu->ops->finish_step(cpu, &sc_cpu);
                    cuda_finish_step(as_backend(cb), &sc_gpu);
                }
                char what[120];
                snprintf(what, sizeof what, "adamw n=%lld offset=%d sms=%d", (long long)n, offset, sms);
                /* field by field: the struct has padding bytes, which carry nothing */
                bool same = sc_cpu.step == sc_gpu.step && sc_cpu.bias_correction1 == sc_gpu.bias_correction1 &&
                            sc_cpu.bias_correction2 == sc_gpu.bias_correction2;
                for (int k = 0; k < LR_GROUP_COUNT; k++) same = same && sc_cpu.lr[k] == sc_gpu.lr[k];
                CHECK(same, "%s: step scalars differ (step %lld vs %lld, lr[0] %.9g vs %.9g)", what,
                      (long long)sc_gpu.step, (long long)sc_cpu.step, sc_gpu.lr[0], sc_cpu.lr[0]);
                for (const Pair *x : {&p, &m, &v}) pair_check(*x, 1e-6, what);
                check_clean(cb, what);
            }
}

static void test_polyak() {
    static const int64_t sizes[] = {1, 5, 4096, 10001};
    for (int64_t n : sizes)
        for (int offset = 0; offset < 2; offset++) {
            CudaBackend *cb = emulated_gpu(1);
            Pair target = pair_new((size_t)n, offset), online = pair_new((size_t)n, offset);
            pair_fill(target, -1, 1);
            pair_fill(online, -1, 1);
            cpu->ops->polyak(cpu, target.cpu, online.cpu, 0.005f, n);
            cuda_polyak(as_backend(cb), target.gpu, online.gpu, 0.005f, n);
            char what[120];
            snprintf(what, sizeof what, "polyak n=%lld offset=%d", (long long)n, offset);
            pair_check(target, 1e-6, what); /* (1 − ρ)t + ρo: contracted to an FMA or not */
            check_clean(cb, what);
        }
}

/* cuRAND's device code against philox.h, through the weights they initialise. */
static void test_init_uniform() {
    static const int64_t sizes[] = {1, 3, 4, 5, 257 * 23};
    static const uint64_t seeds[] = {0, 7, 0xdeadbeefcafef00dull};
    for (int64_t n : sizes)
        for (uint64_t seed : seeds)
            for (int sms : sm_counts) {
                CudaBackend *cb = emulated_gpu(sms);
                Pair w = pair_new((size_t)n, 1);
                uint64_t subsequence = seed % 5 + ((uint64_t)n << 20);
                cpu->ops->init_uniform(cpu, w.cpu, n, 0.25f, seed, subsequence);
                cuda_init_uniform(as_backend(cb), w.gpu, n, 0.25f, seed, subsequence);
                char what[120];
                snprintf(what, sizeof what, "init_uniform n=%lld seed=%llx sms=%d", (long long)n,
                         (unsigned long long)seed, sms);
                pair_check(w, 0, what);
                check_clean(cb, what);
            }
}

/* The raw stream: walking one state across Philox blocks, and jumping to each word. */
static void test_philox_stream() {
    static const uint64_t seeds[] = {0, 1, (1ull << 32) + 5, 0xdeadbeefcafef00dull};
    static const uint64_t subsequences[] = {0, 1, (1ull << 32) + 3, 1ull << 63};
    static const uint64_t offsets[] = {0, 1, 3, 4, (1ull << 32) - 2, (1ull << 34) + 1};
    const int64_t n = 37;
    std::vector<uint32_t> words(n);
    int mismatches = 0, cases = 0;
    for (uint64_t seed : seeds)
        for (uint64_t sub : subsequences)
            for (uint64_t offset : offsets)
                for (int one_thread = 0; one_thread < 2; one_thread++) {
                    CudaBackend *cb = emulated_gpu(1);
                    std::fill(words.begin(), words.end(), 0u);
                    cuda_debug_philox_words(as_backend(cb), words.data(), n, seed, sub, offset, one_thread);
                    check_clean(cb, "philox words");
                    cases++;
                    for (int64_t j = 0; j < n; j++)
                        if (words[(size_t)j] != philox_value(seed, sub, offset + (uint64_t)j)) {
                            if (!mismatches++)
                                fprintf(stderr,
                                        "philox: seed %llx subsequence %llx word %llu: cuRAND %u, philox.h %u\n",
                                        (unsigned long long)seed, (unsigned long long)sub,
                                        (unsigned long long)(offset + (uint64_t)j), words[(size_t)j],
                                        philox_value(seed, sub, offset + (uint64_t)j));
                        }
                }
    CHECK(mismatches == 0, "cuRAND's Philox and philox.h differ in %d words over %d streams", mismatches, cases);
}

/* ---- replay.cu --------------------------------------------------------------------------------------------------------- */

struct Dataset {
    int64_t n, n_states;
    int S, A;
    std::vector<float> states, actions, rewards, terminals;
    std::vector<uint32_t> state_row, next_row;
    ReplaySource source() const {
        ReplaySource r = {};
        r.n = n, r.n_states = n_states, r.obs_dim = S, r.act_dim = A;
        r.states = states.data(), r.state_row = state_row.data(), r.next_row = next_row.data();
        r.actions = actions.data(), r.rewards = rewards.data(), r.terminals = terminals.data();
        return r;
    }
};

static Dataset make_dataset(int64_t n, int S, int A) {
    Dataset d;
    d.n = n, d.n_states = n + 1, d.S = S, d.A = A;
    d.states.resize((size_t)d.n_states * S);
    d.actions.resize((size_t)n * A);
    d.rewards.resize((size_t)n);
    d.terminals.resize((size_t)n);
    d.state_row.resize((size_t)n);
    d.next_row.resize((size_t)n);
    for (auto &x : d.states) x = (float)rand() / RAND_MAX;
    for (auto &x : d.actions) x = (float)rand() / RAND_MAX;
    for (auto &x : d.rewards) x = (float)rand() / RAND_MAX;
    for (int64_t t = 0; t < n; t++) {
        d.terminals[(size_t)t] = (float)(t % 11 == 10);
        d.state_row[(size_t)t] = (uint32_t)t;
        d.next_row[(size_t)t] = (uint32_t)(t + 1);
    }
    return d;
}

struct BatchPair {
    Pair state, next_state, state_action, action, reward, terminal, index;
    Batch cpu_batch, gpu_batch;
};

static BatchPair batch_pair(int B, int S, int A) {
    BatchPair bp;
    bp.state = pair_new((size_t)B * S, 0);
    bp.next_state = pair_new((size_t)B * S, 0);
    bp.state_action = pair_new((size_t)B * (S + A), 0);
    bp.action = pair_new((size_t)B * A, 0);
    bp.reward = pair_new((size_t)B, 0);
    bp.terminal = pair_new((size_t)B, 0);
    bp.index = pair_new((size_t)B, 0);
    auto make = [&](bool gpu) {
        auto side = [gpu](Pair &p) { return gpu ? p.gpu : p.cpu; };
        Batch b = {};
        b.rows = B;
        b.state = side(bp.state), b.next_state = side(bp.next_state), b.state_action = side(bp.state_action);
        b.action = side(bp.action), b.reward = side(bp.reward), b.terminal = side(bp.terminal);
        b.index = (uint32_t *)side(bp.index);
        return b;
    };
    bp.cpu_batch = make(false);
    bp.gpu_batch = make(true);
    return bp;
}

/* Steps 0..7, then a resume back at step 3 (the staged batch no longer matches), in the given
 * placement; every batch equal to the CPU's, bit for bit. */
static void replay_case(ReplayKind kind, size_t reported_free, int B, int sequential, int sms) {
    Dataset d = make_dataset(1000, 17, 6);
    ReplaySource src = d.source();
    CudaBackend *cb = emulated_gpu(sms);
    cuda_emu::reported_free_bytes = reported_free;
    Error err = {};
    Replay *cpu_replay = cpu->ops->replay_create(cpu, &src, kind, B, &err);
    Replay *gpu_replay = cuda_replay_create(as_backend(cb), &src, kind, B, &err);
    CHECK(cpu_replay && gpu_replay, "replay_create: %s", err.msg);
    if (!cpu_replay || !gpu_replay) return;
    int host = cuda_debug_replay_mode(gpu_replay) == REPLAY_HOST;
    SamplingArgs args = {};
    args.sequential = sequential, args.seed = 1234;
    BatchPair bp = batch_pair(B, d.S, d.A);
    StepScalars sc_cpu = {}, sc_gpu = {};
    static const int64_t steps[] = {0, 1, 2, 3, 4, 5, 6, 7, 3, 4};
    for (int64_t step : steps) {
        sc_cpu.step = sc_gpu.step = step;
        for (Pair *p : {&bp.state, &bp.next_state, &bp.state_action, &bp.action, &bp.reward, &bp.terminal, &bp.index})
            std::fill(p->gpu, p->gpu + p->n, NAN), std::fill(p->cpu, p->cpu + p->n, NAN);
        cpu->ops->sample_batch(cpu, cpu_replay, &args, &sc_cpu, &bp.cpu_batch);
        cuda_sample_batch(as_backend(cb), gpu_replay, &args, &sc_gpu, &bp.gpu_batch);
        char what[160];
        snprintf(what, sizeof what, "sample_batch %s B=%d sequential=%d sms=%d step %lld", host ? "host" : "device", B,
                 sequential, sms, (long long)step);
        for (const Pair *p :
             {&bp.state, &bp.next_state, &bp.state_action, &bp.action, &bp.reward, &bp.terminal, &bp.index})
            pair_check(*p, 0, what);
        check_clean(cb, what);
    }
    if (host) {
        /* Steps 1..7 and the second step 4 find their batch staged; 0 and the resumed 3 do not. */
        CHECK(cuda_replays_synchronize(cb, &err) == 0, "synchronize: %s", err.msg); /* the staging counts */
        int64_t hits = cuda_debug_replay_staged_hits(gpu_replay);
        CHECK(hits == 8, "host replay B=%d: %lld of 10 gathers used the staged batch, expected 8", B, (long long)hits);
    }
    cpu->ops->replay_destroy(cpu, cpu_replay);
    cuda_replay_destroy(as_backend(cb), gpu_replay);
    check_clean(cb, "replay_destroy");
}

static void test_replay() {
    /* tight: room for the staging buffers, not for the data plus auto's 1 GiB margin */
    const size_t plenty = (size_t)16 << 30, tight = (size_t)1 << 20;
    for (int B : {1, 256})
        for (int sequential = 0; sequential < 2; sequential++)
            for (int sms : sm_counts) {
                replay_case(REPLAY_DEVICE, plenty, B, sequential, sms);
                replay_case(REPLAY_HOST, plenty, B, sequential, sms);
            }
    /* auto: device memory when the data fits, host memory when it does not */
    CudaBackend *cb = emulated_gpu(1);
    Dataset d = make_dataset(10, 3, 2);
    ReplaySource src = d.source();
    Error err = {};
    for (size_t free_bytes : {plenty, tight}) {
        cuda_emu::reported_free_bytes = free_bytes;
        Replay *r = cuda_replay_create(as_backend(cb), &src, REPLAY_AUTO, 4, &err);
        CHECK(r != nullptr, "auto replay: %s", err.msg);
        if (!r) continue;
        int want = free_bytes == plenty ? REPLAY_DEVICE : REPLAY_HOST;
        CHECK(cuda_debug_replay_mode(r) == want, "auto with %zu bytes free chose %d, expected %d", free_bytes,
              cuda_debug_replay_mode(r), want);
        cuda_replay_destroy(as_backend(cb), r);
    }
    cuda_emu::reported_free_bytes = plenty;
    check_clean(cb, "auto replay");
}

int main() {
    srand(20261125);
    BackendOptions opt = {};
    opt.threads = 1;
    Error err = {};
    cpu = cpu_backend_create(&opt, &err);
    if (!cpu) {
        fprintf(stderr, "CPU backend: %s\n", err.msg);
        return 1;
    }
    test_emulator();
    test_emulated_streams();
    int64_t before = cuda_emu::launches;
    test_bias_activation();
    test_relu_backward();
    test_column_sums();
    test_row_sums();
    test_gemm();
    test_gemm_bias_activation();
    test_value_critic_heads();
    test_policy_head();
    test_adamw();
    test_polyak();
    test_init_uniform();
    test_philox_stream();
    test_replay();
    CHECK(cuda_emu::launches - before > 400, "only %lld emulated launches ran",
          (long long)(cuda_emu::launches - before));
    cpu->ops->destroy(cpu);
    return test_finish("kernels_emu", 0);
}
