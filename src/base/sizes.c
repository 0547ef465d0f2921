/* sizes.c — checked size arithmetic and the memory limit of a load (see sizes.h). */
#include "base/sizes.h"

#include <stdio.h>
#include <unistd.h>

static size_t memory_limit_override = 0;

int size_mul(uint64_t a, uint64_t b, size_t *out) {
    if (a > SIZE_MAX || b > SIZE_MAX) return -1;
    size_t r;
    if (__builtin_mul_overflow((size_t)a, (size_t)b, &r)) return -1;
    *out = r;
    return 0;
}

int size_add(size_t a, size_t b, size_t *out) {
    size_t r;
    if (__builtin_add_overflow(a, b, &r)) return -1;
    *out = r;
    return 0;
}

int size_mul3(uint64_t a, uint64_t b, uint64_t c, size_t *out) {
    size_t ab;
    return size_mul(a, b, &ab) || size_mul(ab, c, out) ? -1 : 0;
}

int count_add(int64_t a, int64_t b, int64_t *out) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r) || r < 0) return -1;
    *out = r;
    return 0;
}

/* MemAvailable + SwapFree from /proc/meminfo, in bytes; 0 when it cannot be read. */
static size_t meminfo_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb, avail = 0, swap = 0;
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) avail = kb, found = 1;
        else if (sscanf(line, "SwapFree: %llu kB", &kb) == 1) swap = kb;
    }
    fclose(f);
    size_t bytes;
    if (!found || size_mul(avail + swap, 1024, &bytes)) return 0;
    return bytes;
}

size_t size_memory_limit(void) {
    if (memory_limit_override) return memory_limit_override;
    /* What the kernel can still hand out now (free and reclaimable memory, and swap): more than
     * that is not refused by malloc's overcommit, but by the OOM killer once it is touched. */
    size_t avail = meminfo_available();
    if (avail) return avail;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t total;
    /* Unknown: no limit beyond what the arithmetic allows. */
    if (pages <= 0 || page <= 0 || size_mul((uint64_t)pages, (uint64_t)page, &total)) return SIZE_MAX;
    return total;
}

void size_set_memory_limit(size_t bytes) { memory_limit_override = bytes; }

void size_format(size_t bytes, char *buf, size_t len) {
    static const char *const units[] = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1000 && u < 6) v /= 1000, u++;
    if (u == 0) snprintf(buf, len, "%zu bytes", bytes);
    else snprintf(buf, len, "%.3g %s", v, units[u]);
}

int size_check_memory(size_t bytes, Error *err) {
    size_t limit = size_memory_limit();
    if (bytes <= limit) return 0;
    char need[32], have[32];
    size_format(bytes, need, sizeof need);
    size_format(limit, have, sizeof have);
    return error_set(err, "needs %s of memory, more than the %s %s", need, have,
                     memory_limit_override ? "allowed" : "available (free memory and swap)");
}
