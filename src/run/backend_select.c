/* backend_select.c — picks the backend for `device: auto|cpu|cuda`. The only place that knows
 * whether the CUDA backend was compiled in. */
#include "run/backend_select.h"

#include <stdio.h>

Backend *backend_select(DeviceKind device, const BackendOptions *opt, int verbose, Error *err) {
    char desc[256] = "";
#ifdef CUIQL_HAVE_CUDA
    if (device == DEVICE_CUDA || device == DEVICE_AUTO) {
        int usable = cuda_backend_probe(opt->device_index, desc, sizeof desc);
        if (usable) {
            Backend *b = cuda_backend_create(opt, err);
            if (b && verbose) fprintf(stderr, "cuiql: device %s: %s\n", device == DEVICE_AUTO ? "auto chose cuda" : "cuda", desc);
            return b;
        }
        if (device == DEVICE_CUDA) {
            error_set(err, "--device cuda: %s", desc);
            return NULL;
        }
        if (verbose) fprintf(stderr, "cuiql: device auto chose cpu (%s)\n", desc);
    }
#else
    if (device == DEVICE_CUDA) {
        error_set(err, "--device cuda: this build of cuiql has no CUDA backend (configure with -DCUIQL_CUDA=ON)");
        return NULL;
    }
    if (device == DEVICE_AUTO && verbose) fprintf(stderr, "cuiql: device auto chose cpu (built without CUDA)\n");
#endif
    (void)desc;
    return cpu_backend_create(opt, err);
}

const char *backend_resolve(DeviceKind device, int device_index) {
#ifdef CUIQL_HAVE_CUDA
    char desc[256];
    if (device == DEVICE_AUTO) return cuda_backend_probe(device_index, desc, sizeof desc) ? "cuda" : "cpu";
#else
    (void)device_index;
#endif
    return device == DEVICE_CUDA ? "cuda" : "cpu";
}

int backend_device_count(void) {
#ifdef CUIQL_HAVE_CUDA
    return cuda_backend_device_count();
#else
    return 0;
#endif
}

int backend_cuda_compiled(void) {
#ifdef CUIQL_HAVE_CUDA
    return 1;
#else
    return 0;
#endif
}
