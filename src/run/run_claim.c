/* run_claim.c — a run takes its directory and records itself there: the glue between the
 * trainer and the rules of run_lock.h and run_history.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/files.h"
#include "run/run_history.h"
#include "run/run_state.h"

/* A shard of a new sweep finds DIR's own files (config.yaml, sweep.txt) written by a sibling
 * shard: they must describe this sweep, or DIR holds another run. */
static int check_sibling_shards(Run *run, Error *err) {
    const TrainOptions *opt = run->opt;
    char what[256], changes[1024], path[TRAIN_PATH_MAX + 32];
    if (!run_dir_holds_run(opt->out_dir, what, sizeof what)) return 0;
    /* A sibling writes sweep.txt, then config.yaml (sweep_run.c): either may not be there yet,
     * but a run's other files at the top (checkpoint.h5, metrics.csv) are never a sweep's. */
    snprintf(path, sizeof path, "%s/checkpoint.h5", opt->out_dir);
    int single = file_exists(path);
    snprintf(path, sizeof path, "%s/metrics.csv", opt->out_dir);
    single |= file_exists(path);
    snprintf(path, sizeof path, "%s/config.yaml", opt->out_dir);
    int has_config = file_exists(path);
    snprintf(path, sizeof path, "%s/sweep.txt", opt->out_dir);
    int has_sweep = file_exists(path);
    Config base;  /* as the sweep writes its config.yaml */
    run_sweep_base_config(run, &base);
    if (single) return error_set(err, "%s: holds a run already (%s), not a sweep; give the sweep another --out",
                                 opt->out_dir, what);
    if ((has_config && run_resume_compare_config(opt->out_dir, &base, changes, sizeof changes, err)) ||
        (has_sweep && run_resume_compare_sweep(opt->out_dir, &opt->sweep, err)))
        return error_prefix(err, "%s: holds a run (%s) that is not this sweep's sibling shards'", opt->out_dir, what);
    return 0;
}

int run_claim(Run *run, Error *err) {
    const TrainOptions *opt = run->opt;
    int sharded = run->shard.count > 1;
    if (sharded && opt->force)
        return error_set(err, "--force: shard %d/%d would move its sibling shards' files aside; move the old run "
                         "away first, or give a new --out", run->shard.index, run->shard.count);
    RunDirMode mode = opt->resume ? RUN_DIR_RESUME : opt->force ? RUN_DIR_FORCE : RUN_DIR_NEW;
    char lock_name[64];
    snprintf(lock_name, sizeof lock_name, ".cuiql-shard-%d-of-%d.lock", run->shard.index, run->shard.count);
    const char **dirs = malloc(sizeof *dirs * (size_t)(run->n_all ? run->n_all : 1));
    if (!dirs) return error_set(err, "out of host memory");
    for (int p = 0; p < run->n_all; p++) dirs[p] = run->all[p].dir;
    run->lock = run_lock_take(opt->out_dir, sharded ? lock_name : NULL, mode, dirs, run->n_all, !sharded, err);
    free(dirs);
    if (!run->lock) return -1;
    if (!opt->resume) return sharded && mode == RUN_DIR_NEW ? check_sibling_shards(run, err) : 0;

    if (run_resume_compare_config(opt->out_dir, run->cfg, run->resume_changes, sizeof run->resume_changes, err) ||
        run_resume_compare_sweep(opt->out_dir, &opt->sweep, err))
        return -1;
    RunDataRecord rec;
    if (run_history_data(opt->out_dir, &rec, err)) return -1;
    if (rec.found && (rec.fingerprint != run->data_fingerprint || rec.transitions != run->data.n))
        return error_set(err, "--resume: dataset %s is not the data this run was trained on (%s/%s records %s: %lld "
                         "transitions, fingerprint %016" PRIx64 "; this file: %lld, %016" PRIx64 "); resume with "
                         "that data, or start a new run", run->cfg->dataset, opt->out_dir, RUN_HISTORY_NAME,
                         rec.dataset, (long long)rec.transitions, rec.fingerprint, (long long)run->data.n,
                         run->data_fingerprint);
    return 0;
}

int run_record(Run *run, int64_t start_step, Error *err) {
    const TrainOptions *opt = run->opt;
    RunHistoryEntry e = {
        .event = opt->resume ? "resume" : "start", .step = start_step, .steps = run->cfg->steps,
        .changed = opt->resume && run->resume_changes[0] ? run->resume_changes : NULL,
        .replaced = run_lock_moved_to(run->lock), .dataset = run->cfg->dataset,
        .fingerprint = run->data_fingerprint, .transitions = run->data.n,
    };
    return run_history_append(opt->out_dir, &e, err);
}
