/* test_cuda_graph.c — run_step's captured graphs replay exactly what eager launches compute,
 * and a host-memory replay feeds exactly the batches a device-memory replay does.
 *
 * A small training step (sample a batch; a two-layer MLP per ensemble member, forward and
 * backward, through strided-batched GEMMs; AdamW; a Polyak target; the step counter) runs for
 * several steps in four CUDA configurations — eager or graph, device or host replay — and on
 * the CPU backend. After every step the four CUDA runs must agree bit for bit (same device,
 * same kernels, deterministic reductions), their batches must equal the CPU's bit for bit,
 * and their parameters must stay within 1e-3 of the CPU's (Adam turns rounding-level
 * differences in a near-zero gradient into a full-size step; the op tests check precision). Midway the step counter jumps (as
 * a resume from a checkpoint would set it): graphs must read the new step, and the host
 * replay's prefetched batch must be recognised as stale. The host replays must have served
 * every other batch from the overlapped staging path. Each run is repeated as rank 1 of 3 of a
 * data-parallel run (the sampling args' slot offset and global batch), which the host replay's
 * staged header must carry like the seed.
 * Exits 77 (skipped) when no CUDA device is usable. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_debug.h"
#include "cuiql/philox.h"
#include "gpu_test_util.h"
#include "test_util.h"

enum { S = 11, A = 3, N = 3000, B = 255, H = 64, E = 2, STEPS = 8, JUMP_AT = 4, JUMP_TO = 1000 };

/* Parameter layout: W1 [E, H, S], b1 [E, H], W2 [E, 1, H], b2 [E, 1]. */
enum { OFF_W1 = 0, OFF_B1 = OFF_W1 + E * H * S, OFF_W2 = OFF_B1 + E * H, OFF_B2 = OFF_W2 + E * H, N_PARAMS = OFF_B2 + E };

typedef struct {
    Backend *b;
    const BackendOps *ops;
    Replay *replay;
    SamplingArgs sampling;
    LrSchedule schedule[LR_GROUP_COUNT];
    StepScalars *scalars;
    Batch batch;
    float *params, *grads, *adam_m, *adam_v, *target;
    float *hidden, *dhidden;  /* [E, B, H] */
    float *out, *dout;        /* [E, B, 1] */
    AdamWArgs adamw;
    void *allocs[24];
    int n_allocs;
} Mini;

static void *must_alloc(Mini *s, size_t bytes) {
    Error err;
    void *p = s->ops->alloc(s->b, bytes, &err);
    if (!p || s->n_allocs == (int)(sizeof s->allocs / sizeof s->allocs[0])) {
        fprintf(stderr, "%s alloc: %s\n", s->ops->name, p ? "too many buffers" : err.msg);
        exit(1);
    }
    s->allocs[s->n_allocs++] = p;
    return p;
}

static void mini_destroy(Mini *s) {
    if (s->replay) s->ops->replay_destroy(s->b, s->replay);
    for (int i = 0; i < s->n_allocs; i++) s->ops->release(s->b, s->allocs[i]);
    s->n_allocs = 0;
    s->replay = NULL;
}

static void gemm(Mini *s, int ta, int tb, int m, int n, int k, const float *a, int lda, int64_t sa, const float *b,
                 int ldb, int64_t sb, float *c, int ldc, int64_t sc) {
    GemmArgs g = {.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k, .alpha = 1.0f, .beta = 0.0f,
                  .a = a, .lda = lda, .stride_a = sa, .b = b, .ldb = ldb, .stride_b = sb,
                  .c = c, .ldc = ldc, .stride_c = sc, .batch = E};
    s->ops->gemm(s->b, &g);
}

/* The step: out_e = W2_e·relu(W1_e·s + b1_e) + b2_e, loss ½ out², then AdamW and Polyak. */
static void issue_mini_step(void *arg) {
    Mini *s = arg;
    Backend *b = s->b;
    const BackendOps *o = s->ops;
    o->prepare_step(b, s->scalars, s->schedule, 0.9, 0.999);
    o->sample_batch(b, s->replay, &s->sampling, s->scalars, &s->batch);
    const float *x = s->batch.state;
    gemm(s, 0, 1, B, H, S, x, S, 0, s->params + OFF_W1, S, H * S, s->hidden, H, (int64_t)B * H);
    o->bias_activation(b, s->hidden, s->params + OFF_B1, H, E, B, H, ACTIVATION_RELU);
    gemm(s, 0, 1, B, 1, H, s->hidden, H, (int64_t)B * H, s->params + OFF_W2, H, H, s->out, 1, B);
    o->bias_activation(b, s->out, s->params + OFF_B2, 1, E, B, 1, ACTIVATION_NONE);
    o->copy(b, s->dout, s->out, (int64_t)E * B);  /* d(½ out²)/d out = out */
    o->column_sums(b, s->grads + OFF_B2, s->dout, E, B, 1);
    gemm(s, 1, 0, 1, H, B, s->dout, 1, B, s->hidden, H, (int64_t)B * H, s->grads + OFF_W2, H, H);
    gemm(s, 0, 0, B, H, 1, s->dout, 1, B, s->params + OFF_W2, H, H, s->dhidden, H, (int64_t)B * H);
    o->relu_backward(b, s->dhidden, s->hidden, (int64_t)E * B * H);
    o->column_sums(b, s->grads + OFF_B1, s->dhidden, E, B, H);
    gemm(s, 1, 0, H, S, B, s->dhidden, H, (int64_t)B * H, x, S, 0, s->grads + OFF_W1, S, H * S);
    o->adamw(b, &s->adamw);
    o->polyak(b, s->target, s->params, 0.05f, N_PARAMS);
    o->finish_step(b, s->scalars);
}

/* Data parallel: this process as rank 1 of 3, holding global slots [B, 2B) (0: a single process). */
static int slice_rank;

static int mini_create(Mini *s, Backend *b, const ReplaySource *src, ReplayKind mode, int sequential) {
    memset(s, 0, sizeof *s);
    s->b = b;
    s->ops = b->ops;
    Error err;
    s->replay = s->ops->replay_create(b, src, mode, B, &err);
    CHECK(s->replay != NULL, "%s replay_create: %s", s->ops->name, err.msg);
    if (!s->replay) return -1;
    s->sampling = (SamplingArgs){.sequential = sequential, .seed = 2718281828ull, .slot_offset = slice_rank * B,
                                 .global_rows = slice_rank ? 3 * B : 0};
    for (int g = 0; g < LR_GROUP_COUNT; g++)
        s->schedule[g] = (LrSchedule){.lr0 = 1e-3f, .lr_min = 1e-5f, .t_max = 50, .steps_per_unit = 1, .cosine = 1};
    s->scalars = must_alloc(s, sizeof(StepScalars));
    s->batch = (Batch){
        .rows = B,
        .state_ld = S,
        .state_action_ld = S + A,
        .state = must_alloc(s, sizeof(float) * B * S),
        .next_state = must_alloc(s, sizeof(float) * B * S),
        .state_action = must_alloc(s, sizeof(float) * B * (S + A)),
        .action = must_alloc(s, sizeof(float) * B * A),
        .reward = must_alloc(s, sizeof(float) * B),
        .terminal = must_alloc(s, sizeof(float) * B),
        .index = must_alloc(s, sizeof(uint32_t) * B),
    };
    s->params = must_alloc(s, sizeof(float) * N_PARAMS);
    s->grads = must_alloc(s, sizeof(float) * N_PARAMS);
    s->adam_m = must_alloc(s, sizeof(float) * N_PARAMS);
    s->adam_v = must_alloc(s, sizeof(float) * N_PARAMS);
    s->target = must_alloc(s, sizeof(float) * N_PARAMS);
    s->hidden = must_alloc(s, sizeof(float) * E * B * H);
    s->dhidden = must_alloc(s, sizeof(float) * E * B * H);
    s->out = must_alloc(s, sizeof(float) * E * B);
    s->dout = must_alloc(s, sizeof(float) * E * B);
    s->adamw = (AdamWArgs){.param = s->params, .grad = s->grads, .m = s->adam_m, .v = s->adam_v, .n = N_PARAMS,
                           .group_end = {OFF_B1, OFF_B2, N_PARAMS}, .hyper = iql_adam_hyper(0.9, 0.999, 1e-8, 0.01),
                           .scalars = s->scalars};
    for (int e = 0; e < E; e++) {
        uint64_t seed = 100 + (uint64_t)e;
        s->ops->init_uniform(b, s->params + OFF_W1 + e * H * S, H * S, 1.0f / sqrtf(S), seed, 1);
        s->ops->init_uniform(b, s->params + OFF_B1 + e * H, H, 1.0f / sqrtf(S), seed, 2);
        s->ops->init_uniform(b, s->params + OFF_W2 + e * H, H, 1.0f / sqrtf(H), seed, 3);
        s->ops->init_uniform(b, s->params + OFF_B2 + e, 1, 1.0f / sqrtf(H), seed, 4);
    }
    s->ops->copy(b, s->target, s->params, N_PARAMS);
    CHECK(s->ops->synchronize(b, &err) == 0, "%s setup: %s", s->ops->name, err.msg);
    return 0;
}

typedef struct {
    float params[N_PARAMS], adam_m[N_PARAMS], adam_v[N_PARAMS], target[N_PARAMS];
    float state_action[B * (S + A)], reward[B];
    uint32_t index[B];
    StepScalars scalars;
} Snapshot;

static void snapshot(Mini *s, Snapshot *out) {
    Error err;
    struct {
        void *dst;
        const void *src;
        size_t bytes;
    } parts[] = {
        {out->params, s->params, sizeof out->params},
        {out->adam_m, s->adam_m, sizeof out->adam_m},
        {out->adam_v, s->adam_v, sizeof out->adam_v},
        {out->target, s->target, sizeof out->target},
        {out->state_action, s->batch.state_action, sizeof out->state_action},
        {out->reward, s->batch.reward, sizeof out->reward},
        {out->index, s->batch.index, sizeof out->index},
        {&out->scalars, s->scalars, sizeof out->scalars},
    };
    int rc = s->ops->status(s->b, &err);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && !rc; i++)
        rc = s->ops->download(s->b, parts[i].dst, parts[i].src, parts[i].bytes, &err);
    CHECK(rc == 0, "%s snapshot: %s", s->ops->name, err.msg);
}

static void set_step(Mini *s, int64_t step) {
    Error err;
    StepScalars h = {.step = step};
    CHECK(s->ops->upload(s->b, s->scalars, &h, sizeof h, &err) == 0, "upload: %s", err.msg);
}

static void compare_exact(const Snapshot *a, const Snapshot *b, const char *name, int step) {
    struct {
        const char *what;
        const void *x, *y;
        size_t bytes;
    } parts[] = {
        {"params", a->params, b->params, sizeof a->params},
        {"adam_m", a->adam_m, b->adam_m, sizeof a->adam_m},
        {"adam_v", a->adam_v, b->adam_v, sizeof a->adam_v},
        {"target", a->target, b->target, sizeof a->target},
        {"state_action", a->state_action, b->state_action, sizeof a->state_action},
        {"reward", a->reward, b->reward, sizeof a->reward},
        {"index", a->index, b->index, sizeof a->index},
        {"step", &a->scalars.step, &b->scalars.step, sizeof a->scalars.step},
        {"lr", a->scalars.lr, b->scalars.lr, sizeof a->scalars.lr},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        CHECK(memcmp(parts[i].x, parts[i].y, parts[i].bytes) == 0, "%s, after step %d: %s differs bit for bit", name,
              step, parts[i].what);
}

static void compare_cpu(const Snapshot *gpu, const Snapshot *cpu, const char *name, int step) {
    CHECK(memcmp(gpu->index, cpu->index, sizeof gpu->index) == 0, "%s, step %d: batch indices differ from the CPU's",
          name, step);
    CHECK(memcmp(gpu->state_action, cpu->state_action, sizeof gpu->state_action) == 0,
          "%s, step %d: batch rows differ from the CPU's", name, step);
    CHECK(gpu->scalars.step == cpu->scalars.step, "%s, step %d: step counter %lld, CPU %lld", name, step,
          (long long)gpu->scalars.step, (long long)cpu->scalars.step);
    double e1 = test_rel_error_f(gpu->params, cpu->params, N_PARAMS);
    double e2 = test_rel_error_f(gpu->target, cpu->target, N_PARAMS);
    CHECK(e1 <= 1e-3 && e2 <= 1e-3, "%s, step %d: parameters off the CPU's by %.3g (targets %.3g)", name, step, e1, e2);
}

static void make_data(ReplaySource *src, float **bufs, uint32_t **rows) {
    float *states = malloc(sizeof(float) * (N + 1) * S), *actions = malloc(sizeof(float) * N * A);
    float *rewards = malloc(sizeof(float) * N), *terminals = malloc(sizeof(float) * N);
    uint32_t *row = malloc(sizeof(uint32_t) * N), *next = malloc(sizeof(uint32_t) * N);
    for (int i = 0; i < (N + 1) * S; i++) states[i] = test_rand(-1, 1);
    for (int i = 0; i < N * A; i++) actions[i] = test_rand(-1, 1);
    for (int i = 0; i < N; i++) {
        rewards[i] = test_rand(0, 1);
        terminals[i] = i % 101 == 0;
        row[i] = (uint32_t)i;
        next[i] = (uint32_t)i + 1;
    }
    bufs[0] = states, bufs[1] = actions, bufs[2] = rewards, bufs[3] = terminals;
    rows[0] = row, rows[1] = next;
    *src = (ReplaySource){.n = N, .n_states = N + 1, .obs_dim = S, .act_dim = A, .states = states, .state_row = row,
                          .next_row = next, .actions = actions, .rewards = rewards, .terminals = terminals};
}

enum { N_GPU_VARIANTS = 4 };

static void run(int sequential, const ReplaySource *src) {
    struct {
        const char *name;
        int graphs;
        ReplayKind mode;
    } variants[N_GPU_VARIANTS] = {
        {"eager, device replay", 0, REPLAY_DEVICE},
        {"graph, device replay", 1, REPLAY_DEVICE},
        {"graph, host replay", 1, REPLAY_HOST},
        {"eager, host replay", 0, REPLAY_HOST},
    };
    Error err;
    Backend *gpu[N_GPU_VARIANTS] = {0};
    static Mini mini[N_GPU_VARIANTS + 1];
    memset(mini, 0, sizeof mini);
    int ok = 1;
    for (int v = 0; v < N_GPU_VARIANTS && ok; v++) {
        BackendOptions opt = {.device_index = 0, .precision = PRECISION_FP32, .use_graphs = variants[v].graphs};
        gpu[v] = cuda_backend_create(&opt, &err);
        CHECK(gpu[v] != NULL, "cuda_backend_create: %s", err.msg);
        ok = gpu[v] && mini_create(&mini[v], gpu[v], src, variants[v].mode, sequential) == 0;
        if (ok && variants[v].mode == REPLAY_HOST)
            CHECK(cuda_debug_replay_mode(mini[v].replay) == REPLAY_HOST, "host replay not in host memory");
    }
    BackendOptions cpu_opt = {.threads = 1};
    Backend *cpu = ok ? cpu_backend_create(&cpu_opt, &err) : NULL;
    ok = ok && cpu && mini_create(&mini[N_GPU_VARIANTS], cpu, src, REPLAY_AUTO, sequential) == 0;

    static Snapshot snap[N_GPU_VARIANTS + 1];  /* big: off the stack */
    for (int step = 0; step < STEPS && ok; step++) {
        if (step == JUMP_AT)
            for (int v = 0; v <= N_GPU_VARIANTS; v++) set_step(&mini[v], JUMP_TO);
        for (int v = 0; v <= N_GPU_VARIANTS; v++) {
            mini[v].ops->run_step(mini[v].b, issue_mini_step, &mini[v]);
            snapshot(&mini[v], &snap[v]);
        }
        int64_t want = step < JUMP_AT ? step + 1 : JUMP_TO + (step - JUMP_AT) + 1;
        CHECK(snap[0].scalars.step == want, "step counter %lld after step %d, expected %lld",
              (long long)snap[0].scalars.step, step, (long long)want);
        for (int v = 1; v < N_GPU_VARIANTS; v++) compare_exact(&snap[v], &snap[0], variants[v].name, step);
        compare_cpu(&snap[0], &snap[N_GPU_VARIANTS], "CUDA vs CPU", step);
    }

    for (int v = 0; v < N_GPU_VARIANTS && ok; v++) {
        CHECK(gpu[v]->ops->synchronize(gpu[v], &err) == 0, "%s: %s", variants[v].name, err.msg);
        if (variants[v].mode != REPLAY_HOST) continue;
        /* Steps 0 and JUMP_TO read their rows over PCIe; every other batch was staged ahead. */
        int64_t hits = cuda_debug_replay_staged_hits(mini[v].replay);
        CHECK(hits == STEPS - 2, "%s: %lld of %d batches came from the staging path, expected %d", variants[v].name,
              (long long)hits, STEPS, STEPS - 2);
    }

    for (int v = 0; v < N_GPU_VARIANTS; v++)
        if (gpu[v]) {
            mini_destroy(&mini[v]);
            gpu[v]->ops->destroy(gpu[v]);
        }
    if (cpu) {
        mini_destroy(&mini[N_GPU_VARIANTS]);
        cpu->ops->destroy(cpu);
    }
}

int main(void) {
    if (!gpu_available("cuda_graph")) return TEST_SKIP;
    ReplaySource src;
    float *bufs[4];
    uint32_t *rows[2];
    make_data(&src, bufs, rows);
    for (slice_rank = 0; slice_rank < 2; slice_rank++) {
        run(0, &src);
        run(1, &src);
    }
    for (int i = 0; i < 4; i++) free(bufs[i]);
    for (int i = 0; i < 2; i++) free(rows[i]);
    return test_finish("cuda_graph", 0);
}
