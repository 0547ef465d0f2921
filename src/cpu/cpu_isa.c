/* cpu_isa.c — see cpu_isa.h. GCC's __builtin_cpu_supports also checks that the OS saves the
 * wide registers (XGETBV), so a level here is one the program may use. It may run in a
 * constructor, before libgcc's own initialisation: hence __builtin_cpu_init first. */
#include "cpu/cpu_isa.h"

int cpu_isa_level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("avx")) return 1;
    return 0;
}

int cpu_isa_intel(void) {
    __builtin_cpu_init();
    return __builtin_cpu_is("intel") != 0;
}
