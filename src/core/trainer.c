/* trainer.c — the training loop around iql_step(): members, run directories, logs,
 * checkpoints, evaluation, resume and interruption (see trainer.h). */
#include "core/trainer.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/backend_select.h"
#include "core/checkpoint.h"
#include "core/iql.h"
#include "core/model.h"
#include "data/dataset.h"
#include "env/env.h"
#include "env/evaluate.h"
#include "log/metrics.h"

/* The one piece of global state: a signal handler can only talk to the loop through a
 * variable of static storage. The loop finishes its step, checkpoints and exits. */
static volatile sig_atomic_t stop_signal = 0;
static void on_stop_signal(int sig) { stop_signal = sig; }

/* Columns of metrics.csv and the event file: the iql scalars, then these. */
enum { COL_STEPS_PER_S = LOG_TRAIN_SCALAR_COUNT, COL_SAMPLES_PER_S, COL_EVAL_RETURN, COL_EVAL_SCORE, COL_COUNT };
static const char *const extra_tags[] = {"train/steps_per_s", "train/samples_per_s", "eval/return",
                                         "eval/normalized_score"};

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
} Run;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- members and directories ------------------------------------------------------------- */

int train_add_sweep(TrainOptions *opt, const char *assignment, Error *err) {
    const char *eq = strchr(assignment, '=');
    if (!eq) return error_set(err, "--sweep '%s': expected KEY=V1,V2,...", assignment);
    size_t klen = (size_t)(eq - assignment);
    if (opt->n_sweep == SWEEP_MAX_AXES) return error_set(err, "--sweep: at most %d axes", SWEEP_MAX_AXES);
    SweepAxis *axis = &opt->sweep[opt->n_sweep];
    memset(axis, 0, sizeof *axis);
    if (klen >= sizeof axis->key || (strncmp(assignment, "tau", klen) && strncmp(assignment, "beta", klen) &&
                                     strncmp(assignment, "seed", klen)) || klen < 3)
        return error_set(err, "--sweep '%s': KEY must be tau, beta or seed", assignment);
    memcpy(axis->key, assignment, klen);
    for (int i = 0; i < opt->n_sweep; i++)
        if (!strcmp(opt->sweep[i].key, axis->key)) return error_set(err, "--sweep %s given twice", axis->key);
    const char *p = eq + 1;
    while (*p) {
        if (axis->n == SWEEP_MAX_VALUES) return error_set(err, "--sweep %s: at most %d values", axis->key, SWEEP_MAX_VALUES);
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v) || (*end && *end != ','))
            return error_set(err, "--sweep %s: '%s' is not a list of numbers", axis->key, eq + 1);
        if (!strcmp(axis->key, "seed") && (v < 0 || v != floor(v)))
            return error_set(err, "--sweep seed: %g is not a non-negative integer", v);
        axis->values[axis->n++] = v;
        p = *end ? end + 1 : end;
    }
    if (axis->n == 0) return error_set(err, "--sweep %s: no values", axis->key);
    opt->n_sweep++;
    return 0;
}

/* The cross product of the sweep axes, tau outermost, seed innermost. */
static int make_members(Run *run, Error *err) {
    const TrainOptions *opt = run->opt;
    int P = 1;
    for (int i = 0; i < opt->n_sweep; i++) P *= opt->sweep[i].n;
    if (P > 4096) return error_set(err, "--sweep: %d members is more than 4096", P);
    run->members = calloc((size_t)P, sizeof *run->members);
    if (!run->members) return error_set(err, "out of host memory");
    run->P = P;
    for (int m = 0; m < P; m++) {
        Member *mem = &run->members[m];
        Config c = *run->cfg;
        c.batch_seed = run->cfg->batch_seed >= 0 ? run->cfg->batch_seed : (int64_t)run->cfg->seed;
        int rest = m;
        for (int i = opt->n_sweep - 1; i >= 0; i--) {
            const SweepAxis *axis = &opt->sweep[i];
            double v = axis->values[rest % axis->n];
            rest /= axis->n;
            if (!strcmp(axis->key, "tau")) c.tau = v;
            else if (!strcmp(axis->key, "beta")) c.beta = v;
            else c.seed = (uint64_t)v;
        }
        if (opt->n_sweep == 0) c.batch_seed = run->cfg->batch_seed;  /* a single run keeps its own rule */
        Error verr;
        if (config_validate(&c, &verr)) return error_set(err, "member %d: %s", m, verr.msg);
        mem->cfg = c;
        mem->spec = (MemberSpec){.tau = c.tau, .beta = c.beta, .seed = c.seed};
        snprintf(mem->name, sizeof mem->name, "tau%g-beta%g-seed%llu", c.tau, c.beta, (unsigned long long)c.seed);
        if (opt->n_sweep == 0) snprintf(mem->dir, sizeof mem->dir, "%s", opt->out_dir);
        else if ((size_t)snprintf(mem->dir, sizeof mem->dir, "%s/%s", opt->out_dir, mem->name) >= sizeof mem->dir)
            return error_set(err, "%s: path too long", opt->out_dir);
    }
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *path, Error *err) {
    char buf[TRAIN_PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return error_set(err, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0777) && errno != EEXIST) return error_set(err, "%s: cannot create directory: %s", buf, strerror(errno));
            *p = saved;
            if (!saved) break;
        }
    }
    return 0;
}

static int write_config_file(const char *dir, const Config *cfg, Error *err) {
    char path[TRAIN_PATH_MAX + 32], tmp[TRAIN_PATH_MAX + 40];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return error_set(err, "%s: cannot write: %s", tmp, strerror(errno));
    int bad = config_write_yaml(cfg, f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        remove(tmp);
        return error_set(err, "%s: cannot write the resolved config", path);
    }
    return 0;
}

/* ---- checkpoints ----------------------------------------------------------------------------- */

static int checkpoint_path(char *buf, size_t len, const Member *m, int64_t step) {
    if (step < 0) return snprintf(buf, len, "%s/checkpoint.h5", m->dir) >= (int)len ? -1 : 0;
    return snprintf(buf, len, "%s/checkpoint-%lld.h5", m->dir, (long long)step) >= (int)len ? -1 : 0;
}

static void fill_meta(const Run *run, const Member *m, int64_t step, CheckpointMeta *meta, char *config_yaml) {
    memset(meta, 0, sizeof *meta);
    meta->step = step;
    meta->obs_dim = run->single.obs_dim;
    meta->act_dim = run->single.act_dim;
    meta->n_hidden = run->single.n_hidden;
    memcpy(meta->hidden, run->single.hidden, sizeof meta->hidden);
    meta->deterministic = m->cfg.policy == POLICY_DETERMINISTIC;
    meta->max_action = m->cfg.max_action;
    meta->tau = m->cfg.tau;
    meta->beta = m->cfg.beta;
    meta->seed = (int64_t)m->cfg.seed;
    meta->batch_seed = m->cfg.batch_seed >= 0 ? m->cfg.batch_seed : (int64_t)m->cfg.seed;
    meta->reward_scale = run->data.reward_scale;
    meta->reward_shift = run->data.reward_shift;
    meta->state_mean = run->data.state_mean;
    meta->state_std = run->data.state_std;
    meta->config_yaml = config_yaml;
}

/* Writes every member's latest checkpoint (and the periodic one when `periodic`). */
static int save_checkpoints(Run *run, int64_t step, int periodic, Error *err) {
    /* After a failed op the weights are suspect: keep the last good checkpoint instead. */
    if (run->backend->ops->status(run->backend, err))
        return error_prefix(err, "step %lld: not saving a checkpoint (the last one written is intact)", (long long)step);
    if (iql_get_population(run->iql, run->pop_params, run->pop_target, run->pop_m, run->pop_v, err))
        return error_prefix(err, "saving checkpoint at step %lld", (long long)step);
    const ModelLayout *pop = iql_layout(run->iql);
    for (int p = 0; p < run->P; p++) {
        Member *m = &run->members[p];
        model_member_gather(pop, p, run->pop_params, run->params, 0);
        model_member_gather(pop, p, run->pop_target, run->target, 1);
        model_member_gather(pop, p, run->pop_m, run->adam_m, 0);
        model_member_gather(pop, p, run->pop_v, run->adam_v, 0);
        char *yaml = config_to_yaml_string(&m->cfg);
        if (!yaml) return error_set(err, "out of host memory");
        CheckpointMeta meta;
        fill_meta(run, m, step, &meta, yaml);
        char path[TRAIN_PATH_MAX + 64];
        int rc = 0;
        if (periodic) {
            rc = checkpoint_path(path, sizeof path, m, step) ? error_set(err, "%s: path too long", m->dir)
                 : checkpoint_write(path, &run->single, &meta, run->params, run->target, run->adam_m, run->adam_v, err);
        }
        if (!rc) {
            rc = checkpoint_path(path, sizeof path, m, -1) ? error_set(err, "%s: path too long", m->dir)
                 : checkpoint_write(path, &run->single, &meta, run->params, run->target, run->adam_m, run->adam_v, err);
        }
        free(yaml);
        if (rc) return -1;
    }
    return 0;
}

/* Puts one member's checkpoint tensors (in run->params & co.) into the host population
 * buffers; absent targets start as copies of the member's critics. */
static void scatter_member(Run *run, int p, int has_target, int with_optimizer) {
    const ModelLayout *pop = iql_layout(run->iql);
    model_member_scatter(pop, p, run->params, run->pop_params, 0);
    if (has_target) model_member_scatter(pop, p, run->target, run->pop_target, 1);
    else iql_targets_from_critics(run->iql, p, run->params, run->pop_target);
    if (with_optimizer) {
        model_member_scatter(pop, p, run->adam_m, run->pop_m, 0);
        model_member_scatter(pop, p, run->adam_v, run->pop_v, 0);
    }
}

/* Resume: every member continues from its own latest checkpoint; all must be at one step.
 * Members are gathered on the host and uploaded once, not once per member. */
static int resume_members(Run *run, int64_t *start_step, Error *err) {
    for (int p = 0; p < run->P; p++) {
        Member *m = &run->members[p];
        char path[TRAIN_PATH_MAX + 64];
        checkpoint_path(path, sizeof path, m, -1);
        if (access(path, R_OK)) return error_set(err, "--resume: no checkpoint to resume at %s", path);
        CheckpointMeta meta;
        if (checkpoint_read_meta(path, &meta, err)) return -1;
        int64_t step = meta.step;
        checkpoint_meta_free(&meta);
        if (p == 0) *start_step = step;
        else if (step != *start_step)
            return error_set(err, "--resume: %s is at step %lld but %s is at step %lld", path, (long long)step,
                             run->members[0].dir, (long long)*start_step);
        int has_target = 0, has_opt = 0;
        if (checkpoint_read(path, &run->single, run->params, run->target, run->adam_m, run->adam_v, &has_target,
                            &has_opt, err))
            return -1;
        if (!has_opt) return error_set(err, "--resume: %s has no optimizer state (a weights-only file)", path);
        scatter_member(run, p, has_target, 1);
    }
    if (iql_set_population(run->iql, run->pop_params, run->pop_target, run->pop_m, run->pop_v, err)) return -1;
    return iql_set_step_count(run->iql, *start_step, err);
}

/* --init-from: the file's weights start every member; optimisers and step start fresh. */
static int init_members_from(Run *run, const char *path, Error *err) {
    int has_target = 0;
    if (checkpoint_read(path, &run->single, run->params, run->target, NULL, NULL, &has_target, NULL, err))
        return error_prefix(err, "--init-from");
    for (int p = 0; p < run->P; p++) scatter_member(run, p, has_target, 0);
    return iql_set_population(run->iql, run->pop_params, run->pop_target, NULL, NULL, err);
}

/* ---- evaluation and logging ------------------------------------------------------------------ */

static int evaluate_members(Run *run, double *returns, double *scores, Error *err) {
    const Config *c = run->cfg;
    if (iql_get_population(run->iql, run->pop_params, NULL, NULL, NULL, err)) return -1;
    for (int p = 0; p < run->P; p++) {
        model_member_gather(iql_layout(run->iql), p, run->pop_params, run->params, 0);
        EvalResult res;
        if (env_evaluate(c->env, &run->single, run->params, 0, run->data.state_mean, run->data.state_std,
                         (float)c->max_action, c->eval_episodes, c->seed + 1000003, &res, err))
            return error_prefix(err, "evaluation in '%s'", c->env);
        returns[p] = res.mean_return;
        scores[p] = res.normalized_score;
    }
    return 0;
}

static void format_duration(char *buf, size_t len, double seconds) {
    if (!isfinite(seconds) || seconds < 0) snprintf(buf, len, "?");
    else if (seconds < 60) snprintf(buf, len, "%.0fs", seconds);
    else if (seconds < 3600) snprintf(buf, len, "%dm%02ds", (int)seconds / 60, (int)seconds % 60);
    else snprintf(buf, len, "%dh%02dm", (int)seconds / 3600, ((int)seconds % 3600) / 60);
}

/* One progress line: on a terminal it rewrites itself, elsewhere each is a plain line. */
static void print_progress(const Run *run, int64_t step, double steps_per_s, const double *evals) {
    if (run->opt->quiet) return;
    double mean[3] = {0, 0, 0};
    for (int p = 0; p < run->P; p++)
        for (int k = 0; k < 3; k++) mean[k] += run->scalars[(size_t)p * LOG_TRAIN_SCALAR_COUNT + k] / run->P;
    char eta[32];
    format_duration(eta, sizeof eta, (run->cfg->steps - step) / steps_per_s);
    int tty = isatty(fileno(stdout));
    printf("%sstep %lld/%lld  %.1f steps/s  ETA %s  loss/value %.4g  loss/q %.4g  loss/policy %.4g", tty ? "\r\033[K" : "",
           (long long)step, (long long)run->cfg->steps, steps_per_s, eta, mean[0], mean[1], mean[2]);
    if (evals) printf("  eval/return %.1f", evals[0]);
    if (run->P > 1) printf("  (mean of %d members)", run->P);
    if (!tty) printf("\n");
    fflush(stdout);
}

static int log_row(Run *run, int64_t step, int have_train, double steps_per_s, const double *returns,
                   const double *scores, Error *err) {
    for (int p = 0; p < run->P; p++) {
        double row[COL_COUNT];
        for (int c = 0; c < COL_COUNT; c++) row[c] = NAN;
        if (have_train) {
            memcpy(row, run->scalars + (size_t)p * LOG_TRAIN_SCALAR_COUNT, sizeof(double) * LOG_TRAIN_SCALAR_COUNT);
            row[COL_STEPS_PER_S] = steps_per_s;
            row[COL_SAMPLES_PER_S] = steps_per_s * run->cfg->batch_size;
        }
        if (returns) {
            row[COL_EVAL_RETURN] = returns[p];
            row[COL_EVAL_SCORE] = scores[p];
        }
        if (metrics_log(run->members[p].log, step, row, err)) return -1;
    }
    return 0;
}

/* A diverged run stops before it can overwrite a good checkpoint with NaN weights. */
static int check_finite(const Run *run, int64_t step, Error *err) {
    for (int p = 0; p < run->P; p++)
        for (int k = 0; k < LOG_TRAIN_SCALAR_COUNT; k++)
            if (!isfinite(run->scalars[(size_t)p * LOG_TRAIN_SCALAR_COUNT + k]))
                return error_set(err, "training diverged at step %lld: %s is %g (member %s); the last checkpoint is kept",
                                 (long long)step, train_scalar_tags[k], run->scalars[(size_t)p * LOG_TRAIN_SCALAR_COUNT + k],
                                 run->members[p].name);
    return 0;
}

/* An evaluation environment is checked before training, not when its first evaluation comes. */
static int check_eval_env(const char *name, const Dataset *data, Error *err) {
    const Env *env = env_find(name, err);
    if (!env) return error_prefix(err, "config 'env'");
    if (env->obs_dim != data->obs_dim || env->act_dim != data->act_dim)
        return error_set(err, "config 'env': %s has %d-dimensional states and %d-dimensional actions, the dataset %d and %d",
                         name, env->obs_dim, env->act_dim, data->obs_dim, data->act_dim);
    return 0;
}

/* ---- the run ------------------------------------------------------------------------------------ */

/* sweep.txt: one "KEY=V1,V2,..." line per axis, read back by `cuiql train --resume`. */
static int write_sweep_file(const TrainOptions *opt, Error *err) {
    char path[TRAIN_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/sweep.txt", opt->out_dir);
    FILE *f = fopen(path, "w");
    if (!f) return error_set(err, "%s: cannot write: %s", path, strerror(errno));
    for (int i = 0; i < opt->n_sweep; i++) {
        fprintf(f, "%s=", opt->sweep[i].key);
        for (int j = 0; j < opt->sweep[i].n; j++) fprintf(f, "%s%.17g", j ? "," : "", opt->sweep[i].values[j]);
        fprintf(f, "\n");
    }
    return fclose(f) ? error_set(err, "%s: cannot write", path) : 0;
}

static int open_outputs(Run *run, int64_t start_step, Error *err) {
    const char *columns[COL_COUNT];
    for (int c = 0; c < LOG_TRAIN_SCALAR_COUNT; c++) columns[c] = train_scalar_tags[c];
    for (int c = LOG_TRAIN_SCALAR_COUNT; c < COL_COUNT; c++) columns[c] = extra_tags[c - LOG_TRAIN_SCALAR_COUNT];
    if (make_dirs(run->opt->out_dir, err) || write_config_file(run->opt->out_dir, run->cfg, err)) return -1;
    if (run->opt->n_sweep && write_sweep_file(run->opt, err)) return -1;
    for (int p = 0; p < run->P; p++) {
        Member *m = &run->members[p];
        if (make_dirs(m->dir, err) || (run->opt->n_sweep && write_config_file(m->dir, &m->cfg, err))) return -1;
        m->log = metrics_open(m->dir, COL_COUNT, columns, run->opt->resume ? start_step : -1, err);
        if (!m->log) return -1;
    }
    return 0;
}

static int train_loop(Run *run, int64_t start, int *interrupted, Error *err) {
    const Config *c = run->cfg;
    int64_t total = c->steps;
    int has_env = c->env[0] != '\0';
    double *returns = calloc((size_t)run->P * 2, sizeof(double));
    if (!returns) return error_set(err, "out of host memory");
    double *scores = returns + run->P;
    int rc = 0;
    double t0 = now_seconds(), t_last = t0;
    int64_t step_last = start;

    for (int64_t step = start; step < total && rc == 0;) {
        iql_step(run->iql);
        step++;
        int final = step == total;
        int log_now = step % c->log_every == 0 || final;
        int eval_now = has_env && ((c->eval_every > 0 && step % c->eval_every == 0) || final);
        int ckpt_now = c->checkpoint_every > 0 && step % c->checkpoint_every == 0;
        if (stop_signal) {
            *interrupted = 1;
            rc = run->backend->ops->status(run->backend, err);
            if (!rc) rc = save_checkpoints(run, step, 0, err);
            if (!rc) rc = error_set(err, "interrupted by %s at step %lld; checkpoint written to %s/checkpoint.h5",
                                    stop_signal == SIGINT ? "SIGINT" : "SIGTERM", (long long)step,
                                    run->members[0].dir);
            break;
        }
        if (!log_now && !eval_now && !ckpt_now && !final) continue;

        double steps_per_s = NAN;
        if (log_now) {
            if ((rc = iql_read_scalars(run->iql, run->scalars, err))) {
                error_prefix(err, "step %lld (checkpoints written before are intact)", (long long)step);
                break;
            }
            double t = now_seconds();
            steps_per_s = (double)(step - step_last) / (t - t_last);
            if ((rc = check_finite(run, step, err))) break;
        }
        if (eval_now && (rc = evaluate_members(run, returns, scores, err))) break;
        if ((rc = log_row(run, step, log_now, steps_per_s, eval_now ? returns : NULL, scores, err))) break;
        if (log_now) print_progress(run, step, steps_per_s, eval_now ? returns : NULL);
        if (ckpt_now || final) rc = save_checkpoints(run, step, ckpt_now, err);
        t_last = now_seconds();  /* logging, evaluation and checkpoints stay out of steps/s */
        step_last = step;
    }
    if (!run->opt->quiet && isatty(fileno(stdout))) printf("\n");
    if (rc == 0 && !run->opt->quiet) {
        double elapsed = now_seconds() - t0;
        char dur[32];
        format_duration(dur, sizeof dur, elapsed);
        printf("done: %lld steps in %s; checkpoint: %s/checkpoint.h5%s\n", (long long)(total - start), dur,
               run->P > 1 ? run->opt->out_dir : run->members[0].dir, run->P > 1 ? "/<member>" : "");
        if (has_env)
            for (int p = 0; p < run->P; p++)
                printf("eval %s%s%s: return %.2f, normalized score %.1f\n", c->env, run->P > 1 ? " " : "",
                       run->P > 1 ? run->members[p].name : "", returns[p], scores[p]);
    }
    free(returns);
    return rc;
}

static void run_cleanup(Run *run) {
    Error ignored;
    for (int p = 0; p < run->P && run->members; p++)
        if (run->members[p].log) metrics_close(run->members[p].log, &ignored);
    free(run->members);
    iql_destroy(run->iql);
    if (run->backend) run->backend->ops->destroy(run->backend);
    dataset_free(&run->data);
    free(run->params);
    free(run->target);
    free(run->adam_m);
    free(run->adam_v);
    free(run->pop_params);
    free(run->pop_target);
    free(run->pop_m);
    free(run->pop_v);
    free(run->scalars);
}

int train_run(const TrainOptions *opt, int *interrupted, Error *err) {
    Run run = {.opt = opt, .cfg = &opt->cfg};
    *interrupted = 0;
    int rc = -1;
    const Config *c = &opt->cfg;
    if (config_validate(c, err)) return -1;
    if (!c->dataset[0]) return error_set(err, "no dataset: give --dataset FILE or set 'dataset' in the config");
    if (opt->resume && opt->init_from[0]) return error_set(err, "--resume and --init-from exclude each other");

    if (dataset_load(c->dataset, &run.data, err) || dataset_preprocess(&run.data, c, err)) goto done;
    if (c->env[0] && check_eval_env(c->env, &run.data, err)) goto done;
    if (make_members(&run, err)) goto done;
    if (model_layout_init(&run.single, 1, run.data.obs_dim, run.data.act_dim, c->hidden, c->n_hidden, err)) goto done;
    size_t np = run.single.n_params;
    run.params = malloc(np * sizeof(float));
    run.target = malloc(model_target_size(&run.single) * sizeof(float));
    run.adam_m = malloc(np * sizeof(float));
    run.adam_v = malloc(np * sizeof(float));
    run.scalars = calloc((size_t)run.P * LOG_TRAIN_SCALAR_COUNT, sizeof(double));
    if (!run.params || !run.target || !run.adam_m || !run.adam_v || !run.scalars) {
        error_set(err, "out of host memory");
        goto done;
    }

    BackendOptions bopt = {.threads = opt->threads, .device_index = 0, .precision = c->precision,
                           .use_graphs = opt->use_graphs, .gemm_epilogues = opt->gemm_epilogues,
                           .parallel_nets = opt->parallel_nets};
    if (!(run.backend = backend_select(c->device, &bopt, !opt->quiet, err))) goto done;
    MemberSpec *specs = malloc(sizeof *specs * run.P);
    if (!specs) {
        error_set(err, "out of host memory");
        goto done;
    }
    for (int p = 0; p < run.P; p++) specs[p] = run.members[p].spec;
    ReplaySource src = {
        .n = run.data.n, .n_states = run.data.n_states, .obs_dim = run.data.obs_dim, .act_dim = run.data.act_dim,
        .states = run.data.states, .state_row = run.data.state_row, .next_row = run.data.next_row,
        .actions = run.data.actions, .rewards = run.data.rewards, .terminals = run.data.terminals,
    };
    run.iql = iql_create(run.backend, c, specs, run.P, &src, err);
    free(specs);
    if (!run.iql) goto done;
    size_t pop_np = iql_layout(run.iql)->n_params, pop_nt = model_target_size(iql_layout(run.iql));
    run.pop_params = malloc(pop_np * sizeof(float));
    run.pop_target = malloc(pop_nt * sizeof(float));
    run.pop_m = malloc(pop_np * sizeof(float));
    run.pop_v = malloc(pop_np * sizeof(float));
    if (!run.pop_params || !run.pop_target || !run.pop_m || !run.pop_v) {
        error_set(err, "out of host memory for the population's checkpoint buffers");
        goto done;
    }

    int64_t start = 0;
    if (opt->resume && resume_members(&run, &start, err)) goto done;
    if (opt->init_from[0] && init_members_from(&run, opt->init_from, err)) goto done;
    if (start >= c->steps) {
        error_set(err, "--resume: the run is already at step %lld of %lld (raise --steps to continue)",
                  (long long)start, (long long)c->steps);
        goto done;
    }
    if (open_outputs(&run, start, err)) goto done;

    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    struct sigaction old_int, old_term;
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (!opt->quiet) {
        char desc[256];
        run.backend->ops->describe(run.backend, desc, sizeof desc);
        printf("cuiql: %lld transitions, state %d, action %d; %d member%s on %s; steps %lld..%lld\n",
               (long long)run.data.n, run.data.obs_dim, run.data.act_dim, run.P, run.P > 1 ? "s" : "", desc,
               (long long)start, (long long)c->steps);
        fflush(stdout);
    }
    rc = train_loop(&run, start, interrupted, err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

done:
    run_cleanup(&run);
    return rc;
}
