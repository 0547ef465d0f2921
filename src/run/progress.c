/* progress.c — what a training run shows on the terminal: the lines when it starts, a progress
 * line per logged or evaluated step (rewritten in place on a terminal, one line each
 * elsewhere), a line with the rate only when none came for a while, and a summary at the end. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "run/run_state.h"

static void format_duration(char *buf, size_t len, double seconds) {
    if (!isfinite(seconds) || seconds < 0) snprintf(buf, len, "?");
    else if (seconds < 60) snprintf(buf, len, "%.0fs", seconds);
    else if (seconds < 3600) snprintf(buf, len, "%dm%02ds", (int)seconds / 60, (int)seconds % 60);
    else snprintf(buf, len, "%dh%02dm", (int)seconds / 3600, ((int)seconds % 3600) / 60);
}

/* Progress rewritten in place on a terminal. Not under mpirun or srun: a rank's stdout is the
 * launcher's pseudo-terminal even when the job's output goes to a file, which would get one
 * endless line of carriage returns. */
int run_progress_in_place(const Run *run) { return isatty(fileno(stdout)) && !run->opt->comm; }

static int is_sweep(const Run *run) { return run->opt->sweep.n_axes > 0; }

void run_checkpoint_where(const Run *run, char *buf, size_t len) {
    if (!is_sweep(run)) snprintf(buf, len, "%s/checkpoint.h5", run->members[0].dir);
    else if (run->n_all == 1) snprintf(buf, len, "%s/checkpoint.h5", run->all[0].dir);
    else snprintf(buf, len, "%s/<member>/checkpoint.h5 for each of %d members (listed in members.csv)",
                  run->opt->out_dir, run->n_all);
}

void run_print_start(const Run *run, int64_t start) {
    if (run->opt->quiet) return;
    char desc[256];
    run->backend->ops->describe(run->backend, desc, sizeof desc);
    /* Why auto settled on the CPU belongs to the line naming the device, and only there. */
    char why[300] = "";
    if (run->device_note[0]) snprintf(why, sizeof why, " (device auto: %s)", run->device_note);
    printf("cuiql: %lld transitions, state %d, action %d; %d member%s on %s%s; steps %lld..%lld\n",
           (long long)run->data.n, run->data.obs_dim, run->data.act_dim, run->n_all, run->n_all > 1 ? "s" : "", desc,
           why,
           (long long)start, (long long)run->cfg->steps);
    const Comm *c = run->opt->comm;
    if (c)
        printf("cuiql: data parallel over %d rank%s: %d rows each of the global batch of %d\n", c->size,
               c->size > 1 ? "s" : "", run->cfg->batch_size / c->size, run->cfg->batch_size);
    if (is_sweep(run)) {
        const Sweep *sw = &run->opt->sweep;
        printf("cuiql: sweep of %d members (", run->sweep_members);
        for (int i = 0; i < sw->n_axes; i++) printf("%s%s %d", i ? " x " : "", sw->axes[i].key, sw->axes[i].n);
        printf(") in %s/<member>/, results in %s", run->opt->out_dir, run->results_path);
        if (run->shard.count > 1)
            printf("; shard %d/%d (%s): %d of them", run->shard.index, run->shard.count, run->shard.source, run->n_all);
        printf("\n");
    }
    if (run->plan.n_groups > 1) {
        char need[32], have[32];
        sweep_format_bytes(need, sizeof need, (double)run->plan.fixed + (double)run->plan.per_member * run->n_all);
        sweep_format_bytes(have, sizeof have, (double)run->plan.available);
        printf("cuiql: memory: %d members need %s, %s is available: training %d groups of up to %d members one "
               "after another (each member's result is the same as in one population)\n",
               run->n_all, need, have, run->plan.n_groups, run->plan.group_size);
    }
    fflush(stdout);
}

void run_print_group(const Run *run, int64_t start) {
    if (run->opt->quiet || run->n_groups < 2) return;
    printf("group %d/%d: %d member%s, %s to %s; steps %lld..%lld\n", run->group + 1, run->n_groups, run->P,
           run->P == 1 ? "" : "s", run->members[0].name, run->members[run->P - 1].name, (long long)start,
           (long long)run->cfg->steps);
    fflush(stdout);
}

/* Seconds to the end: this group's steps left, then every later group's. */
static double eta_seconds(const Run *run, int64_t step, double steps_per_s) {
    double left = (double)(run->cfg->steps - step) + (double)run->cfg->steps * (run->n_groups - 1 - run->group);
    return left / steps_per_s;
}

static void print_step(const Run *run, int64_t step, double steps_per_s, int tty) {
    char eta[32];
    format_duration(eta, sizeof eta, eta_seconds(run, step, steps_per_s));
    printf("%s", tty ? "\r\033[K" : "");
    if (run->n_groups > 1) printf("[group %d/%d] ", run->group + 1, run->n_groups);
    printf("step %lld/%lld  %.1f steps/s  ETA %s", (long long)step, (long long)run->cfg->steps, steps_per_s, eta);
}

/* The best latest evaluation among this process's members so far; NULL before any. */
static const Member *best_member(const Run *run) {
    const Member *best = NULL;
    for (int m = 0; m < run->n_all; m++)
        if (isfinite(run->all[m].last_return) && (!best || run->all[m].last_return > best->last_return))
            best = &run->all[m];
    return best;
}

void run_print_progress(const Run *run, int64_t step, double steps_per_s) {
    if (run->opt->quiet) return;
    int tty = run_progress_in_place(run);
    print_step(run, step, steps_per_s, tty);
    if (run->have_scalars) {
        double mean[3] = {0, 0, 0};
        for (int p = 0; p < run->P; p++)
            for (int k = 0; k < 3; k++) mean[k] += run->scalars[(size_t)p * LOG_TRAIN_SCALAR_COUNT + k] / run->P;
        printf("  loss/value %.4g  loss/q %.4g  loss/policy %.4g", mean[0], mean[1], mean[2]);
        if (run->P > 1) printf(" (mean of %d members)", run->P);
    }
    /* The latest evaluation: a gymnasium one may be of an earlier step (it runs beside training). */
    if (run->eval_step >= 0) {
        double mean = 0;
        for (int p = 0; p < run->P; p++) mean += run->eval_returns[p] / run->P;
        printf("  eval/return %.1f", mean);
        if (run->P > 1) printf(" (mean of %d)", run->P);
        if (run->eval_step != step) printf(" (step %lld)", (long long)run->eval_step);
    }
    const Member *best = is_sweep(run) && run->n_all > 1 ? best_member(run) : NULL;
    if (best) printf("  best so far: %s %.1f", best->name, best->last_return);
    if (!tty) printf("\n");
    fflush(stdout);
}

void run_print_heartbeat(const Run *run, int64_t step, double now, double *last_print, double steps_per_s) {
    double every = run->opt->progress_every;
    if (run->opt->quiet || every <= 0 || now - *last_print < every) return;
    int tty = run_progress_in_place(run);
    print_step(run, step, steps_per_s, tty);
    if (run->P > 1) printf("  %d members", run->P);
    printf("  (the next log is at step %lld)", (long long)((step / run->cfg->log_every + 1) * run->cfg->log_every));
    const Member *best = is_sweep(run) && run->n_all > 1 ? best_member(run) : NULL;
    if (best) printf("  best so far: %s %.1f", best->name, best->last_return);
    if (!tty) printf("\n");
    fflush(stdout);
    *last_print = now;
}

#define DONE_LIST_MAX 10  /* members listed at the end; the rest are in the report */

/* Whether member a ranks before member b at the end: the higher latest return; evaluated first. */
static int ranks_before(const Member *a, const Member *b) {
    if (isfinite(a->last_return) != isfinite(b->last_return)) return isfinite(a->last_return);
    return a->last_return > b->last_return;
}

/* "66.3", or "n/a" where the environment has no reference scores. */
static const char *format_score(char *buf, size_t n, double score) {
    if (isnan(score)) snprintf(buf, n, "n/a");
    else snprintf(buf, n, "%.1f", score);
    return buf;
}

void run_print_done(const Run *run, double seconds) {
    if (run->opt->quiet) return;
    if (run_progress_in_place(run)) printf("\n");
    char dur[32], where[TRAIN_PATH_MAX + 128];
    format_duration(dur, sizeof dur, seconds);
    run_checkpoint_where(run, where, sizeof where);
    printf("done: step %lld in %s; checkpoint%s: %s\n", (long long)run->cfg->steps, dur, run->n_all > 1 ? "s" : "",
           where);
    double held = gym_eval_held_seconds(run);
    if (held >= 1)
        printf("training waited %.0f s for the gym bridge (its evaluations take longer than eval_every steps)\n", held);
    if (!run_eval_enabled(run)) return;
    char score[32];
    if (!is_sweep(run)) {
        printf("last evaluation in %s (%d episode%s): return %.2f, normalized score %s\n", run_eval_name(run),
               run->cfg->eval_episodes, run->cfg->eval_episodes == 1 ? "" : "s", run->all[0].last_return, format_score(score, sizeof score, run->all[0].last_score));
        return;
    }
    int order[DONE_LIST_MAX], n = run->n_all < DONE_LIST_MAX ? run->n_all : DONE_LIST_MAX;
    for (int i = 0; i < n; i++) {  /* the best n, by selection: n passes over the members */
        int pick = -1;
        for (int m = 0; m < run->n_all; m++) {
            int taken = 0;
            for (int j = 0; j < i && !taken; j++) taken = order[j] == m;
            if (!taken && (pick < 0 || ranks_before(&run->all[m], &run->all[pick]))) pick = m;
        }
        order[i] = pick;
    }
    if (run->n_all > n) printf("the best %d of %d members:\n", n, run->n_all);
    for (int i = 0; i < n; i++) {
        const Member *m = &run->all[order[i]];
        printf("eval %s %s: return %.2f, normalized score %s (last evaluation, %d episodes)\n", run_eval_name(run),
               m->name, m->last_return, format_score(score, sizeof score, m->last_score), run->cfg->eval_episodes);
    }
    printf("ranked by (tau, beta) over seeds: cuiql sweep-report %s\n", run->opt->out_dir);
}
