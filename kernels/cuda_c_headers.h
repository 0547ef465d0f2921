/* cuda_c_headers.h — the project's C headers, as seen from the CUDA (C++) translation units.
 *
 * error.h and backend.h declare C functions (error_set, cpu_backend_create, ...) without
 * extern "C" guards; nvcc compiles kernels/ as C++, so they are included inside an
 * extern "C" block here. The standard headers they pull in are included first, outside the
 * block, so their C++ declarations keep C++ linkage (their include guards skip them inside). */
#ifndef CUIQL_CUDA_C_HEADERS_H
#define CUIQL_CUDA_C_HEADERS_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern "C" {
#include "core/error.h"     /* defines: Error, error_set */
#include "cuiql/backend.h"  /* defines: BackendOps and the argument structs of every op */
#include "cuiql/iql_heads.h" /* defines: iql_value_critic_row, iql_policy_row */
#include "cuiql/philox.h"   /* defines: philox_value, philox_uniform01, philox_index */
}

#endif
