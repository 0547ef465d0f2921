/* test_cuda_ops.c — every CUDA backend op against the CPU backend (the oracle), one op at a
 * time, on fresh random inputs of awkward sizes (1, 3, 255, 257 rows, and 65537 for the
 * reductions; several members; widths that are and are not multiples of 4; buffers 16-byte
 * aligned and not), with every output poisoned (NaN) in both backends before the call, so an
 * element the GPU never writes, or one it writes out of bounds, fails.
 *
 * Tolerances come from the arithmetic, per element, never from what some device happened to
 * give (the emulator's "cuBLAS" sums exactly as the CPU does; real cuBLAS does not):
 *   - sums (GEMMs, column and row sums): any summation order, with or without FMA, is within
 *     γ_n·Σ|terms| of the exact sum, so two correct ones are within 2·γ_n·Σ|terms|
 *     (gpu_test_util.h), Σ|terms| computed here in double from the inputs; TF32 GEMMs add the
 *     inputs' rounding to 10 mantissa bits, 2^-9·Σ|a·b|;
 *   - AdamW and Polyak: a few roundings per element, bounded by the magnitudes of the terms
 *     they round (see bound_adamw);
 *   - the loss heads: 1e-5 relative in norm, 1e-4·(|x| + rms) per element: they are exp, log,
 *     tanh of sums of a few terms, where CUDA's libm (≤ 2 ulp) and glibc's (≤ 1 ulp) differ
 *     by a few ulps, amplified at most by β·|adv| ≤ 40 in exp(β·adv): ≤ 1e-5 relative;
 *   - pure data movement and Philox draws: bit for bit.
 * Where the GEMMs are the CPU's own sums (the emulator, CUIQL_EMU_EXACT=1) they must agree
 * bit for bit. A timing test checks only that the backend's stamps are consistent: speed is
 * bench/'s business, never a test's.
 * Exits 77 (skipped) when no CUDA device is usable. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_debug.h"
#include "cuiql/philox.h"
#include "gpu_test_util.h"
#include "test_util.h"

#define TOL_FP32 1e-5
#define TF32_INPUTS 0x1.02p-9  /* both operands rounded (or truncated) to 10 mantissa bits */

typedef enum { FP32, TF32 } Arith;

/* The per-element bound of a GEMM result, from |alpha|·Σ|a·b| + |beta·c0| over its terms. */
static double gemm_bound(double abs_products, double abs_rest, int k, Arith arith) {
    if (gemm_exact()) return 0;
    double b = 2 * gamma_n(k + 2, FP32_U) * (abs_products + abs_rest);
    return arith == TF32 ? b + TF32_INPUTS * abs_products : b;
}

static const int rows_set[] = {1, 3, 255, 257};
#define N_ROWS (int)(sizeof rows_set / sizeof rows_set[0])

/* ---- gemm ----------------------------------------------------------------------------------------- */

/* One strided-batched GEMM in both backends. share: 0 none, 1 A shared (stride 0), 2 B shared.
 * pad adds to every leading dimension; beta = 0 poisons C first (BLAS never reads it then). */
static void gemm_case(Backends *bk, int m, int n, int k, int ta, int tb, int share, int batch, int pad, float alpha,
                      float beta, Arith arith, const char *label) {
    int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    int64_t rows_a = ta ? k : m, rows_b = tb ? n : k;
    int64_t sa = share == 1 ? 0 : rows_a * lda, sb = share == 2 ? 0 : rows_b * ldb, sc = (int64_t)m * ldc;
    Mirror A = mirror_new(bk, (size_t)((batch - 1) * sa + rows_a * lda), 0);
    Mirror B = mirror_new(bk, (size_t)((batch - 1) * sb + rows_b * ldb), 0);
    Mirror C = mirror_new(bk, (size_t)(batch * sc), 0);
    mirror_fill(bk, &A, -1, 1);
    mirror_fill(bk, &B, -1, 1);
    /* beta = 0: C starts as NaN, so every element must be written, and the padding columns
     * (left NaN by the CPU) must stay untouched on the GPU too. */
    if (beta == 0)
        mirror_poison(bk, &C);
    else
        mirror_fill(bk, &C, -1, 1);
    /* the bound of each element, from the inputs (the CPU side's memory is the host's) */
    double *bound = malloc(sizeof(double) * C.n);
    for (size_t i = 0; i < C.n; i++) bound[i] = 0;
    for (int e = 0; e < batch; e++)
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++) {
                double sum = 0;
                for (int l = 0; l < k; l++) {
                    float a = A.cpu[e * sa + (ta ? (int64_t)l * lda + r : (int64_t)r * lda + l)];
                    float b = B.cpu[e * sb + (tb ? (int64_t)c * ldb + l : (int64_t)l * ldb + c)];
                    sum += fabs((double)a * b);
                }
                size_t i = (size_t)(e * sc + (int64_t)r * ldc + c);
                bound[i] = gemm_bound(fabs(alpha) * sum, beta != 0 ? fabs(beta * C.cpu[i]) : 0, k, arith);
            }
    GemmArgs g = {.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k, .alpha = alpha, .beta = beta,
                  .lda = lda, .stride_a = sa, .ldb = ldb, .stride_b = sb, .ldc = ldc, .stride_c = sc, .batch = batch};
    g.a = A.cpu, g.b = B.cpu, g.c = C.cpu;
    bk->cpu->ops->gemm(bk->cpu, &g);
    g.a = A.gpu, g.b = B.gpu, g.c = C.gpu;
    bk->gpu->ops->gemm(bk->gpu, &g);
    char what[200];
    snprintf(what, sizeof what, "gemm %s m=%d n=%d k=%d ta=%d tb=%d share=%d batch=%d pad=%d beta=%g", label, m, n, k, ta,
             tb, share, batch, pad, beta);
    mirror_check_bound(bk->gpu, &C, bound, what);
    free(bound);
    mirror_free(bk, &A);
    mirror_free(bk, &B);
    mirror_free(bk, &C);
}

static void test_gemm(Backends *bk, Arith tol, const char *label) {
    static const int other[] = {1, 3, 64, 257};
    int c = 0;
    for (int si = 0; si < N_ROWS; si++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int share = 0; share < 3; share++, c++) {
                    int m = rows_set[si], n = other[(si + c) % 4], k = other[(si + 2 * c + 1) % 4];
                    int batch = c % 2 ? 3 : 1 + share;  /* sharing needs batch > 1 to mean anything */
                    int pad = c % 3 == 0 ? 2 : 0;
                    int beta0 = c % 2 == 0;
                    gemm_case(bk, m, n, k, ta, tb, share, batch, pad, beta0 ? 1.0f : 0.5f, beta0 ? 0.0f : 0.75f, tol,
                              label);
                }
    /* The trainer's shapes: forward (X·Wᵀ, shared input), dW = dYᵀ·X, dX = dY·W. */
    gemm_case(bk, 256, 256, 17, 0, 1, 1, 4, 0, 1, 0, tol, label);
    gemm_case(bk, 256, 17, 256, 1, 0, 2, 4, 0, 1, 0, tol, label);
    gemm_case(bk, 256, 17, 256, 0, 0, 0, 4, 0, 1, 0, tol, label);
}

/* gemm_bias_activation on a layer's shapes (X·Wᵀ + b, input shared by the members or not),
 * buffers 16-byte aligned and not, members' biases bias_stride apart, in the backend bk was
 * opened with. Bound: the GEMM's, with the bias as one more term (ReLU is 1-Lipschitz). */
static void layer_case(Backends *bk, int rows, int in, int out, int members, int shared, int offset, int bias_stride,
                       int act, Arith arith, const char *label) {
    Mirror X = mirror_new(bk, (size_t)(shared ? 1 : members) * rows * in, offset);
    Mirror W = mirror_new(bk, (size_t)members * out * in, offset);
    Mirror bias = mirror_new(bk, (size_t)members * bias_stride, offset);
    Mirror Y = mirror_new(bk, (size_t)members * rows * out, offset);
    mirror_fill(bk, &X, -1, 1);
    mirror_fill(bk, &W, -1, 1);
    mirror_fill(bk, &bias, -1, 1);
    mirror_poison(bk, &Y);
    double *bound = malloc(sizeof(double) * Y.n);
    for (int e = 0; e < members; e++)
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < out; c++) {
                const float *x = X.cpu + (size_t)(shared ? 0 : e) * rows * in + (size_t)r * in;
                const float *w = W.cpu + ((size_t)e * out + c) * in;
                double sum = 0;
                for (int l = 0; l < in; l++) sum += fabs((double)x[l] * w[l]);
                bound[((size_t)e * rows + r) * out + c] = gemm_bound(sum, fabs(bias.cpu[(size_t)e * bias_stride + c]), in + 1, arith);
            }
    GemmArgs g = {.trans_a = 0, .trans_b = 1, .m = rows, .n = out, .k = in, .alpha = 1, .beta = 0,
                  .lda = in, .stride_a = shared ? 0 : (int64_t)rows * in, .ldb = in, .stride_b = (int64_t)out * in,
                  .ldc = out, .stride_c = (int64_t)rows * out, .batch = members};
    Activation a = act ? ACTIVATION_RELU : ACTIVATION_NONE;
    g.a = X.cpu, g.b = W.cpu, g.c = Y.cpu;
    bk->cpu->ops->gemm_bias_activation(bk->cpu, &g, bias.cpu, bias_stride, a);
    g.a = X.gpu, g.b = W.gpu, g.c = Y.gpu;
    bk->gpu->ops->gemm_bias_activation(bk->gpu, &g, bias.gpu, bias_stride, a);
    char what[200];
    snprintf(what, sizeof what, "gemm_bias_activation %s rows=%d in=%d out=%d E=%d shared=%d offset=%d bias_stride=%d relu=%d",
             label, rows, in, out, members, shared, offset, bias_stride, act);
    mirror_check_bound(bk->gpu, &Y, bound, what);
    free(bound);
    mirror_free(bk, &X), mirror_free(bk, &W), mirror_free(bk, &bias), mirror_free(bk, &Y);
}

static int round4(int x) { return (x + 3) / 4 * 4; }

/* With epilogues on, the trainer's aligned shapes (the aligned layout: 16-byte buffers, bias
 * strides of a multiple of 4) must really take the fused path in tf32 (otherwise this test
 * would pass on the fallback alone); unaligned ones and packed [E, 1] biases must fall back. In
 * fp32 cuBLASLt may offer no algorithm with a bias epilogue (its fp32 kernels are not
 * tensor-core ones): then the counts say so, and --gemm-epilogues does nothing in fp32. */
static void test_gemm_bias_activation(Backends *bk, int epilogues, int must_fuse, Arith arith, const char *label) {
    static const int widths[][2] = {{17, 256}, {256, 256}, {256, 1}, {256, 6}, {23, 256}, {3, 5}, {257, 129}};
    int64_t fused0, unfused0, fused1, unfused1;
    cuda_debug_epilogue_calls(bk->gpu, &fused0, &unfused0);
    for (int w = 0; w < 7; w++)
        for (int ri = 0; ri < N_ROWS; ri++)
            for (int act = 0; act < 2; act++)
                layer_case(bk, rows_set[ri], widths[w][0], widths[w][1], ri % 2 ? 2 : 4, (ri + act) % 2, 0,
                           act ? round4(widths[w][1]) : widths[w][1], act, arith, label);
    /* The trainer's shapes at B = 256 and E = 2 critics, aligned: the padded first layer (24),
     * a hidden layer, the output layer with its bias stride of 4. */
    cuda_debug_epilogue_calls(bk->gpu, &fused1, &unfused1);
    int64_t before_trainer = fused1;
    layer_case(bk, 256, 24, 256, 2, 1, 0, 256, 1, arith, label);
    layer_case(bk, 256, 256, 256, 2, 0, 0, 256, 1, arith, label);
    layer_case(bk, 256, 256, 1, 2, 0, 0, 4, 0, arith, label);
    cuda_debug_epilogue_calls(bk->gpu, &fused1, &unfused1);
    int64_t aligned_fused = fused1 - before_trainer;
    /* Never fused: unaligned buffers, and a packed [E, 1] bias (member 1 at 4 bytes). */
    for (int offset = 1; offset < 3; offset++) layer_case(bk, 255, 17, 256, 3, 1, offset, 256, 1, arith, label);
    layer_case(bk, 256, 256, 1, 2, 0, 0, 1, 0, arith, label);
    int64_t fused2, unfused2;
    cuda_debug_epilogue_calls(bk->gpu, &fused2, &unfused2);
    printf("gemm_bias_activation %s: %lld calls fused, %lld as GEMM + bias kernel\n", label, (long long)(fused2 - fused0),
           (long long)(unfused2 - unfused0));
    CHECK(fused2 == fused1, "%s: %lld calls with a 4- or 8-byte aligned bias took the cuBLASLt path", label,
          (long long)(fused2 - fused1));
    if (!epilogues)
        CHECK(fused2 == fused0, "epilogues off, yet %lld calls took the cuBLASLt path", (long long)(fused2 - fused0));
    else if (must_fuse)
        CHECK(aligned_fused >= 3, "epilogues on, but cuBLASLt fused only %lld of the aligned trainer-shaped calls",
              (long long)aligned_fused);
}

/* ---- layers ------------------------------------------------------------------------------------------ */

static void test_bias_activation(Backends *bk) {
    static const int cols_set[] = {1, 4, 5, 256, 257};
    for (int members = 1; members <= 3; members += 2)
        for (int ri = 0; ri < N_ROWS; ri++)
            for (int ci = 0; ci < 5; ci++)
                for (int offset = 0; offset < 2; offset++)
                    for (int act = 0; act < 2; act++) {
                        int rows = rows_set[ri], cols = cols_set[ci];
                        Mirror y = mirror_new(bk, (size_t)members * rows * cols, offset);
                        /* packed biases, and strides of a multiple of 4 longer than a row (the
                         * aligned layout's, and the float4 path with members apart by more) */
                        int bias_stride = act ? round4(cols) + 4 * (offset == 0) : cols;
                        Mirror bias = mirror_new(bk, (size_t)members * bias_stride, offset);
                        mirror_fill(bk, &y, -1, 1);
                        mirror_fill(bk, &bias, -1, 1);
                        Activation a = act ? ACTIVATION_RELU : ACTIVATION_NONE;
                        bk->cpu->ops->bias_activation(bk->cpu, y.cpu, bias.cpu, bias_stride, members, rows, cols, a);
                        bk->gpu->ops->bias_activation(bk->gpu, y.gpu, bias.gpu, bias_stride, members, rows, cols, a);
                        char what[160];
                        snprintf(what, sizeof what, "bias_activation E=%d rows=%d cols=%d bias_stride=%d offset=%d relu=%d",
                                 members, rows, cols, bias_stride, offset, act);
                        mirror_check(bk->gpu, &y, 0, what);
                        mirror_free(bk, &y);
                        mirror_free(bk, &bias);
                    }
}

static void test_relu_backward(Backends *bk) {
    static const int64_t sizes[] = {1, 3, 255, 257, 100003};
    for (int si = 0; si < 5; si++)
        for (int offset = 0; offset < 2; offset++) {
            int64_t n = sizes[si];
            Mirror dy = mirror_new(bk, (size_t)n, offset), y = mirror_new(bk, (size_t)n, offset);
            mirror_fill(bk, &dy, -1, 1);
            float *h = malloc(sizeof(float) * n);
            for (int64_t i = 0; i < n; i++) h[i] = i % 7 == 0 ? 0.0f : test_rand(-1, 1);  /* exact zeros too */
            mirror_set(bk, &y, h);
            free(h);
            bk->cpu->ops->relu_backward(bk->cpu, dy.cpu, y.cpu, n);
            bk->gpu->ops->relu_backward(bk->gpu, dy.gpu, y.gpu, n);
            char what[96];
            snprintf(what, sizeof what, "relu_backward n=%lld offset=%d", (long long)n, offset);
            mirror_check(bk->gpu, &dy, 0, what);
            mirror_free(bk, &dy);
            mirror_free(bk, &y);
        }
}

/* column_sums, bound 2·γ_rows·Σ_r|x| per sum. Rows up to 65537: more than one chunk of the
 * two-pass kernel (256 rows), an uneven last chunk, and P = 3 members side by side. */
static void column_sums_case(Backends *bk, int members, int rows, int cols) {
    Mirror in = mirror_new(bk, (size_t)members * rows * cols, 0), out = mirror_new(bk, (size_t)members * cols, 0);
    mirror_fill(bk, &in, -1, 1);
    mirror_poison(bk, &out);
    double *bound = malloc(sizeof(double) * out.n);
    for (int e = 0; e < members; e++)
        for (int c = 0; c < cols; c++) {
            double sum = 0;
            for (int r = 0; r < rows; r++) sum += fabs(in.cpu[((size_t)e * rows + r) * cols + c]);
            bound[(size_t)e * cols + c] = 2 * gamma_n(rows, FP32_U) * sum;
        }
    bk->cpu->ops->column_sums(bk->cpu, out.cpu, in.cpu, members, rows, cols);
    bk->gpu->ops->column_sums(bk->gpu, out.gpu, in.gpu, members, rows, cols);
    char what[96];
    snprintf(what, sizeof what, "column_sums E=%d rows=%d cols=%d", members, rows, cols);
    mirror_check_bound(bk->gpu, &out, bound, what);
    free(bound);
    mirror_free(bk, &in);
    mirror_free(bk, &out);
}

static void test_column_sums(Backends *bk) {
    static const int cols_set[] = {1, 3, 32, 33, 256};
    for (int members = 1; members <= 3; members++)
        for (int ri = 0; ri < N_ROWS; ri++)
            for (int ci = 0; ci < 5; ci++) column_sums_case(bk, members, rows_set[ri], cols_set[ci]);
    column_sums_case(bk, 1, 4096, 6);    /* 16 chunks of 256 */
    column_sums_case(bk, 3, 65537, 6);   /* the log σ gradient at B = 65536 (+ a ragged chunk) */
    column_sums_case(bk, 2, 1000, 33);   /* chunks of 250 rows, two column tiles */
}

/* row_sums in double: bound 2·γ_cols(double)·Σ|x| for the two sums, then one float ulp each
 * for rounding them to float. Up to 65537 columns: several chunks of the two-pass kernel. */
static void test_row_sums(Backends *bk) {
    static const int64_t rows_list[] = {1, 3, 255, 257, 3 * IQL_STAT_COUNT};
    static const int cols_list[] = {1, 3, 255, 257, 1000, 4097, 65537};
    for (int ri = 0; ri < 5; ri++)
        for (int ci = 0; ci < 7; ci++) {
            int64_t rows = rows_list[ri];
            int cols = cols_list[ci];
            if ((int64_t)rows * cols > 4000000) continue;  /* a few million floats is enough */
            Mirror in = mirror_new(bk, (size_t)rows * cols, 0), out = mirror_new(bk, (size_t)rows, 0);
            mirror_fill(bk, &in, -1, 2);
            mirror_poison(bk, &out);
            double *bound = malloc(sizeof(double) * rows);
            for (int64_t r = 0; r < rows; r++) {
                double sum = 0, abs_sum = 0;
                for (int c = 0; c < cols; c++) sum += in.cpu[r * cols + c], abs_sum += fabs(in.cpu[r * cols + c]);
                bound[r] = 2 * gamma_n(cols, 0x1p-53) * abs_sum + 2 * 0x1p-24 * fabs(sum) * (1 + 1e-6);
            }
            bk->cpu->ops->row_sums(bk->cpu, out.cpu, in.cpu, rows, cols);
            bk->gpu->ops->row_sums(bk->gpu, out.gpu, in.gpu, rows, cols);
            char what[96];
            snprintf(what, sizeof what, "row_sums rows=%lld cols=%d", (long long)rows, cols);
            mirror_check_bound(bk->gpu, &out, bound, what);
            free(bound);
            mirror_free(bk, &in);
            mirror_free(bk, &out);
        }
}

/* ---- heads --------------------------------------------------------------------------------------------- */

static void test_value_critic_heads(Backends *bk) {
    for (int P = 1; P <= 3; P += 2)
        for (int ri = 0; ri < N_ROWS; ri++)
            for (int vt = 0; vt < 2; vt++)
                for (int qs = 0; qs < 2; qs++) {
                    int B = rows_set[ri];
                    Mirror v = mirror_new(bk, (size_t)P * B, 0), v_next = mirror_new(bk, (size_t)P * B, 0);
                    Mirror q = mirror_new(bk, (size_t)2 * P * B, 0), q_hat = mirror_new(bk, (size_t)2 * P * B, 0);
                    Mirror reward = mirror_new(bk, (size_t)B, 0), terminal = mirror_new(bk, (size_t)B, 0);
                    Mirror tau = mirror_new(bk, (size_t)P, 0), beta = mirror_new(bk, (size_t)P, 0);
                    Mirror dv = mirror_new(bk, (size_t)P * B, 0), dq = mirror_new(bk, (size_t)2 * P * B, 0);
                    Mirror weight = mirror_new(bk, (size_t)P * B, 0);
                    Mirror stats = mirror_new(bk, (size_t)P * IQL_STAT_COUNT * B, 0);
                    mirror_fill(bk, &v, -2, 2);
                    mirror_fill(bk, &v_next, -2, 2);
                    mirror_fill(bk, &q, -2, 2);
                    mirror_fill(bk, &q_hat, -2, 2);  /* advantages up to ±4: with β up to 10 many weights clip */
                    mirror_fill(bk, &reward, -1, 1);
                    float *d = malloc(sizeof(float) * B);
                    for (int i = 0; i < B; i++) d[i] = test_rand(0, 1) < 0.2f ? 1.0f : 0.0f;
                    mirror_set(bk, &terminal, d);
                    free(d);
                    mirror_fill(bk, &tau, 0.5f, 0.95f);
                    mirror_fill(bk, &beta, 0.5f, 10.0f);
                    mirror_poison(bk, &dv);
                    mirror_poison(bk, &dq);
                    mirror_poison(bk, &weight);
                    mirror_poison(bk, &stats);
                    HeadsArgs h = {.members = P, .rows = B, .discount = 0.99f, .adv_clip = 100.0f,
                                   .q_scale = qs ? 1.0f : 0.5f, .value_target_q = vt};
                    h.v = v.cpu, h.v_next = v_next.cpu, h.q = q.cpu, h.q_hat = q_hat.cpu, h.reward = reward.cpu;
                    h.terminal = terminal.cpu, h.tau = tau.cpu, h.beta = beta.cpu, h.dv = dv.cpu, h.dq = dq.cpu;
                    h.weight = weight.cpu, h.stats = stats.cpu;
                    bk->cpu->ops->value_critic_heads(bk->cpu, &h);
                    h.v = v.gpu, h.v_next = v_next.gpu, h.q = q.gpu, h.q_hat = q_hat.gpu, h.reward = reward.gpu;
                    h.terminal = terminal.gpu, h.tau = tau.gpu, h.beta = beta.gpu, h.dv = dv.gpu, h.dq = dq.gpu;
                    h.weight = weight.gpu, h.stats = stats.gpu;
                    bk->gpu->ops->value_critic_heads(bk->gpu, &h);
                    char what[128];
                    const char *names[] = {"dv", "dq", "weight", "stats"};
                    Mirror *outs[] = {&dv, &dq, &weight, &stats};
                    for (int o = 0; o < 4; o++) {
                        snprintf(what, sizeof what, "value_critic_heads %s P=%d B=%d value_target_q=%d q_scale=%g",
                                 names[o], P, B, vt, h.q_scale);
                        mirror_check(bk->gpu, outs[o], TOL_FP32, what);
                    }
                    Mirror *all[] = {&v, &v_next, &q, &q_hat, &reward, &terminal, &tau, &beta, &dv, &dq, &weight, &stats};
                    for (int o = 0; o < 12; o++) mirror_free(bk, all[o]);
                }
}

static void test_policy_head(Backends *bk) {
    static const int act_set[] = {1, 3, 6, 17};
    for (int P = 1; P <= 3; P += 2)
        for (int ri = 0; ri < N_ROWS; ri++)
            for (int ai = 0; ai < 4; ai++)
                for (int det = 0; det < 2; det++) {
                    int B = rows_set[ri], A = act_set[ai];
                    float max_action = ai % 2 ? 2.5f : 1.0f;
                    Mirror pre = mirror_new(bk, (size_t)P * B * A, 0), log_std = mirror_new(bk, (size_t)P * A, 0);
                    Mirror action = mirror_new(bk, (size_t)B * A, 0), weight = mirror_new(bk, (size_t)P * B, 0);
                    Mirror dpre = mirror_new(bk, (size_t)P * B * A, 0), dls = mirror_new(bk, (size_t)P * B * A, 0);
                    Mirror stats = mirror_new(bk, (size_t)P * IQL_STAT_COUNT * B, 0);
                    mirror_fill(bk, &pre, -3, 3);
                    mirror_fill(bk, &log_std, -7, 3);  /* both sides of the clamp [−5, 2] */
                    mirror_fill(bk, &action, -max_action, max_action);
                    mirror_fill(bk, &weight, 0, 100);
                    mirror_poison(bk, &dpre);
                    mirror_poison(bk, &dls);
                    mirror_poison(bk, &stats);
                    PolicyHeadArgs h = {.members = P, .rows = B, .act_dim = A, .deterministic = det,
                                        .max_action = max_action, .log_std_min = -5.0f, .log_std_max = 2.0f};
                    h.pre = pre.cpu, h.log_std = log_std.cpu, h.action = action.cpu, h.weight = weight.cpu;
                    h.dpre = dpre.cpu, h.dlog_std_elem = dls.cpu, h.stats = stats.cpu;
                    bk->cpu->ops->policy_head(bk->cpu, &h);
                    h.pre = pre.gpu, h.log_std = log_std.gpu, h.action = action.gpu, h.weight = weight.gpu;
                    h.dpre = dpre.gpu, h.dlog_std_elem = dls.gpu, h.stats = stats.gpu;
                    bk->gpu->ops->policy_head(bk->gpu, &h);
                    char what[128];
                    const char *names[] = {"dpre", "dlog_std_elem", "stats"};
                    Mirror *outs[] = {&dpre, &dls, &stats};
                    for (int o = 0; o < 3; o++) {
                        snprintf(what, sizeof what, "policy_head %s P=%d B=%d A=%d deterministic=%d", names[o], P, B, A,
                                 det);
                        mirror_check(bk->gpu, outs[o], TOL_FP32, what);
                    }
                    Mirror *all[] = {&pre, &log_std, &action, &weight, &dpre, &dls, &stats};
                    for (int o = 0; o < 7; o++) mirror_free(bk, all[o]);
                }
}

/* ---- optimiser ----------------------------------------------------------------------------------------- */

/* StepScalars in both backends' memory. */
typedef struct {
    StepScalars *cpu, *gpu;
} ScalarPair;

static ScalarPair scalars_new(Backends *bk, int64_t step) {
    Error err;
    ScalarPair s = {bk->cpu->ops->alloc(bk->cpu, sizeof(StepScalars), &err),
                    bk->gpu->ops->alloc(bk->gpu, sizeof(StepScalars), &err)};
    if (!s.cpu || !s.gpu) {
        fprintf(stderr, "alloc: %s\n", err.msg);
        exit(1);
    }
    StepScalars h = {.step = step};
    bk->cpu->ops->upload(bk->cpu, s.cpu, &h, sizeof h, &err);
    bk->gpu->ops->upload(bk->gpu, s.gpu, &h, sizeof h, &err);
    return s;
}

static void scalars_free(Backends *bk, ScalarPair *s) {
    bk->cpu->ops->release(bk->cpu, s->cpu);
    bk->gpu->ops->release(bk->gpu, s->gpu);
}

static void scalars_check(Backends *bk, const ScalarPair *s, const char *what) {
    Error err;
    StepScalars g;
    int rc = bk->gpu->ops->synchronize(bk->gpu, &err) || bk->gpu->ops->download(bk->gpu, &g, s->gpu, sizeof g, &err);
    CHECK(rc == 0, "%s: %s", what, err.msg);
    const StepScalars *c = s->cpu;
    CHECK(g.step == c->step, "%s: step %lld, cpu %lld", what, (long long)g.step, (long long)c->step);
    float gv[5] = {g.lr[0], g.lr[1], g.lr[2], g.bias_correction1, g.bias_correction2};
    float cv[5] = {c->lr[0], c->lr[1], c->lr[2], c->bias_correction1, c->bias_correction2};
    for (int i = 0; i < 5; i++)
        CHECK(fabsf(gv[i] - cv[i]) <= 1e-6f * fabsf(cv[i]), "%s: scalar %d gpu %.9g cpu %.9g", what, i, gv[i], cv[i]);
}

static const LrSchedule schedules[LR_GROUP_COUNT] = {
    {.lr0 = 3e-4f, .lr_min = 1e-6f, .t_max = 100, .steps_per_unit = 10, .cosine = 1},
    {.lr0 = 1e-3f, .lr_min = 0, .t_max = 1000, .steps_per_unit = 1, .cosine = 1},
    {.lr0 = 1e-3f, .lr_min = 0, .t_max = 0, .steps_per_unit = 1, .cosine = 0},
};

static void test_step_scalars(Backends *bk) {
    static const int64_t steps[] = {0, 1, 999, 12345, 1000000};
    for (int i = 0; i < 5; i++) {
        ScalarPair s = scalars_new(bk, steps[i]);
        bk->cpu->ops->prepare_step(bk->cpu, s.cpu, schedules, 0.9, 0.999);
        bk->gpu->ops->prepare_step(bk->gpu, s.gpu, schedules, 0.9, 0.999);
        char what[64];
        snprintf(what, sizeof what, "prepare_step step=%lld", (long long)steps[i]);
        scalars_check(bk, &s, what);
        bk->cpu->ops->finish_step(bk->cpu, s.cpu);
        bk->gpu->ops->finish_step(bk->gpu, s.gpu);
        snprintf(what, sizeof what, "finish_step step=%lld", (long long)steps[i]);
        scalars_check(bk, &s, what);
        scalars_free(bk, &s);
    }
}

/* AdamW's per-element bounds, from its inputs: m' = β1·m + (1 − β1)·g and v' = β2·v + (1 − β2)·g²
 * are a few roundings of their terms (an FMA or not: ≤ 8u and 10u of the terms' magnitudes for
 * the two results together); the step (lr/bc1)·m'/(√v'/√bc2 + ε) then carries m''s error, v''s
 * through the square root (half its relative error) and ≤ 4 roundings of its own; the decayed
 * parameter p·(1 − lr·wd) ≤ 3 roundings. sqrt and division are correctly rounded on both. */
static void adamw_bounds(const AdamWArgs *a, const StepScalars *sc, const float *p0, const float *g, const float *m0,
                         const float *v0, double *bp, double *bm, double *bv) {
    const double u = FP32_U;
    AdamHyper h = a->hyper;
    for (int64_t i = 0; i < a->n; i++) {
        int grp = 0;
        while (grp < LR_GROUP_COUNT && i >= a->group_end[grp]) grp++;
        if (grp == LR_GROUP_COUNT) {  /* past the last group: untouched, so equal */
            bp[i] = bm[i] = bv[i] = 0;
            continue;
        }
        double b1 = h.beta1, b2 = h.beta2, gi = g[i];
        double m_new = b1 * m0[i] + h.one_minus_beta1 * gi, v_new = b2 * v0[i] + h.one_minus_beta2 * gi * gi;
        bm[i] = 8 * u * (fabs(b1 * m0[i]) + fabs(h.one_minus_beta1 * gi));
        bv[i] = 10 * u * (b2 * v0[i] + h.one_minus_beta2 * gi * gi);
        double d = sqrt(v_new) / sqrt((double)sc->bias_correction2) + h.eps, q = fabs(m_new) / d;
        double dq = bm[i] / d + q * (v_new > 0 ? bv[i] / (2 * v_new) : 0) + 4 * u * q;
        double lr_eff = sc->lr[grp] / (double)sc->bias_correction1;
        bp[i] = 6 * u * fabs(p0[i]) + lr_eff * dq + 2 * u * (fabs(p0[i]) + lr_eff * q);
    }
}

static void test_adamw(Backends *bk) {
    static const int64_t sizes[] = {1, 3, 257, 100003};
    for (int si = 0; si < 4; si++)
        for (int offset = 0; offset < 2; offset++)
            for (int variant = 0; variant < 2; variant++) {
                int64_t n = sizes[si];
                Mirror p = mirror_new(bk, (size_t)n, offset), g = mirror_new(bk, (size_t)n, offset);
                Mirror m = mirror_new(bk, (size_t)n, offset), v = mirror_new(bk, (size_t)n, offset);
                mirror_fill(bk, &p, -1, 1);
                mirror_fill(bk, &g, -1, 1);
                mirror_fill(bk, &m, -0.1f, 0.1f);
                mirror_fill(bk, &v, 0, 0.01f);
                ScalarPair s = scalars_new(bk, 41 + variant * 5000);
                bk->cpu->ops->prepare_step(bk->cpu, s.cpu, schedules, 0.9, 0.999);
                bk->gpu->ops->prepare_step(bk->gpu, s.gpu, schedules, 0.9, 0.999);
                /* variant 1: weight decay, and a buffer longer than its last group (the tail stays). */
                int64_t last = variant ? n - n / 5 : n;
                AdamWArgs a = {.n = n, .group_end = {n / 3, 2 * n / 3, last},
                               .hyper = iql_adam_hyper(0.9, 0.999, 1e-8, variant ? 0.01 : 0.0)};
                double *bounds = malloc(sizeof(double) * 3 * n);
                adamw_bounds(&a, s.cpu, p.cpu, g.cpu, m.cpu, v.cpu, bounds, bounds + n, bounds + 2 * n);
                a.param = p.cpu, a.grad = g.cpu, a.m = m.cpu, a.v = v.cpu, a.scalars = s.cpu;
                bk->cpu->ops->adamw(bk->cpu, &a);
                a.param = p.gpu, a.grad = g.gpu, a.m = m.gpu, a.v = v.gpu, a.scalars = s.gpu;
                bk->gpu->ops->adamw(bk->gpu, &a);
                char what[96];
                const char *names[] = {"param", "m", "v"};
                Mirror *outs[] = {&p, &m, &v};
                for (int o = 0; o < 3; o++) {
                    snprintf(what, sizeof what, "adamw %s n=%lld offset=%d variant=%d", names[o], (long long)n, offset,
                             variant);
                    mirror_check_bound(bk->gpu, outs[o], bounds + o * n, what);
                }
                free(bounds);
                scalars_free(bk, &s);
                Mirror *all[] = {&p, &g, &m, &v};
                for (int o = 0; o < 4; o++) mirror_free(bk, all[o]);
            }
}

static void test_polyak_copy(Backends *bk) {
    static const int64_t sizes[] = {1, 3, 257, 100003};
    for (int si = 0; si < 4; si++)
        for (int offset = 0; offset < 2; offset++) {
            int64_t n = sizes[si];
            for (int r = 0; r < 2; r++) {
                float rho = r ? 1.0f : 0.005f;
                Mirror t = mirror_new(bk, (size_t)n, offset), o = mirror_new(bk, (size_t)n, offset);
                mirror_fill(bk, &t, -1, 1);
                mirror_fill(bk, &o, -1, 1);
                /* (1 − ρ)·t + ρ·o: two products and a sum (1 − ρ is the same float on both) */
                double *bound = malloc(sizeof(double) * n);
                for (int64_t i = 0; i < n; i++)
                    bound[i] = 6 * FP32_U * (fabs((1.0f - rho) * (double)t.cpu[i]) + fabs(rho * (double)o.cpu[i]));
                bk->cpu->ops->polyak(bk->cpu, t.cpu, o.cpu, rho, n);
                bk->gpu->ops->polyak(bk->gpu, t.gpu, o.gpu, rho, n);
                char what[96];
                snprintf(what, sizeof what, "polyak n=%lld offset=%d rho=%g", (long long)n, offset, rho);
                mirror_check_bound(bk->gpu, &t, bound, what);
                free(bound);
                mirror_free(bk, &t);
                mirror_free(bk, &o);
            }
            Mirror dst = mirror_new(bk, (size_t)n, offset), src = mirror_new(bk, (size_t)n, 1 - offset);
            mirror_poison(bk, &dst);
            mirror_fill(bk, &src, -1, 1);
            bk->cpu->ops->copy(bk->cpu, dst.cpu, src.cpu, n);
            bk->gpu->ops->copy(bk->gpu, dst.gpu, src.gpu, n);
            char what[64];
            snprintf(what, sizeof what, "copy n=%lld offset=%d", (long long)n, offset);
            mirror_check(bk->gpu, &dst, 0, what);
            mirror_free(bk, &dst);
            mirror_free(bk, &src);
        }
}

static void test_init_uniform(Backends *bk) {
    static const int64_t sizes[] = {1, 3, 4, 5, 257, 100003};
    static const uint64_t seeds[] = {0, 42, 0xFEEDFACECAFEBEEFull};
    for (int si = 0; si < 6; si++)
        for (int k = 0; k < 3; k++) {
            int64_t n = sizes[si];
            uint64_t sub = k == 2 ? PHILOX_INIT_SUBSEQUENCE_BASE + 37 : (uint64_t)k;
            float bound = 1.0f / sqrtf((float)(17 + si));
            Mirror d = mirror_new(bk, (size_t)n, (size_t)(k % 2));
            mirror_poison(bk, &d);
            bk->cpu->ops->init_uniform(bk->cpu, d.cpu, n, bound, seeds[k], sub);
            bk->gpu->ops->init_uniform(bk->gpu, d.gpu, n, bound, seeds[k], sub);
            char what[96];
            snprintf(what, sizeof what, "init_uniform n=%lld seed=%llu sub=%llu", (long long)n,
                     (unsigned long long)seeds[k], (unsigned long long)sub);
            mirror_check(bk->gpu, &d, 0, what);
            mirror_free(bk, &d);
        }
}

/* ---- sample_batch -------------------------------------------------------------------------------------------- */

typedef struct {
    Mirror state, next_state, state_action, action, reward, terminal, index;
    int ld, ld_sa;
} BatchPair;

/* padded: rows of the aligned layout's widths (S and S + A rounded up to 4, zeros after). */
static BatchPair batch_pair_new(Backends *bk, int B, int S, int A, int padded) {
    int ld = padded ? round4(S) : S, ld_sa = padded ? round4(S + A) : S + A;
    BatchPair p = {
        mirror_new(bk, (size_t)B * ld, 0), mirror_new(bk, (size_t)B * ld, 0), mirror_new(bk, (size_t)B * ld_sa, 0),
        mirror_new(bk, (size_t)B * A, 0),  mirror_new(bk, (size_t)B, 0),      mirror_new(bk, (size_t)B, 0),
        mirror_new(bk, (size_t)B, 0),      ld,                                ld_sa,
    };
    return p;
}

static Mirror *batch_fields(BatchPair *p, int i) {
    Mirror *f[] = {&p->state, &p->next_state, &p->state_action, &p->action, &p->reward, &p->terminal, &p->index};
    return f[i];
}
static const char *const batch_field_names[] = {"state", "next_state", "state_action", "action", "reward", "terminal",
                                                "index"};

static Batch batch_view(BatchPair *p, int B, int gpu) {
    Batch b = {.rows = B, .state_ld = p->ld, .state_action_ld = p->ld_sa};
    b.state = gpu ? p->state.gpu : p->state.cpu;
    b.next_state = gpu ? p->next_state.gpu : p->next_state.cpu;
    b.state_action = gpu ? p->state_action.gpu : p->state_action.cpu;
    b.action = gpu ? p->action.gpu : p->action.cpu;
    b.reward = gpu ? p->reward.gpu : p->reward.cpu;
    b.terminal = gpu ? p->terminal.gpu : p->terminal.cpu;
    b.index = (uint32_t *)(gpu ? p->index.gpu : p->index.cpu);
    return b;
}

typedef struct {
    int64_t n, n_states;
    int S, A;
    float *states, *actions, *rewards, *terminals;
    uint32_t *state_row, *next_row;
    ReplaySource src;
} Dataset;

/* Episodes of random length: s' is the next row inside an episode; rows are shared as in the
 * data layer (a state row serves as one transition's s and the previous one's s'). */
static void dataset_make(Dataset *d, int64_t n, int S, int A) {
    d->n = n;
    d->n_states = n + n / 10 + 1;
    d->S = S;
    d->A = A;
    d->states = malloc(sizeof(float) * d->n_states * S);
    d->actions = malloc(sizeof(float) * n * A);
    d->rewards = malloc(sizeof(float) * n);
    d->terminals = malloc(sizeof(float) * n);
    d->state_row = malloc(sizeof(uint32_t) * n);
    d->next_row = malloc(sizeof(uint32_t) * n);
    for (int64_t i = 0; i < d->n_states * S; i++) d->states[i] = test_rand(-5, 5);
    for (int64_t i = 0; i < n * A; i++) d->actions[i] = test_rand(-1, 1);
    uint32_t row = 0;
    for (int64_t i = 0; i < n; i++) {
        d->rewards[i] = test_rand(-1, 1);
        int end = test_rand(0, 1) < 0.1f;
        d->terminals[i] = end && test_rand(0, 1) < 0.5f ? 1.0f : 0.0f;
        d->state_row[i] = row;
        d->next_row[i] = row + 1;
        row += end ? 2 : 1;  /* an episode end skips to a fresh first state */
        if (row + 1 >= (uint32_t)d->n_states) row = 0;
    }
    d->src = (ReplaySource){.n = n, .n_states = d->n_states, .obs_dim = S, .act_dim = A, .states = d->states,
                            .state_row = d->state_row, .next_row = d->next_row, .actions = d->actions,
                            .rewards = d->rewards, .terminals = d->terminals};
}

static void dataset_free(Dataset *d) {
    free(d->states);
    free(d->actions);
    free(d->rewards);
    free(d->terminals);
    free(d->state_row);
    free(d->next_row);
}

static void test_sample_batch(Backends *bk) {
    static const int64_t steps[] = {0, 1, 7, (1ll << 33) + 5};
    static const int64_t sizes[] = {1, 1000};
    for (int di = 0; di < 2; di++) {
        Dataset d;
        dataset_make(&d, sizes[di], 17, 6);
        Error err;
        Replay *rc = bk->cpu->ops->replay_create(bk->cpu, &d.src, REPLAY_AUTO, 257, &err);
        CHECK(rc != NULL, "cpu replay_create: %s", err.msg);
        ReplayKind modes[] = {REPLAY_DEVICE, REPLAY_HOST, REPLAY_AUTO};
        for (int mi = 0; mi < 3 && rc; mi++) {
            Replay *rg = bk->gpu->ops->replay_create(bk->gpu, &d.src, modes[mi], 257, &err);
            CHECK(rg != NULL, "cuda replay_create mode %d: %s", modes[mi], err.msg);
            if (!rg) continue;
            if (modes[mi] == REPLAY_AUTO)
                CHECK(cuda_debug_replay_mode(rg) == REPLAY_DEVICE, "auto put a 100 KB dataset in host memory");
            for (int ri = 0; ri < N_ROWS; ri++)
                for (int si = 0; si < 4; si++)
                    for (int seq = 0; seq < 2; seq++) {
                        int B = rows_set[ri];
                        BatchPair p = batch_pair_new(bk, B, d.S, d.A, seq);
                        for (int f = 0; f < 7; f++) mirror_poison(bk, batch_fields(&p, f));
                        ScalarPair s = scalars_new(bk, steps[si]);
                        /* odd step indices as a data-parallel rank: global slots [B, 2B) of 3B */
                        SamplingArgs args = {.sequential = seq, .seed = 0x123456789abcull + (uint64_t)si,
                                             .slot_offset = si & 1 ? B : 0, .global_rows = si & 1 ? 3 * B : 0};
                        Batch bc = batch_view(&p, B, 0), bg = batch_view(&p, B, 1);
                        bk->cpu->ops->sample_batch(bk->cpu, rc, &args, s.cpu, &bc);
                        bk->gpu->ops->sample_batch(bk->gpu, rg, &args, s.gpu, &bg);
                        for (int f = 0; f < 7; f++) {
                            char what[160];
                            snprintf(what, sizeof what, "sample_batch %s N=%lld mode=%d B=%d step=%lld sequential=%d padded=%d",
                                     batch_field_names[f], (long long)d.n, modes[mi], B, (long long)steps[si], seq, seq);
                            mirror_check(bk->gpu, batch_fields(&p, f), 0, what);
                        }
                        scalars_free(bk, &s);
                        for (int f = 0; f < 7; f++) mirror_free(bk, batch_fields(&p, f));
                    }
            bk->gpu->ops->replay_destroy(bk->gpu, rg);
        }
        if (rc) bk->cpu->ops->replay_destroy(bk->cpu, rc);
        dataset_free(&d);
    }
}

/* ---- errors ------------------------------------------------------------------------------------------------ */

/* alloc of more than the GPU has: a value, saying how much was asked and how much is free. */
static void test_alloc_error(Backends *bk) {
    Error err = {{0}};
    void *p = bk->gpu->ops->alloc(bk->gpu, (size_t)1 << 50, &err);
    CHECK(p == NULL, "alloc of 1 PiB succeeded");
    CHECK(strstr(err.msg, "free") != NULL, "alloc error does not say what is free: %s", err.msg);
    if (p) bk->gpu->ops->release(bk->gpu, p);
    CHECK(bk->gpu->ops->status(bk->gpu, &err) == 0, "a failed alloc poisoned the backend: %s", err.msg);
}

/* ---- measurement ------------------------------------------------------------------------------------------- */

/* Stamps around some device work: consistent intervals (positive, adding up, antisymmetric),
 * never a bound on how long the work took (a loaded machine or another GPU moves that);
 * memory that shrinks by what was allocated. */
static void test_measurement(Backends *bk) {
    Backend *g = bk->gpu;
    Error err = {{0}};
    size_t free0 = 0, total = 0, free1 = 0;
    CHECK(g->ops->memory_info(g, &free0, &total, &err) == 0, "memory_info: %s", err.msg);
    CHECK(free0 > 0 && free0 <= total, "memory_info: %zu free of %zu", free0, total);
    int64_t n = (int64_t)16 << 20;  /* 64 MiB of floats */
    float *x = g->ops->alloc(g, sizeof(float) * n, &err), *y = g->ops->alloc(g, sizeof(float) * n, &err);
    CHECK(x && y, "alloc: %s", err.msg);
    if (!x || !y) return;
    CHECK(g->ops->memory_info(g, &free1, &total, &err) == 0, "memory_info: %s", err.msg);
    CHECK(free0 >= free1 + 2 * sizeof(float) * (size_t)n, "128 MiB allocated, free fell only from %zu to %zu", free0, free1);
    g->ops->time_mark(g, 0);
    for (int r = 0; r < 4; r++) g->ops->copy(g, r & 1 ? x : y, r & 1 ? y : x, n);
    g->ops->time_mark(g, 1);
    g->ops->time_mark(g, 2);
    double busy = -1, empty = -1, whole = -1, backwards = 0;
    CHECK(g->ops->time_elapsed(g, 0, 1, &busy, &err) == 0, "time_elapsed: %s", err.msg);
    CHECK(g->ops->time_elapsed(g, 1, 2, &empty, &err) == 0, "time_elapsed: %s", err.msg);
    CHECK(g->ops->time_elapsed(g, 0, 2, &whole, &err) == 0, "time_elapsed: %s", err.msg);
    CHECK(g->ops->time_elapsed(g, 2, 0, &backwards, &err) == 0, "time_elapsed: %s", err.msg);
    CHECK(busy > 0, "an interval with work in it timed at %g s", busy);
    CHECK(empty >= 0, "an empty interval timed at %g s", empty);
    /* event times are float milliseconds: sums agree to their resolution (a few µs at most) */
    CHECK(fabs(busy + empty - whole) <= 1e-5 + 1e-6 * whole, "intervals do not add up: %g + %g vs %g s", busy, empty,
          whole);
    CHECK(backwards < 0 && fabs(backwards + whole) <= 1e-5 + 1e-6 * whole, "reversed interval %g s, forward %g s",
          backwards, whole);
    CHECK(g->ops->time_elapsed(g, 0, BACKEND_TIME_SLOTS, &busy, &err) != 0, "slot out of range accepted");
    g->ops->release(g, x);
    g->ops->release(g, y);
}

int main(void) {
    if (!gpu_available("cuda_ops")) return TEST_SKIP;
    Backends bk;
    BackendOptions opt = {.device_index = 0, .precision = PRECISION_FP32, .use_graphs = 0};
    if (backends_open(&bk, &opt)) return test_finish("cuda_ops", 0);
    char desc[256];
    bk.gpu->ops->describe(bk.gpu, desc, sizeof desc);
    printf("cuda_ops: %s\n", desc);

    test_gemm(&bk, FP32, "fp32");
    test_gemm_bias_activation(&bk, 0, 0, FP32, "fp32");
    test_bias_activation(&bk);
    test_relu_backward(&bk);
    test_column_sums(&bk);
    test_row_sums(&bk);
    test_value_critic_heads(&bk);
    test_policy_head(&bk);
    test_step_scalars(&bk);
    test_adamw(&bk);
    test_polyak_copy(&bk);
    test_init_uniform(&bk);
    test_sample_batch(&bk);
    test_alloc_error(&bk);
    test_measurement(&bk);
    Error err;
    CHECK(bk.gpu->ops->status(bk.gpu, &err) == 0, "status after the fp32 ops: %s", err.msg);
    backends_close(&bk);

    opt.precision = PRECISION_TF32;
    if (backends_open(&bk, &opt) == 0) {
        test_gemm(&bk, TF32, "tf32");
        test_gemm_bias_activation(&bk, 0, 0, TF32, "tf32");
        CHECK(bk.gpu->ops->status(bk.gpu, &err) == 0, "status after the tf32 GEMMs: %s", err.msg);
    }
    backends_close(&bk);

    /* The layers' bias and ReLU fused into cuBLASLt's GEMM epilogue, fp32 and tf32. */
    opt.gemm_epilogues = 1;
    for (int tf32 = 0; tf32 < 2; tf32++) {
        opt.precision = tf32 ? PRECISION_TF32 : PRECISION_FP32;
        if (backends_open(&bk, &opt) == 0) {
            test_gemm_bias_activation(&bk, 1, tf32, tf32 ? TF32 : FP32, tf32 ? "tf32 epilogues" : "fp32 epilogues");
            CHECK(bk.gpu->ops->status(bk.gpu, &err) == 0, "status after the fused GEMMs: %s", err.msg);
        }
        backends_close(&bk);
    }
    return test_finish("cuda_ops", 0);
}
