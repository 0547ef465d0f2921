/* bench_gemm_fusion.c — is it worth fusing the step's GEMMs into fewer, larger ones on this
 * backend? Times, through the backend's own gemm op, each candidate as the step issues it and as
 * one fused call, on the step's shapes (S = 17, A = 6, hidden 256 × 2, batch B):
 *
 *   V(s), V(s'):  each V layer as two B-row products, or one 2B-row product
 *   Q1, Q2 first layer (shared input s‖a):  two products of N = 256, or one of N = 512
 *
 *   bench_gemm_fusion [--batch B] [--threads T] [--reps R]
 *
 * Prints microseconds per use (best of 5 rounds of R repetitions) for both forms and the
 * saving per step. It measures the possible gain only: a fused Q layer writes [B, 2·256] (its
 * members interleaved by column), a layout the step does not use. bench/RESULTS.md §6. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run/backend_select.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Best of 5 rounds: seconds per repetition of the calls g[0..n). */
static double time_calls(Backend *b, const GemmArgs *g, int n, int reps) {
    Error err;
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        double t = now_seconds();
        for (int r = 0; r < reps; r++)
            for (int i = 0; i < n; i++) b->ops->gemm(b, &g[i]);
        b->ops->synchronize(b, &err);
        double per = (now_seconds() - t) / reps;
        if (per < best) best = per;
    }
    return best;
}

/* Y = X · Wᵀ for X [m, k], W [n, k]: one member's forward product. */
static GemmArgs forward(const float *x, const float *w, float *y, int m, int n, int k) {
    return (GemmArgs){.trans_a = 0, .trans_b = 1, .m = m, .n = n, .k = k, .alpha = 1, .beta = 0, .a = x, .lda = k,
                      .b = w, .ldb = k, .c = y, .ldc = n, .batch = 1};
}

int main(int argc, char **argv) {
    int B = 256, threads = 1, reps = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else { fprintf(stderr, "bench_gemm_fusion: unknown option %s\n", argv[i]); return 2; }
    }
    if (B < 1 || reps < 1) { fprintf(stderr, "bench_gemm_fusion: bad --batch/--reps\n"); return 2; }
    Error err = {{0}};
    BackendOptions opt = {.threads = threads};
    Backend *b = backend_select(DEVICE_CPU, &opt, NULL, 0, &err);
    if (!b) { fprintf(stderr, "bench_gemm_fusion: %s\n", err.msg); return 1; }
    enum { S = 17, A = 6, H = 256 };
    size_t big = (size_t)2 * B * 2 * H;  /* the largest operand: [2B, 2H] */
    float *x = b->ops->alloc(b, sizeof(float) * big, &err), *w = b->ops->alloc(b, sizeof(float) * 2 * H * H, &err);
    float *y = b->ops->alloc(b, sizeof(float) * big, &err);
    if (!x || !w || !y) { fprintf(stderr, "bench_gemm_fusion: %s\n", err.msg); return 1; }
    b->ops->init_uniform(b, x, (int64_t)big, 1, 1, 1);
    b->ops->init_uniform(b, w, 2 * H * H, 0.1f, 1, 2);
    char desc[512];
    b->ops->describe(b, desc, sizeof desc);
    printf("device  %s\nB=%d, %d repetitions, best of 5 rounds\n", desc, B, reps);

    /* V's layers: in → out, two B-row products (s and s') or one 2B-row product. */
    int vin[3] = {S, H, H}, vout[3] = {H, H, 1};
    double v_two = 0, v_one = 0;
    for (int l = 0; l < 3; l++) {
        GemmArgs two[2] = {forward(x, w, y, B, vout[l], vin[l]),
                           forward(x + (size_t)B * vin[l], w, y + (size_t)B * vout[l], B, vout[l], vin[l])};
        GemmArgs one = forward(x, w, y, 2 * B, vout[l], vin[l]);
        double t2 = time_calls(b, two, 2, reps), t1 = time_calls(b, &one, 1, reps);
        printf("V layer %d (%3d -> %3d): 2 x %d rows %8.1f us, 1 x %d rows %8.1f us\n", l, vin[l], vout[l], B, t2 * 1e6,
               2 * B, t1 * 1e6);
        v_two += t2, v_one += t1;
    }
    /* Q's first layer: both critics read s‖a; two N = H products or one N = 2H product. */
    GemmArgs q_two[2] = {forward(x, w, y, B, H, S + A), forward(x, w + (size_t)H * (S + A), y + (size_t)B * H, B, H, S + A)};
    GemmArgs q_one = forward(x, w, y, B, 2 * H, S + A);
    double q2 = time_calls(b, q_two, 2, reps), q1 = time_calls(b, &q_one, 1, reps);
    printf("Q layer 0 (%d -> %d) x 2 critics: 2 calls %8.1f us, 1 call of N = %d %8.1f us\n", S + A, H, q2 * 1e6, 2 * H,
           q1 * 1e6);
    printf("saving per step: V forward %.1f us (%.1f -> %.1f), Q layer 0 %.1f us\n", (v_two - v_one) * 1e6, v_two * 1e6,
           v_one * 1e6, (q2 - q1) * 1e6);
    b->ops->release(b, x), b->ops->release(b, w), b->ops->release(b, y);
    b->ops->destroy(b);
    return 0;
}
