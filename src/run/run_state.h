/* run_state.h — one training run's state, shared by the run layer's files (trainer.c,
 * run_dir.c, checkpoints.c, evaluation.c, progress.c); not for other modules. */
#ifndef CUIQL_RUN_RUN_STATE_H
#define CUIQL_RUN_RUN_STATE_H

#include <signal.h>

#include "algo/iql.h"
#include "algo/model.h"
#include "data/dataset.h"
#include "log/metrics.h"
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

typedef struct GymEval GymEval;  /* gym_eval.c */

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

    /* evaluation (evaluation.c): in a built-in environment, or in gymnasium through the bridge */
    const char *eval_builtin;       /* the built-in environment's name, or NULL */
    GymEval *gym;                   /* gymnasium (config eval_env: gym:<id>), or NULL */
    double *eval_returns, *eval_scores; /* [P]: each member's latest evaluation (score NaN: none) */
    int64_t eval_step;              /* the step of the latest evaluation of every member; -1: none yet */
    const volatile sig_atomic_t *stop; /* the trainer's signal flag: set, a wait for evaluations ends */
} Run;

/* run_dir.c */
int run_make_members(Run *run, Error *err);
/* Creates the directories and writes config.yaml (and sweep.txt), opens every member's log. */
int run_open_outputs(Run *run, int64_t start_step, Error *err);

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
void run_print_start(const Run *run, int64_t start);
void run_print_progress(const Run *run, int64_t step, double steps_per_s);
void run_print_done(const Run *run, int64_t steps, double seconds);

#endif
