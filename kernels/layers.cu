/* layers.cu — the elementwise and reduction ops around the GEMMs of a linear layer:
 * bias + activation (forward), ReLU gradient (backward), column sums (bias gradients) and row
 * sums (the logged statistics). The arithmetic is iql_relu / iql_relu_backward from
 * iql_math.h; the reductions run in a fixed order, without atomics, so a step's result is the
 * same bit for bit on every run. */
#include "cuda_backend.h"  /* defines: CudaBackend, cuda_grid, cuda_aligned16, CUDA_RECORD_LAUNCH */

#define LAYER_THREADS 256

/* ---- bias + activation: y[e,r,c] = act(y[e,r,c] + bias[e,c]) --------------------------------------
 * Memory-bound: one read and one write of y, the bias row comes from L1/L2. When a row's
 * width is a multiple of 4 and both buffers are 16-byte aligned, each thread moves a float4
 * (one 16-byte access; four consecutive columns of one row, so one bias float4). */

__device__ __forceinline__ float add_bias_act(float y, float bias, int relu) {
    float x = y + bias;
    return relu ? iql_relu(x) : x;
}

__global__ void __launch_bounds__(LAYER_THREADS)
bias_activation_vec4_kernel(float4 *y, const float *bias, int64_t n4, int64_t per_member, int cols, int relu) {
    for (int64_t q = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; q < n4; q += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = q * 4;
        int64_t e = i / per_member;
        int c = (int)(i % cols);
        float4 v = y[q];
        float4 bv = *reinterpret_cast<const float4 *>(bias + e * cols + c);
        v.x = add_bias_act(v.x, bv.x, relu);
        v.y = add_bias_act(v.y, bv.y, relu);
        v.z = add_bias_act(v.z, bv.z, relu);
        v.w = add_bias_act(v.w, bv.w, relu);
        y[q] = v;
    }
}

__global__ void __launch_bounds__(LAYER_THREADS)
bias_activation_kernel(float *y, const float *bias, int64_t n, int64_t per_member, int cols, int relu) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t e = i / per_member;
        int c = (int)(i % cols);
        y[i] = add_bias_act(y[i], bias[e * cols + c], relu);
    }
}

void cuda_bias_activation(Backend *b, float *y, const float *bias, int members, int rows, int cols, Activation act) {
    CudaBackend *cb = (CudaBackend *)b;
    int64_t per_member = (int64_t)rows * cols, n = members * per_member;
    if (n <= 0) return;
    int relu = act == ACTIVATION_RELU;
    if (cols % 4 == 0 && cuda_aligned16(y) && cuda_aligned16(bias)) {
        int64_t n4 = n / 4;
        bias_activation_vec4_kernel<<<cuda_grid(cb, n4, LAYER_THREADS), LAYER_THREADS, 0, cb->op_stream>>>(
            reinterpret_cast<float4 *>(y), bias, n4, per_member, cols, relu);
        CUDA_RECORD_LAUNCH(cb, bias_activation_vec4_kernel);
    } else {
        bias_activation_kernel<<<cuda_grid(cb, n, LAYER_THREADS), LAYER_THREADS, 0, cb->op_stream>>>(y, bias, n, per_member,
                                                                                                   cols, relu);
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

/* ---- column sums: out[e,c] = Σ_r in[e,r,c] (bias gradients) ----------------------------------------------
 * One block per (member, tile of 32 columns): a warp reads 32 consecutive floats of a row
 * (one 128-byte transaction), the block's 16 warps take every 16th row, then a fixed-order
 * tree over the 16 partial sums in shared memory. Each float of `in` is read once. Expected
 * bottleneck: latency — at B = 256 rows and 256 columns a member is 256 KB spread over only
 * 8 blocks; the op is a few µs either way, and determinism rules out atomics. The shared
 * array is read along rows of 32 floats, one per bank: no conflicts, no padding needed. */

#define COLSUM_TX 32
#define COLSUM_TY 16

__global__ void __launch_bounds__(COLSUM_TX *COLSUM_TY)
column_sums_kernel(float *out, const float *in, int members, int rows, int cols) {
    __shared__ float part[COLSUM_TY][COLSUM_TX];
    int tx = threadIdx.x, ty = threadIdx.y;
    int c = blockIdx.x * COLSUM_TX + tx;
    for (int e = blockIdx.y; e < members; e += gridDim.y) {
        const float *base = in + (int64_t)e * rows * cols;
        float acc = 0.0f;
        if (c < cols)
            for (int r = ty; r < rows; r += COLSUM_TY) acc += base[(int64_t)r * cols + c];
        part[ty][tx] = acc;
        __syncthreads();
        for (int half = COLSUM_TY / 2; half > 0; half /= 2) {
            if (ty < half) part[ty][tx] += part[ty + half][tx];
            __syncthreads();
        }
        if (ty == 0 && c < cols) out[(int64_t)e * cols + c] = part[0][tx];
        __syncthreads();  /* part is reused by the next member */
    }
}

void cuda_column_sums(Backend *b, float *out, const float *in, int members, int rows, int cols) {
    CudaBackend *cb = (CudaBackend *)b;
    if (members <= 0 || cols <= 0) return;
    dim3 block(COLSUM_TX, COLSUM_TY);
    dim3 grid((unsigned)((cols + COLSUM_TX - 1) / COLSUM_TX), (unsigned)(members < 65535 ? members : 65535));
    column_sums_kernel<<<grid, block, 0, cb->op_stream>>>(out, in, members, rows, cols);
    CUDA_RECORD_LAUNCH(cb, column_sums_kernel);
}

/* ---- row sums: out[r] = Σ_c in[r,c] (logged statistics) ---------------------------------------------------
 * One warp per row: lanes read consecutive columns (coalesced), accumulate in double like the
 * CPU backend, then a fixed butterfly over the 32 lanes. Runs on logging steps only, over
 * P·IQL_STAT_COUNT rows of B: latency-bound and negligible. */

#define ROWSUM_WARPS 8

__global__ void __launch_bounds__(ROWSUM_WARPS * 32)
row_sums_kernel(float *out, const float *in, int64_t rows, int cols) {
    int lane = threadIdx.x & 31;
    int64_t warp = blockIdx.x * (int64_t)ROWSUM_WARPS + threadIdx.x / 32;
    int64_t warps = (int64_t)gridDim.x * ROWSUM_WARPS;
    for (int64_t r = warp; r < rows; r += warps) {  /* uniform per warp: every lane shuffles */
        const float *row = in + r * cols;
        double acc = 0.0;
        for (int c = lane; c < cols; c += 32) acc += row[c];
        for (int offset = 16; offset > 0; offset /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, offset);
        if (lane == 0) out[r] = (float)acc;
    }
}

void cuda_row_sums(Backend *b, float *out, const float *in, int64_t rows, int cols) {
    CudaBackend *cb = (CudaBackend *)b;
    if (rows <= 0) return;
    row_sums_kernel<<<cuda_grid(cb, rows, ROWSUM_WARPS), ROWSUM_WARPS * 32, 0, cb->op_stream>>>(out, in, rows, cols);
    CUDA_RECORD_LAUNCH(cb, row_sums_kernel);
}
