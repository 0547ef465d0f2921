/* run_state.h — one training run's state, shared by the run layer's files (trainer.c,
 * run_dir.c, checkpoints.c, evaluation.c, progress.c); not for other modules. */
#ifndef CUIQL_RUN_RUN_STATE_H
#define CUIQL_RUN_RUN_STATE_H

#include <signal.h>

#include "algo/iql.h"
#include "algo/model.h"
#include "data/dataset.h"
#include "log/metrics.h"
#include "run/launcher.h"
#include "run/sweep_memory.h"
#include "run/sweep_results.h"
#include "run/sweep_shard.h"
#include "run/run_lock.h"
#include "run/trainer.h"

/* Columns of metrics.csv and the event file: the step's scalars (iql.h), then these. */
enum { COL_STEPS_PER_S = LOG_TRAIN_SCALAR_COUNT, COL_SAMPLES_PER_S, COL_EVAL_RETURN, COL_EVAL_SCORE, COL_COUNT };

typedef struct {
    MemberSpec spec;
    Config cfg;                     /* the config that reproduces this member as a single run */
    char name[96];
    char dir[TRAIN_PATH_MAX];
    MetricsLog *log;
    int index;                      /* in the sweep's full cross product (0 for a single run) */
    double last_return, last_score; /* its latest evaluation (NaN before the first) */
} Member;

/* Members all[first .. first + count) trained together, from step `start`: their checkpoints'
 * step when `resume` (every member of a group is at the same step), else 0. */
typedef struct {
    int first, count;
    int64_t start;
    int resume;
} RunGroup;

typedef struct GymEval GymEval;  /* gym_eval.c */

typedef struct {
    const TrainOptions *opt;
    const Config *cfg;
    Dataset data;
    Backend *backend;
    char device_note[256];          /* why device auto chose the CPU, or "" (backend_select) */
    IqlState *iql;
    int P;                          /* the population training now: members[0..P) */
    Member *members;                /* a group of all[] (sweep_memory.h), all[] when one group */
    int n_all;                      /* this process's members: its shard of the sweep */
    Member *all;
    RunGroup *groups;               /* the order they train in (run_plan_groups) */
    int n_groups, group;            /* group: the one training now */
    int sweep_members;              /* members of the whole sweep (1 for a single run) */
    SweepShard shard;
    Launch launch;
    MemoryPlan plan;
    SweepTable results;             /* a sweep's results table (sweep_results.h) */
    char results_path[TRAIN_PATH_MAX + 64];
    int have_scalars;               /* scalars hold the group's last logged step */
    int outputs_open;               /* DIR's files written, the results table open */
    ModelLayout single;             /* one member's layout (checkpoints) */
    float *params, *target, *adam_m, *adam_v;  /* one member's host copies */
    float *pop_params, *pop_target, *pop_m, *pop_v; /* the population's, one download each */
    double *scalars;                /* [P][LOG_TRAIN_SCALAR_COUNT] */
    int agreed;                     /* data parallel: the error in hand is every rank's (else this
                                       rank's own, which ends them all: data_parallel.h) */
    RunLock *lock;                  /* the run directory, held from run_claim to the end */
    uint64_t data_fingerprint;      /* of the dataset as read, before preprocessing */
    char resume_changes[1024];      /* --resume: the changeable keys that changed, "k:old->new,..." */

    /* evaluation (evaluation.c): in a built-in environment, or in gymnasium through the bridge */
    const char *eval_builtin;       /* the built-in environment's name, or NULL */
    GymEval *gym;                   /* gymnasium (config eval_env: gym:<id>), or NULL */
    double *eval_returns, *eval_scores; /* [P]: each member's latest evaluation (score NaN: none) */
    int64_t eval_step;              /* the step of the latest evaluation of every member; -1: none yet */
    const volatile sig_atomic_t *stop; /* the trainer's signal flag: set, a wait for evaluations ends */
} Run;

/* run_dir.c */
/* The members this process trains (its shard of a sweep, run->shard) into all[]. */
int run_make_members(Run *run, Error *err);
/* The training group's directories, their config.yaml and metrics logs; and closing the logs. */
int run_open_members(Run *run, int64_t start_step, Error *err);
int run_close_members(Run *run, Error *err);
/* Refuses two members with one directory name. */
int run_check_member_names(const Run *run, Error *err);
/* Creates DIR, writes its config.yaml (a sweep's top-level files: run_write_sweep_files) and
 * records this start or resume in history.log. */
int run_open_outputs(Run *run, int64_t start_step, Error *err);

/* run_claim.c */
/* Takes the run directory (run_lock.h: the lock; a new run refused over an old one, --force
 * moving it aside) and, on --resume, checks the config, the sweep and the dataset against what
 * the run recorded (run_history.h). Before anything of the directory is read or written. */
int run_claim(Run *run, Error *err);
/* Appends this start or resume to history.log (after config.yaml is written). */
int run_record(Run *run, int64_t start_step, Error *err);

/* run_explain.c */
/* "SIGINT", "SIGTERM", "SIGHUP (the terminal was closed)", "SIGPIPE (stdout was closed)". */
const char *run_signal_name(int sig);
/* Adds to an out-of-memory error of the population's set-up the settings that size it. */
void run_explain_memory(const Run *run, Error *err);

/* checkpoints.c */
/* A weights-only file of member p, from its parameters in run->params (what the gym bridge reads). */
int run_write_policy_file(Run *run, int p, int64_t step, const char *path, Error *err);
/* Every member's latest checkpoint (and the periodic one when `periodic`). */
int run_save_checkpoints(Run *run, int64_t step, int periodic, Error *err);
/* --resume: every member from its own latest checkpoint, all at one step (*start_step). */
int run_resume(Run *run, int64_t *start_step, Error *err);
/* --init-from: the file's weights start every member; optimisers and step start fresh. */
int run_init_from(Run *run, const char *path, Error *err);

/* evaluation.c: the run's evaluation environment, named by config env (built-in) or eval_env
 * (a built-in name, or gym:<id>) */
/* Before training: the environment is found and checked against the dataset (a gymnasium one:
 * its bridge is started and says hello), so that it cannot fail at the first evaluation. */
int run_eval_prepare(Run *run, Error *err);
int run_eval_enabled(const Run *run);
const char *run_eval_name(const Run *run);  /* "pendulum", "gym:Hopper-v5" */
uint64_t run_eval_seed(const Run *run);     /* episode i of an evaluation starts from seed + i */
/* Evaluates every member at `step`. Built-in: now, into run->eval_* (*done = 1). Gymnasium:
 * sends the requests and returns (*done = 0); the results are logged when they arrive. */
int run_eval_at(Run *run, int64_t step, int *done, Error *err);
/* Ends the evaluation (the bridge); removes what it left. */
void run_eval_close(Run *run);

/* gym_eval.c: evaluation in gymnasium through tools/gym_bridge.py (docs/gym-bridge.md) */
int gym_eval_start(Run *run, const char *env_id, Error *err);
int gym_eval_submit(Run *run, int64_t step, Error *err);
/* Logs the results that have arrived, each as a row at the step it evaluated. `step` is where
 * training is: when the bridge fails, the checkpoint of that step is written before the error
 * returns. Cheap when nothing is outstanding (it looks at the bridge only at log steps then). */
int gym_eval_poll(Run *run, int64_t step, Error *err);
/* Waits for every outstanding evaluation (the end of training). */
int gym_eval_finish(Run *run, Error *err);
double gym_eval_held_seconds(const Run *run);  /* training time spent waiting for a busy bridge */
void gym_eval_close(Run *run);

/* progress.c */
int run_progress_in_place(const Run *run);  /* a terminal's line, rewritten per log */
void run_print_start(const Run *run, int64_t start);
/* A group of a population trained in groups starts (nothing for one group). */
void run_print_group(const Run *run, int64_t start);
/* A logged or evaluated step: rate, ETA, losses, the latest evaluation (a gymnasium one may be
 * of an earlier step), the best member so far. */
void run_print_progress(const Run *run, int64_t step, double steps_per_s);
/* A line with the step and the rate only, when no line has been printed for a while (on a slow
 * population log_every steps can take minutes); *last_print: when the last line was printed. */
void run_print_heartbeat(const Run *run, int64_t step, double now, double *last_print, double steps_per_s);
/* The end: time taken, where the checkpoints are, each member's (or, for a big sweep, the
 * best few members') last evaluation. */
void run_print_done(const Run *run, double seconds);
/* Where the checkpoints are, for messages: "DIR/checkpoint.h5", or for a sweep
 * "DIR/<member>/checkpoint.h5 for each of N members (listed in members.csv)". */
void run_checkpoint_where(const Run *run, char *buf, size_t len);

/* sweep_run.c: a sweep's run-time files and plans */
/* The shard of the sweep this process trains (--shard, or the launcher's environment). */
int run_resolve_shard(Run *run, Error *err);
/* The groups members train in: as many at once as the memory the backend has (or
 * --memory-budget) holds and, on resume, members at the same checkpoint step together. */
int run_plan_groups(Run *run, Error *err);
/* A sweep's top-level files: config.yaml (the base, with the swept keys shown as swept),
 * sweep.txt, members.csv (every member's directory). Safe when shards write them at once. */
int run_write_sweep_files(Run *run, Error *err);
/* Opens the results table (on resume, reading what the last run wrote). */
int run_open_results(Run *run, Error *err);
/* Drops the group's rows after its resume step. */
void run_cut_results(Run *run, int64_t start);
/* Records the group's evaluation at step and rewrites the table; with_losses: the last logged
 * losses are that step's own (not so for a gymnasium result, which arrives steps later). */
int run_record_results(Run *run, int64_t step, const double *returns, const double *scores, int with_losses,
                       Error *err);
/* The config a sweep writes as DIR/config.yaml: the run's, with the members' shared batch seed
 * written out when the seed is swept. */
void run_sweep_base_config(const Run *run, Config *base);

#endif
