/* gpu_test_util.h — what the CUDA backend's op tests share: the CPU backend (the oracle) and a
 * CUDA backend side by side, buffers mirrored in both, identical random fills, NaN poisoning,
 * and comparisons that download the GPU side and report where and by how much it differs. */
#ifndef CUIQL_GPU_TEST_UTIL_H
#define CUIQL_GPU_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "cuiql/backend.h"

typedef struct {
    Backend *cpu, *gpu;
} Backends;

/* Creates the CPU backend and a CUDA backend with gpu_opt. 0 on success, -1 (after reporting
 * a failed check) otherwise. Call only after cuda_backend_probe said a device is usable. */
int backends_open(Backends *bk, const BackendOptions *gpu_opt);
void backends_close(Backends *bk);

/* Returns 1 if a CUDA device is usable; otherwise prints why the test is skipped. */
int gpu_available(const char *test_name);

/* n floats in each backend's memory, starting `offset` floats into the allocation (offset 1
 * makes the buffer 4-byte but not 16-byte aligned, to reach the kernels' scalar paths). */
typedef struct {
    size_t n;
    float *cpu, *gpu;
    float *cpu_base, *gpu_base;
} Mirror;

Mirror mirror_new(Backends *bk, size_t n, size_t offset);
void mirror_free(Backends *bk, Mirror *m);
void mirror_fill(Backends *bk, Mirror *m, float lo, float hi);  /* the same uniform draws in both */
void mirror_set(Backends *bk, Mirror *m, const float *values);  /* the same given values in both */
void mirror_poison(Backends *bk, Mirror *m);                    /* NaN everywhere, in both */

/* Downloads the GPU side (after synchronizing the backend that ran the op) into a malloc'd array. */
float *mirror_download(Backend *gpu, const Mirror *m);

/* GPU (as run by `ran`, the backend whose stream computed it) against CPU:
 *   - NaN exactly where the CPU has NaN (a NaN left elsewhere is an element never written;
 *     a number where the CPU kept the poison is a write out of bounds);
 *   - over the other elements, ‖gpu − cpu‖ / ‖cpu‖ ≤ tol, and no single element off by more
 *     than 10·tol·(|cpu| + rms(cpu)) (so a few wrong small values can't hide in the norm).
 * tol = 0 asks for equality bit for bit. Records a failed CHECK naming `what`. */
void mirror_check(Backend *ran, const Mirror *m, double tol, const char *what);

/* The same NaN rules as mirror_check, then |gpu − cpu| ≤ bound[i] for every other element:
 * a per-element tolerance derived from the arithmetic (see the callers). */
void mirror_check_bound(Backend *ran, const Mirror *m, const double *bound, const char *what);

/* fp32's unit roundoff 2^-24, and γ_n = n·u/(1 − n·u): |fl(Σ_i x_i) − Σ_i x_i| ≤ γ_(n−1)·Σ|x_i| for
 * any order of summation, with or without fused multiply-adds (Higham, Accuracy and Stability
 * of Numerical Algorithms, §3.1; for a dot product γ_n·Σ|a_i·b_i|). Two correct results differ
 * by at most twice that. */
#define FP32_U (1.0 / 16777216.0)
double gamma_n(double n, double u);

/* 1 when this run's "GPU" GEMMs are the CPU backend's own sums (the emulator's cuBLAS model in
 * its default order, CUIQL_EMU_EXACT=1 set by tests/kernel_emu): GEMM results must then agree
 * bit for bit, the strictest check there is. */
int gemm_exact(void);

/* Test-only random numbers: fresh, reproducible draws. */
float test_rand(float lo, float hi);
uint32_t test_rand_u32(void);

#endif
