/* progress.c — what a training run shows on the terminal: one line when it starts, a progress
 * line per logged step (rewritten in place on a terminal, one line each elsewhere), and a
 * summary at the end. */
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "run/run_state.h"

static void format_duration(char *buf, size_t len, double seconds) {
    if (!isfinite(seconds) || seconds < 0) snprintf(buf, len, "?");
    else if (seconds < 60) snprintf(buf, len, "%.0fs", seconds);
    else if (seconds < 3600) snprintf(buf, len, "%dm%02ds", (int)seconds / 60, (int)seconds % 60);
    else snprintf(buf, len, "%dh%02dm", (int)seconds / 3600, ((int)seconds % 3600) / 60);
}

void run_print_start(const Run *run, int64_t start) {
    if (run->opt->quiet) return;
    char desc[256];
    run->backend->ops->describe(run->backend, desc, sizeof desc);
    printf("cuiql: %lld transitions, state %d, action %d; %d member%s on %s; steps %lld..%lld\n",
           (long long)run->data.n, run->data.obs_dim, run->data.act_dim, run->P, run->P > 1 ? "s" : "", desc,
           (long long)start, (long long)run->cfg->steps);
    fflush(stdout);
}

void run_print_progress(const Run *run, int64_t step, double steps_per_s) {
    if (run->opt->quiet) return;
    double mean[3] = {0, 0, 0};
    for (int p = 0; p < run->P; p++)
        for (int k = 0; k < 3; k++) mean[k] += run->scalars[(size_t)p * LOG_TRAIN_SCALAR_COUNT + k] / run->P;
    char eta[32];
    format_duration(eta, sizeof eta, (run->cfg->steps - step) / steps_per_s);
    int tty = isatty(fileno(stdout));
    printf("%sstep %lld/%lld  %.1f steps/s  ETA %s  loss/value %.4g  loss/q %.4g  loss/policy %.4g", tty ? "\r\033[K" : "",
           (long long)step, (long long)run->cfg->steps, steps_per_s, eta, mean[0], mean[1], mean[2]);
    /* The latest evaluation: a gymnasium one may be of an earlier step (it runs beside training). */
    if (run->eval_step >= 0) {
        printf("  eval/return %.1f", run->eval_returns[0]);
        if (run->eval_step != step) printf(" (step %lld)", (long long)run->eval_step);
    }
    if (run->P > 1) printf("  (mean of %d members)", run->P);
    if (!tty) printf("\n");
    fflush(stdout);
}

void run_print_done(const Run *run, int64_t steps, double seconds) {
    if (run->opt->quiet) return;
    if (isatty(fileno(stdout))) printf("\n");
    char dur[32];
    format_duration(dur, sizeof dur, seconds);
    printf("done: %lld steps in %s; checkpoint: %s/checkpoint.h5%s\n", (long long)steps, dur,
           run->P > 1 ? run->opt->out_dir : run->members[0].dir, run->P > 1 ? "/<member>" : "");
    double held = gym_eval_held_seconds(run);
    if (held >= 1)
        printf("training waited %.0f s for the gym bridge (its evaluations take longer than eval_every steps)\n", held);
    if (run->eval_step < 0) return;
    for (int p = 0; p < run->P; p++) {
        printf("eval %s%s%s: return %.2f, normalized score ", run_eval_name(run), run->P > 1 ? " " : "",
               run->P > 1 ? run->members[p].name : "", run->eval_returns[p]);
        printf(isnan(run->eval_scores[p]) ? "n/a\n" : "%.1f\n", run->eval_scores[p]);
    }
}
