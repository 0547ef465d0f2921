/* cpu_blas.h — the BLAS library the CPU backend runs its GEMMs on, chosen at build time
 * (-DCUIQL_BLAS=openblas|blis): one of src/cpu/blas_openblas.c, src/cpu/blas_blis.c. */
#ifndef CUIQL_CPU_BLAS_H
#define CUIQL_CPU_BLAS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* With OpenBLAS, every program that links the CPU backend also runs, before its main, a check
 * that the library runs the kernels this CPU has (src/cpu/blas_openblas.c): OpenBLAS picks its
 * kernels once, when it is loaded, from a table of CPU models, and a model newer than that
 * table gets its generic SSE3 kernels (Prescott), 3–4× slower on an AVX-512 machine. Then the
 * program is executed again, once, with OPENBLAS_CORETYPE set to the kernels of the CPU's
 * instruction set, so it runs fast from its first step and every program (cuiql, bench/,
 * tests/) computes with the same kernels. OPENBLAS_CORETYPE set by the user is left alone. */

/* The library, its version and the kernels it runs, and who chose them:
 * "OpenBLAS 0.3.21 ... SkylakeX (kernels set by cuiql: OpenBLAS took Prescott for this CPU)". */
void cpu_blas_describe(char *buf, size_t len);

/* The library's thread count: set (threads > 0; 0 leaves the library's default: all cores
 * for OpenBLAS, one thread for BLIS) and read back. */
int cpu_blas_set_threads(int threads);

#ifdef __cplusplus
}
#endif

#endif
