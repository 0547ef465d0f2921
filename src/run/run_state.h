/* run_state.h — one training run's state, shared by the run layer's files (trainer.c,
 * run_dir.c, checkpoints.c, evaluation.c, progress.c); not for other modules. */
#ifndef CUIQL_RUN_RUN_STATE_H
#define CUIQL_RUN_RUN_STATE_H

#include "algo/iql.h"
#include "algo/model.h"
#include "data/dataset.h"
#include "log/metrics.h"
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
} Member;

typedef struct {
    const TrainOptions *opt;
    const Config *cfg;
    Dataset data;
    Backend *backend;
    IqlState *iql;
    int P;
    Member *members;
    ModelLayout single;             /* one member's layout (checkpoints) */
    float *params, *target, *adam_m, *adam_v;  /* one member's host copies */
    float *pop_params, *pop_target, *pop_m, *pop_v; /* the population's, one download each */
    double *scalars;                /* [P][LOG_TRAIN_SCALAR_COUNT] */
    RunLock *lock;                  /* the run directory, held from run_claim to the end */
    uint64_t data_fingerprint;      /* of the dataset as read, before preprocessing */
    char resume_changes[1024];      /* --resume: the changeable keys that changed, "k:old->new,..." */
} Run;

/* run_dir.c */
int run_make_members(Run *run, Error *err);
/* Refuses two members with one directory name. */
int run_check_member_names(const Run *run, Error *err);
/* Creates the directories and writes config.yaml (and sweep.txt), opens every member's log. */
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
/* Every member's latest checkpoint (and the periodic one when `periodic`). */
int run_save_checkpoints(Run *run, int64_t step, int periodic, Error *err);
/* --resume: every member from its own latest checkpoint, all at one step (*start_step). */
int run_resume(Run *run, int64_t *start_step, Error *err);
/* --init-from: the file's weights start every member; optimisers and step start fresh. */
int run_init_from(Run *run, const char *path, Error *err);

/* evaluation.c */
/* An evaluation environment is checked before training, not when its first evaluation comes. */
int run_check_eval_env(const Run *run, Error *err);
int run_evaluate(Run *run, double *returns, double *scores, Error *err);

/* progress.c */
void run_print_start(const Run *run, int64_t start);
void run_print_progress(const Run *run, int64_t step, double steps_per_s, const double *evals);
void run_print_done(const Run *run, int64_t steps, double seconds, const double *returns, const double *scores);

#endif
