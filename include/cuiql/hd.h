/* hd.h — one macro that lets a function compile for both the host C compiler and nvcc.
 *
 * Every per-element formula of the IQL update is written once, as a CUIQL_HD static inline
 * function. The CPU backend calls it in plain loops; the CUDA kernels call the very same
 * function per thread. The CPU tests therefore exercise the kernels' arithmetic. */
#ifndef CUIQL_HD_H
#define CUIQL_HD_H

#ifdef __CUDACC__
#define CUIQL_HD __host__ __device__
#else
#define CUIQL_HD
#endif

#endif
