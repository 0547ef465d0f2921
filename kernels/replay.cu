/* replay.cu — the dataset on the CUDA side, and sample_batch.
 *
 * Two placements (ReplayKind; auto picks device when the data fits in free GPU memory with a
 * margin):
 *
 * device — the dataset is copied into GPU memory once. sample_batch is one kernel: slot i of
 *   batch k draws transition iql_replay_row(args, k, B, i, N) (cuiql/sampling.h: cuRAND's
 *   Philox on the device, the same numbers as the CPU's) and gathers s, s', concat(s, a), a, r, d.
 *
 * host — for datasets larger than the GPU, the dataset stays in pinned, mapped host memory
 *   (cudaHostAlloc), which kernels read over PCIe. Batch k+1 is gathered on the device while
 *   the GPU runs step k:
 *     step stream:  gather(k) ──fork──► … the rest of step k …               ──join──►
 *     copy stream:              └► stage kernel: reads batch k+1's rows from the mapped
 *                                  host memory into a device staging buffer ───┘
 *   and gather(k+1), at the next step, unpacks the staging buffer into the Batch. The Batch and
 *   the staging buffer are the two buffers of the double buffering: the staging buffer is free
 *   again as soon as gather(k) has read it, so the stage kernel of batch k+1 overlaps all of
 *   step k. The stage kernel learns k from a "mirror" header in device memory that gather(k)
 *   writes (step, seed, sequential, rows), so no host-side counter can drift; the staged buffer
 *   carries the header of the batch it holds, and gather(k) uses it only if the header says
 *   batch k with today's arguments. Otherwise (the first step, a step count set by a resume,
 *   changed arguments) gather(k) draws the indices itself and reads the rows straight from the
 *   mapped host memory: on the critical path, same numbers. Correctness never depends on the
 *   prefetch having happened.
 *   Why a kernel, not the host: a host function (one CPU thread in a graph host node) gathers
 *   at a few hundred ns per random row, several ms at B = 65536, longer than the step; many
 *   warps keep many PCIe reads in flight, and nothing of it runs on the host (bench/RESULTS.md §6).
 *
 * Graphs: work in both modes. Host mode captures the fork, the stage kernel and the join
 *   inside the step's graph (a parallel branch); since the staging buffer does not alternate
 *   between steps, one graph serves every step. run_step joins the copy stream back before the
 *   capture ends, and before any eager step, so no wait ever crosses a capture boundary.
 *
 * The CPU backend (src/cpu/backend_cpu.c) is the reference: same indices, same rows. */
#include <curand_kernel.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"  /* defines: CudaBackend, CUDA_RECORD, CUDA_RETURN_IF_ERROR */
#include "cuda_debug.h"    /* declares: cuda_debug_replay_mode */

#define GATHER_WARPS 8

/* What a staged batch holds (and what the last gather drew, in the mirror). 48 bytes, so the
 * packed rows after it start 16-byte aligned. */
typedef struct {
    int64_t step;
    uint64_t seed;
    int32_t sequential;
    int32_t rows;         /* 0: nothing staged */
    int32_t used_staged;  /* mirror only: the gather found this batch staged */
    int32_t slot_offset;  /* SamplingArgs' data-parallel slice: which rows of the global batch */
    int32_t global_rows;
    int32_t reserved[3];
} StageHeader;
static_assert(sizeof(StageHeader) % 16 == 0, "the staged rows start 16-byte aligned");

/* The mirror: the last gather's header, and how many gathers found their batch staged (for
 * the tests; written by the gather kernel, read by the host after a synchronize). */
typedef struct {
    StageHeader last;
    int64_t staged_hits;
    int64_t reserved;
} Mirror;

/* The dataset as a kernel (or the host) reads it. */
typedef struct {
    const float *states;        /* [n_states, S] */
    const uint32_t *state_row;  /* [n] */
    const uint32_t *next_row;   /* [n] */
    const float *actions;       /* [n, A] */
    const float *rewards;       /* [n] */
    const float *terminals;     /* [n] */
    uint32_t n;
    int obs_dim, act_dim;
} ReplayData;

/* A packed batch: header, index[rows], state[rows,S], next_state[rows,S], action[rows,A],
 * reward[rows], terminal[rows]. */
typedef struct {
    StageHeader *header;
    uint32_t *index;
    float *state, *next_state, *action, *reward, *terminal;
} StagedBatch;

__host__ __device__ static inline StagedBatch staged_view(void *base, int rows, int S, int A) {
    char *p = (char *)base;
    StagedBatch v;
    v.header = (StageHeader *)p;
    p += sizeof(StageHeader);
    v.index = (uint32_t *)p;
    p += sizeof(uint32_t) * (size_t)rows;
    v.state = (float *)p;
    p += sizeof(float) * (size_t)rows * S;
    v.next_state = (float *)p;
    p += sizeof(float) * (size_t)rows * S;
    v.action = (float *)p;
    p += sizeof(float) * (size_t)rows * A;
    v.reward = (float *)p;
    p += sizeof(float) * (size_t)rows;
    v.terminal = (float *)p;
    return v;
}

static size_t staged_bytes(int rows, int S, int A) {
    return sizeof(StageHeader) + sizeof(float) * (size_t)rows * (3 + 2 * (size_t)S + A);
}

struct Replay {
    CudaBackend *cb;
    ReplayKind mode;           /* REPLAY_DEVICE or REPLAY_HOST: auto is resolved at creation */
    int batch_rows;
    void *block;               /* the dataset: one cudaMalloc (device) or cudaHostAlloc (host) */
    ReplayData data;           /* as the GPU addresses it */

    /* host mode only */
    Mirror *mirror;            /* device memory: the batch the last gather produced */
    void *stage_dev;           /* device staging buffer, staged_bytes(batch_rows) */
    cudaStream_t copy_stream;
    cudaEvent_t fork, ready;   /* gather done (step stream) / stage kernel done (copy stream) */
    int pending;               /* a stage kernel was issued and the step stream has not joined it */
    Replay *next;              /* the backend's list of host replays */
};

/* ---- the gather kernel ------------------------------------------------------------------------------------
 * One warp per batch row. Lane 0 draws the row's transition and broadcasts it; the lanes then
 * copy the row's S state floats (and S next-state, A action floats) as consecutive 4-byte
 * accesses — coalesced, but rows of S floats start at arbitrary 4-byte offsets, so no float4 —
 * and write the Batch's padding columns (up to state_ld, state_action_ld) as zeros.
 * Expected bottleneck: latency of the dependent reads (index → row number → row), a few µs
 * for B = 256 rows from HBM; over PCIe (host mode without a staged batch) tens of µs. */

__global__ void __launch_bounds__(GATHER_WARPS * 32)
gather_batch_kernel(ReplayData data, const void *staged, Mirror *mirror, SamplingArgs args,
                    const StepScalars *scalars, Batch out) {
    const int lane = threadIdx.x & 31;
    const int S = data.obs_dim, A = data.act_dim, B = out.rows;
    const int ld = out.state_ld, ld_sa = out.state_action_ld;
    const uint64_t step = (uint64_t)scalars->step;

    /* The staged batch is used only if it is exactly batch `step` with these arguments. */
    int use_staged = 0;
    StagedBatch sb = {};
    if (staged) {
        sb = staged_view((void *)staged, B, S, A);
        const StageHeader *h = sb.header;
        use_staged = h->rows == B && (uint64_t)h->step == step && h->seed == args.seed &&
                     h->sequential == args.sequential && h->slot_offset == args.slot_offset &&
                     h->global_rows == args.global_rows;
    }

    for (int i = blockIdx.x * GATHER_WARPS + threadIdx.x / 32; i < B; i += gridDim.x * GATHER_WARPS) {
        const float *s, *s2, *a;
        float r, d;
        uint32_t t;
        if (use_staged) {
            t = sb.index[i];
            s = sb.state + (size_t)i * S;
            s2 = sb.next_state + (size_t)i * S;
            a = sb.action + (size_t)i * A;
            r = sb.reward[i];
            d = sb.terminal[i];
        } else {
            uint32_t drawn = lane == 0 ? iql_replay_row(&args, step, B, i, data.n) : 0;
            t = __shfl_sync(0xffffffffu, drawn, 0);  /* i is uniform per warp: all lanes arrive */
            s = data.states + (size_t)data.state_row[t] * S;
            s2 = data.states + (size_t)data.next_row[t] * S;
            a = data.actions + (size_t)t * A;
            r = data.rewards[t];
            d = data.terminals[t];
        }
        float *o_s = out.state + (size_t)i * ld, *o_s2 = out.next_state + (size_t)i * ld;
        float *o_sa = out.state_action + (size_t)i * ld_sa, *o_a = out.action + (size_t)i * A;
        for (int c = lane; c < ld; c += 32) {
            float x = c < S ? s[c] : 0.0f;
            o_s[c] = x;
            o_s2[c] = c < S ? s2[c] : 0.0f;
            if (c < S) o_sa[c] = x;
        }
        for (int c = S + lane; c < ld_sa; c += 32) o_sa[c] = c < S + A ? a[c - S] : 0.0f;
        for (int c = lane; c < A; c += 32) o_a[c] = a[c];
        if (lane == 0) {
            out.reward[i] = r;
            out.terminal[i] = d;
            out.index[i] = t;
        }
    }

    /* Host mode: say which batch this was, so the stage kernel can stage the next one (it
     * runs after this kernel has completed: ordered by the fork event). */
    if (mirror && blockIdx.x == 0 && threadIdx.x == 0) {
        mirror->last.step = (int64_t)step;
        mirror->last.seed = args.seed;
        mirror->last.sequential = args.sequential;
        mirror->last.slot_offset = args.slot_offset;
        mirror->last.global_rows = args.global_rows;
        mirror->last.rows = B;
        mirror->last.used_staged = use_staged;
        mirror->staged_hits += use_staged;
    }
}

/* ---- the stage kernel (host mode) ----------------------------------------------------------------------------
 * Gathers batch k+1 (k from the mirror) from the mapped host memory into the device staging
 * buffer, packed, with the CPU backend's index rule. One warp per row as in the gather (a
 * row's floats are one coalesced read over PCIe); every read crosses PCIe, so what bounds it
 * is the reads in flight: two dependent round trips per row (row numbers, reward, terminal;
 * then the rows), ≈ 11 sectors of 32 bytes. At B = 65536 (17-dim states, 6-dim actions) that
 * is ≈ 23 MB: predicted 0.5–1 ms, on its own stream beside a ≈ 2.5 ms step. Its grid is kept
 * to half the SMs' worth of 256-thread blocks (stage_blocks), so the step's GEMMs keep room on
 * every SM beside it: waiting on PCIe, more warps would only take their slots
 * (bench/RESULTS.md §6). */

/* Blocks of the stage kernel: enough warps in flight to hide PCIe latency (≈ 500 at 132 SMs),
 * few enough to leave the SMs to the step that runs beside it. */
static unsigned stage_blocks(const CudaBackend *cb, int rows) {
    unsigned blocks = cuda_grid(cb, rows, GATHER_WARPS), cap = (unsigned)(cb->sm_count / 2 > 0 ? cb->sm_count / 2 : 1);
    return blocks < cap ? blocks : cap;
}

__global__ void __launch_bounds__(GATHER_WARPS * 32)
stage_batch_kernel(ReplayData data, const Mirror *mirror, void *stage, int max_rows) {
    const int lane = threadIdx.x & 31;
    const StageHeader last = mirror->last;
    const int B = last.rows, S = data.obs_dim, A = data.act_dim;
    if (B < 1 || B > max_rows) {  /* nothing to stage: the next gather reads the rows itself */
        if (blockIdx.x == 0 && threadIdx.x == 0) ((StageHeader *)stage)->rows = 0;
        return;
    }
    StagedBatch sb = staged_view(stage, B, S, A);
    SamplingArgs args;
    args.sequential = last.sequential;
    args.seed = last.seed;
    args.slot_offset = last.slot_offset;
    args.global_rows = last.global_rows;
    const uint64_t step = (uint64_t)last.step + 1;
    for (int i = blockIdx.x * GATHER_WARPS + threadIdx.x / 32; i < B; i += gridDim.x * GATHER_WARPS) {
        uint32_t drawn = lane == 0 ? iql_replay_row(&args, step, B, i, data.n) : 0;
        uint32_t t = __shfl_sync(0xffffffffu, drawn, 0);
        const float *s = data.states + (size_t)data.state_row[t] * S;
        const float *s2 = data.states + (size_t)data.next_row[t] * S;
        const float *a = data.actions + (size_t)t * A;
        for (int c = lane; c < S; c += 32) {
            sb.state[(size_t)i * S + c] = s[c];
            sb.next_state[(size_t)i * S + c] = s2[c];
        }
        for (int c = lane; c < A; c += 32) sb.action[(size_t)i * A + c] = a[c];
        if (lane == 0) {
            sb.index[i] = t;
            sb.reward[i] = data.rewards[t];
            sb.terminal[i] = data.terminals[t];
        }
    }
    /* The header: read by the next gather only after this whole kernel has completed. */
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        StageHeader h = last;
        h.step = (int64_t)step;
        h.used_staged = 0;
        h.reserved[0] = h.reserved[1] = h.reserved[2] = 0;
        *sb.header = h;
    }
}

void cuda_replays_join(CudaBackend *cb) {
    for (Replay *r = cb->host_replays; r; r = r->next)
        if (r->pending) {
            CUDA_RECORD(cb, cudaStreamWaitEvent(cb->stream, r->ready, 0));
            r->pending = 0;
        }
}

int cuda_replays_synchronize(CudaBackend *cb, Error *err) {
    for (Replay *r = cb->host_replays; r; r = r->next) {
        CUDA_RETURN_IF_ERROR(err, cudaStreamSynchronize(r->copy_stream));
        r->pending = 0;
    }
    return 0;
}

/* ---- sample_batch ------------------------------------------------------------------------------------------- */

void cuda_sample_batch(Backend *b, Replay *r, const SamplingArgs *args, const StepScalars *scalars, Batch *out) {
    CudaBackend *cb = (CudaBackend *)b;
    if (out->rows < 1) return;
    int host = r->mode == REPLAY_HOST;
    if (host && out->rows > r->batch_rows) {
        char text[160];
        snprintf(text, sizeof text, "batch of %d rows from a host replay created for %d", out->rows, r->batch_rows);
        cuda_record_error(cb, "sample_batch", __func__, __FILE__, __LINE__, "invalid argument", text);
        return;
    }
    /* The staging buffer must hold the previous copy in full before this gather reads it. */
    if (host && r->pending) {
        CUDA_RECORD(cb, cudaStreamWaitEvent(cb->stream, r->ready, 0));
        r->pending = 0;
    }
    if (out->state_ld < r->data.obs_dim || out->state_action_ld < r->data.obs_dim + r->data.act_dim) {
        cuda_record_error(cb, "sample_batch", __func__, __FILE__, __LINE__, "invalid argument",
                          "the batch's row strides are narrower than S and S + A");
        return;
    }
    gather_batch_kernel<<<cuda_grid(cb, out->rows, GATHER_WARPS), GATHER_WARPS * 32, 0, cb->stream>>>(
        r->data, host ? r->stage_dev : NULL, host ? r->mirror : NULL, *args, scalars, *out);
    CUDA_RECORD_LAUNCH(cb, gather_batch_kernel);
    if (!host) return;

    /* Stage the next batch while this step runs (see the top of this file). */
    CUDA_RECORD(cb, cudaEventRecord(r->fork, cb->stream));
    CUDA_RECORD(cb, cudaStreamWaitEvent(r->copy_stream, r->fork, 0));
    stage_batch_kernel<<<stage_blocks(cb, out->rows), GATHER_WARPS * 32, 0, r->copy_stream>>>(
        r->data, r->mirror, r->stage_dev, r->batch_rows);
    CUDA_RECORD_LAUNCH(cb, stage_batch_kernel);
    CUDA_RECORD(cb, cudaEventRecord(r->ready, r->copy_stream));
    r->pending = 1;
}

/* ---- creation --------------------------------------------------------------------------------------------------- */

/* Offsets of the dataset's arrays in one allocation, each 256-byte aligned. */
typedef struct {
    size_t states, state_row, next_row, actions, rewards, terminals, total;
} DataLayout;

static size_t align256(size_t x) { return (x + 255) & ~(size_t)255; }

static DataLayout data_layout(const ReplaySource *src) {
    DataLayout l;
    size_t n = (size_t)src->n, S = (size_t)src->obs_dim, A = (size_t)src->act_dim;
    l.states = 0;
    l.state_row = align256(l.states + sizeof(float) * (size_t)src->n_states * S);
    l.next_row = align256(l.state_row + sizeof(uint32_t) * n);
    l.actions = align256(l.next_row + sizeof(uint32_t) * n);
    l.rewards = align256(l.actions + sizeof(float) * n * A);
    l.terminals = align256(l.rewards + sizeof(float) * n);
    l.total = align256(l.terminals + sizeof(float) * n);
    return l;
}

static ReplayData data_view(const ReplaySource *src, const DataLayout *l, void *base) {
    char *p = (char *)base;
    ReplayData d;
    d.states = (const float *)(p + l->states);
    d.state_row = (const uint32_t *)(p + l->state_row);
    d.next_row = (const uint32_t *)(p + l->next_row);
    d.actions = (const float *)(p + l->actions);
    d.rewards = (const float *)(p + l->rewards);
    d.terminals = (const float *)(p + l->terminals);
    d.n = (uint32_t)src->n;
    d.obs_dim = src->obs_dim;
    d.act_dim = src->act_dim;
    return d;
}

/* Copies the source arrays into a buffer laid out by l (device or host memory). */
static int fill_block(CudaBackend *cb, const ReplaySource *src, const DataLayout *l, void *base, int on_device,
                      Error *err) {
    char *p = (char *)base;
    size_t n = (size_t)src->n, S = (size_t)src->obs_dim, A = (size_t)src->act_dim;
    struct {
        size_t offset;
        const void *from;
        size_t bytes;
    } parts[] = {
        {l->states, src->states, sizeof(float) * (size_t)src->n_states * S},
        {l->state_row, src->state_row, sizeof(uint32_t) * n},
        {l->next_row, src->next_row, sizeof(uint32_t) * n},
        {l->actions, src->actions, sizeof(float) * n * A},
        {l->rewards, src->rewards, sizeof(float) * n},
        {l->terminals, src->terminals, sizeof(float) * n},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (on_device)
            CUDA_RETURN_IF_ERROR(err, cudaMemcpyAsync(p + parts[i].offset, parts[i].from, parts[i].bytes,
                                                      cudaMemcpyHostToDevice, cb->stream));
        else
            memcpy(p + parts[i].offset, parts[i].from, parts[i].bytes);
    }
    if (on_device) CUDA_RETURN_IF_ERROR(err, cudaStreamSynchronize(cb->stream));
    return 0;
}

static int setup_device(CudaBackend *cb, Replay *r, const ReplaySource *src, const DataLayout *l, Error *err) {
    cudaError_t e = cudaMalloc(&r->block, l->total);
    if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        r->block = NULL;
        size_t free_bytes = 0, total = 0;
        cudaMemGetInfo(&free_bytes, &total);
        return error_set(err,
                         "replay: the dataset needs %.1f MiB of GPU memory, %.1f MiB free of %.1f MiB "
                         "(replay: host keeps it in host memory)",
                         (double)l->total / (1 << 20), (double)free_bytes / (1 << 20), (double)total / (1 << 20));
    }
    if (e != cudaSuccess)
        return cuda_error_set(err, "cudaMalloc(&r->block, l->total)", __func__, __FILE__, __LINE__,
                              cudaGetErrorName(e), cudaGetErrorString(e));
    if (fill_block(cb, src, l, r->block, 1, err)) return -1;
    r->data = data_view(src, l, r->block);
    return 0;
}

static int setup_host(CudaBackend *cb, Replay *r, const ReplaySource *src, const DataLayout *l, Error *err) {
    /* Mapped, so the kernels read rows directly from it. */
    CUDA_RETURN_IF_ERROR(err, cudaHostAlloc(&r->block, l->total, cudaHostAllocMapped));
    if (fill_block(cb, src, l, r->block, 0, err)) return -1;
    void *dev = NULL;
    CUDA_RETURN_IF_ERROR(err, cudaHostGetDevicePointer(&dev, r->block, 0));
    r->data = data_view(src, l, dev);

    /* The mirror says "no batch yet" (rows 0), the staging buffer "holds nothing" (rows 0). */
    Mirror mirror_init;
    memset(&mirror_init, 0, sizeof mirror_init);
    mirror_init.last.step = -1;
    CUDA_RETURN_IF_ERROR(err, cudaMalloc((void **)&r->mirror, sizeof(Mirror)));
    size_t bytes = staged_bytes(r->batch_rows, src->obs_dim, src->act_dim);
    CUDA_RETURN_IF_ERROR(err, cudaMalloc(&r->stage_dev, bytes));
    CUDA_RETURN_IF_ERROR(err, cudaMemcpyAsync(r->mirror, &mirror_init, sizeof mirror_init, cudaMemcpyHostToDevice, cb->stream));
    CUDA_RETURN_IF_ERROR(err, cudaMemcpyAsync(r->stage_dev, &mirror_init.last, sizeof(StageHeader), cudaMemcpyHostToDevice,
                                              cb->stream));
    CUDA_RETURN_IF_ERROR(err, cudaStreamSynchronize(cb->stream));

    CUDA_RETURN_IF_ERROR(err, cudaStreamCreateWithFlags(&r->copy_stream, cudaStreamNonBlocking));
    CUDA_RETURN_IF_ERROR(err, cudaEventCreateWithFlags(&r->fork, cudaEventDisableTiming));
    CUDA_RETURN_IF_ERROR(err, cudaEventCreateWithFlags(&r->ready, cudaEventDisableTiming));
    return 0;
}

/* auto: device memory when the dataset fits with room to spare for what the run allocates
 * after it (graphs, evaluation): 1 GiB or 5% of the GPU, whichever is more. */
static int resolve_mode(ReplayKind mode, size_t bytes, ReplayKind *out, Error *err) {
    if (mode != REPLAY_AUTO) {
        *out = mode;
        return 0;
    }
    size_t free_bytes = 0, total = 0;
    CUDA_RETURN_IF_ERROR(err, cudaMemGetInfo(&free_bytes, &total));
    size_t margin = total / 20 > ((size_t)1 << 30) ? total / 20 : ((size_t)1 << 30);
    *out = bytes + margin <= free_bytes ? REPLAY_DEVICE : REPLAY_HOST;
    return 0;
}

static void free_replay(Replay *r) {
    /* Teardown: errors are ignored; every stream touching these buffers was synchronised. */
    if (r->mode == REPLAY_HOST) {
        if (r->block) cudaFreeHost(r->block);
    } else if (r->block) {
        cudaFree(r->block);
    }
    if (r->mirror) cudaFree(r->mirror);
    if (r->stage_dev) cudaFree(r->stage_dev);
    if (r->fork) cudaEventDestroy(r->fork);
    if (r->ready) cudaEventDestroy(r->ready);
    if (r->copy_stream) cudaStreamDestroy(r->copy_stream);
    free(r);
}

Replay *cuda_replay_create(Backend *b, const ReplaySource *src, ReplayKind mode, int batch_rows, Error *err) {
    CudaBackend *cb = (CudaBackend *)b;
    if (src->n < 1 || src->n > UINT32_MAX || src->n_states < 1 || src->obs_dim < 1 || src->act_dim < 1) {
        error_set(err, "replay: unusable dataset shape (%lld transitions, %lld states, S = %d, A = %d)",
                  (long long)src->n, (long long)src->n_states, src->obs_dim, src->act_dim);
        return NULL;
    }
    if (batch_rows < 1) {
        error_set(err, "replay: batch size must be at least 1, got %d", batch_rows);
        return NULL;
    }
    Replay *r = (Replay *)calloc(1, sizeof *r);
    if (!r) {
        error_set(err, "out of host memory for the replay");
        return NULL;
    }
    r->cb = cb;
    r->batch_rows = batch_rows;
    DataLayout l = data_layout(src);
    int rc = resolve_mode(mode, l.total, &r->mode, err);
    if (!rc) rc = r->mode == REPLAY_HOST ? setup_host(cb, r, src, &l, err) : setup_device(cb, r, src, &l, err);
    if (rc) {
        error_prefix(err, "CUDA replay (%s memory, %.1f MiB)", r->mode == REPLAY_HOST ? "host" : "device",
                     (double)l.total / (1 << 20));
        free_replay(r);
        return NULL;
    }
    if (r->mode == REPLAY_HOST) {
        r->next = cb->host_replays;
        cb->host_replays = r;
    }
    return r;
}

void cuda_replay_destroy(Backend *b, Replay *r) {
    CudaBackend *cb = (CudaBackend *)b;
    if (!r) return;
    cuda_drop_graphs(cb);  /* a captured graph may gather from this replay */
    CUDA_RECORD(cb, cudaStreamSynchronize(cb->stream));
    if (r->copy_stream) CUDA_RECORD(cb, cudaStreamSynchronize(r->copy_stream));
    for (Replay **p = &cb->host_replays; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    free_replay(r);
}

int cuda_debug_replay_mode(const Replay *r) { return r->mode; }

int64_t cuda_debug_replay_staged_hits(const Replay *r) {
    if (r->mode != REPLAY_HOST) return 0;
    Mirror m;
    if (cudaMemcpy(&m, r->mirror, sizeof m, cudaMemcpyDeviceToHost) != cudaSuccess) {
        cudaGetLastError();
        return -1;
    }
    return m.staged_hits;
}
