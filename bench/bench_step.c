/* bench_step.c — training throughput of the IQL step, against its floor.
 *
 *   bench_step [--device cpu|cuda] [--batch B] [--members P] [--hidden 256,256] [--steps K]
 *              [--threads T] [--rho 1|0.005] [--precision fp32|tf32] [--no-graphs] [--gemm-epilogues]
 *              [--parallel-nets] [--count-only] [--phases]
 *
 * Builds a random in-memory dataset (S = 17, A = 6, like hopper/walker), creates the population
 * and times K steps after a warm-up. Prints steps/s, samples/s, member-steps/s, the FLOPs of one
 * step (counted from the layout), the GEMM rate measured on this device, and the floor
 * max(FLOPs / GEMM rate, bytes / bandwidth) with the ratio measured/floor. Both ceilings are
 * measured on the same backend in the same run (bench/RESULTS.md). Also the memory the
 * training state takes, and with --phases a per-phase breakdown of eager steps timed by the
 * backend's stamps (CUDA events on the GPU).
 *
 * The guard: the steps are timed twice, before and after the ceilings are measured, with the
 * CPU time other processes and the hypervisor took meanwhile (machine_load.h); a rate that
 * moves by more than 20 % between the two is reported with whether the machine was busy. A
 * process whose speed changed by itself (a library warming up, the "slow until one
 * big GEMM") shows as a change on a quiet machine; another process's load, as a busy one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run/backend_select.h"
#include "algo/iql.h"
#include "algo/model.h"
#include "machine_load.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* FLOPs of one step: forward GEMMs 2·B·in·out per layer and member, backward twice that
 * (dW and dX) except that the first layer needs no dX. V runs forward twice (s and s'); the
 * target critics forward once when ρ < 1. Elementwise work is not counted (it is bytes). */
static double step_flops(const ModelLayout *L, int B, int use_target) {
    double total = 0;
    for (int n = 0; n < NET_COUNT; n++) {
        const NetLayout *net = &L->net[n];
        double fwd = 0, bwd = 0;
        for (int l = 0; l < net->n_layers; l++) {
            double f = 2.0 * B * net->in[l] * net->out[l] * net->members;
            fwd += f;
            bwd += l == 0 ? f : 2 * f;
        }
        int forwards = n == NET_VALUE ? 2 : (n == NET_Q && use_target ? 2 : 1);
        total += forwards * fwd + bwd;
    }
    return total;
}

/* The fewest bytes one step must move through memory: AdamW reads and writes params, m and
 * v and reads the gradients (7 floats per parameter), the targets move when ρ < 1 (3 floats),
 * and every activation is written once by its forward pass and read back by the next layer,
 * the ReLU mask and the weight-gradient GEMM (≈ 4 touches). Batch inputs are small beside it. */
static double step_bytes(const ModelLayout *L, int B, int use_target) {
    double acts = 0;
    for (int n = 0; n < NET_COUNT; n++) {
        const NetLayout *net = &L->net[n];
        int forwards = n == NET_VALUE ? 2 : (n == NET_Q && use_target ? 2 : 1);
        for (int l = 0; l < net->n_layers; l++) acts += (double)forwards * net->members * B * net->out[l];
    }
    return 4.0 * (7.0 * L->n_params + (use_target ? 3.0 * model_target_size(L) : 0) + 4.0 * acts);
}

/* The device's ceilings, measured through the backend itself: the GEMM rate on an n×n×n
 * product, and the bandwidth of a large copy (bytes read plus bytes written). */
static void measure_ceilings(Backend *b, int cpu, double *gemm_rate, double *bandwidth) {
    Error err;
    int n = cpu ? 1024 : 8192;
    float *x = b->ops->alloc(b, sizeof(float) * n * n, &err), *y = b->ops->alloc(b, sizeof(float) * n * n, &err);
    float *z = b->ops->alloc(b, sizeof(float) * n * n, &err);
    *gemm_rate = *bandwidth = NAN;
    if (!x || !y || !z) return;
    b->ops->init_uniform(b, x, (int64_t)n * n, 1.0f, 1, 1);  /* random data: zeros can run faster */
    b->ops->init_uniform(b, y, (int64_t)n * n, 1.0f, 1, 2);
    GemmArgs g = {.m = n, .n = n, .k = n, .alpha = 1, .beta = 0, .a = x, .lda = n, .b = y, .ldb = n, .c = z, .ldc = n,
                  .batch = 1};
    b->ops->gemm(b, &g);
    b->ops->synchronize(b, &err);
    int reps = cpu ? 5 : 20;
    double t = now_seconds();
    for (int r = 0; r < reps; r++) b->ops->gemm(b, &g);
    b->ops->synchronize(b, &err);
    *gemm_rate = reps * 2.0 * n * n * n / (now_seconds() - t);
    b->ops->copy(b, z, x, (int64_t)n * n);
    b->ops->synchronize(b, &err);
    t = now_seconds();
    for (int r = 0; r < reps; r++) b->ops->copy(b, r & 1 ? x : z, r & 1 ? z : x, (int64_t)n * n);
    b->ops->synchronize(b, &err);
    *bandwidth = reps * 2.0 * sizeof(float) * n * n / (now_seconds() - t);
    b->ops->release(b, x), b->ops->release(b, y), b->ops->release(b, z);
}

/* Times `steps` steps: their rate, and what the rest of the machine did meanwhile. */
static double timed_steps(IqlState *s, Backend *b, int steps, LoadShare *load, Error *err) {
    LoadSample before = load_sample();
    for (int i = 0; i < steps; i++) iql_step(s);
    if (b->ops->synchronize(b, err) || b->ops->status(b, err)) return -1;
    LoadSample after = load_sample();
    *load = load_share(before, after);
    return steps / (after.wall - before.wall);
}

static void print_load(const char *what, double sps, LoadShare l) {
    if (l.ok) printf("%s %.1f steps/s (other processes %.2f cores, steal %.2f)", what, sps, l.others, l.steal);
    else printf("%s %.1f steps/s (no /proc/stat: load unknown)", what, sps);
}

int main(int argc, char **argv) {
    Config cfg;
    config_defaults(&cfg);
    int members = 1, steps = 0, threads = 0, graphs = 1, epilogues = 0, parallel = 0, count_only = 0, profile = 0;
    DeviceKind device = DEVICE_CPU;
    Error err = {{0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-graphs")) { graphs = 0; continue; }
        if (!strcmp(a, "--gemm-epilogues")) { epilogues = 1; continue; }
        if (!strcmp(a, "--parallel-nets")) { parallel = 1; continue; }
        if (!strcmp(a, "--count-only")) { count_only = 1; continue; }
        if (!strcmp(a, "--phases")) { profile = 1; continue; }
        if (!v) { fprintf(stderr, "bench_step: %s needs a value\n", a); return 2; }
        i++;
        if (!strcmp(a, "--device")) device = !strcmp(v, "cuda") ? DEVICE_CUDA : DEVICE_CPU;
        else if (!strcmp(a, "--batch")) cfg.batch_size = atoi(v);
        else if (!strcmp(a, "--members")) members = atoi(v);
        else if (!strcmp(a, "--steps")) steps = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--rho")) cfg.target_update_rate = atof(v);
        else if (!strcmp(a, "--precision")) cfg.precision = !strcmp(v, "tf32") ? PRECISION_TF32 : PRECISION_FP32;
        else if (!strcmp(a, "--hidden")) {
            if (config_set(&cfg, "hidden", v, &err)) { fprintf(stderr, "bench_step: %s\n", err.msg); return 2; }
        } else { fprintf(stderr, "bench_step: unknown option %s\n", a); return 2; }
    }
    if (members < 1 || cfg.batch_size < 1) { fprintf(stderr, "bench_step: bad --members/--batch\n"); return 2; }

    int S = 17, A = 6;
    if (count_only) {  /* the step's arithmetic and traffic, without running it */
        ModelLayout L;
        if (model_layout_init(&L, members, S, A, cfg.hidden, cfg.n_hidden, &err)) { fprintf(stderr, "bench_step: %s\n", err.msg); return 2; }
        int use_target = cfg.target_update_rate < 1.0;
        printf("B=%d P=%d rho=%g: %.4f GFLOP/step, %.3f MB/step, %zu parameters\n", cfg.batch_size, members,
               cfg.target_update_rate, step_flops(&L, cfg.batch_size, use_target) * 1e-9,
               step_bytes(&L, cfg.batch_size, use_target) * 1e-6, L.n_params);
        return 0;
    }
    /* A random dataset: the step's cost does not depend on the values, only on the sizes. */
    int64_t N = 200000;
    float *states = malloc(sizeof(float) * (N + 1) * S), *actions = malloc(sizeof(float) * N * A);
    float *rewards = malloc(sizeof(float) * N), *terminals = calloc(N, sizeof(float));
    uint32_t *rows = malloc(sizeof(uint32_t) * N), *next_rows = malloc(sizeof(uint32_t) * N);
    for (int64_t i = 0; i < (N + 1) * S; i++) states[i] = (float)sin(0.37 * i);
    for (int64_t i = 0; i < N * A; i++) actions[i] = (float)cos(0.11 * i) * 0.9f;
    for (int64_t i = 0; i < N; i++) {
        rewards[i] = (float)sin(0.05 * i);
        rows[i] = (uint32_t)i;
        next_rows[i] = (uint32_t)i + 1;
    }
    ReplaySource src = {.n = N, .n_states = N + 1, .obs_dim = S, .act_dim = A, .states = states, .state_row = rows,
                        .next_row = next_rows, .actions = actions, .rewards = rewards, .terminals = terminals};

    BackendOptions bopt = {.threads = threads, .precision = cfg.precision, .use_graphs = graphs, .gemm_epilogues = epilogues,
                           .parallel_nets = parallel};
    Backend *b = backend_select(device, &bopt, NULL, 0, &err);
    if (!b) { fprintf(stderr, "bench_step: %s\n", err.msg); return 1; }
    MemberSpec *specs = malloc(sizeof *specs * members);
    for (int p = 0; p < members; p++) specs[p] = (MemberSpec){.tau = 0.7, .beta = 2.0 + 0.1 * p, .seed = (uint64_t)p};
    size_t free_before = 0, free_after = 0, mem_total = 0;
    if (b->ops->memory_info(b, &free_before, &mem_total, &err)) { fprintf(stderr, "bench_step: %s\n", err.msg); return 1; }
    IqlState *s = iql_create(b, &cfg, specs, members, &src, &err);
    if (!s) { fprintf(stderr, "bench_step: %s\n", err.msg); return 1; }

    int warmup = device == DEVICE_CPU ? 5 : 50;
    for (int i = 0; i < warmup; i++) iql_step(s);
    if (b->ops->synchronize(b, &err)) { fprintf(stderr, "bench_step: %s\n", err.msg); return 1; }
    /* After the warm-up, so the captured graph is counted too. */
    if (b->ops->memory_info(b, &free_after, &mem_total, &err)) { fprintf(stderr, "bench_step: %s\n", err.msg); return 1; }
    double flops = step_flops(iql_layout(s), cfg.batch_size, cfg.target_update_rate < 1.0);
    if (steps <= 0) {  /* about two seconds of work */
        double t = now_seconds();
        for (int i = 0; i < 5; i++) iql_step(s);
        b->ops->synchronize(b, &err);
        double per = (now_seconds() - t) / 5;
        steps = (int)fmin(fmax(2.0 / per, 10), 200000);
    }
    LoadShare load_before, load_after;
    double sps = timed_steps(s, b, steps, &load_before, &err);
    if (sps < 0) { fprintf(stderr, "bench_step: %s\n", err.msg); return 1; }
    double elapsed = steps / sps;

    char desc[256];
    b->ops->describe(b, desc, sizeof desc);
    double bytes = step_bytes(iql_layout(s), cfg.batch_size, cfg.target_update_rate < 1.0);
    double gemm_rate, bandwidth;
    measure_ceilings(b, device == DEVICE_CPU, &gemm_rate, &bandwidth);
    double sps_after = timed_steps(s, b, steps, &load_after, &err);
    if (sps_after < 0) { fprintf(stderr, "bench_step: %s\n", err.msg); return 1; }
    printf("device        %s\n", desc);
    printf("shape         B=%d P=%d hidden=", cfg.batch_size, members);
    for (int i = 0; i < cfg.n_hidden; i++) printf("%s%d", i ? "," : "", cfg.hidden[i]);
    printf(" S=%d A=%d rho=%g precision=%s graphs=%d gemm-epilogues=%d parallel-nets=%d\n", S, A,
           cfg.target_update_rate, cfg.precision == PRECISION_TF32 ? "tf32" : "fp32", graphs, epilogues, parallel);
    printf("steps/s       %.1f   (%d steps in %.3f s)\n", sps, steps, elapsed);
    printf("samples/s     %.4g\n", sps * cfg.batch_size);
    printf("member-steps/s %.1f\n", sps * members);
    printf("GFLOP/step    %.4f\n", flops * 1e-9);
    printf("achieved      %.1f GFLOP/s\n", flops * sps * 1e-9);
    double flop_time = flops / gemm_rate, byte_time = bytes / bandwidth;
    double floor_s = flop_time > byte_time ? flop_time : byte_time;
    printf("MB/step       %.3f\n", bytes * 1e-6);
    printf("gemm rate     %.1f GFLOP/s (%s, measured here)\n", gemm_rate * 1e-9, device == DEVICE_CPU ? "1024^3" : "8192^3");
    printf("bandwidth     %.1f GB/s (copy, read+write, measured here)\n", bandwidth * 1e-9);
    printf("floor         %.1f steps/s (%s-bound: %.1f us GEMM, %.1f us bytes)   measured/floor = %.2f\n",
           1.0 / floor_s, flop_time > byte_time ? "GEMM" : "memory", flop_time * 1e6, byte_time * 1e6, sps * floor_s);
    double change = sps_after / sps - 1;
    print_load("load check    before the ceilings", sps, load_before);
    print_load(", after", sps_after, load_after);
    printf(": %+.0f %%\n", 100 * change);
    if (fabs(change) > 0.20) {
        /* Busy: others took a tenth of a core or more, or the hypervisor did, in either timing. */
        double others = fmax(load_before.others, load_after.others), steal = fmax(load_before.steal, load_after.steal);
        int known = load_before.ok && load_after.ok, busy = others >= 0.1 || steal >= 0.1;
        fprintf(stderr, "bench_step: WARNING: the step rate moved %+.0f %% across the ceiling measurement (%.1f -> %.1f "
                "steps/s); ", 100 * change, sps, sps_after);
        if (!known) fprintf(stderr, "whether the machine was busy is unknown (no /proc/stat)\n");
        else if (busy)
            fprintf(stderr, "the machine was busy (other processes took up to %.2f cores, steal %.2f): these figures "
                    "are not this machine's own, measure again when it is quiet%s\n", others, steal,
                    threads == 1 ? "" : "; several BLAS threads on shared cores wait for each other (--threads 1 "
                                        "suffers less: bench/RESULTS.md §2a)");
        else
            fprintf(stderr, "the machine was quiet, so the process itself changed speed: report it (bench/RESULTS.md "
                    "§2)\n");
    }
    /* On the CPU other processes move the free figure too: only the GPU's is the state's own. */
    printf("memory        %.1f MiB taken by the training state (free before create − after warm-up), %.1f of %.1f GiB in use\n",
           ((double)free_before - (double)free_after) / (1 << 20), (double)(mem_total - free_after) / (1 << 30),
           (double)mem_total / (1 << 30));
    if (profile) {  /* eager steps with stamps between phases: shares, not the rate */
        double sec[IQL_PHASE_COUNT] = {0}, total = 0;
        int n = steps < 200 ? steps : 200;
        for (int i = 0; i < n; i++)
            if (iql_profile_step(s, sec, &err)) { fprintf(stderr, "bench_step: %s\n", err.msg); return 1; }
        for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) total += sec[ph];
        printf("phases        (%d eager steps, %s between phases: %.1f us/step)\n", n,
               device == DEVICE_CPU ? "clock" : "CUDA events", total / n * 1e6);
        for (int ph = 0; ph < IQL_PHASE_COUNT; ph++)
            printf("  %-10s  %9.1f us  %5.1f %%\n", iql_phase_names[ph], sec[ph] / n * 1e6, 100 * sec[ph] / total);
    }
    iql_destroy(s);
    b->ops->destroy(b);
    return 0;
}
