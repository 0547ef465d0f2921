/* report.c — `cuiql sweep-report DIR`: a sweep's results (every shard's table, merged) ranked
 * per (τ, β) over seeds, printed and written as DIR/summary.md and DIR/summary.csv. */
#include <stdio.h>
#include <string.h>

#include "algo/config.h"
#include "base/files.h"
#include "cli/commands.h"
#include "run/sweep.h"
#include "run/sweep_results.h"
#include "run/sweep_summary.h"

static void report_usage(FILE *out) {
    fprintf(out,
            "usage: cuiql sweep-report DIR [--quiet]\n"
            "\n"
            "Ranks the (tau, beta) pairs of the sweep in DIR by the mean over seeds of each member's final\n"
            "evaluation, with the best evaluation beside it, from DIR/sweep.csv and every shard's\n"
            "DIR/sweep-shard-I-of-N.csv. Prints the table and writes DIR/summary.md and DIR/summary.csv.\n"
            "A sweep still running is reported as it stands. tools/plot.py DIR draws the heatmap.\n"
            "\n"
            "  --quiet   write the files, print nothing\n");
}

static int report(const char *dir, int quiet, Error *err) {
    Sweep sweep = {0};
    if (sweep_read_file(&sweep, dir, err)) return -1;
    if (sweep.n_axes == 0) return error_set(err, "%s: not a sweep (no sweep.txt; `cuiql train --sweep` writes it)", dir);
    /* The base config gives the values of the axes not swept and the last step. */
    Config base;
    config_defaults(&base);
    char path[CONFIG_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    if (file_exists(path) && config_load_file(&base, path, err)) return -1;

    SweepTable table = {0};
    SweepSummary summary = {0};
    int n_files = 0, rc = -1;
    if (sweep_table_read_dir(&table, dir, &n_files, err)) goto done;
    if (n_files == 0) {
        error_set(err, "%s: no results yet (no sweep.csv: the sweep writes it when it starts)", dir);
        goto done;
    }
    if (sweep_summarize(&table, &sweep, &base, &summary, err)) {
        error_prefix(err, "%s", dir);
        goto done;
    }
    char title[CONFIG_PATH_MAX + 32];
    snprintf(title, sizeof title, "# Sweep %s", dir);
    snprintf(path, sizeof path, "%s/summary.md", dir);
    if (sweep_summary_write_md(&summary, title, path, err)) goto done;
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    if (sweep_summary_write_csv(&summary, path, err)) goto done;
    if (!quiet) {
        sweep_summary_print(stdout, &summary, title);
        printf("\nwritten: %s/summary.md, %s/summary.csv (from %d results table%s)\n", dir, dir, n_files,
               n_files == 1 ? "" : "s");
    }
    rc = 0;
done:
    sweep_summary_free(&summary);
    sweep_table_free(&table);
    return rc;
}

int cmd_report(int argc, char **argv) {
    const char *dir = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            report_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (argv[i][0] == '-' || dir) {
            fprintf(stderr, "cuiql sweep-report: unexpected argument '%s' (see cuiql sweep-report --help)\n", argv[i]);
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (!dir) {
        report_usage(stderr);
        return 2;
    }
    Error err = {{0}};
    if (report(dir, quiet, &err)) {
        fprintf(stderr, "cuiql sweep-report: %s\n", err.msg);
        return 1;
    }
    return 0;
}
