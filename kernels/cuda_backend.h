/* cuda_backend.h — the CUDA backend's state and the functions each kernels/ source file adds to
 * its ops table (internal to kernels/; the public entry points are in cuiql/backend.h).
 *
 * Everything a step does is issued on one stream (CudaBackend.stream) so that run_step can
 * capture it as a graph; the other streams fork from it and join back into it within the
 * step: the lanes of fork/join (parallel_nets) and the copy streams of host-memory replays
 * (replay.cu). The backend is used from one host thread at a time. */
#ifndef CUIQL_CUDA_BACKEND_H
#define CUIQL_CUDA_BACKEND_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "cuiql/backend.h"     /* defines: Backend, BackendOps, the op argument structs */
#include "cuiql/iql_heads.h"   /* defines: iql_value_critic_row, iql_policy_row */
#include "cuda_check.h"      /* defines: CUDA_RECORD, CUBLAS_RECORD, CUDA_RETURN_IF_ERROR, ... */

/* Graphs kept at once, one per distinct (issue, arg) that run_step has seen; a fifth evicts
 * the oldest. The trainer uses one. */
#define CUDA_GRAPH_SLOTS 4

/* cuBLAS workspace: cuBLAS must not allocate during graph capture, so it gets a buffer of its
 * own up front (32 MiB is what NVIDIA recommends for Hopper). */
#define CUDA_BLAS_WORKSPACE_BYTES ((size_t)32 << 20)

/* The two-pass reductions' partial sums (layers.cu): one workspace per lane, since reductions
 * on two lanes may run at once. 4 MiB holds 64 members × 256 chunks × 64 columns of floats. */
#define CUDA_REDUCE_WORKSPACE_BYTES ((size_t)4 << 20)

/* Grid-stride kernels launch at most this many 256-thread blocks per SM: enough resident warps
 * to hide memory latency on each of the 132 SMs without a tail of tiny blocks. */
#define CUDA_BLOCKS_PER_SM 8

typedef struct {
    void (*issue)(void *);
    void *arg;
    cudaGraphExec_t exec;  /* NULL: slot free */
} StepGraph;

/* cuBLASLt plans for gemm_bias_activation, one per distinct shape (a step has about 15; the op
 * tests make about 60), made on first use: descriptors, layouts and the heuristic's algorithm. */
#define CUDA_LT_PLANS 128

/* What a plan depends on: the GemmArgs but the pointers, whose alignment classes stand in for
 * them, the activation and the bias's member stride. No padding, so keys compare with memcmp. */
typedef struct {
    int64_t stride_a, stride_b;
    int trans_a, trans_b, m, n, k, lda, ldb, ldc, batch, act, align, bias_stride;
} LtKey;

typedef struct {
    int used;    /* slot taken */
    int usable;  /* cuBLASLt offered an algorithm: fused; 0: GEMM, then the bias kernel */
    LtKey key;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t layout_a, layout_b, layout_c;
    cublasLtMatmulAlgo_t algo;
} LtPlan;

struct CudaBackend {
    Backend base;
    int device;
    char name[256];
    int cc_major, cc_minor, sm_count;
    size_t total_mem;
    PrecisionKind precision;
    int use_graphs;
    int gemm_epilogues;
    int parallel_nets;

    cudaStream_t stream;     /* the step stream: graphs are captured on it, lanes fork from it */
    cublasHandle_t blas;
    cublasLtHandle_t lt;
    void *blas_workspace;    /* cuBLAS's and cuBLASLt's on the step stream: their calls never overlap */
    void *reduce_workspace;  /* the step stream's reduction partials (CUDA_REDUCE_WORKSPACE_BYTES) */

    /* Where step operations go: the step stream and its cuBLAS handle and workspace, or those
     * of the lane that lane() chose inside fork/join. */
    cudaStream_t op_stream;
    cublasHandle_t op_blas;
    void *op_workspace;
    void *op_reduce;
    /* Lanes 1.. (lane 0 is the step stream itself), each with a cuBLAS handle and workspace of
     * its own, since concurrent GEMMs must not share a workspace. Created only with parallel_nets. */
    int lanes_open;          /* lanes of the open fork; 0: none */
    cudaStream_t lane_stream[BACKEND_MAX_LANES];
    cublasHandle_t lane_blas[BACKEND_MAX_LANES];
    void *lane_workspace[BACKEND_MAX_LANES];
    void *lane_reduce[BACKEND_MAX_LANES];
    cudaEvent_t fork_event, lane_done[BACKEND_MAX_LANES];
    cudaEvent_t lane_mark[BACKEND_MAX_LANES];  /* lane_wait: the source lane's point so far */
    LtPlan lt_plans[CUDA_LT_PLANS];
    int64_t lt_fused_calls, lt_unfused_calls;  /* gemm_bias_activation calls issued each way */

    cudaEvent_t stamps[BACKEND_TIME_SLOTS];  /* time_mark / time_elapsed */

    StepGraph graphs[CUDA_GRAPH_SLOTS];
    int next_graph_slot;
    StepGraph warmed[CUDA_GRAPH_SLOTS];  /* step functions already run once eagerly (exec unused) */
    int next_warmed;

    Replay *host_replays;    /* host-memory replays, whose copy streams run_step joins */
    struct ncclComm *nccl;   /* data parallel: allreduce_sum's communicator (allreduce.cu); NULL otherwise */

    int failed;              /* sticky: the first failure of an asynchronous op */
    Error error;
};

/* Blocks for a grid-stride kernel over `items` work items with `threads` threads per block. */
static inline unsigned cuda_grid(const CudaBackend *cb, int64_t items, int threads) {
    int64_t blocks = (items + threads - 1) / threads;
    int64_t cap = (int64_t)cb->sm_count * CUDA_BLOCKS_PER_SM;
    if (blocks > cap) blocks = cap;
    return (unsigned)(blocks > 0 ? blocks : 1);
}

/* 1 when p may be read and written as float4 (16-byte aligned). */
static inline int cuda_aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

/* Drops every captured graph: after a buffer or replay they may point at is freed, the next
 * run_step captures again. */
void cuda_drop_graphs(CudaBackend *cb);

/* graph.cu */
void cuda_run_step(Backend *b, void (*issue)(void *), void *arg);

/* lanes.cu: fork/join, and the lanes' streams and handles */
int cuda_lanes_create(CudaBackend *cb, Error *err);
void cuda_lanes_destroy(CudaBackend *cb);
void cuda_fork(Backend *b, int lanes);
void cuda_lane(Backend *b, int index);
void cuda_lane_wait(Backend *b, int waiter, int source);
void cuda_join(Backend *b);

/* gemm.cu, gemm_epilogue.cu */
void cuda_gemm(Backend *b, const GemmArgs *g);
void cuda_gemm_bias_activation(Backend *b, const GemmArgs *g, const float *bias, int64_t bias_stride, Activation act);
void cuda_lt_plans_destroy(CudaBackend *cb);

/* layers.cu */
void cuda_bias_activation(Backend *b, float *y, const float *bias, int64_t bias_stride, int members, int rows, int cols,
                          Activation act);
void cuda_relu_backward(Backend *b, float *dy, const float *y, int64_t n);
void cuda_column_sums(Backend *b, float *out, const float *in, int members, int rows, int cols);
void cuda_row_sums(Backend *b, float *out, const float *in, int64_t rows, int cols);

/* heads.cu */
void cuda_value_critic_heads(Backend *b, const HeadsArgs *h);
void cuda_policy_head(Backend *b, const PolicyHeadArgs *h);

/* optim.cu */
void cuda_prepare_step(Backend *b, StepScalars *scalars, const LrSchedule schedule[LR_GROUP_COUNT], double beta1,
                       double beta2);
void cuda_finish_step(Backend *b, StepScalars *scalars);
void cuda_adamw(Backend *b, const AdamWArgs *a);
void cuda_polyak(Backend *b, float *target, const float *online, float rho, int64_t n);
void cuda_copy(Backend *b, float *dst, const float *src, int64_t n);
void cuda_init_uniform(Backend *b, float *dst, int64_t n, float bound, uint64_t seed, uint64_t subsequence);

/* allreduce.cu: NCCL, made from the run's Comm (collective), and the step's all-reduce */
int cuda_comm_create(CudaBackend *cb, Comm *comm, Error *err);
void cuda_comm_destroy(CudaBackend *cb);
void cuda_comm_status(CudaBackend *cb);  /* records NCCL's asynchronous error, if any */
void cuda_allreduce_sum(Backend *b, float *buf, int64_t n);

/* replay.cu */
Replay *cuda_replay_create(Backend *b, const ReplaySource *src, ReplayKind mode, int batch_rows, Error *err);
void cuda_replay_destroy(Backend *b, Replay *r);
void cuda_sample_batch(Backend *b, Replay *r, const SamplingArgs *args, const StepScalars *scalars, Batch *out);
/* Makes the backend's stream wait for every host replay's copy still in flight (no host sync). */
void cuda_replays_join(CudaBackend *cb);
/* Waits on the host for every host replay's copy stream. */
int cuda_replays_synchronize(CudaBackend *cb, Error *err);

#endif
