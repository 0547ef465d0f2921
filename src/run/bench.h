/* bench.h — training throughput of the IQL step on a backend, against the floor the same
 * backend's measured ceilings allow (`cuiql bench`, bench/bench_step, bench/RESULTS.md).
 *
 * The pieces are separate so a caller can order them: create a backend (bench_backend), set up
 * one configuration on it with a random in-memory dataset (bench_setup: the state, warmed up,
 * with its memory counted), time steps (bench_time_steps, as often as wanted), measure the
 * device's ceilings (bench_ceilings: the GEMM rate and copy bandwidth, through the backend
 * itself), time phases (bench_phases), then bench_result puts the figures together. */
#ifndef CUIQL_RUN_BENCH_H
#define CUIQL_RUN_BENCH_H

#include "algo/iql.h"
#include "run/machine_load.h"
#include "algo/model.h"

typedef struct {
    DeviceKind device;         /* auto, cpu, cuda */
    int batch, members;        /* B, P */
    PrecisionKind precision;
    int threads;               /* CPU BLAS threads (0: all cores) */
    int use_graphs, gemm_epilogues, parallel_nets;
    double rho;                /* target_update_rate: 1 = no target network */
    int hidden[MODEL_MAX_LAYERS], n_hidden;
    int obs_dim, act_dim;      /* the random dataset's S and A */
    ReplayKind replay;         /* where the dataset lives (CUDA: device or pinned host memory) */
} BenchSpec;

/* The seed config's network and the D4RL locomotion shapes (S = 17, A = 6), B = 256, P = 1. */
void bench_spec_defaults(BenchSpec *spec);

/* The backend the spec asks for (auto: the GPU when one is usable). */
Backend *bench_backend(const BenchSpec *spec, Error *err);

/* One configuration set up on a backend. */
typedef struct BenchRun BenchRun;

/* Creates the population on b from a random dataset, runs warm-up steps (a CUDA graph is
 * captured then) and records the memory the state takes. */
BenchRun *bench_setup(Backend *b, const BenchSpec *spec, Error *err);
void bench_free(BenchRun *run);

/* Times `steps` steps (0: as many as take about `seconds`, at least 5), synchronised at the
 * end: steps per second of wall time. */
int bench_time_steps(BenchRun *run, int steps, double seconds, double *steps_per_s, int *steps_run, LoadShare *load,
                     Error *err);

/* Eager steps with a backend time stamp between phases (CUDA events on the GPU): the mean
 * time of each phase in seconds. Not the rate: a graph runs a step faster. */
int bench_phases(BenchRun *run, int steps, double seconds[IQL_PHASE_COUNT], Error *err);

/* The device's ceilings, measured through the backend in this process: the GEMM rate of an
 * n × n × n product (n = 1024 on the CPU, 8192 on a GPU) at the backend's precision, and the
 * bandwidth of a large device-to-device copy (bytes read plus bytes written). */
typedef struct {
    double gemm_flops;         /* FLOP/s */
    int gemm_n;
    double bandwidth;          /* bytes/s */
} BenchCeilings;
int bench_ceilings(Backend *b, BenchCeilings *out, Error *err);

typedef struct {
    char device[256];
    int on_gpu;
    int steps;                 /* timed */
    double steps_per_s, samples_per_s, member_steps_per_s;
    double flops_per_step, bytes_per_step, achieved_flops;
    BenchCeilings ceilings;
    double floor_gemm_s, floor_bytes_s;    /* one step's FLOPs at the GEMM rate, bytes at the bandwidth */
    double floor_steps_per_s, measured_over_floor;
    int memory_bound;          /* the bytes, not the GEMMs, set the floor */
    IqlMemory memory;          /* what the state allocates (iql_memory_plan) */
    double measured_bytes;     /* GPU: free memory before setup − after warm-up (graphs, workspaces,
                                  the replay's dataset included); CPU: NAN (others move it) */
    int phase_steps;
    double phase_s[IQL_PHASE_COUNT];       /* mean per step */
    /* The guard (the first configuration only): the same steps timed again after the ceilings,
     * and what other processes and the hypervisor took during each timing (machine_load.h). */
    int guarded;
    double steps_per_s_after_ceilings;
    LoadShare load_before, load_after;
} BenchResult;

/* The figures of one configuration from its timings and the ceilings. */
void bench_result(const BenchRun *run, const BenchCeilings *ceilings, double steps_per_s, int steps,
                  const double phase_s[IQL_PHASE_COUNT], int phase_steps, BenchResult *out);

/* The work of a configuration without running it (bench_result's flops and bytes, and the
 * memory plan). */
int bench_count(const BenchSpec *spec, double *flops, double *bytes, IqlMemory *memory, Error *err);

#endif
