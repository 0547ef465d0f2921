/* run_claim.c — a run takes its directory and records itself there: the glue between the
 * trainer and the rules of run_lock.h and run_history.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/run_history.h"
#include "run/run_state.h"

int run_claim(Run *run, Error *err) {
    const TrainOptions *opt = run->opt;
    if (opt->resume && opt->force) return error_set(err, "--resume and --force exclude each other");
    RunDirMode mode = opt->resume ? RUN_DIR_RESUME : opt->force ? RUN_DIR_FORCE : RUN_DIR_NEW;
    const char **dirs = malloc(sizeof *dirs * (size_t)run->P);
    if (!dirs) return error_set(err, "out of host memory");
    for (int p = 0; p < run->P; p++) dirs[p] = run->members[p].dir;
    run->lock = run_lock_take(opt->out_dir, mode, dirs, run->P, err);
    free(dirs);
    if (!run->lock) return -1;
    if (!opt->resume) return 0;

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
