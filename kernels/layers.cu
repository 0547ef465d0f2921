/* layers.cu — the elementwise and reduction ops around the GEMMs of a linear layer:
 * bias + activation (forward), ReLU gradient (backward), column sums (bias gradients) and row
 * sums (the logged statistics). The arithmetic is iql_relu / iql_relu_backward from
 * iql_math.h; the reductions run in a fixed order, without atomics, so a step's result is the
 * same bit for bit on every run. */
#include "cuda_backend.h"  /* defines: CudaBackend, cuda_grid, cuda_aligned16, CUDA_RECORD_LAUNCH */

#define LAYER_THREADS 256

/* ---- bias + activation: y[e,r,c] = act(y[e,r,c] + bias[e·bias_stride + c]) ------------------------
 * Memory-bound: one read and one write of y, the bias row comes from L1/L2. When a row's
 * width and the bias stride are multiples of 4 and both buffers are 16-byte aligned (the
 * aligned model layout's hidden layers), each thread moves a float4 (one 16-byte access; four
 * consecutive columns of one row, so one bias float4). */

__device__ __forceinline__ float add_bias_act(float y, float bias, int relu) {
    float x = y + bias;
    return relu ? iql_relu(x) : x;
}

__global__ void __launch_bounds__(LAYER_THREADS)
bias_activation_vec4_kernel(float4 *y, const float *bias, int64_t bias_stride, int64_t n4, int64_t per_member, int cols,
                            int relu) {
    for (int64_t q = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; q < n4; q += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = q * 4;
        int64_t e = i / per_member;
        int c = (int)(i % cols);
        float4 v = y[q];
        float4 bv = *reinterpret_cast<const float4 *>(bias + e * bias_stride + c);
        v.x = add_bias_act(v.x, bv.x, relu);
        v.y = add_bias_act(v.y, bv.y, relu);
        v.z = add_bias_act(v.z, bv.z, relu);
        v.w = add_bias_act(v.w, bv.w, relu);
        y[q] = v;
    }
}

__global__ void __launch_bounds__(LAYER_THREADS)
bias_activation_kernel(float *y, const float *bias, int64_t bias_stride, int64_t n, int64_t per_member, int cols,
                       int relu) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t e = i / per_member;
        int c = (int)(i % cols);
        y[i] = add_bias_act(y[i], bias[e * bias_stride + c], relu);
    }
}

void cuda_bias_activation(Backend *b, float *y, const float *bias, int64_t bias_stride, int members, int rows, int cols,
                          Activation act) {
    CudaBackend *cb = (CudaBackend *)b;
    int64_t per_member = (int64_t)rows * cols, n = members * per_member;
    if (n <= 0) return;
    int relu = act == ACTIVATION_RELU;
    if (cols % 4 == 0 && (members == 1 || bias_stride % 4 == 0) && cuda_aligned16(y) && cuda_aligned16(bias)) {
        int64_t n4 = n / 4;
        bias_activation_vec4_kernel<<<cuda_grid(cb, n4, LAYER_THREADS), LAYER_THREADS, 0, cb->op_stream>>>(
            reinterpret_cast<float4 *>(y), bias, bias_stride, n4, per_member, cols, relu);
        CUDA_RECORD_LAUNCH(cb, bias_activation_vec4_kernel);
    } else {
        bias_activation_kernel<<<cuda_grid(cb, n, LAYER_THREADS), LAYER_THREADS, 0, cb->op_stream>>>(
            y, bias, bias_stride, n, per_member, cols, relu);
        CUDA_RECORD_LAUNCH(cb, bias_activation_kernel);
    }
}

/* ---- ReLU backward: dy *= (y > 0) ------------------------------------------------------------------------
 * Memory-bound: reads dy and y, writes dy. float4 over the aligned body; the last n % 4
 * elements (or all of them when a buffer is unaligned) go one per thread. */

__global__ void __launch_bounds__(LAYER_THREADS)
relu_backward_kernel(float *dy, const float *y, int64_t n, int vec4) {
    int64_t tid = blockIdx.x * (int64_t)blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
    int64_t n4 = vec4 ? n / 4 : 0;
    float4 *dy4 = reinterpret_cast<float4 *>(dy);
    const float4 *y4 = reinterpret_cast<const float4 *>(y);
    for (int64_t q = tid; q < n4; q += stride) {
        float4 d = dy4[q], v = y4[q];
        d.x = iql_relu_backward(d.x, v.x);
        d.y = iql_relu_backward(d.y, v.y);
        d.z = iql_relu_backward(d.z, v.z);
        d.w = iql_relu_backward(d.w, v.w);
        dy4[q] = d;
    }
    for (int64_t i = n4 * 4 + tid; i < n; i += stride) dy[i] = iql_relu_backward(dy[i], y[i]);
}

void cuda_relu_backward(Backend *b, float *dy, const float *y, int64_t n) {
    CudaBackend *cb = (CudaBackend *)b;
    if (n <= 0) return;
    int vec4 = cuda_aligned16(dy) && cuda_aligned16(y);
    relu_backward_kernel<<<cuda_grid(cb, vec4 ? (n + 3) / 4 : n, LAYER_THREADS), LAYER_THREADS, 0, cb->op_stream>>>(
        dy, y, n, vec4);
    CUDA_RECORD_LAUNCH(cb, relu_backward_kernel);
}

/* ---- column sums: out[e,c] = Σ_r in[e,r,c] (the log σ gradient; any per-column sum) -------------------------
 * Two passes, each block summing a fixed share in a fixed order (no atomics: the same bits on
 * every run, whatever the scheduling). Pass 1: one block per (member, tile of 32 columns,
 * chunk of COLSUM_CHUNK rows); a warp reads 32 consecutive floats of a row (one 128-byte
 * transaction when the tile is full), the block's 8 warps take every 8th row of the chunk,
 * then a fixed-order tree over the 8 partial sums in shared memory, written to the lane's
 * workspace as part[e, chunk, c]. Pass 2: one block per (member, tile) sums its chunks the
 * same way. With B = 65536 rows a member is 256 chunks, so even P = 1 and 6 columns spread
 * over 256 blocks (the old one-block-per-member kernel did 4096 dependent loads per thread on
 * 1 of 132 SMs). Up to COLSUM_CHUNK rows need only pass 1. Expected bottleneck: bandwidth at
 * large P·B (each float read once), latency at small. The chunking depends only on the shape
 * (and the workspace size, a constant), never on the device: the same sums on every GPU. */

#define COLSUM_TX 32
#define COLSUM_TY 8
#define COLSUM_CHUNK 256

/* Sums rows [r0, r1) of column c of `base` (row stride cols) over the block's ty, then the
 * fixed tree; thread ty = 0 returns the result. */
__device__ __forceinline__ float column_block_sum(const float *base, int64_t r0, int64_t r1, int cols, int c,
                                                  float (*part)[COLSUM_TX]) {
    int tx = threadIdx.x, ty = threadIdx.y;
    float acc = 0.0f;
    if (c < cols)
        for (int64_t r = r0 + ty; r < r1; r += COLSUM_TY) acc += base[r * cols + c];
    part[ty][tx] = acc;
    __syncthreads();
    for (int half = COLSUM_TY / 2; half > 0; half /= 2) {
        if (ty < half) part[ty][tx] += part[ty + half][tx];
        __syncthreads();
    }
    float total = part[0][tx];
    __syncthreads();  /* part is reused by the block's next member */
    return total;
}

/* Pass 1 (or the only pass, when chunks = 1: then dst is out). dst[(e·chunks + k)·cols + c]. */
__global__ void __launch_bounds__(COLSUM_TX *COLSUM_TY)
column_sums_partial_kernel(float *dst, const float *in, int members, int64_t rows, int cols, int chunks,
                           int64_t chunk_rows) {
    __shared__ float part[COLSUM_TY][COLSUM_TX];
    int c = blockIdx.x * COLSUM_TX + threadIdx.x, k = blockIdx.y;
    int64_t r0 = k * chunk_rows, r1 = r0 + chunk_rows < rows ? r0 + chunk_rows : rows;
    for (int e = blockIdx.z; e < members; e += gridDim.z) {
        float total = column_block_sum(in + (int64_t)e * rows * cols, r0, r1, cols, c, part);
        if (threadIdx.y == 0 && c < cols) dst[((int64_t)e * chunks + k) * cols + c] = total;
    }
}

/* Pass 2: out[e, c] = Σ_k part[e, k, c], the chunks in the same fixed order. */
__global__ void __launch_bounds__(COLSUM_TX *COLSUM_TY)
column_sums_final_kernel(float *out, const float *partial, int members, int chunks, int cols) {
    __shared__ float part[COLSUM_TY][COLSUM_TX];
    int c = blockIdx.x * COLSUM_TX + threadIdx.x;
    for (int e = blockIdx.z; e < members; e += gridDim.z) {
        float total = column_block_sum(partial + (int64_t)e * chunks * cols, 0, chunks, cols, c, part);
        if (threadIdx.y == 0 && c < cols) out[(int64_t)e * cols + c] = total;
    }
}

/* Chunks of at least COLSUM_CHUNK rows each, as many as the workspace holds partial sums for. */
static int column_chunks(int64_t rows, int64_t members, int cols) {
    int64_t chunks = (rows + COLSUM_CHUNK - 1) / COLSUM_CHUNK;
    int64_t fit = (int64_t)(CUDA_REDUCE_WORKSPACE_BYTES / sizeof(float)) / (members * cols);
    if (chunks > fit) chunks = fit;
    if (chunks > 65535) chunks = 65535;  /* gridDim.y */
    return chunks > 1 ? (int)chunks : 1;
}

void cuda_column_sums(Backend *b, float *out, const float *in, int members, int rows, int cols) {
    CudaBackend *cb = (CudaBackend *)b;
    if (members <= 0 || cols <= 0) return;
    if (rows <= 0) {  /* an empty sum is 0 */
        CUDA_RECORD(cb, cudaMemsetAsync(out, 0, sizeof(float) * (size_t)members * cols, cb->op_stream));
        return;
    }
    int chunks = column_chunks(rows, members, cols);
    int64_t chunk_rows = (rows + chunks - 1) / chunks;
    dim3 block(COLSUM_TX, COLSUM_TY);
    unsigned tiles = (unsigned)((cols + COLSUM_TX - 1) / COLSUM_TX), zs = (unsigned)(members < 65535 ? members : 65535);
    float *dst = chunks > 1 ? (float *)cb->op_reduce : out;
    column_sums_partial_kernel<<<dim3(tiles, (unsigned)chunks, zs), block, 0, cb->op_stream>>>(dst, in, members, rows,
                                                                                               cols, chunks, chunk_rows);
    CUDA_RECORD_LAUNCH(cb, column_sums_partial_kernel);
    if (chunks == 1) return;
    column_sums_final_kernel<<<dim3(tiles, 1, zs), block, 0, cb->op_stream>>>(out, dst, members, chunks, cols);
    CUDA_RECORD_LAUNCH(cb, column_sums_final_kernel);
}

/* ---- row sums: out[r] = Σ_c in[r,c] (logged statistics) ---------------------------------------------------
 * Accumulated in double, like the CPU backend. Two passes again: pass 1 gives each (row, chunk
 * of ROWSUM_CHUNK columns) a block of 256 threads (consecutive threads, consecutive columns:
 * coalesced), each thread summing every 256th column, then a fixed butterfly inside each warp
 * and the 8 warp sums in order; pass 2 sums a row's chunks with one warp. P·IQL_STAT_COUNT rows
 * of B = 65536 are then 16 blocks per row instead of one warp doing 2048 dependent loads. Runs
 * on logging steps only. Short rows (≤ ROWSUM_CHUNK) take pass 1 alone. */

#define ROWSUM_THREADS 256
#define ROWSUM_CHUNK 4096

/* Σ of x over the block, in a fixed order; every thread gets it. */
__device__ __forceinline__ double block_sum(double x) {
    __shared__ double warp_sums[ROWSUM_THREADS / 32];
    for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
    int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
    if (lane == 0) warp_sums[warp] = x;
    __syncthreads();
    double total = 0.0;
    for (int w = 0; w < ROWSUM_THREADS / 32; w++) total += warp_sums[w];
    __syncthreads();  /* warp_sums is reused by the block's next row */
    return total;
}

/* Pass 1 (or the only pass: then part is NULL and the row goes straight to out). */
__global__ void __launch_bounds__(ROWSUM_THREADS)
row_sums_partial_kernel(float *out, double *part, const float *in, int64_t rows, int cols, int chunks, int chunk_cols) {
    int k = blockIdx.x;
    int c0 = k * chunk_cols, c1 = cols - c0 > chunk_cols ? c0 + chunk_cols : cols;
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {  /* uniform per block: every thread syncs */
        const float *row = in + r * cols;
        double acc = 0.0;
        for (int c = c0 + threadIdx.x; c < c1; c += ROWSUM_THREADS) acc += row[c];
        double total = block_sum(acc);
        if (threadIdx.x == 0) {
            if (part) part[r * chunks + k] = total;
            else out[r] = (float)total;
        }
    }
}

/* Pass 2: one warp per row sums its chunks (lane-strided, then a fixed butterfly). */
__global__ void __launch_bounds__(ROWSUM_THREADS)
row_sums_final_kernel(float *out, const double *part, int64_t rows, int chunks) {
    int lane = threadIdx.x & 31;
    int64_t warp = blockIdx.x * (int64_t)(ROWSUM_THREADS / 32) + threadIdx.x / 32;
    int64_t warps = (int64_t)gridDim.x * (ROWSUM_THREADS / 32);
    for (int64_t r = warp; r < rows; r += warps) {  /* uniform per warp: every lane shuffles */
        double acc = 0.0;
        for (int k = lane; k < chunks; k += 32) acc += part[r * chunks + k];
        for (int offset = 16; offset > 0; offset /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, offset);
        if (lane == 0) out[r] = (float)acc;
    }
}

void cuda_row_sums(Backend *b, float *out, const float *in, int64_t rows, int cols) {
    CudaBackend *cb = (CudaBackend *)b;
    if (rows <= 0) return;
    if (cols <= 0) {
        CUDA_RECORD(cb, cudaMemsetAsync(out, 0, sizeof(float) * (size_t)rows, cb->op_stream));
        return;
    }
    int chunks = (cols + ROWSUM_CHUNK - 1) / ROWSUM_CHUNK;
    int64_t fit = (int64_t)(CUDA_REDUCE_WORKSPACE_BYTES / sizeof(double)) / rows;
    if (chunks > fit) chunks = fit > 1 ? (int)fit : 1;  /* longer chunks, never more partial sums than fit */
    int chunk_cols = (cols + chunks - 1) / chunks;
    double *part = chunks > 1 ? (double *)cb->op_reduce : NULL;
    unsigned ys = (unsigned)(rows < 65535 ? rows : 65535);
    row_sums_partial_kernel<<<dim3((unsigned)chunks, ys), ROWSUM_THREADS, 0, cb->op_stream>>>(out, part, in, rows, cols,
                                                                                              chunks, chunk_cols);
    CUDA_RECORD_LAUNCH(cb, row_sums_partial_kernel);
    if (!part) return;
    row_sums_final_kernel<<<cuda_grid(cb, rows * 32, ROWSUM_THREADS), ROWSUM_THREADS, 0, cb->op_stream>>>(out, part, rows,
                                                                                                         chunks);
    CUDA_RECORD_LAUNCH(cb, row_sums_final_kernel);
}
