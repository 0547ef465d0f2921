/* test_emulator.cpp — what the GPU tests, run on the emulated device, cannot reach by
 * themselves:
 *   - the emulator's own rules, each of which must be able to fail: a shuffle naming an exited
 *     lane, a __syncthreads() not reached by the whole block, an impossible block size; a
 *     butterfly sum and shared memory computing what they should;
 *   - its streams: unordered work really runs out of order (so a missing wait shows), a wait
 *     orders it, a capture refuses a synchronize, a graph replays its work;
 *   - cuBLASLt refusing an epilogue, at planning and at the call: gemm.cu must fall back to
 *     the GEMM and the bias kernel and still match the CPU backend; a call breaking the
 *     gemm_bias_activation contract must record an error;
 *   - replay: auto placement follows the free memory cudaMemGetInfo reports.
 * Every op against the CPU backend is tests/gpu/test_cuda_ops.c's job, which runs here too. */
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

/* A layer's forward pass, X·Wᵀ + b then the activation, through cuBLASLt's epilogue (or the
 * fallback when epilogues are off or cuBLASLt refuses), twice per shape with different biases
 * (the plan is cached; the bias pointer is the call's). Members' biases are bias_stride apart:
 * the fused path is taken only when each is 16-byte aligned (the buffer aligned, and one
 * member or a stride of a multiple of 4), otherwise the call must fall back. */
enum LtMode { LT_OFF, LT_FUSED, LT_REFUSED_AT_PLAN, LT_REFUSED_AT_CALL };

static void gemm_bias_activation_case(LtMode mode, int members, int rows, int in, int out, int shared_input, int offset,
                                      int bias_stride, Activation act) {
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
             "gemm_bias_activation mode=%d members=%d rows=%d in=%d out=%d shared=%d offset=%d bias_stride=%d act=%d",
             (int)mode, members, rows, in, out, shared_input, offset, bias_stride, (int)act);
    for (int call = 0; call < 2; call++) {
        Pair bias = pair_new((size_t)members * bias_stride, offset);
        pair_fill(bias, -1, 1);
        std::fill(Y.cpu, Y.cpu + Y.n, NAN), std::fill(Y.gpu, Y.gpu + Y.n, NAN);
        GemmArgs g = {};
        g.trans_a = 0, g.trans_b = 1, g.m = rows, g.n = out, g.k = in, g.alpha = 1, g.beta = 0;
        g.lda = in, g.stride_a = shared_input ? 0 : (int64_t)rows * in;
        g.ldb = in, g.stride_b = (int64_t)out * in, g.ldc = out, g.stride_c = (int64_t)rows * out, g.batch = members;
        g.a = X.cpu, g.b = W.cpu, g.c = Y.cpu;
        cpu->ops->gemm_bias_activation(cpu, &g, bias.cpu, bias_stride, act);
        g.a = X.gpu, g.b = W.gpu, g.c = Y.gpu;
        cuda_gemm_bias_activation(as_backend(cb), &g, bias.gpu, bias_stride, act);
        pair_check(Y, 1e-5, what);
    }
    int64_t fused = 0, unfused = 0;
    cuda_debug_epilogue_calls(as_backend(cb), &fused, &unfused);
    bool bias_aligned = offset % 4 == 0 && (members == 1 || bias_stride % 4 == 0);
    int64_t want_fused = mode == LT_FUSED && bias_aligned ? 2 : 0;
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
                for (int act = 0; act < 2; act++) {
                    int offset = (s[1] + act) % 2;  /* 0: 16-byte aligned, 1: 4-byte aligned */
                    gemm_bias_activation_case(mode, s[0], s[1], s[2], s[3], shared, offset, (s[3] + 3) / 4 * 4,
                                              act ? ACTIVATION_RELU : ACTIVATION_NONE);
                }
    /* Packed [E, 1] and [E, 6] biases, aligned buffer: members 1.. are 4- or 8-byte aligned, so
     * the call falls back even though cuBLASLt would plan it (the member stride as such). */
    for (int out : {1, 6})
        for (int members : {1, 3})
            gemm_bias_activation_case(LT_FUSED, members, 64, 20, out, 1, 0, out, ACTIVATION_NONE);
    /* the contract: beta 0 and a packed C, or the call records an error and writes nothing */
    CudaBackend *cb = emulated_gpu(1);
    cb->gemm_epilogues = 1;
    Pair X = pair_new(6, 0), W = pair_new(6, 0), Y = pair_new(4, 0), bias = pair_new(2, 0);
    GemmArgs g = {};
    g.m = 2, g.n = 2, g.k = 3, g.alpha = 1, g.beta = 1, g.trans_b = 1, g.lda = 3, g.ldb = 3, g.ldc = 2, g.batch = 1;
    g.stride_c = 4, g.a = X.gpu, g.b = W.gpu, g.c = Y.gpu;
    cuda_gemm_bias_activation(as_backend(cb), &g, bias.gpu, 2, ACTIVATION_RELU);
    CHECK(cb->failed && std::strstr(cb->error.msg, "beta = 0") != nullptr,
          "gemm_bias_activation with beta 1 must record an error, got: %s", cb->failed ? cb->error.msg : "none");
    cuda_lt_plans_destroy(cb);
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

/* auto: device memory when the data fits, host memory when it does not. */
static void test_replay_auto() {
    /* tight: room for the staging buffers, not for the data plus auto's 1 GiB margin */
    const size_t plenty = (size_t)16 << 30, tight = (size_t)1 << 20;
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
    test_gemm_bias_activation();
    test_replay_auto();
    cpu->ops->destroy(cpu);
    return test_finish("emulator", 0);
}
