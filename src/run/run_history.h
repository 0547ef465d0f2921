/* run_history.h — what a run records about itself, and what a resume may change
 * (docs/run-directory.md has the user's view; who may write the directory is run_lock.h's).
 *
 * History. DIR/history.log gets one line per start and per resume: the event's name, then
 * tab-separated KEY=VALUE fields (a tab, line break or backslash in a value is written \t, \n,
 * \\), e.g.
 *
 *   start   time=2026-12-01T04:49:00Z  step=0    steps=1500  pid=..  host=..  [replaced=DIR/replaced-..]
 *           transitions=2000  fingerprint=9f3c0e12ab34cd56  dataset=/abs/path/data.h5
 *   resume  time=..  step=500  steps=1000  pid=..  host=..  changed=steps:500->1000,log_every:10->100
 *           transitions=2000  fingerprint=9f3c0e12ab34cd56  dataset=/abs/path/data.h5
 *
 * A line is appended with one write() and synced; a torn last line (a crash or a full disk
 * mid-write) is ignored when the file is read back. config.yaml is rewritten on each resume
 * (it holds the run's current settings: a later --resume without --steps continues to the new
 * step count); what it held before is in the `changed` field of the resume's line.
 *
 * What a resume may change. A resumed run must continue the trajectory it was on, so its
 * resolved config is compared key by key with DIR/config.yaml, and every difference outside
 * run_resume_changeable (the number of steps, the logging, checkpoint and evaluation cadences,
 * where it runs) is refused, naming the key and both values. The dataset is compared by
 * content, not by name: the fingerprint of the transitions as read (data/dataset.h), recorded
 * in the start line, so a moved or renamed file resumes and an edited one is refused. A sweep
 * given again on resume must be sweep.txt's. A run made by a cuiql without history.log
 * resumes with its config checked, and its dataset's fingerprint is recorded from then on. */
#ifndef CUIQL_RUN_RUN_HISTORY_H
#define CUIQL_RUN_RUN_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "algo/config.h"
#include "cuiql/error.h"
#include "run/sweep.h"

#define RUN_HISTORY_NAME "history.log"

/* The config keys a resume may change: none of them changes what the steps compute. NULL-ended. */
extern const char *const run_resume_changeable[];

/* The dataset a run recorded last (its latest start or resume line). */
typedef struct {
    int found;               /* 0: no history.log, or no complete line recording a dataset */
    uint64_t fingerprint;
    int64_t transitions;
    char dataset[4096];      /* the absolute path it had then */
} RunDataRecord;

int run_history_data(const char *dir, RunDataRecord *rec, Error *err);

/* One line of history.log. `changed` (resume) and `replaced` (start after --force) may be NULL. */
typedef struct {
    const char *event;       /* "start" or "resume" */
    int64_t step, steps;
    const char *changed, *replaced;
    const char *dataset;     /* as given; recorded as its absolute path */
    uint64_t fingerprint;
    int64_t transitions;
} RunHistoryEntry;

int run_history_append(const char *dir, const RunHistoryEntry *entry, Error *err);

/* Compares the config a resume resolved (`now`) with DIR/config.yaml, the run's. 0 when only
 * changeable keys (and the dataset's path) differ; then changes[n] lists them as
 * "KEY:OLD->NEW,..." ("" when none). -1 naming the first key that may not change, with both
 * values. */
int run_resume_compare_config(const char *dir, const Config *now, char *changes, size_t n, Error *err);

/* -1 when `now` has axes (--sweep given on resume) that differ from DIR/sweep.txt's. */
int run_resume_compare_sweep(const char *dir, const Sweep *now, Error *err);

/* The dataset path of a resumed run, before it is loaded. `from_run_config`: the path came from
 * DIR/config.yaml (no --dataset, no --config), so a relative one is relative to the directory
 * the run was started in, not necessarily this one: when it does not exist from here, the
 * absolute path the run recorded is used (dataset[n] is replaced). When neither exists, the
 * error says where the path came from. 0 otherwise, dataset unchanged. */
int run_resume_locate_dataset(const char *dir, int from_run_config, char *dataset, size_t n, Error *err);

#endif
