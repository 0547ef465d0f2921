/* backend_cpu.c — the CPU backend: GEMMs through the BLAS of cpu_blas.h (OpenBLAS or BLIS),
 * everything else in plain loops around the per-element functions of iql_math.h (the same ones the CUDA kernels call).
 *
 * It is a real trainer for machines without a GPU and the oracle the CUDA backend is tested
 * against, so every loop runs in a fixed order: results are bit-for-bit reproducible for a
 * given BLAS thread count. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/sizes.h"
#include "cuiql/backend.h"
#include "cuiql/cpu_blas.h"
#include "cuiql/iql_heads.h"
#include "cuiql/philox.h"
#include "cpu/lanes.h"

typedef struct {
    Backend base;
    int threads;
    double stamps[BACKEND_TIME_SLOTS];  /* time_mark: CLOCK_MONOTONIC seconds */
    Comm *comm;                         /* data parallel: allreduce_sum's ranks; NULL otherwise */
    int failed;                         /* sticky: the first failed all-reduce, reported by status */
    Error error;
    Lanes lanes;                        /* threads ≥ 2: a fork's lanes run on threads (lanes.h) */
} CpuBackend;

/* Anything recorded on lanes runs first, in order: for ops that are not recorded (lanes.h). */
static void run_call(Backend *b, const LaneCall *c);
static void settle(Backend *b) {
    CpuBackend *cpu = (CpuBackend *)b;
    if (cpu->lanes.recording) lanes_flush(&cpu->lanes, b, run_call);
}

/* The CPU's replay is a view of the host dataset: the data already lives in this memory. */
struct Replay {
    ReplaySource src;
};

/* ---- lifetime and memory ------------------------------------------------------------------ */

static void cpu_destroy(Backend *b) {
    lanes_destroy(&((CpuBackend *)b)->lanes);
    free(b);
}
/* Every op but the all-reduce runs to completion and cannot fail. */
static int cpu_status(Backend *b, Error *err) {
    CpuBackend *cpu = (CpuBackend *)b;
    return cpu->failed ? error_set(err, "CPU backend: %s", cpu->error.msg) : 0;
}
static int cpu_synchronize(Backend *b, Error *err) {
    settle(b);
    return cpu_status(b, err);
}

static void cpu_describe(Backend *b, char *buf, size_t len) {
    CpuBackend *cpu = (CpuBackend *)b;
    char blas[256];
    cpu_blas_describe(blas, sizeof blas);
    snprintf(buf, len, "CPU (%s, %d BLAS threads)", blas, cpu->threads);
}

static void *cpu_alloc(Backend *b, size_t bytes, Error *err) {
    (void)b;
    /* 64-byte alignment keeps rows of the big buffers on cache-line boundaries for the BLAS. */
    size_t rounded = (bytes + 63) / 64 * 64;
    /* The buffer is zeroed (touched) below: more than the kernel can give would not fail here
     * but bring the OOM killer, after starving the machine. */
    if (rounded < bytes || size_check_memory(rounded, err)) {
        error_prefix(err, "out of host memory allocating %zu bytes", bytes);
        return NULL;
    }
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) {
        error_set(err, "out of host memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, rounded ? rounded : 64);
    return p;
}

static void cpu_release(Backend *b, void *ptr) { (void)b; free(ptr); }

static int cpu_copy_bytes(Backend *b, void *dst, const void *src, size_t bytes, Error *err) {
    (void)b; (void)err;
    memcpy(dst, src, bytes);
    return 0;
}

static Replay *cpu_replay_create(Backend *b, const ReplaySource *src, ReplayKind mode, int batch_rows,
                                 Error *err) {
    (void)b; (void)mode; (void)batch_rows;
    Replay *r = malloc(sizeof *r);
    if (!r) {
        error_set(err, "out of host memory for the replay");
        return NULL;
    }
    r->src = *src;
    return r;
}

static void cpu_replay_destroy(Backend *b, Replay *r) { (void)b; free(r); }

static void cpu_run_step(Backend *b, void (*issue)(void *), void *arg) { (void)b; issue(arg); }

/* ---- step scalars, sampling ----------------------------------------------------------------- */

static void cpu_prepare_step(Backend *b, StepScalars *s, const LrSchedule schedule[LR_GROUP_COUNT], double beta1,
                             double beta2) {
    (void)b;
    *s = iql_step_scalars(schedule, s->step, beta1, beta2);
}

static void cpu_finish_step(Backend *b, StepScalars *s) { (void)b; s->step += 1; }

static void cpu_sample_batch(Backend *b, Replay *replay, const SamplingArgs *args, const StepScalars *scalars,
                             Batch *out) {
    settle(b);
    const ReplaySource *d = &replay->src;
    int S = d->obs_dim, A = d->act_dim, B = out->rows;
    size_t ld = (size_t)out->state_ld, ld_sa = (size_t)out->state_action_ld;
    uint64_t step = (uint64_t)scalars->step;
    for (int i = 0; i < B; i++) {
        uint32_t t = iql_replay_row(args, step, B, i, (uint32_t)d->n);
        out->index[i] = t;
        const float *s = d->states + (size_t)d->state_row[t] * S;
        const float *s2 = d->states + (size_t)d->next_row[t] * S;
        const float *a = d->actions + (size_t)t * A;
        float *o_s = out->state + i * ld, *o_s2 = out->next_state + i * ld, *o_sa = out->state_action + i * ld_sa;
        memcpy(o_s, s, sizeof(float) * S);
        memcpy(o_s2, s2, sizeof(float) * S);
        memcpy(o_sa, s, sizeof(float) * S);
        memcpy(o_sa + S, a, sizeof(float) * A);
        /* the padding columns: zero, so that zero weights times them stay exactly zero */
        memset(o_s + S, 0, sizeof(float) * (ld - S));
        memset(o_s2 + S, 0, sizeof(float) * (ld - S));
        memset(o_sa + S + A, 0, sizeof(float) * (ld_sa - S - A));
        memcpy(out->action + (size_t)i * A, a, sizeof(float) * A);
        out->reward[i] = d->rewards[t];
        out->terminal[i] = d->terminals[t];
    }
}

/* ---- layers -------------------------------------------------------------------------------- */

static void gemm_now(const GemmArgs *g) {
    for (int i = 0; i < g->batch; i++)
        cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans, g->trans_b ? CblasTrans : CblasNoTrans,
                    g->m, g->n, g->k, g->alpha, g->a + i * g->stride_a, g->lda, g->b + i * g->stride_b, g->ldb,
                    g->beta, g->c + i * g->stride_c, g->ldc);
}

static void bias_activation_now(float *y, const float *bias, int64_t bias_stride, int members, int rows, int cols,
                                Activation act) {
    for (int e = 0; e < members; e++) {
        const float *be = bias + (size_t)e * bias_stride;
        for (int r = 0; r < rows; r++) {
            float *row = y + ((size_t)e * rows + r) * cols;
            if (act == ACTIVATION_RELU)
                for (int c = 0; c < cols; c++) row[c] = iql_relu(row[c] + be[c]);
            else
                for (int c = 0; c < cols; c++) row[c] += be[c];
        }
    }
}

static void relu_backward_now(float *dy, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) dy[i] = iql_relu_backward(dy[i], y[i]);
}

static void run_call(Backend *b, const LaneCall *c) {
    (void)b;
    switch (c->kind) {
    case LANE_GEMM: gemm_now(&c->g); break;
    case LANE_GEMM_BIAS_ACTIVATION:
        gemm_now(&c->g);
        bias_activation_now(c->g.c, c->bias, c->bias_stride, c->g.batch, c->g.m, c->g.n, c->act);
        break;
    case LANE_RELU_BACKWARD: relu_backward_now(c->dy, c->y, c->n); break;
    }
}

/* The three ops a fork's lanes issue: recorded while lanes are open, run at once otherwise. */
static void issue(Backend *b, const LaneCall *call) {
    CpuBackend *cpu = (CpuBackend *)b;
    if (cpu->lanes.recording) {
        LaneCall *c = lanes_record(&cpu->lanes);
        if (!c) {  /* full: what is recorded runs now, in order, and this call after it */
            lanes_flush(&cpu->lanes, b, run_call);
            c = lanes_record(&cpu->lanes);
        }
        int lane = c->lane;
        *c = *call;
        c->lane = lane;
        return;
    }
    run_call(b, call);
}

static void cpu_gemm(Backend *b, const GemmArgs *g) { issue(b, &(LaneCall){.kind = LANE_GEMM, .g = *g}); }

static void cpu_gemm_bias_activation(Backend *b, const GemmArgs *g, const float *bias, int64_t bias_stride,
                                     Activation act) {
    issue(b, &(LaneCall){.kind = LANE_GEMM_BIAS_ACTIVATION, .g = *g, .bias = bias, .bias_stride = bias_stride,
                         .act = act});
}

static void cpu_relu_backward(Backend *b, float *dy, const float *y, int64_t n) {
    issue(b, &(LaneCall){.kind = LANE_RELU_BACKWARD, .dy = dy, .y = y, .n = n});
}

static void cpu_bias_activation(Backend *b, float *y, const float *bias, int64_t bias_stride, int members, int rows,
                                int cols, Activation act) {
    settle(b);
    bias_activation_now(y, bias, bias_stride, members, rows, cols, act);
}

static void cpu_column_sums(Backend *b, float *out, const float *in, int members, int rows, int cols) {
    settle(b);
    for (int e = 0; e < members; e++) {
        float *o = out + (size_t)e * cols;
        memset(o, 0, sizeof(float) * cols);
        for (int r = 0; r < rows; r++) {
            const float *row = in + ((size_t)e * rows + r) * cols;
            for (int c = 0; c < cols; c++) o[c] += row[c];
        }
    }
}

static void cpu_row_sums(Backend *b, float *out, const float *in, int64_t rows, int cols) {
    settle(b);
    for (int64_t r = 0; r < rows; r++) {
        const float *row = in + r * cols;
        double acc = 0;  /* logging sums over up to millions of rows: accumulate in double */
        for (int c = 0; c < cols; c++) acc += row[c];
        out[r] = (float)acc;
    }
}

/* ---- losses ---------------------------------------------------------------------------------- */

static void cpu_value_critic_heads(Backend *b, const HeadsArgs *h) {
    settle(b);
    float inv_batch = iql_inv_batch(h->rows, h->mean_rows);
    for (int p = 0; p < h->members; p++)
        for (int i = 0; i < h->rows; i++) iql_value_critic_row(h, p, i, inv_batch);
}

static void cpu_policy_head(Backend *b, const PolicyHeadArgs *h) {
    settle(b);
    float inv_batch = iql_inv_batch(h->rows, h->mean_rows);
    for (int p = 0; p < h->members; p++)
        for (int i = 0; i < h->rows; i++) iql_policy_row(h, p, i, inv_batch);
}

/* ---- optimiser ------------------------------------------------------------------------------- */

/* Elements [from, to) of the AdamW pass. */
static void adamw_range(const AdamWArgs *a, int64_t from, int64_t to) {
    const StepScalars *s = a->scalars;
    /* restrict: the four buffers never overlap, which lets the loop vectorise */
    float *restrict param = a->param, *restrict m = a->m, *restrict v = a->v;
    const float *restrict grad = a->grad;
    AdamHyper h = a->hyper;
    float bc1 = s->bias_correction1, bc2 = s->bias_correction2;
    int64_t begin = 0;
    for (int g = 0; g < LR_GROUP_COUNT; g++) {
        float lr = s->lr[g];
        int64_t lo = begin > from ? begin : from, hi = a->group_end[g] < to ? a->group_end[g] : to;
        for (int64_t i = lo; i < hi; i++) iql_adamw_elem(&param[i], &m[i], &v[i], grad[i], lr, h, bc1, bc2);
        begin = a->group_end[g];
    }
}

/* One worker's share of AdamW: a contiguous slice, cut on 64-byte lines so no two threads write
 * one line. Each element's update is the same whichever thread runs it, so the result is
 * bitwise that of one thread. */
static void adamw_share(void *ctx, int worker, int workers) {
    const AdamWArgs *a = ctx;
    int64_t per = (a->n + workers - 1) / workers;
    per = (per + 15) / 16 * 16;
    int64_t from = per * worker, to = from + per < a->n ? from + per : a->n;
    if (from < to) adamw_range(a, from, to);
}

/* Below this many parameters one thread is quicker than waking another (≈ 10–20 µs). */
#define ADAMW_SPLIT_MIN (64 * 1024)

static void cpu_adamw(Backend *b, const AdamWArgs *a) {
    CpuBackend *cpu = (CpuBackend *)b;
    settle(b);
    if (cpu->threads >= 2 && a->n >= ADAMW_SPLIT_MIN) lanes_split(&cpu->lanes, cpu->threads, adamw_share, (void *)a);
    else adamw_range(a, 0, a->n);
}

static void cpu_polyak(Backend *b, float *target, const float *online, float rho, int64_t n) {
    settle(b);
    for (int64_t i = 0; i < n; i++) target[i] = iql_polyak(target[i], online[i], rho);
}

static void cpu_copy(Backend *b, float *dst, const float *src, int64_t n) {
    settle(b);
    memcpy(dst, src, sizeof(float) * (size_t)n);
}

/* In place through the Comm (MPI_Allreduce on the host buffer). A failure is kept for status():
 * step ops return nothing (backend.h). */
static void cpu_allreduce_sum(Backend *b, float *buf, int64_t n) {
    CpuBackend *cpu = (CpuBackend *)b;
    settle(b);
    if (!cpu->comm || cpu->failed || n <= 0) return;
    if (cpu->comm->ops->allreduce_sum(cpu->comm, buf, n, COMM_FLOAT, &cpu->error)) cpu->failed = 1;
}

static void cpu_init_uniform(Backend *b, float *dst, int64_t n, float bound, uint64_t seed, uint64_t subsequence) {
    settle(b);
    for (int64_t j = 0; j < n; j++)
        dst[j] = bound * (2.0f * philox_uniform01(philox_value(seed, subsequence, (uint64_t)j)) - 1.0f);
}

/* ---- measurement ---------------------------------------------------------------------------- */

/* Every op has finished when it returns, so the clock read now is the stream's point. */
static void cpu_time_mark(Backend *b, int slot) {
    settle(b);
    if (slot >= 0 && slot < BACKEND_TIME_SLOTS) ((CpuBackend *)b)->stamps[slot] = clock_seconds();
}

static int cpu_time_elapsed(Backend *b, int from, int to, double *seconds, Error *err) {
    if (from < 0 || to < 0 || from >= BACKEND_TIME_SLOTS || to >= BACKEND_TIME_SLOTS)
        return error_set(err, "time_elapsed: slots %d, %d outside [0, %d)", from, to, BACKEND_TIME_SLOTS);
    const CpuBackend *cpu = (const CpuBackend *)b;
    *seconds = cpu->stamps[to] - cpu->stamps[from];
    return 0;
}

static int cpu_memory_info(Backend *b, size_t *free_bytes, size_t *total_bytes, Error *err) {
    (void)b;
    long page = sysconf(_SC_PAGESIZE), avail = sysconf(_SC_AVPHYS_PAGES), total = sysconf(_SC_PHYS_PAGES);
    if (page <= 0 || avail < 0 || total <= 0) return error_set(err, "memory_info: sysconf cannot tell the memory size");
    *free_bytes = (size_t)avail * (size_t)page;
    *total_bytes = (size_t)total * (size_t)page;
    return 0;
}

/* One BLAS thread: lanes run in order, each op finished when it returns. More: the lanes'
 * independent groups run on that many threads at join, one BLAS thread each (lanes.h). */
static void cpu_fork(Backend *b, int lanes) {
    CpuBackend *cpu = (CpuBackend *)b;
    settle(b);
    if (cpu->threads >= 2 && lanes >= 2) lanes_fork(&cpu->lanes);
}
static void cpu_lane(Backend *b, int index) {
    CpuBackend *cpu = (CpuBackend *)b;
    if (cpu->lanes.recording) lanes_select(&cpu->lanes, index);
}
static void cpu_lane_wait(Backend *b, int waiter, int source) {
    CpuBackend *cpu = (CpuBackend *)b;
    if (cpu->lanes.recording) lanes_wait(&cpu->lanes, waiter, source);
}
static void cpu_join(Backend *b) {
    CpuBackend *cpu = (CpuBackend *)b;
    if (!cpu->lanes.recording) return;
    /* Groups on threads only when there is a group for every thread: with fewer (more threads
     * than groups, e.g. more cores than BACKEND_MAX_LANES), BLAS spreading each product over
     * all threads keeps more cores busy than one BLAS thread per group would. */
    if (lanes_group_count(&cpu->lanes) < cpu->threads) {
        lanes_join(&cpu->lanes, b, run_call, 1); /* in issue order, BLAS on all threads */
        return;
    }
    cpu_blas_set_threads(1);
    lanes_join(&cpu->lanes, b, run_call, cpu->threads);
    cpu_blas_set_threads(cpu->threads);
}

static const BackendOps cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .status = cpu_status,
    .synchronize = cpu_synchronize,
    .describe = cpu_describe,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_copy_bytes,
    .download = cpu_copy_bytes,
    .replay_create = cpu_replay_create,
    .replay_destroy = cpu_replay_destroy,
    .run_step = cpu_run_step,
    .fork = cpu_fork,
    .lane = cpu_lane,
    .lane_wait = cpu_lane_wait,
    .join = cpu_join,
    .prepare_step = cpu_prepare_step,
    .finish_step = cpu_finish_step,
    .sample_batch = cpu_sample_batch,
    .gemm = cpu_gemm,
    .gemm_bias_activation = cpu_gemm_bias_activation,
    .bias_activation = cpu_bias_activation,
    .relu_backward = cpu_relu_backward,
    .column_sums = cpu_column_sums,
    .row_sums = cpu_row_sums,
    .value_critic_heads = cpu_value_critic_heads,
    .policy_head = cpu_policy_head,
    .adamw = cpu_adamw,
    .polyak = cpu_polyak,
    .copy = cpu_copy,
    .allreduce_sum = cpu_allreduce_sum,
    .init_uniform = cpu_init_uniform,
    .time_mark = cpu_time_mark,
    .time_elapsed = cpu_time_elapsed,
    .memory_info = cpu_memory_info,
};

Backend *cpu_backend_create(const BackendOptions *opt, Error *err) {
    CpuBackend *cpu = calloc(1, sizeof *cpu);
    if (!cpu) {
        error_set(err, "out of host memory creating the CPU backend");
        return NULL;
    }
    cpu->base.ops = &cpu_ops;
    cpu->comm = opt ? opt->comm : NULL;
    cpu->threads = cpu_blas_set_threads(opt ? opt->threads : 0);
    return &cpu->base;
}
