/* write_events.c — test helper: writes rows through the metrics API (src/log/metrics.h) so that
 * test_log_files.py can read the results with independent readers. The rows come from the
 * command line, so the expected values live in one place, the Python test.
 *
 * usage: write_events DIR RESUME_STEP [--col NAME]... [--row STEP:V1,V2,...]...
 *   RESUME_STEP  -1 for a fresh run, else the checkpoint step being resumed from
 *   --row        one value per column; an empty value or "nan" is NaN (not measured)
 * On success prints "csv PATH" and "events PATH"; on failure prints "write_events: MESSAGE" to
 * stderr and exits 1 (2 for bad usage). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/metrics.h"  // defines: metrics_open, metrics_log, metrics_close

enum { MAX_COLS = 64 };

static int usage(const char *why) {
    fprintf(stderr, "write_events: %s\nusage: write_events DIR RESUME_STEP [--col NAME]... [--row STEP:V1,V2,...]...\n",
            why);
    return 2;
}

/* Parses "STEP:V1,V2,..." with exactly n values. */
static int parse_row(const char *s, int n, long long *step, double *values) {
    char *end;
    *step = strtoll(s, &end, 10);
    if (end == s || *end != ':') return -1;
    const char *p = end + 1;
    for (int i = 0; i < n; i++) {
        if (*p == ',' || *p == '\0') {
            values[i] = strtod("nan", NULL);
        } else {
            values[i] = strtod(p, &end);
            if (end == p) return -1;
            p = end;
        }
        if (i < n - 1) {
            if (*p != ',') return -1;
            p++;
        }
    }
    return *p == '\0' ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 3) return usage("missing arguments");
    const char *dir = argv[1];
    long long resume = strtoll(argv[2], NULL, 10);
    const char *cols[MAX_COLS];
    int n = 0;
    for (int i = 3; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--col")) {
            if (n == MAX_COLS) return usage("too many columns");
            cols[n++] = argv[i + 1];
        }

    Error err = {{0}};
    MetricsLog *m = metrics_open(dir, n, cols, resume, &err);
    if (!m) {
        fprintf(stderr, "write_events: %s\n", err.msg);
        return 1;
    }
    printf("csv %s\nevents %s\n", metrics_csv_path(m), metrics_event_path(m));
    for (int i = 3; i < argc; i += 2) {
        if (i + 1 >= argc || (strcmp(argv[i], "--col") && strcmp(argv[i], "--row"))) {
            metrics_close(m, &err);
            return usage("expected --col NAME or --row STEP:VALUES");
        }
        if (strcmp(argv[i], "--row")) continue;
        long long step;
        double values[MAX_COLS];
        if (parse_row(argv[i + 1], n, &step, values)) {
            metrics_close(m, &err);
            return usage("bad --row");
        }
        if (metrics_log(m, step, values, &err)) {
            fprintf(stderr, "write_events: %s\n", err.msg);
            metrics_close(m, &err);
            return 1;
        }
    }
    if (metrics_close(m, &err)) {
        fprintf(stderr, "write_events: %s\n", err.msg);
        return 1;
    }
    return 0;
}
