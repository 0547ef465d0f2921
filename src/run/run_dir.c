/* run_dir.c — a run's members and its directories: DIR for a single run; DIR and one
 * subdirectory per member for a sweep; the files written when a run starts (config.yaml,
 * sweep.txt) and every member's metrics log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/files.h"
#include "run/run_state.h"

static const char *const extra_tags[] = {"train/steps_per_s", "train/samples_per_s", "eval/return",
                                         "eval/normalized_score"};
_Static_assert(sizeof extra_tags / sizeof *extra_tags == COL_COUNT - LOG_TRAIN_SCALAR_COUNT,
               "a tag per column after the step's scalars");

int run_make_members(Run *run, Error *err) {
    const TrainOptions *opt = run->opt;
    int P = sweep_member_count(&opt->sweep, err);
    if (P < 0) return -1;
    run->members = calloc((size_t)P, sizeof *run->members);
    if (!run->members) return error_set(err, "out of host memory");
    run->P = P;
    for (int m = 0; m < P; m++) {
        Member *mem = &run->members[m];
        if (sweep_member_config(&opt->sweep, run->cfg, m, &mem->cfg, err)) return -1;
        mem->spec = (MemberSpec){.tau = mem->cfg.tau, .beta = mem->cfg.beta, .seed = mem->cfg.seed};
        sweep_member_name(&mem->cfg, mem->name, sizeof mem->name);
        if (opt->sweep.n_axes == 0) snprintf(mem->dir, sizeof mem->dir, "%s", opt->out_dir);
        else if ((size_t)snprintf(mem->dir, sizeof mem->dir, "%s/%s", opt->out_dir, mem->name) >= sizeof mem->dir)
            return error_set(err, "%s: path too long", opt->out_dir);
    }
    return run_check_member_names(run, err);
}

static int compare_names(const void *a, const void *b) {
    return strcmp((*(const Member *const *)a)->name, (*(const Member *const *)b)->name);
}

/* Two members writing one directory would lose one's results: names are exact (sweep.c) and
 * values unique per axis, so this holds; checked here anyway, where the loss would happen. */
int run_check_member_names(const Run *run, Error *err) {
    if (run->P < 2) return 0;
    const Member **sorted = malloc(sizeof *sorted * (size_t)run->P);
    if (!sorted) return error_set(err, "out of host memory");
    for (int p = 0; p < run->P; p++) sorted[p] = &run->members[p];
    qsort(sorted, (size_t)run->P, sizeof *sorted, compare_names);
    int rc = 0;
    for (int p = 1; p < run->P && rc == 0; p++)
        if (!strcmp(sorted[p - 1]->name, sorted[p]->name))
            rc = error_set(err, "--sweep: two members would share the directory %s", sorted[p]->name);
    free(sorted);
    return rc;
}

static int write_config(FILE *out, void *cfg, Error *err) {
    if (config_write_yaml(cfg, out) == 0) return 0;
    /* A failed write of the stream (a full disk) is reported by file_write_atomic_stream with
     * the system's reason; only a value YAML cannot hold is this function's to name. */
    if (ferror(out)) return 0;
    return error_set(err, "a setting cannot be written as YAML (a string that is not UTF-8?)");
}

static int write_config_file(const char *dir, const Config *cfg, Error *err) {
    char path[TRAIN_PATH_MAX + 32];
    if ((size_t)snprintf(path, sizeof path, "%s/config.yaml", dir) >= sizeof path)
        return error_set(err, "%s: path too long", dir);
    if (file_write_atomic_stream(path, write_config, (void *)cfg, err))
        return error_prefix(err, "cannot write the resolved config");
    return 0;
}

int run_open_outputs(Run *run, int64_t start_step, Error *err) {
    const TrainOptions *opt = run->opt;
    const char *columns[COL_COUNT];
    for (int c = 0; c < LOG_TRAIN_SCALAR_COUNT; c++) columns[c] = train_scalar_tags[c];
    for (int c = LOG_TRAIN_SCALAR_COUNT; c < COL_COUNT; c++) columns[c] = extra_tags[c - LOG_TRAIN_SCALAR_COUNT];
    if (file_make_dirs(opt->out_dir, err) || write_config_file(opt->out_dir, run->cfg, err) ||
        sweep_write_file(&opt->sweep, opt->out_dir, err) || run_record(run, start_step, err))
        return -1;
    for (int p = 0; p < run->P; p++) {
        Member *m = &run->members[p];
        if (file_make_dirs(m->dir, err) || (opt->sweep.n_axes && write_config_file(m->dir, &m->cfg, err))) return -1;
        m->log = metrics_open(m->dir, COL_COUNT, columns, opt->resume ? start_step : -1, err);
        if (!m->log) return -1;
    }
    return 0;
}
