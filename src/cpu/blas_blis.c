/* blas_blis.c — the CPU backend's BLAS when built with -DCUIQL_BLAS=blis (cpu_blas.h).
 *
 * BLIS 0.9.0 takes its skx (AVX-512) kernels on Intel only for CPU models it knows to have two
 * AVX-512 units; on the CPU box (Intel family 6 model 207, "Intel(R) Xeon(R) Processor") it
 * takes haswell: 51–84 GFLOP/s on a 1024³ sgemm and 128–139 steps/s at B = 256, 1 thread,
 * against 151–154 and 222–226 with skx (bench/RESULTS.md §2). BLIS reads BLIS_ARCH_TYPE at its
 * first call, so unlike OpenBLAS it can be told in time from within the process: choose_kernels,
 * a constructor, sets it before main on an Intel CPU with AVX-512 unless the user has. Set on
 * any Intel AVX-512 CPU, not only unknown models: skx is the kernel set BLIS has for them all. */
#include <blis.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu/cpu_isa.h"
#include "cuiql/cpu_blas.h"

static int chose;  /* 1: cuiql set BLIS_ARCH_TYPE */

__attribute__((constructor)) static void choose_kernels(void) {
    if (getenv("BLIS_ARCH_TYPE") || !cpu_isa_intel() || cpu_isa_level() < 3) return;
    char id[16];
    snprintf(id, sizeof id, "%d", (int)BLIS_ARCH_SKX);  /* BLIS reads the enum's number */
    if (setenv("BLIS_ARCH_TYPE", id, 1)) return;
    bli_init();  /* reads it now; then the variable goes, so child processes see the user's environment */
    unsetenv("BLIS_ARCH_TYPE");
    chose = 1;
}

void cpu_blas_describe(char *buf, size_t len) {
    bli_init();  /* before BLIS's first call its architecture query answers a default, not this CPU */
    snprintf(buf, len, "BLIS %s (%s kernels%s)", bli_info_get_version_str(), bli_arch_string(bli_arch_query_id()),
             chose ? ", chosen by cuiql for this CPU's AVX-512" : "");
}

/* 0 keeps BLIS's own default, one thread (unless BLIS_NUM_THREADS says otherwise), where
 * OpenBLAS's is all cores: BLIS's threads meet at spinning barriers in every call, and with one
 * of the CPU box's two cores taken by another process, 2 threads ran 0.5 steps/s at B = 256
 * against 224 for 1 (bench/RESULTS.md §2d); the quick test suite timed out. */
int cpu_blas_set_threads(int threads) {
    if (threads <= 0 && bli_thread_get_num_threads() < 1) threads = 1;
    if (threads > 0) bli_thread_set_num_threads(threads);
    return (int)bli_thread_get_num_threads();
}
