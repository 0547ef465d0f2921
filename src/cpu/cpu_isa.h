/* cpu_isa.h — the widest vector instructions this CPU and its OS offer, for choosing BLAS
 * kernels where a library's own choice goes by CPU model tables that may be older than the CPU
 * (blas_openblas.c, blas_blis.c). */
#ifndef CUIQL_CPU_ISA_H
#define CUIQL_CPU_ISA_H

/* 0 SSE only, 1 AVX, 2 AVX2 + FMA, 3 AVX-512 F, CD, BW, DQ and VL (the set the SkylakeX
 * kernels of OpenBLAS and the skx kernels of BLIS use). */
int cpu_isa_level(void);

/* 1 on an Intel CPU, 0 otherwise. */
int cpu_isa_intel(void);

#endif
