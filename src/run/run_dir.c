/* run_dir.c — a run's members and its directories: DIR for a single run; DIR and one
 * subdirectory per member for a sweep (this process's shard of it); the files written when a
 * run starts (config.yaml; a sweep's top-level files are sweep_run.c's) and every member's
 * metrics log, opened and closed with the group of members that trains. */
#include <math.h>
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
    int total = sweep_member_count(&opt->sweep, err);
    if (total < 0) return -1;
    int *index = malloc(sizeof *index * (size_t)total);
    run->all = calloc((size_t)total, sizeof *run->all);
    if (!index || !run->all) {
        free(index);
        return error_set(err, "out of host memory");
    }
    run->sweep_members = total;
    run->n_all = sweep_shard_members(&run->shard, total, index);  /* the whole sweep unless sharded */
    int rc = 0;
    for (int m = 0; m < run->n_all && !rc; m++) {
        Member *mem = &run->all[m];
        if ((rc = sweep_member_config(&opt->sweep, run->cfg, index[m], &mem->cfg, err))) break;
        mem->index = index[m];
        mem->last_return = mem->last_score = NAN;
        mem->spec = (MemberSpec){.tau = mem->cfg.tau, .beta = mem->cfg.beta, .seed = mem->cfg.seed};
        sweep_member_name(&mem->cfg, mem->name, sizeof mem->name);
        if (opt->sweep.n_axes == 0) snprintf(mem->dir, sizeof mem->dir, "%s", opt->out_dir);
        else if ((size_t)snprintf(mem->dir, sizeof mem->dir, "%s/%s", opt->out_dir, mem->name) >= sizeof mem->dir)
            rc = error_set(err, "%s: path too long", opt->out_dir);
    }
    free(index);
    return rc ? rc : run_check_member_names(run, err);
}

static int compare_names(const void *a, const void *b) {
    return strcmp((*(const Member *const *)a)->name, (*(const Member *const *)b)->name);
}

/* Two members writing one directory would lose one's results: names are exact (sweep.c) and
 * values unique per axis, so this holds; checked here anyway, where the loss would happen. */
int run_check_member_names(const Run *run, Error *err) {
    if (run->n_all < 2) return 0;
    const Member **sorted = malloc(sizeof *sorted * (size_t)run->n_all);
    if (!sorted) return error_set(err, "out of host memory");
    for (int p = 0; p < run->n_all; p++) sorted[p] = &run->all[p];
    qsort(sorted, (size_t)run->n_all, sizeof *sorted, compare_names);
    int rc = 0;
    for (int p = 1; p < run->n_all && rc == 0; p++)
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
    if (file_make_dirs(opt->out_dir, err)) return -1;
    if (opt->sweep.n_axes ? run_write_sweep_files(run, err) : write_config_file(opt->out_dir, run->cfg, err)) return -1;
    return run_record(run, start_step, err);
}

int run_open_members(Run *run, int64_t start_step, Error *err) {
    const TrainOptions *opt = run->opt;
    const char *columns[COL_COUNT];
    for (int c = 0; c < LOG_TRAIN_SCALAR_COUNT; c++) columns[c] = train_scalar_tags[c];
    for (int c = LOG_TRAIN_SCALAR_COUNT; c < COL_COUNT; c++) columns[c] = extra_tags[c - LOG_TRAIN_SCALAR_COUNT];
    for (int p = 0; p < run->P; p++) {
        Member *m = &run->members[p];
        if (file_make_dirs(m->dir, err) || (opt->sweep.n_axes && write_config_file(m->dir, &m->cfg, err))) return -1;
        m->log = metrics_open(m->dir, COL_COUNT, columns, opt->resume ? start_step : -1, err);
        if (!m->log) return -1;
    }
    return 0;
}

int run_close_members(Run *run, Error *err) {
    int rc = 0;
    for (int p = 0; p < run->P; p++) {
        Error e;
        if (run->members[p].log && metrics_close(run->members[p].log, &e) && !rc) rc = error_set(err, "%s", e.msg);
        run->members[p].log = NULL;
    }
    return rc;
}
