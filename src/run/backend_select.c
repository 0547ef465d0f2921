/* backend_select.c — picks the backend for `device: auto|cpu|cuda`. The only place that knows
 * whether the CUDA backend was compiled in. It prints nothing: why `auto` settled on the CPU
 * goes back to the caller, which says it once, in the line that names the device (a machine
 * that was never meant to have a GPU should not hear about drivers on every command). */
#include "run/backend_select.h"

#include <stdio.h>

Backend *backend_select(DeviceKind device, const BackendOptions *opt, char *auto_note, size_t note_len, Error *err) {
    char desc[256] = "";
    if (auto_note && note_len) auto_note[0] = '\0';
#ifdef CUIQL_HAVE_CUDA
    if (device == DEVICE_CUDA || device == DEVICE_AUTO) {
        if (cuda_backend_probe(opt->device_index, desc, sizeof desc)) return cuda_backend_create(opt, err);
        if (device == DEVICE_CUDA) {
            error_set(err, "--device cuda: %s", desc);
            return NULL;
        }
        if (auto_note && note_len) snprintf(auto_note, note_len, "%s", desc);
    }
#else
    if (device == DEVICE_CUDA) {
        error_set(err, "--device cuda: this build of cuiql has no CUDA backend (configure with -DCUIQL_CUDA=ON)");
        return NULL;
    }
    if (device == DEVICE_AUTO && auto_note && note_len) snprintf(auto_note, note_len, "built without CUDA");
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
