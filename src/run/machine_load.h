/* machine_load.h — how much of the machine a measurement had: the CPU time other processes
 * and the hypervisor (steal) took while it ran. Header-only; `cuiql bench`'s guard (cli/bench.c).
 *
 * Why: on the shared 2-core VMs this project is measured on, a timing taken while another
 * process builds or trains can be 3× slower, and nothing in the figure says so
 * (bench/RESULTS.md §2). Others' CPU time = the busy time /proc/stat counts for all CPUs minus
 * this process's own (getrusage); steal = time the hypervisor gave the vCPUs to someone else. */
#ifndef CUIQL_RUN_MACHINE_LOAD_H
#define CUIQL_RUN_MACHINE_LOAD_H

#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

typedef struct {
    double wall;    /* CLOCK_MONOTONIC seconds */
    double busy;    /* all CPUs: user + nice + system + irq + softirq, seconds */
    double steal;   /* all CPUs, seconds */
    double own;     /* this process: user + system, seconds */
    int ok;         /* /proc/stat was read */
} LoadSample;

static inline LoadSample load_sample(void) {
    LoadSample s = {0};
    s.wall = clock_seconds();
    struct rusage ru;
    if (!getrusage(RUSAGE_SELF, &ru))
        s.own = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return s;
    unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait, &irq, &softirq,
               &steal) == 8) {
        double tick = 1.0 / (double)sysconf(_SC_CLK_TCK);
        s.busy = (double)(user + nice + sys + irq + softirq) * tick;
        s.steal = (double)steal * tick;
        s.ok = 1;
    }
    fclose(f);
    return s;
}

/* Between two samples: the cores (CPU seconds per second) other processes and steal took. */
typedef struct {
    double others, steal;
    int ok;
} LoadShare;

static inline LoadShare load_share(LoadSample a, LoadSample b) {
    LoadShare r = {0};
    double wall = b.wall - a.wall;
    if (!a.ok || !b.ok || wall <= 0) return r;
    double others = (b.busy - a.busy) - (b.own - a.own);
    r.others = (others > 0 ? others : 0) / wall;  /* tick rounding can make a quiet machine's slightly negative */
    r.steal = (b.steal - a.steal) / wall;
    r.ok = 1;
    return r;
}

#endif
