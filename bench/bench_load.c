/* bench_load.c — time and peak memory of dataset_load on one file.
 *
 *   python3 bench/make_d4rl_file.py /tmp/d4rl-2m.hdf5      # 2M rows, obs 17, act 6, gzip
 *   build/bench_load /tmp/d4rl-2m.hdf5 [repeats]
 *
 * Prints each load's wall time, then the process's peak resident memory (getrusage: it covers
 * every repeat, so it is the worst single load plus the baseline) against the data size: the
 * file's columns uncompressed, float32 observations, actions and rewards plus 1-byte flags. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "data/dataset.h" /* dataset_load */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double peak_rss_mib(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0; /* Linux reports KiB */
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_load FILE [repeats]\n");
        return 2;
    }
    int repeats = argc > 2 ? atoi(argv[2]) : 3;
    if (repeats < 1) repeats = 1;
    double baseline = peak_rss_mib(), best = 1e30;
    Dataset d = {0};
    for (int r = 0; r < repeats; r++) {
        Error err;
        double t0 = now_s();
        if (dataset_load(argv[1], &d, &err) < 0) {
            fprintf(stderr, "bench_load: %s\n", err.msg);
            return 1;
        }
        double dt = now_s() - t0;
        if (dt < best) best = dt;
        printf("load %d: %.3f s\n", r + 1, dt);
        if (r + 1 < repeats) dataset_free(&d);
    }
    double flags = d.n_timeouts > 0 ? 2.0 : 1.0;
    double data_mib = (double)d.rows_in_file * ((d.obs_dim + d.act_dim + 1) * 4.0 + flags) / (1024.0 * 1024.0);
    double peak = peak_rss_mib();
    printf("file: %s (%s)\n", argv[1], dataset_format_name(d.format));
    printf("rows %lld, transitions %lld, dropped %lld, obs %d, act %d, episodes %lld\n", (long long)d.rows_in_file,
           (long long)d.n, (long long)d.dropped, d.obs_dim, d.act_dim, (long long)d.n_episodes);
    printf("best load: %.3f s (%.0f MiB/s of data)\n", best, data_mib / best);
    printf("data: %.1f MiB; peak RSS %.1f MiB (baseline %.1f MiB): %.2fx the data, %.2fx above baseline\n", data_mib,
           peak, baseline, peak / data_mib, (peak - baseline) / data_mib);
    dataset_free(&d);
    return 0;
}
