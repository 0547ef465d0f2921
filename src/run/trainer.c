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

#include "base/clock.h"
#include "base/files.h"
#include "run/backend_select.h"
#include "run/data_checks.h"
#include "run/data_parallel.h"
#include "run/run_state.h"

/* The one piece of global state: a signal handler can only talk to the loop through a
 * variable of static storage. The loop finishes its step, checkpoints and exits. */
static volatile sig_atomic_t stop_signal = 0;
static void on_stop_signal(int sig) { stop_signal = sig; }

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

/* Data parallel: every rank steps, logs (the scalars are the global batch's) and checks its
 * replica at checkpoints; the writer alone evaluates and writes. An error every rank meets
 * alike (divergence, a signal, replicas apart) sets run->agreed; any other is the rank's own. */
static int train_loop(Run *run, int64_t start, int *interrupted, Error *err) {
    const Config *c = run->cfg;
    int64_t total = c->steps;
    int writer = dp_is_writer(run);
    int has_env = run_eval_enabled(run);  /* the writer's alone evaluates */
    int rc = 0;
    double t0 = clock_seconds(), t_last = t0, t_printed = t0;
    int64_t step_last = start;

    for (int64_t step = start; step < total && rc == 0;) {
        iql_step(run->iql);
        step++;
        int final = step == total;
        int log_now = step % c->log_every == 0 || final;
        int eval_now = has_env && ((c->eval_every > 0 && step % c->eval_every == 0) || final);
        int ckpt_now = c->checkpoint_every > 0 && step % c->checkpoint_every == 0;
        int stop = stop_signal;
        if ((rc = dp_agree_stop(run, &stop, err))) break;  /* all ranks stop after the same step */
        if (stop) {
            *interrupted = stop;
            rc = run->backend->ops->status(run->backend, err);
            if (!rc && writer) rc = run_save_checkpoints(run, step, 0, err);
            if (!rc) {
                char where[TRAIN_PATH_MAX + 128];
                run_checkpoint_where(run, where, sizeof where);
                run->agreed = 1;
                rc = error_set(err, "interrupted by %s at step %lld; checkpoint written to %s", run_signal_name(stop),
                               (long long)step, where);
            } else {
                error_prefix(err, "interrupted by %s at step %lld, but no checkpoint was written", run_signal_name(stop),
                             (long long)step);
            }
            break;
        }
        /* gymnasium results, logged at the step they evaluated (gym_eval.c) */
        if (writer && run->gym && (rc = gym_eval_poll(run, step, err))) break;
        if (!log_now && !eval_now && !ckpt_now && !final) {
            double t = clock_seconds();
            if (writer) run_print_heartbeat(run, step, t, &t_printed, (double)(step - step_last) / (t - t_last));
            continue;
        }

        /* the rate shown on an evaluation-only step (no synchronisation: on CUDA, the rate steps
         * were issued at); a logged step measures it after reading the scalars, which waits */
        double steps_per_s = (double)(step - step_last) / (clock_seconds() - t_last);
        if (log_now) {
            if ((rc = iql_read_scalars(run->iql, run->scalars, err))) {
                error_prefix(err, "step %lld (checkpoints written before are intact)", (long long)step);
                break;
            }
            steps_per_s = (double)(step - step_last) / (clock_seconds() - t_last);
            run->have_scalars = 1;
            if ((rc = check_finite(run, step, err))) {
                run->agreed = 1;  /* the scalars are the global batch's: every rank sees the same */
                break;
            }
        }
        if ((ckpt_now || final) && (rc = dp_check_replicas(run, step, err))) break;
        if (writer) {
            int evaluated = 0;  /* now (built-in); gymnasium's results come through gym_eval_poll */
            if (eval_now && (rc = run_eval_at(run, step, &evaluated, err))) break;
            if ((log_now || evaluated) && (rc = log_row(run, step, log_now, steps_per_s, evaluated, err))) break;
            if ((evaluated || final) &&
                (rc = run_record_results(run, step, evaluated ? run->eval_returns : NULL, run->eval_scores, 1, err)))
                break;
            if (log_now || evaluated) {
                run_print_progress(run, step, steps_per_s);
                t_printed = clock_seconds();
            }
            if (ckpt_now || final) rc = run_save_checkpoints(run, step, ckpt_now, err);
            /* after the checkpoint: a hung bridge costs no weights */
            if (!rc && final && run->gym) rc = gym_eval_finish(run, err);
        }
        t_last = clock_seconds();  /* logging, evaluation and checkpoints stay out of steps/s */
        step_last = step;
    }
    if (rc && writer && !run->opt->quiet && run_progress_in_place(run)) printf("\n");
    if (rc && stop_signal && !*interrupted) *interrupted = stop_signal;  /* a wait for the bridge ended by it */
    return rc;
}

static void run_cleanup(Run *run) {
    Error ignored;
    run_eval_close(run);
    for (int p = 0; p < run->n_all && run->all; p++)
        if (run->all[p].log) metrics_close(run->all[p].log, &ignored);
    free(run->all);
    free(run->groups);
    sweep_table_free(&run->results);
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
    run_lock_release(run->lock);  /* last: the logs above are closed (flushed) by then */
}

/* A note on stderr, from the writer alone: every rank of a data-parallel run settles the same. */
static void print_note(void *ctx, const char *text) {
    const Run *run = ctx;
    if (dp_is_writer(run)) fprintf(stderr, "cuiql: note: %s\n", text);
}

/* The dataset, checked against the config (which may settle max_action: run/data_checks.h) and
 * preprocessed as the config says. */
static int load_data(Run *run, Config *c, Error *err) {
    DataPrep prep = {.normalize_states = c->normalize_states, .reward_transform = c->reward_transform,
                     .reward_scale = c->reward_scale, .reward_shift = c->reward_shift};
    if (dataset_load(c->dataset, &run->data, err)) return -1;
    run->data_fingerprint = dataset_fingerprint(&run->data);  /* the data as read: run_history.h */
    return run_check_actions(&run->data, c, print_note, run, err) || dataset_preprocess(&run->data, &prep, err) ? -1
                                                                                                              : 0;
}

/* The host buffers that checkpoints, resume and evaluation go through. */
static int alloc_host_buffers(Run *run, Error *err) {
    size_t np = run->single.n_params, nt = model_target_size(&run->single);
    size_t pop_np = iql_layout(run->iql)->n_params, pop_nt = model_target_size(iql_layout(run->iql));
    run->params = malloc(np * sizeof(float));
    run->target = malloc(nt * sizeof(float));
    run->adam_m = malloc(np * sizeof(float));
    run->adam_v = malloc(np * sizeof(float));
    /* Zeroed: a resume scatters members into these and uploads them whole, and the aligned
     * layout's padding (which no member covers) must reach the backend as the zeros it is. */
    run->pop_params = calloc(pop_np, sizeof(float));
    run->pop_target = calloc(pop_nt, sizeof(float));
    run->pop_m = calloc(pop_np, sizeof(float));
    run->pop_v = calloc(pop_np, sizeof(float));
    if (!run->params || !run->target || !run->adam_m || !run->adam_v || !run->pop_params || !run->pop_target ||
        !run->pop_m || !run->pop_v)
        return error_set(err, "out of host memory for the population's checkpoint buffers");
    return 0;
}

/* The backend: for a sweep's shard, the GPU its launch or shard index picks (sweep_shard.h). */
static int create_backend(Run *run, Error *err) {
    const TrainOptions *opt = run->opt;
    const Config *c = run->cfg;
    int device = dp_device_index(run);  /* data parallel: the rank's place on its node; else 0 */
    if (!opt->comm && opt->sweep.n_axes && run->shard.count > 1 && c->device != DEVICE_CPU)
        device = sweep_shard_device(&run->launch, &run->shard, backend_device_count());
    BackendOptions bopt = {.threads = opt->threads, .device_index = device, .precision = c->precision,
                           .use_graphs = opt->use_graphs, .gemm_epilogues = opt->gemm_epilogues,
                           .parallel_nets = opt->parallel_nets, .comm = opt->comm};
    return (run->backend = backend_select(c->device, &bopt, run->device_note, sizeof run->device_note, err)) ? 0 : -1;
}

/* The population of the group training now (run->members[0..P)) on the backend. */
static int create_population(Run *run, Error *err) {
    const Config *c = run->cfg;
    MemberSpec *specs = malloc(sizeof *specs * run->P);
    if (!specs) return error_set(err, "out of host memory");
    for (int p = 0; p < run->P; p++) specs[p] = run->members[p].spec;
    const Dataset *d = &run->data;
    ReplaySource src = {
        .n = d->n, .n_states = d->n_states, .obs_dim = d->obs_dim, .act_dim = d->act_dim, .states = d->states,
        .state_row = d->state_row, .next_row = d->next_row, .actions = d->actions, .rewards = d->rewards,
        .terminals = d->terminals,
    };
    run->iql = iql_create_parallel(run->backend, c, specs, run->P, &src, run->opt->comm, err);
    free(specs);
    if (!run->iql && strstr(err->msg, "out of")) run_explain_memory(run, err);
    return run->iql ? 0 : -1;
}

/* The group's starting state: the writer reads --resume's checkpoints or --init-from's weights
 * (the ranks agree on how that went), then every rank takes the writer's state. */
static int starting_state(Run *run, int resume, int64_t *start, Error *err) {
    const TrainOptions *opt = run->opt;
    int rc = 0;
    *start = 0;
    if (dp_is_writer(run)) {
        if (resume) rc = run_resume(run, start, err);
        if (!rc && opt->init_from[0]) rc = run_init_from(run, opt->init_from, err);
        if (!rc && *start >= run->cfg->steps)
            rc = error_set(err, "--resume: the run is already at step %lld of %lld (raise --steps to continue)",
                           (long long)*start, (long long)run->cfg->steps);
    }
    if (dp_agree(run, rc, err)) {
        run->agreed = 1;
        return -1;
    }
    return dp_share_state(run, start, err);
}

/* The writer's files for the group: DIR's own when training first starts (not by a resume
 * with nothing to do), the results table, the members' directories and logs. */
static int open_group_outputs(Run *run, int64_t start, Error *err) {
    if (!run->outputs_open && (run_open_outputs(run, start, err) || run_open_results(run, err))) return -1;
    if (!run->outputs_open) run_print_start(run, start);
    run->outputs_open = 1;
    run_cut_results(run, start);
    if (run_open_members(run, start, err)) return -1;
    run_print_group(run, start);
    return 0;
}

/* Trains group g of the members (all of them when there is one group) from its checkpoints or
 * step 0 to the last step. *trained is 0 when the group was already at the last step. */
static int train_group(Run *run, int g, int *interrupted, int *trained, Error *err) {
    const TrainOptions *opt = run->opt;
    const Config *c = run->cfg;
    const RunGroup *grp = &run->groups[g];
    run->group = g;
    run->members = run->all + grp->first;
    run->P = grp->count;
    run->have_scalars = 0;
    run->eval_step = -1;  /* the group's own evaluations (run_print_progress) */
    *trained = 0;
    if (opt->sweep.n_axes && grp->start >= c->steps) return 0;  /* done by an earlier run */
    int64_t start = 0;
    int rc = -1;
    if (create_population(run, err) || (!run->params && alloc_host_buffers(run, err))) goto done;
    if (starting_state(run, grp->resume, &start, err)) goto done;
    if (dp_agree(run, dp_is_writer(run) ? open_group_outputs(run, start, err) : 0, err)) {
        run->agreed = 1;
        goto done;
    }
    *trained = 1;
    rc = train_loop(run, start, interrupted, err);
done:;
    Error close_err;
    if (run_close_members(run, &close_err) && rc == 0) rc = error_set(err, "%s", close_err.msg);
    iql_destroy(run->iql);
    run->iql = NULL;
    return rc;
}

/* Everything a rank does on its own before the ranks compare notes: the config, the shard of
 * a sweep, the data, the members. */
static int setup_local(Run *run, Config *c, Error *err) {
    const TrainOptions *opt = run->opt;
    if (opt->resume && opt->init_from[0]) return error_set(err, "--resume and --init-from exclude each other");
    if (opt->resume && opt->force) return error_set(err, "--resume and --force exclude each other");
    if (config_validate(c, err)) return -1;
    if (!c->dataset[0]) return error_set(err, "no dataset: give --dataset FILE or set 'dataset' in the config");
    if (!opt->resume && c->steps == 0) return error_set(err, "steps: 0 steps to train; give --steps N with N >= 1");
    if (opt->comm && iql_parallel_check_batch(c->batch_size, opt->comm->size, err)) return -1;
    if (run_resolve_shard(run, err) || load_data(run, c, err) || run_make_members(run, err) ||
        run_eval_prepare(run, err) ||
        model_layout_init(&run->single, 1, run->data.obs_dim, run->data.act_dim, c->hidden, c->n_hidden, err))
        return -1;
    if (!(run->scalars = calloc((size_t)(run->n_all ? run->n_all : 1) * LOG_TRAIN_SCALAR_COUNT, sizeof(double))))
        return error_set(err, "out of host memory");
    return 0;
}

int train_run(const TrainOptions *opt, int *interrupted, Error *err) {
    Config cfg = opt->cfg;  /* the data may settle max_action (load_data) */
    Run run = {.opt = opt, .cfg = &cfg};
    *interrupted = 0;
    const Config *c = &cfg;
    int rc = setup_local(&run, &cfg, err);
    if (opt->comm) {
        rc = dp_check_setup(&run, rc, err);
        run.agreed = rc != 0;  /* from here on a failure is a rank's own unless marked agreed */
    }
    if (rc) goto done;
    if (run.n_all == 0) {
        if (!opt->quiet && dp_is_writer(&run))
            printf("cuiql: shard %d/%d of a %d-member sweep has no members: nothing to train\n", run.shard.index,
                   run.shard.count, run.sweep_members);
        goto done;
    }
    rc = -1;
    if (create_backend(&run, err)) goto done;
    /* The run directory is the writer's to take before anything in it is read (run_lock.h) */
    if (dp_agree(&run, dp_is_writer(&run) ? run_claim(&run, err) : 0, err)) {
        run.agreed = 1;
        goto done;
    }
    if (run_plan_groups(&run, err)) goto done;

    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    /* SIGHUP (the terminal went away) and SIGPIPE (stdout's reader did: `| head`) end a run as
     * SIGTERM does, with a checkpoint; a write to a closed stdout then fails with EPIPE
     * instead of killing the process. */
    static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    struct sigaction old_actions[4];
    stop_signal = 0;
    run.stop = &stop_signal;  /* a wait for the gym bridge ends on a signal too */
    for (int i = 0; i < 4; i++) sigaction(stop_signals[i], &sa, &old_actions[i]);
    double t0 = clock_seconds();
    int trained_any = 0;
    rc = 0;
    for (int g = 0; g < run.n_groups && rc == 0; g++) {
        int trained = 0;
        rc = train_group(&run, g, interrupted, &trained, err);
        trained_any |= trained;
    }
    /* A sweep (or its shard) resumed when done: nothing to do is no failure, so an array
     * resubmitted to finish its failed tasks passes on the finished ones. */
    if (rc == 0 && !trained_any)
        printf("cuiql: all %d members%s are already at step %lld (raise --steps to continue)\n", run.n_all,
               run.shard.count > 1 ? " of this shard" : "", (long long)c->steps);
    else if (rc == 0 && dp_is_writer(&run)) run_print_done(&run, clock_seconds() - t0);
    for (int i = 0; i < 4; i++) sigaction(stop_signals[i], &old_actions[i], NULL);

done:
    if (rc && !run.agreed) dp_fail_alone(&run, err);  /* data parallel: ends every rank */
    run_cleanup(&run);
    return rc;
}
