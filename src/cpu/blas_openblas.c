/* blas_openblas.c — the CPU backend's BLAS when built with OpenBLAS (the default): its thread
 * count, its description, and making it run the kernels this CPU has (cpu_blas.h).
 *
 * Why choose_kernels exists (bench/RESULTS.md §2): a DYNAMIC_ARCH OpenBLAS (Debian's) picks
 * its kernels once, in its load-time constructor, from a table of CPU models. A model newer
 * than the table falls back to the generic "Prescott" (SSE3) kernels whatever the CPU can do.
 * Measured on the CPU box (Intel family 6 model 207, a KVM guest with AVX-512; OpenBLAS
 * 0.3.21): Prescott 32 GFLOP/s on a 1024³ sgemm and 56–61 steps/s at B = 256, 1 thread;
 * OPENBLAS_CORETYPE=SkylakeX 107–125 GFLOP/s and 215–220 steps/s. The environment variable is
 * read only by that constructor, which runs before this program's own constructors (those of
 * shared libraries run first) and before any .preinit_array entry could set it in time (the C
 * library's start-up replaces the environment after those), so the one way to set it is a
 * fresh exec. A warm-up GEMM cannot help: the kernels never change within a process.
 *
 * choose_kernels is a constructor of this file, which every program using the CPU backend
 * links (backend_cpu.c calls cpu_blas_set_threads), so each of them re-executes itself before
 * main: cuiql, bench/ and tests/ all compute with the same kernels, bit for bit alike. glibc
 * passes argc, argv and envp to constructors of the program. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cpu/cpu_isa.h"
#include "cuiql/cpu_blas.h"

/* Set in the environment of the re-executed program: the kernels OpenBLAS took by itself.
 * Its presence also stops a second re-exec. */
#define REEXEC_MARK "CUIQL_OPENBLAS_OWN_CHOICE"

static char own_choice[32];  /* non-empty: cuiql set OPENBLAS_CORETYPE; OpenBLAS had chosen this */

/* The level (cpu_isa.h) of the instructions an OpenBLAS kernel set uses (its names as
 * openblas_get_corename gives them); anything not listed is an SSE-era set. */
static int core_level(const char *core) {
    static const char *const avx512[] = {"skylakex", "cooperlake", "sapphirerapids"};
    static const char *const avx2[] = {"haswell", "zen", "excavator"};
    static const char *const avx[] = {"sandybridge", "bulldozer", "piledriver", "steamroller"};
    for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++)
        if (!strcasecmp(core, avx512[i])) return 3;
    for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++)
        if (!strcasecmp(core, avx2[i])) return 2;
    for (size_t i = 0; i < sizeof avx / sizeof *avx; i++)
        if (!strcasecmp(core, avx[i])) return 1;
    return 0;
}

__attribute__((constructor)) static void choose_kernels(int argc, char **argv, char **envp) {
    (void)argc; (void)envp;
    const char *mark = getenv(REEXEC_MARK);
    if (mark) {  /* the re-executed program: OpenBLAS has read the variable; children need not */
        snprintf(own_choice, sizeof own_choice, "%s", mark);
        unsetenv(REEXEC_MARK);
        unsetenv("OPENBLAS_CORETYPE");
        return;
    }
    if (getenv("OPENBLAS_CORETYPE") || !argv) return;  /* the user's choice stands */
    /* Only a DYNAMIC_ARCH build has kernel sets to choose from and reads the variable. */
    if (!strstr(openblas_get_config(), "DYNAMIC_ARCH")) return;
    const char *core = openblas_get_corename();
    int want = cpu_isa_level();
    if (!core || core_level(core) >= want) return;
    static const char *const names[] = {"", "Sandybridge", "Haswell", "SkylakeX"};
    /* Started through the dynamic loader (ld-linux.so PROGRAM): argv no longer names the
     * loader, so executing it again would misread argv. Warn instead, below. */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    if (!strstr(exe, "/ld-linux") && !setenv("OPENBLAS_CORETYPE", names[want], 1) && !setenv(REEXEC_MARK, core, 1))
        execv("/proc/self/exe", argv);
    /* Still here: no /proc, or the loader case. Say how to get the fast kernels; go on without. */
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(REEXEC_MARK);
    fprintf(stderr, "cuiql: OpenBLAS runs its %s kernels on this CPU, which has faster ones; "
                    "set OPENBLAS_CORETYPE=%s for about 3x faster CPU training\n", core, names[want]);
}

void cpu_blas_describe(char *buf, size_t len) {
    if (own_choice[0])
        snprintf(buf, len, "%s (kernels chosen by cuiql for this CPU's instruction set: OpenBLAS took %s)",
                 openblas_get_config(), own_choice);
    else
        snprintf(buf, len, "%s", openblas_get_config());
}

int cpu_blas_set_threads(int threads) {
    if (threads > 0) openblas_set_num_threads(threads);
    return openblas_get_num_threads();
}
