/* bench_step.c — the developer's name for `cuiql bench` (src/cli/bench.c, run/bench.h), kept so
 * the commands in bench/RESULTS.md still run:
 *
 *   bench_step [--device cpu|cuda] [--batch B] [--members P] [--hidden 256,256] [--steps K]
 *              [--threads T] [--rho 1|0.005] [--precision fp32|tf32] [--no-graphs] [--gemm-epilogues]
 *              [--parallel-nets] [--count-only] [--phases]
 *
 * Every option means what it means to `cuiql bench`, except --phases, a flag here: 200 eager
 * steps timed phase by phase (none without it). The device defaults to the CPU, as it always did. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

int main(int argc, char **argv) {
    /* at most two arguments are added: "--device cpu" or "--phases 0", and "--phases 200" */
    char **args = calloc((size_t)argc + 4, sizeof *args);
    if (!args) return 1;
    int n = 0, device = 0, phases = 0;
    args[n++] = "bench";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--phases")) {
            phases = 1;
            continue;
        }
        device |= !strcmp(argv[i], "--device");
        args[n++] = argv[i];
    }
    if (!device) args[n++] = "--device", args[n++] = "cpu";
    args[n++] = "--phases";
    args[n++] = phases ? "200" : "0";
    int rc = cmd_bench(n, args);
    free(args);
    return rc;
}
