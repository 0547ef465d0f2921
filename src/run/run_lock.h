/* run_lock.h — who may write a run directory (docs/run-directory.md has the user's view; what a
 * resume may change is run_history.h's).
 *
 * 1. One writer at a time. Before `cuiql train` reads a checkpoint of DIR or writes anything
 *    there, it locks DIR/.cuiql.lock (flock, exclusive, never waiting) and holds the lock until
 *    it exits. The kernel drops the lock on any exit, kill -9 included, so a lock never outlives
 *    its process. A second process on the same DIR is refused, naming the holder's pid, host
 *    and start time (which the holder writes into the file). A sweep locks its top directory,
 *    which holds every member's. The lock file itself stays: removing it would let two
 *    processes lock two different files of the same name. A shard of a sweep (--shard I/N)
 *    locks DIR/.cuiql-shard-I-of-N.lock instead: the shards of one sweep write one DIR side by
 *    side (each its own members), and two processes on the same shard are refused.
 * 2. A new run never takes over an old one. Without --resume or --force, a DIR that already
 *    holds a run is refused, naming the file that shows it. "Holds a run" means: one of the
 *    files a run writes (config.yaml, metrics.csv, checkpoint.h5, checkpoint-STEP.h5,
 *    events.out.tfevents.*, sweep.txt, history.log) is in DIR or in a directory the new run
 *    would write (a sweep member's). Other files (notes, plots) do not count.
 * 3. --resume continues the run DIR holds (run_history.h: what it may change, how it is
 *    recorded).
 * 4. --force starts a new run in DIR after moving the old one aside: the run files at its top
 *    and every subdirectory holding a run (a sweep's members) are renamed into
 *    DIR/replaced-YYYYmmdd-HHMMSS/ (-2, -3, ... when that exists). Nothing is deleted; the move
 *    is announced on stderr and recorded in the new run's history.log. Files that are not a
 *    run's stay where they are.
 *
 *   RunLock *lock = run_lock_take("runs/x", NULL, RUN_DIR_NEW, dirs, n, 1, &err);  // dirs the run writes
 *   if (!lock) ...                          // "runs/x: holds a run already (checkpoint.h5); ..."
 *   ... train ...
 *   run_lock_release(lock);                 // or just exit
 */
#ifndef CUIQL_RUN_RUN_LOCK_H
#define CUIQL_RUN_RUN_LOCK_H

#include <stddef.h>

#include "cuiql/error.h"

#define RUN_LOCK_NAME ".cuiql.lock"
#define RUN_REPLACED_PREFIX "replaced-"

typedef enum {
    RUN_DIR_NEW,    /* a fresh run: refused where a run is already */
    RUN_DIR_RESUME, /* --resume: continues the run there */
    RUN_DIR_FORCE,  /* --force: a fresh run after moving an existing one aside */
} RunDirMode;

typedef struct RunLock RunLock;

/* Creates dir (and its parents) when missing, locks it (through lock_name in it, RUN_LOCK_NAME
 * when NULL) and applies mode's rule to the n_dirs directories the run will write (a sweep's
 * members; dir itself may be among them) and, when check_top, to dir's own files (a shard
 * leaves those to its caller: they are its sibling shards'). NULL with err set when another
 * process holds the lock, when a new run would take over an existing one, or when the
 * directory cannot be created, locked or (--force) cleared. */
RunLock *run_lock_take(const char *dir, const char *lock_name, RunDirMode mode, const char *const *dirs, int n_dirs,
                       int check_top, Error *err);

/* After --force moved an old run: "DIR/replaced-YYYYmmdd-HHMMSS"; NULL when nothing was moved. */
const char *run_lock_moved_to(const RunLock *lock);

/* Unlocks and frees; NULL is a no-op. */
void run_lock_release(RunLock *lock);

/* 1 when dir holds a run's files at its top (rule 2), with the first such name in what[n];
 * 0 when it holds none or does not exist. */
int run_dir_holds_run(const char *dir, char *what, size_t n);

#endif
