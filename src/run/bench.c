/* bench.c — see bench.h. */
#include "run/bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "algo/step_cost.h"
#include "base/clock.h"
#include "run/backend_select.h"

#define BENCH_ROWS 200000  /* the random dataset's transitions: the step's cost depends on its shape only */

struct BenchRun {
    Backend *b;
    BenchSpec spec;
    Config cfg;
    IqlState *s;
    float *states, *actions, *rewards, *terminals;
    uint32_t *rows, *next_rows;
    double measured_bytes;
};

void bench_spec_defaults(BenchSpec *spec) {
    Config cfg;
    config_defaults(&cfg);
    memset(spec, 0, sizeof *spec);
    spec->device = DEVICE_AUTO;
    spec->batch = 256;
    spec->members = 1;
    spec->precision = PRECISION_FP32;
    spec->use_graphs = 1;
    spec->rho = 1.0;
    spec->n_hidden = cfg.n_hidden;
    memcpy(spec->hidden, cfg.hidden, sizeof(int) * (size_t)cfg.n_hidden);
    spec->obs_dim = 17;
    spec->act_dim = 6;
    spec->replay = REPLAY_AUTO;
}

static BackendOptions backend_options(const BenchSpec *spec) {
    BackendOptions o = {.threads = spec->threads, .device_index = 0, .precision = spec->precision,
                        .use_graphs = spec->use_graphs, .gemm_epilogues = spec->gemm_epilogues,
                        .parallel_nets = spec->parallel_nets};
    return o;
}

Backend *bench_backend(const BenchSpec *spec, Error *err) {
    BackendOptions o = backend_options(spec);
    return backend_select(spec->device, &o, NULL, 0, err);
}

/* The config of a spec: the seed's, with the spec's sizes. */
static int spec_config(const BenchSpec *spec, Config *cfg, Error *err) {
    config_defaults(cfg);
    if (spec->batch < 1 || spec->members < 1 || spec->n_hidden < 1 || spec->n_hidden > CONFIG_MAX_HIDDEN)
        return error_set(err, "bench: batch, members and hidden layers must be positive (got %d, %d, %d)", spec->batch,
                         spec->members, spec->n_hidden);
    cfg->batch_size = spec->batch;
    cfg->target_update_rate = spec->rho;
    cfg->precision = spec->precision;
    cfg->replay = spec->replay;
    cfg->n_hidden = spec->n_hidden;
    memcpy(cfg->hidden, spec->hidden, sizeof(int) * (size_t)spec->n_hidden);
    return config_validate(cfg, err);
}

int bench_count(const BenchSpec *spec, double *flops, double *bytes, IqlMemory *memory, Error *err) {
    Config cfg;
    ModelLayout L;
    if (spec_config(spec, &cfg, err) ||
        model_layout_init_aligned(&L, spec->members, spec->obs_dim, spec->act_dim, cfg.hidden, cfg.n_hidden, err))
        return -1;
    int use_target = spec->rho < 1.0;
    if (flops) *flops = step_flops(&L, spec->batch, use_target);
    if (bytes) *bytes = step_bytes(&L, spec->batch, use_target);
    if (memory) iql_memory_plan(&L, spec->batch, use_target, memory);
    return 0;
}

void bench_free(BenchRun *run) {
    if (!run) return;
    iql_destroy(run->s);
    free(run->states), free(run->actions), free(run->rewards), free(run->terminals);
    free(run->rows), free(run->next_rows);
    free(run);
}

BenchRun *bench_setup(Backend *b, const BenchSpec *spec, Error *err) {
    BenchRun *run = calloc(1, sizeof *run);
    if (!run) {
        error_set(err, "bench: out of host memory");
        return NULL;
    }
    run->b = b;
    run->spec = *spec;
    if (spec_config(spec, &run->cfg, err)) goto fail;
    int64_t n = BENCH_ROWS, S = spec->obs_dim, A = spec->act_dim;
    run->states = malloc(sizeof(float) * (size_t)((n + 1) * S));
    run->actions = malloc(sizeof(float) * (size_t)(n * A));
    run->rewards = malloc(sizeof(float) * (size_t)n);
    run->terminals = calloc((size_t)n, sizeof(float));
    run->rows = malloc(sizeof(uint32_t) * (size_t)n);
    run->next_rows = malloc(sizeof(uint32_t) * (size_t)n);
    if (!run->states || !run->actions || !run->rewards || !run->terminals || !run->rows || !run->next_rows) {
        error_set(err, "bench: out of host memory for the dataset");
        goto fail;
    }
    for (int64_t i = 0; i < (n + 1) * S; i++) run->states[i] = (float)sin(0.37 * (double)i);
    for (int64_t i = 0; i < n * A; i++) run->actions[i] = (float)cos(0.11 * (double)i) * 0.9f;
    for (int64_t i = 0; i < n; i++) {
        run->rewards[i] = (float)sin(0.05 * (double)i);
        run->rows[i] = (uint32_t)i;
        run->next_rows[i] = (uint32_t)i + 1;
    }
    ReplaySource src = {.n = n, .n_states = n + 1, .obs_dim = spec->obs_dim, .act_dim = spec->act_dim,
                        .states = run->states, .state_row = run->rows, .next_row = run->next_rows,
                        .actions = run->actions, .rewards = run->rewards, .terminals = run->terminals};
    MemberSpec *members = malloc(sizeof *members * (size_t)spec->members);
    if (!members) {
        error_set(err, "bench: out of host memory");
        goto fail;
    }
    for (int p = 0; p < spec->members; p++)
        members[p] = (MemberSpec){.tau = 0.7, .beta = 2.0 + 0.1 * p, .seed = (uint64_t)p};
    size_t free_before = 0, free_after = 0, total = 0;
    int on_gpu = strcmp(b->ops->name, "cpu") != 0;
    if (b->ops->memory_info(b, &free_before, &total, err)) {
        free(members);
        goto fail;
    }
    run->s = iql_create(b, &run->cfg, members, spec->members, &src, err);
    free(members);
    if (!run->s) goto fail;
    /* Warm-up: on CUDA the first step runs eagerly, the second is captured, the rest replay. */
    int warmup = on_gpu ? 20 : 3;
    for (int i = 0; i < warmup; i++) iql_step(run->s);
    if (b->ops->synchronize(b, err) || b->ops->memory_info(b, &free_after, &total, err)) goto fail;
    run->measured_bytes = on_gpu ? (double)free_before - (double)free_after : NAN;
    return run;
fail:
    bench_free(run);
    return NULL;
}

int bench_time_steps(BenchRun *run, int steps, double seconds, double *steps_per_s, int *steps_run, LoadShare *load,
                     Error *err) {
    const BackendOps *o = run->b->ops;
    if (steps <= 0) {  /* calibrate: a few steps, then as many as fit in `seconds` */
        double t = clock_seconds();
        for (int i = 0; i < 3; i++) iql_step(run->s);
        if (o->synchronize(run->b, err)) return -1;
        double per = (clock_seconds() - t) / 3;
        steps = (int)fmin(fmax(seconds / fmax(per, 1e-9), 5), 1000000);
    }
    LoadSample before = load_sample();
    for (int i = 0; i < steps; i++) iql_step(run->s);
    if (o->synchronize(run->b, err) || o->status(run->b, err)) return -1;
    LoadSample after = load_sample();
    if (load) *load = load_share(before, after);
    double elapsed = after.wall - before.wall;
    *steps_per_s = steps / fmax(elapsed, 1e-12);
    *steps_run = steps;
    return 0;
}

int bench_phases(BenchRun *run, int steps, double seconds[IQL_PHASE_COUNT], Error *err) {
    for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) seconds[ph] = 0;
    for (int i = 0; i < steps; i++)
        if (iql_profile_step(run->s, seconds, err)) return -1;
    for (int ph = 0; ph < IQL_PHASE_COUNT && steps > 0; ph++) seconds[ph] /= steps;
    return 0;
}

int bench_ceilings(Backend *b, BenchCeilings *out, Error *err) {
    int cpu = strcmp(b->ops->name, "cpu") == 0;
    int n = cpu ? 1024 : 8192, reps = cpu ? 5 : 20;
    size_t bytes = sizeof(float) * (size_t)n * n;
    float *x = b->ops->alloc(b, bytes, err), *y = x ? b->ops->alloc(b, bytes, err) : NULL;
    float *z = y ? b->ops->alloc(b, bytes, err) : NULL;
    int rc = -1;
    if (!z) goto done;
    b->ops->init_uniform(b, x, (int64_t)n * n, 1.0f, 1, 1);  /* random data: zeros can run faster */
    b->ops->init_uniform(b, y, (int64_t)n * n, 1.0f, 1, 2);
    GemmArgs g = {.m = n, .n = n, .k = n, .alpha = 1, .beta = 0, .a = x, .lda = n, .b = y, .ldb = n, .c = z, .ldc = n,
                  .batch = 1};
    b->ops->gemm(b, &g);  /* first call: library warm-up, not timed */
    if (b->ops->synchronize(b, err)) goto done;
    double t = clock_seconds();
    for (int r = 0; r < reps; r++) b->ops->gemm(b, &g);
    if (b->ops->synchronize(b, err)) goto done;
    out->gemm_flops = reps * 2.0 * n * n * (double)n / (clock_seconds() - t);
    out->gemm_n = n;
    b->ops->copy(b, z, x, (int64_t)n * n);
    if (b->ops->synchronize(b, err)) goto done;
    t = clock_seconds();
    for (int r = 0; r < reps; r++) b->ops->copy(b, r & 1 ? x : z, r & 1 ? z : x, (int64_t)n * n);
    if (b->ops->synchronize(b, err) || b->ops->status(b, err)) goto done;
    out->bandwidth = reps * 2.0 * (double)bytes / (clock_seconds() - t);
    rc = 0;
done:
    if (x) b->ops->release(b, x);
    if (y) b->ops->release(b, y);
    if (z) b->ops->release(b, z);
    return rc;
}

void bench_result(const BenchRun *run, const BenchCeilings *c, double steps_per_s, int steps,
                  const double phase_s[IQL_PHASE_COUNT], int phase_steps, BenchResult *out) {
    memset(out, 0, sizeof *out);
    const BenchSpec *sp = &run->spec;
    const ModelLayout *L = iql_layout(run->s);
    int use_target = sp->rho < 1.0;
    run->b->ops->describe(run->b, out->device, sizeof out->device);
    out->on_gpu = strcmp(run->b->ops->name, "cpu") != 0;
    out->steps = steps;
    out->steps_per_s = steps_per_s;
    out->samples_per_s = steps_per_s * sp->batch;
    out->member_steps_per_s = steps_per_s * sp->members;
    out->flops_per_step = step_flops(L, sp->batch, use_target);
    out->bytes_per_step = step_bytes(L, sp->batch, use_target);
    out->achieved_flops = out->flops_per_step * steps_per_s;
    out->ceilings = *c;
    out->floor_gemm_s = out->flops_per_step / c->gemm_flops;
    out->floor_bytes_s = out->bytes_per_step / c->bandwidth;
    out->memory_bound = out->floor_bytes_s > out->floor_gemm_s;
    double floor_s = fmax(out->floor_gemm_s, out->floor_bytes_s);
    out->floor_steps_per_s = 1.0 / floor_s;
    out->measured_over_floor = steps_per_s * floor_s;
    iql_memory_plan(L, sp->batch, use_target, &out->memory);
    out->measured_bytes = run->measured_bytes;
    out->phase_steps = phase_steps;
    for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) out->phase_s[ph] = phase_s ? phase_s[ph] : 0;
}
