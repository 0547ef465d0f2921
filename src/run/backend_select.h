/* backend_select.h — creating the backend a run asked for. */
#ifndef CUIQL_BACKEND_SELECT_H
#define CUIQL_BACKEND_SELECT_H

#include "algo/config.h"
#include "cuiql/backend.h"

/* auto: the GPU when one is usable, else the CPU (saying which when verbose); cuda without a
 * usable GPU is an error that says why. */
Backend *backend_select(DeviceKind device, const BackendOptions *opt, int verbose, Error *err);

/* What `device` resolves to here, without creating the backend: "cpu" or "cuda". */
const char *backend_resolve(DeviceKind device, int device_index);

/* CUDA devices this process sees (0 without the CUDA backend or a device). */
int backend_device_count(void);

/* 1 when this build contains the CUDA backend. */
int backend_cuda_compiled(void);

#endif
