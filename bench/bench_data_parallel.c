/* bench_data_parallel.c — a data-parallel step and its gradient all-reduce, measured.
 *
 *   mpirun -np N bench_data_parallel [--device cpu|cuda] [--batch G] [--members P] [--hidden 256,256]
 *                                    [--steps K] [--threads T] [--rho 1|0.005] [--precision fp32|tf32]
 *                                    [--no-graphs] [--phases] [--local]
 *
 * Every rank builds the same random dataset as bench_step (S = 17, A = 6) and the population,
 * then rank 0 prints: the all-reduce's bytes per step (the whole gradient buffer, float32), the
 * time of the all-reduce alone (the backend's allreduce_sum on that buffer, K times, eagerly;
 * CUDA: NCCL between events), its bus bandwidth 2(N−1)/N · bytes / time (the figure NCCL's
 * own tests report, comparable across N), and the data-parallel step's rate: steps/s and
 * samples/s of the global batch G (each rank G/N rows), graphs as in training. --phases adds
 * the per-phase breakdown of eager steps, the reduce phase being the all-reduce in its place.
 * Run without mpirun it is one rank. --local makes that one rank without MPI at all (an
 * in-process Comm), for a machine with no MPI runtime, e.g. the GPU image: NCCL then reduces
 * over one rank, inside the captured step as in training. Results and the model they are
 * compared with: bench/RESULTS.md, "Data parallel". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "algo/iql.h"
#include "comm/comm.h"
#include "run/backend_select.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* --local: one rank, no MPI. Its collectives have no one to talk to. */
static int local_sum(Comm *c, void *b, int64_t n, CommType t, Error *e) { (void)c, (void)b, (void)n, (void)t, (void)e; return 0; }
static int local_max(Comm *c, int *b, int n, Error *e) { (void)c, (void)b, (void)n, (void)e; return 0; }
static int local_bcast(Comm *c, void *b, size_t n, int r, Error *e) { (void)c, (void)b, (void)n, (void)r, (void)e; return 0; }
static void local_abort(Comm *c, int status) { (void)c; exit(status); }
static const CommOps local_ops = {local_sum, local_max, local_bcast, local_abort};
static Comm local_comm = {.ops = &local_ops, .rank = 0, .size = 1, .local_rank = 0, .host = "local"};

static int fail(Comm *c, const Error *err) {
    comm_fail(c, "bench_data_parallel", err);
    return 1;
}

int main(int argc, char **argv) {
    Error err = {{0}};
    int local = 0;
    for (int i = 1; i < argc; i++) local |= !strcmp(argv[i], "--local");
    Comm *c = local ? &local_comm : comm_world_create(&err);
    if (!c) {
        fprintf(stderr, "bench_data_parallel: %s\n", err.msg);
        return 1;
    }
    Config cfg;
    config_defaults(&cfg);
    int members = 1, steps = 0, threads = 1, graphs = 1, profile = 0;
    DeviceKind device = DEVICE_CPU;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-graphs")) { graphs = 0; continue; }
        if (!strcmp(a, "--phases")) { profile = 1; continue; }
        if (!strcmp(a, "--local")) continue;
        if (!v) return fail(c, &(Error){"an option needs a value"});
        i++;
        if (!strcmp(a, "--device")) device = !strcmp(v, "cuda") ? DEVICE_CUDA : DEVICE_CPU;
        else if (!strcmp(a, "--batch")) cfg.batch_size = atoi(v);
        else if (!strcmp(a, "--members")) members = atoi(v);
        else if (!strcmp(a, "--steps")) steps = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--rho")) cfg.target_update_rate = atof(v);
        else if (!strcmp(a, "--precision")) cfg.precision = !strcmp(v, "tf32") ? PRECISION_TF32 : PRECISION_FP32;
        else if (!strcmp(a, "--hidden")) {
            if (config_set(&cfg, "hidden", v, &err)) return fail(c, &err);
        } else return fail(c, &(Error){"unknown option"});
    }
    if (members < 1 || cfg.batch_size < 1 || iql_parallel_check_batch(cfg.batch_size, c->size, &err))
        return fail(c, err.msg[0] ? &err : &(Error){"bad --members/--batch"});

    int S = 17, A = 6;
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
    int count = backend_device_count();
    BackendOptions bopt = {.threads = threads, .precision = cfg.precision, .use_graphs = graphs, .comm = c,
                           .device_index = count > 0 ? c->local_rank % count : 0};
    Backend *b = backend_select(device, &bopt, 0, &err);
    if (!b) return fail(c, &err);
    MemberSpec *specs = malloc(sizeof *specs * members);
    for (int p = 0; p < members; p++) specs[p] = (MemberSpec){.tau = 0.7, .beta = 2.0 + 0.1 * p, .seed = (uint64_t)p};
    IqlState *s = iql_create_parallel(b, &cfg, specs, members, &src, c, &err);
    if (!s) return fail(c, &err);
    int64_t n = (int64_t)iql_layout(s)->n_params;
    double bytes = 4.0 * (double)n;

    /* The all-reduce alone, on a buffer the size of the gradient. */
    float *buf = b->ops->alloc(b, sizeof(float) * (size_t)n, &err);
    if (!buf) return fail(c, &err);
    int reps = device == DEVICE_CPU ? 50 : 200;
    for (int i = 0; i < 5; i++) b->ops->allreduce_sum(b, buf, n);
    if (b->ops->synchronize(b, &err)) return fail(c, &err);
    b->ops->time_mark(b, 0);
    for (int i = 0; i < reps; i++) b->ops->allreduce_sum(b, buf, n);
    b->ops->time_mark(b, 1);
    double ar = 0;
    if (b->ops->time_elapsed(b, 0, 1, &ar, &err)) return fail(c, &err);
    ar /= reps;

    /* The data-parallel step. Every rank runs the same number of steps (rank 0 decides). */
    int warmup = device == DEVICE_CPU ? 5 : 50;
    for (int i = 0; i < warmup; i++) iql_step(s);
    if (b->ops->synchronize(b, &err)) return fail(c, &err);
    if (steps <= 0) {  /* about two seconds of work */
        double t = now_seconds();
        for (int i = 0; i < 5; i++) iql_step(s);
        b->ops->synchronize(b, &err);
        double per = (now_seconds() - t) / 5;
        steps = (int)fmin(fmax(2.0 / per, 10), 200000);
        if (c->ops->broadcast(c, &steps, sizeof steps, 0, &err)) return fail(c, &err);
    }
    double t = now_seconds();
    for (int i = 0; i < steps; i++) iql_step(s);
    if (b->ops->synchronize(b, &err) || b->ops->status(b, &err)) return fail(c, &err);
    double elapsed = now_seconds() - t, sps = steps / elapsed;

    double sec[IQL_PHASE_COUNT] = {0}, total = 0;
    int np_ = steps < 200 ? steps : 200;
    if (profile)
        for (int i = 0; i < np_; i++)
            if (iql_profile_step(s, sec, &err)) return fail(c, &err);
    if (c->rank == 0) {
        char desc[256], mpi[128];
        b->ops->describe(b, desc, sizeof desc);
        if (local) snprintf(mpi, sizeof mpi, "no MPI: --local");
        else comm_library(mpi, sizeof mpi);
        printf("ranks         %d (%s) on %s\n", c->size, mpi, desc);
        printf("shape         G=%d (%d per rank) P=%d hidden=", cfg.batch_size, cfg.batch_size / c->size, members);
        for (int i = 0; i < cfg.n_hidden; i++) printf("%s%d", i ? "," : "", cfg.hidden[i]);
        printf(" S=%d A=%d rho=%g graphs=%d\n", S, A, cfg.target_update_rate, graphs);
        printf("all-reduce    %lld floats = %.3f MB per step\n", (long long)n, bytes * 1e-6);
        printf("all-reduce    %.1f us alone (%d reps), bus bandwidth %.2f GB/s\n", ar * 1e6, reps,
               c->size > 1 ? 2.0 * (c->size - 1) / c->size * bytes / ar * 1e-9 : 0.0);
        printf("steps/s       %.1f   (%d steps in %.3f s)\n", sps, steps, elapsed);
        printf("samples/s     %.4g (global batch)\n", sps * cfg.batch_size);
        if (profile) {
            for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) total += sec[ph];
            printf("phases        (%d eager steps on rank 0: %.1f us/step)\n", np_, total / np_ * 1e6);
            for (int ph = 0; ph < IQL_PHASE_COUNT; ph++)
                printf("  %-10s  %9.1f us  %5.1f %%\n", iql_phase_names[ph], sec[ph] / np_ * 1e6, 100 * sec[ph] / total);
        }
    }
    b->ops->release(b, buf);
    iql_destroy(s);
    b->ops->destroy(b);
    if (!local) comm_destroy(c);
    return 0;
}
