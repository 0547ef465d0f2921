/* trainer.c — the training loop around iql_step(): set up the data, the members and the
 * backend; step; log, evaluate and checkpoint on their schedules; stop cleanly on a signal or
 * a diverged loss (see trainer.h for the run layer's other files). */
#include "run/trainer.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run/backend_select.h"
#include "run/run_state.h"

/* The one piece of global state: a signal handler can only talk to the loop through a
 * variable of static storage. The loop finishes its step, checkpoints and exits. */
static volatile sig_atomic_t stop_signal = 0;
static void on_stop_signal(int sig) { stop_signal = sig; }

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int log_row(Run *run, int64_t step, int have_train, double steps_per_s, int have_eval, Error *err) {
    for (int p = 0; p < run->P; p++) {
        double row[COL_COUNT];
        for (int c = 0; c < COL_COUNT; c++) row[c] = NAN;
        if (have_train) {
            memcpy(row, run->scalars + (size_t)p * LOG_TRAIN_SCALAR_COUNT, sizeof(double) * LOG_TRAIN_SCALAR_COUNT);
            row[COL_STEPS_PER_S] = steps_per_s;
            row[COL_SAMPLES_PER_S] = steps_per_s * run->cfg->batch_size;
        }
        if (have_eval) {
            row[COL_EVAL_RETURN] = run->eval_returns[p];
            row[COL_EVAL_SCORE] = run->eval_scores[p];
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

static int train_loop(Run *run, int64_t start, int *interrupted, Error *err) {
    const Config *c = run->cfg;
    int64_t total = c->steps;
    int has_env = run_eval_enabled(run);
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
            if (!rc) rc = run_save_checkpoints(run, step, 0, err);
            if (!rc) rc = error_set(err, "interrupted by %s at step %lld; checkpoint written to %s/checkpoint.h5",
                                    stop_signal == SIGINT ? "SIGINT" : "SIGTERM", (long long)step,
                                    run->members[0].dir);
            break;
        }
        /* gymnasium results, logged at the step they evaluated (gym_eval.c) */
        if (run->gym && (rc = gym_eval_poll(run, step, err))) break;
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
        int evaluated = 0;
        if (eval_now && (rc = run_eval_at(run, step, &evaluated, err))) break;
        if ((log_now || evaluated) && (rc = log_row(run, step, log_now, steps_per_s, evaluated, err))) break;
        if (log_now) run_print_progress(run, step, steps_per_s);
        if (ckpt_now || final) rc = run_save_checkpoints(run, step, ckpt_now, err);
        if (!rc && final && run->gym) rc = gym_eval_finish(run, err);  /* after the checkpoint: a hung bridge costs no weights */
        t_last = now_seconds();  /* logging, evaluation and checkpoints stay out of steps/s */
        step_last = step;
    }
    if (rc == 0) run_print_done(run, total - start, now_seconds() - t0);
    else if (!run->opt->quiet && isatty(fileno(stdout))) printf("\n");
    if (rc && stop_signal) *interrupted = 1;
    return rc;
}

static void run_cleanup(Run *run) {
    Error ignored;
    run_eval_close(run);
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

/* The dataset, preprocessed as the config says. */
static int load_data(Run *run, Error *err) {
    const Config *c = run->cfg;
    DataPrep prep = {.normalize_states = c->normalize_states, .reward_transform = c->reward_transform,
                     .reward_scale = c->reward_scale, .reward_shift = c->reward_shift};
    return dataset_load(c->dataset, &run->data, err) || dataset_preprocess(&run->data, &prep, err) ? -1 : 0;
}

/* The host buffers that checkpoints, resume and evaluation go through. */
static int alloc_host_buffers(Run *run, Error *err) {
    size_t np = run->single.n_params, nt = model_target_size(&run->single);
    size_t pop_np = iql_layout(run->iql)->n_params, pop_nt = model_target_size(iql_layout(run->iql));
    run->params = malloc(np * sizeof(float));
    run->target = malloc(nt * sizeof(float));
    run->adam_m = malloc(np * sizeof(float));
    run->adam_v = malloc(np * sizeof(float));
    run->pop_params = malloc(pop_np * sizeof(float));
    run->pop_target = malloc(pop_nt * sizeof(float));
    run->pop_m = malloc(pop_np * sizeof(float));
    run->pop_v = malloc(pop_np * sizeof(float));
    if (!run->params || !run->target || !run->adam_m || !run->adam_v || !run->pop_params || !run->pop_target ||
        !run->pop_m || !run->pop_v)
        return error_set(err, "out of host memory for the population's checkpoint buffers");
    return 0;
}

/* The backend and the population on it. */
static int create_population(Run *run, Error *err) {
    const TrainOptions *opt = run->opt;
    const Config *c = run->cfg;
    BackendOptions bopt = {.threads = opt->threads, .device_index = 0, .precision = c->precision,
                           .use_graphs = opt->use_graphs, .gemm_epilogues = opt->gemm_epilogues,
                           .parallel_nets = opt->parallel_nets};
    if (!(run->backend = backend_select(c->device, &bopt, !opt->quiet, err))) return -1;
    MemberSpec *specs = malloc(sizeof *specs * run->P);
    if (!specs) return error_set(err, "out of host memory");
    for (int p = 0; p < run->P; p++) specs[p] = run->members[p].spec;
    const Dataset *d = &run->data;
    ReplaySource src = {
        .n = d->n, .n_states = d->n_states, .obs_dim = d->obs_dim, .act_dim = d->act_dim, .states = d->states,
        .state_row = d->state_row, .next_row = d->next_row, .actions = d->actions, .rewards = d->rewards,
        .terminals = d->terminals,
    };
    run->iql = iql_create(run->backend, c, specs, run->P, &src, err);
    free(specs);
    return run->iql ? 0 : -1;
}

int train_run(const TrainOptions *opt, int *interrupted, Error *err) {
    Run run = {.opt = opt, .cfg = &opt->cfg};
    *interrupted = 0;
    int rc = -1;
    const Config *c = &opt->cfg;
    if (config_validate(c, err)) return -1;
    if (!c->dataset[0]) return error_set(err, "no dataset: give --dataset FILE or set 'dataset' in the config");
    if (opt->resume && opt->init_from[0]) return error_set(err, "--resume and --init-from exclude each other");

    if (load_data(&run, err) || run_make_members(&run, err) || run_eval_prepare(&run, err) ||
        model_layout_init(&run.single, 1, run.data.obs_dim, run.data.act_dim, c->hidden, c->n_hidden, err))
        goto done;
    if (!(run.scalars = calloc((size_t)run.P * LOG_TRAIN_SCALAR_COUNT, sizeof(double)))) {
        error_set(err, "out of host memory");
        goto done;
    }
    if (create_population(&run, err) || alloc_host_buffers(&run, err)) goto done;

    int64_t start = 0;
    if (opt->resume && run_resume(&run, &start, err)) goto done;
    if (opt->init_from[0] && run_init_from(&run, opt->init_from, err)) goto done;
    if (start >= c->steps) {
        error_set(err, "--resume: the run is already at step %lld of %lld (raise --steps to continue)",
                  (long long)start, (long long)c->steps);
        goto done;
    }
    if (run_open_outputs(&run, start, err)) goto done;

    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    struct sigaction old_int, old_term;
    stop_signal = 0;
    run.stop = &stop_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    run_print_start(&run, start);
    rc = train_loop(&run, start, interrupted, err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

done:
    run_cleanup(&run);
    return rc;
}
