/* cuda_check.h — checked calls into the CUDA runtime and cuBLAS.
 *
 * Two kinds of caller, two kinds of macro:
 *   - setup code (create, alloc, upload, replay_create) returns errors as values:
 *     CUDA_RETURN_IF_ERROR / CUBLAS_RETURN_IF_ERROR fill the Error and return -1 from the
 *     enclosing int function (the name says that it returns);
 *   - step operations are void and asynchronous: CUDA_RECORD / CUBLAS_RECORD / CUDA_RECORD_LAUNCH
 *     keep the first failure in the backend (sticky), which status() reports, and carry on.
 * Every message names the failing statement as written, the function, file:line, and the
 * library's name for the status ("cudaErrorMemoryAllocation: out of memory"). */
#ifndef CUIQL_CUDA_CHECK_H
#define CUIQL_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "cuiql/error.h"  /* defines: Error, error_set */

typedef struct CudaBackend CudaBackend;

/* Fills err with "<call> in <func> (<file>:<line>): <name>: <text>"; returns -1. */
int cuda_error_set(Error *err, const char *call, const char *func, const char *file, int line, const char *name,
                   const char *text);

/* The same message, kept in the backend unless an earlier failure is already there. */
void cuda_record_error(CudaBackend *cb, const char *call, const char *func, const char *file, int line,
                       const char *name, const char *text);

/* A returned error is reported once, as a value: cudaGetLastError() clears it from the runtime,
 * so that a later status() or launch check does not blame it on something else. */
#define CUDA_RETURN_IF_ERROR(err, call)                                                                  \
    do {                                                                                                 \
        cudaError_t e_ = (call);                                                                         \
        if (e_ != cudaSuccess) {                                                                         \
            cudaGetLastError();                                                                          \
            return cuda_error_set((err), #call, __func__, __FILE__, __LINE__, cudaGetErrorName(e_),      \
                                  cudaGetErrorString(e_));                                               \
        }                                                                                                \
    } while (0)

#define CUBLAS_RETURN_IF_ERROR(err, call)                                                                \
    do {                                                                                                 \
        cublasStatus_t s_ = (call);                                                                      \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                                 \
            return cuda_error_set((err), #call, __func__, __FILE__, __LINE__, cublasGetStatusName(s_),   \
                                  cublasGetStatusString(s_));                                            \
    } while (0)

#define CUDA_RECORD(cb, call)                                                                            \
    do {                                                                                                 \
        cudaError_t e_ = (call);                                                                         \
        if (e_ != cudaSuccess)                                                                           \
            cuda_record_error((cb), #call, __func__, __FILE__, __LINE__, cudaGetErrorName(e_),           \
                              cudaGetErrorString(e_));                                                   \
    } while (0)

#define CUBLAS_RECORD(cb, call)                                                                          \
    do {                                                                                                 \
        cublasStatus_t s_ = (call);                                                                      \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                                 \
            cuda_record_error((cb), #call, __func__, __FILE__, __LINE__, cublasGetStatusName(s_),        \
                              cublasGetStatusString(s_));                                                \
    } while (0)

/* After a <<<>>> launch: a bad configuration shows up here at once (no sync); faults inside
 * the kernel surface later, through status()'s cudaStreamQuery. */
#define CUDA_RECORD_LAUNCH(cb, kernel)                                                                   \
    do {                                                                                                 \
        cudaError_t e_ = cudaGetLastError();                                                             \
        if (e_ != cudaSuccess)                                                                           \
            cuda_record_error((cb), "launch of " #kernel, __func__, __FILE__, __LINE__,                  \
                              cudaGetErrorName(e_), cudaGetErrorString(e_));                             \
    } while (0)

#endif
