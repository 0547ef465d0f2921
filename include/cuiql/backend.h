/* backend.h — the operations one IQL step is made of, implemented once per device.
 *
 * The algorithm (src/algo/iql.c) is written once in host C against this table; the CPU
 * backend (src/cpu/) and the CUDA backend (kernels/) each fill it in. Buffers are pointers
 * into the backend's own memory (host memory on the CPU, device memory on CUDA); the host may
 * offset them but never dereferences them.
 *
 * Step operations are asynchronous and return nothing: a failure inside them is recorded and
 * reported by status(). Nothing inside a step allocates or synchronises the host, and the step's
 * own stream makes no host<->device copy (host-memory replay prefetches the next batch on a
 * separate copy stream, overlapped with the step); everything that varies per step (step count,
 * learning rates, RNG offsets) is read from StepScalars in backend memory, so the CUDA backend
 * can capture a step as a graph.
 *
 * Matrices are row-major. Shapes in comments: P members, E ensemble members of one network
 * (P, or 2P for the twin critics), B batch rows, S state dims, A action dims. */
#ifndef CUIQL_BACKEND_H
#define CUIQL_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "cuiql/comm.h"
#include "cuiql/error.h"
#include "cuiql/iql_math.h"
#include "cuiql/sampling.h"
#include "cuiql/settings.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Lanes one fork may open (see fork below): a step opens at most this many, two per network's
 * backward pass; the CUDA backend creates that many streams. */
#define BACKEND_MAX_LANES 6

typedef enum { ACTIVATION_NONE, ACTIVATION_RELU } Activation;

/* C_i = alpha · op(A_i) · op(B_i) + beta · C_i for i < batch, row-major, where X_i = X + i·stride_x.
 * A stride of 0 shares one operand across the batch (all members read the same input). */
typedef struct {
    int trans_a, trans_b;
    int m, n, k;
    float alpha, beta;
    const float *a; int lda; int64_t stride_a;
    const float *b; int ldb; int64_t stride_b;
    float *c;       int ldc; int64_t stride_c;
    int batch;
} GemmArgs;

/* The dataset as the host holds it (see src/data/dataset.h), handed over once. */
typedef struct {
    int64_t n, n_states;
    int obs_dim, act_dim;
    const float *states;       /* [n_states, S] */
    const uint32_t *state_row; /* [n] */
    const uint32_t *next_row;  /* [n] */
    const float *actions;      /* [n, A] */
    const float *rewards;      /* [n] */
    const float *terminals;    /* [n] */
} ReplaySource;

typedef struct Replay Replay;  /* the backend's copy of the data (device memory or pinned host) */

/* One sampled batch, in backend memory. The network inputs have rows of state_ld (≥ S) and
 * state_action_ld (≥ S + A) floats, so each row starts 16-byte aligned when the ld is a
 * multiple of 4; sample_batch writes the columns past S (S + A) as zeros. */
typedef struct {
    int rows;
    int state_ld, state_action_ld;
    float *state;         /* [B, state_ld] */
    float *next_state;    /* [B, state_ld] */
    float *state_action;  /* [B, state_action_ld] concat(s, a, 0…): the critics' input */
    float *action;        /* [B, A] */
    float *reward;        /* [B] */
    float *terminal;      /* [B] */
    uint32_t *index;      /* [B] transitions drawn */
} Batch;

/* The value and critic losses, their gradients and the advantage weights (one fused op). */
typedef struct {
    int members, rows;            /* P, B */
    const float *v;               /* [P, B]    V(s) */
    const float *v_next;          /* [P, B]    V(s') */
    const float *q;               /* [P, 2, B] online critics at (s, a) */
    const float *q_hat;           /* [P, 2, B] target critics (online ones when ρ = 1) */
    const float *reward;          /* [B] */
    const float *terminal;        /* [B] */
    const float *tau, *beta;      /* [P] per-member expectile and temperature */
    int mean_rows;                /* the rows the losses' means divide by: the global batch when
                                     data parallel (rows are this rank's share); 0 = rows */
    float discount, adv_clip;
    float q_scale;                /* ½: mean of the two critics' MSEs; 1: their sum */
    int value_target_q;           /* 0: u = y − v (seed); 1: u = min(Q̂1, Q̂2) − v (paper) */
    float *dv;                    /* [P, B]    out: dL_V/dv */
    float *dq;                    /* [P, 2, B] out: dL_Q/dq */
    float *weight;                /* [P, B]    out: advantage weight w */
    float *stats;                 /* [P, IQL_STAT_COUNT, B] out: every stat but POLICY_LOSS */
} HeadsArgs;

/* The advantage-weighted policy loss and its gradients. */
typedef struct {
    int members, rows, act_dim;   /* P, B, A */
    int mean_rows;                /* as in HeadsArgs: the global batch, or 0 = rows */
    int deterministic;
    const float *pre;             /* [P, B, A] policy MLP output before tanh */
    const float *log_std;         /* [P, A] (unused when deterministic) */
    const float *action;          /* [B, A] dataset actions */
    const float *weight;          /* [P, B] */
    float max_action, log_std_min, log_std_max;
    float *dpre;                  /* [P, B, A] out: dL_π/dpre */
    float *dlog_std_elem;         /* [P, B, A] out: per-element dL_π/dlog_std, summed by column_sums */
    float *stats;                 /* [P, IQL_STAT_COUNT, B] out: IQL_STAT_POLICY_LOSS */
} PolicyHeadArgs;

/* AdamW over the whole parameter buffer: element i belongs to the first group g with
 * i < group_end[g], and uses scalars->lr[g]. */
typedef struct {
    float *param;
    const float *grad;
    float *m, *v;
    int64_t n;
    int64_t group_end[LR_GROUP_COUNT];
    AdamHyper hyper;
    const StepScalars *scalars;
} AdamWArgs;

typedef struct {
    int threads;               /* CPU: BLAS threads (0 = the BLAS's default: all cores with
                                  OpenBLAS, one with BLIS: cpu_blas.h) */
    int device_index;          /* CUDA */
    PrecisionKind precision;   /* CUDA: fp32 or tf32 GEMMs */
    int use_graphs;            /* CUDA: capture each step as a graph (1) or run eagerly (0) */
    int gemm_epilogues;        /* CUDA: bias + activation fused into the GEMM through cuBLASLt
                                  (1), or a GEMM then a bias_activation kernel (0) */
    int parallel_nets;         /* CUDA: fork's lanes run on streams of their own (1), or all on
                                  the step stream (0) */
    Comm *comm;                /* data parallel: the ranks allreduce_sum reduces over (the CPU
                                  through the Comm, CUDA through NCCL, set up at creation,
                                  which is then collective); NULL: a single process */
} BackendOptions;

typedef struct Backend Backend;

typedef struct {
    const char *name;

    /* lifetime */
    void (*destroy)(Backend *);
    int (*status)(Backend *, Error *);         /* first error of an async op, if any; no sync */
    int (*synchronize)(Backend *, Error *);
    void (*describe)(Backend *, char *buf, size_t len); /* "NVIDIA H100 80GB HBM3 (sm_90, 79 GiB)" */

    /* memory: at setup time only */
    void *(*alloc)(Backend *, size_t bytes, Error *);  /* zero-filled */
    void (*release)(Backend *, void *ptr);
    int (*upload)(Backend *, void *dst, const void *src, size_t bytes, Error *);
    int (*download)(Backend *, void *dst, const void *src, size_t bytes, Error *);
    Replay *(*replay_create)(Backend *, const ReplaySource *, ReplayKind mode, int batch_rows, Error *);
    void (*replay_destroy)(Backend *, Replay *);

    /* Runs one step: issue(arg) makes the step's calls below. The CPU backend just calls it;
     * the CUDA backend runs the first call eagerly, captures the second as a graph and replays
     * that afterwards, so issue must make the same calls with the same arguments every time. */
    void (*run_step)(Backend *, void (*issue)(void *arg), void *arg);

    /* Concurrency inside a step. fork(n) opens n lanes; lane(i) sends the calls after it to
     * lane i; lane_wait(w, src) makes the calls lane w gets from now on wait for every call
     * lane src has had so far; join() waits for every lane and closes them. A call on one lane
     * may use another lane's output only after such a wait. The CPU with one BLAS thread runs
     * everything in the order it is issued; with more, it records a fork's calls and at join
     * runs the groups of lanes that waits connect on that many threads (src/cpu/lanes.h), so
     * a call between fork and join may not read what an unconnected lane writes even before
     * join. CUDA (with parallel_nets) gives each lane a stream forked from the step stream,
     * which a captured graph keeps as parallel branches. At most BACKEND_MAX_LANES lanes. */
    void (*fork)(Backend *, int lanes);
    void (*lane)(Backend *, int index);
    void (*lane_wait)(Backend *, int waiter, int source);
    void (*join)(Backend *);

    /* step operations */
    void (*prepare_step)(Backend *, StepScalars *scalars, const LrSchedule schedule[LR_GROUP_COUNT],
                         double beta1, double beta2);  /* fills lr and bias corrections from scalars->step */
    void (*finish_step)(Backend *, StepScalars *scalars);  /* scalars->step += 1 */
    /* Batch k = scalars->step: slot i holds transition iql_replay_row(args, k, B, i, N) (sampling.h). */
    void (*sample_batch)(Backend *, Replay *, const SamplingArgs *, const StepScalars *scalars, Batch *out);
    void (*gemm)(Backend *, const GemmArgs *);
    /* A layer's forward pass: g's product (beta 0; C packed: ldc = n, stride_c = m·n), then
     * C[e,r,c] = act(C[e,r,c] + bias[e·bias_stride + c]) (bias_stride ≥ n). The same result as
     * gemm, then bias_activation; the CUDA backend fuses both into one cuBLASLt call when its
     * gemm_epilogues option is on (and cuBLASLt has an algorithm for the shape, with every
     * member's bias 16-byte aligned). */
    void (*gemm_bias_activation)(Backend *, const GemmArgs *g, const float *bias, int64_t bias_stride, Activation act);
    void (*bias_activation)(Backend *, float *y, const float *bias, int64_t bias_stride, int members, int rows,
                            int cols, Activation act);  /* y[e,r,c] = act(y[e,r,c] + bias[e·bias_stride + c]) */
    void (*relu_backward)(Backend *, float *dy, const float *y, int64_t n);  /* dy *= (y > 0) */
    void (*column_sums)(Backend *, float *out, const float *in, int members, int rows, int cols);
                                                  /* out[e,c] = Σ_r in[e,r,c] */
    void (*row_sums)(Backend *, float *out, const float *in, int64_t rows, int cols);
                                                  /* out[r] = Σ_c in[r,c] */
    void (*value_critic_heads)(Backend *, const HeadsArgs *);
    void (*policy_head)(Backend *, const PolicyHeadArgs *);
    void (*adamw)(Backend *, const AdamWArgs *);
    void (*polyak)(Backend *, float *target, const float *online, float rho, int64_t n);
    void (*copy)(Backend *, float *dst, const float *src, int64_t n);
    /* buf[i] = Σ over the ranks of BackendOptions.comm of buf[i], in place, on every rank: the
     * data-parallel gradient all-reduce. Collective: every rank issues it at the same point of
     * the same step. CUDA: NCCL on the step stream, so a captured step keeps it. Without a
     * comm it leaves buf as it is. */
    void (*allreduce_sum)(Backend *, float *buf, int64_t n);

    /* dst[j] = bound · (2·philox_uniform01(philox_value(seed, subsequence, j)) − 1) */
    void (*init_uniform)(Backend *, float *dst, int64_t n, float bound, uint64_t seed, uint64_t subsequence);

    /* Measurement, for bench/ and profiling; never inside a captured step. time_mark stamps
     * the point the step stream has reached in slot 0 ≤ slot < BACKEND_TIME_SLOTS; time_elapsed
     * waits for stamp `to` and gives the seconds since stamp `from`. The CPU reads its clock;
     * CUDA records events, so its figures are device time, launch gaps included. */
    void (*time_mark)(Backend *, int slot);
    int (*time_elapsed)(Backend *, int from, int to, double *seconds, Error *);
    /* Free and total bytes of the memory the backend's buffers live in (GPU memory on CUDA). */
    int (*memory_info)(Backend *, size_t *free_bytes, size_t *total_bytes, Error *);
} BackendOps;

#define BACKEND_TIME_SLOTS 8

/* Every backend's state struct starts with this, so a Backend * is also its own struct. */
struct Backend {
    const BackendOps *ops;
};

Backend *cpu_backend_create(const BackendOptions *opt, Error *err);

/* Defined only when the CUDA backend is compiled in (CUIQL_HAVE_CUDA). */
Backend *cuda_backend_create(const BackendOptions *opt, Error *err);
/* 1 if a usable CUDA device is present (description in desc), 0 if not (reason in desc). */
int cuda_backend_probe(int device_index, char *desc, size_t len);
/* CUDA devices this process sees (0 when none or no driver). */
int cuda_backend_device_count(void);
/* The NCCL the CUDA backend all-reduces with, "NCCL 2.28.9", or why there is none. */
void cuda_backend_nccl_version(char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
