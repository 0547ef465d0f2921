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

/* Progress rewritten in place on a terminal. Not under mpirun or srun: a rank's stdout is the
 * launcher's pseudo-terminal even when the job's output goes to a file, which would get one
 * endless line of carriage returns. */
int run_progress_in_place(const Run *run) { return isatty(fileno(stdout)) && !run->opt->comm; }

void run_print_start(const Run *run, int64_t start) {
    if (run->opt->quiet) return;
    char desc[256];
    run->backend->ops->describe(run->backend, desc, sizeof desc);
    /* Why auto settled on the CPU belongs to the line naming the device, and only there. */
    char why[300] = "";
    if (run->device_note[0]) snprintf(why, sizeof why, " (device auto: %s)", run->device_note);
    printf("cuiql: %lld transitions, state %d, action %d; %d member%s on %s%s; steps %lld..%lld\n",
           (long long)run->data.n, run->data.obs_dim, run->data.act_dim, run->P, run->P > 1 ? "s" : "", desc, why,
           (long long)start, (long long)run->cfg->steps);
    const Comm *c = run->opt->comm;
    if (c)
        printf("cuiql: data parallel over %d rank%s: %d rows each of the global batch of %d\n", c->size,
               c->size > 1 ? "s" : "", run->cfg->batch_size / c->size, run->cfg->batch_size);
    fflush(stdout);
}

void run_print_progress(const Run *run, int64_t step, double steps_per_s, const double *evals) {
    if (run->opt->quiet) return;
    double mean[3] = {0, 0, 0};
    for (int p = 0; p < run->P; p++)
        for (int k = 0; k < 3; k++) mean[k] += run->scalars[(size_t)p * LOG_TRAIN_SCALAR_COUNT + k] / run->P;
    char eta[32];
    format_duration(eta, sizeof eta, (run->cfg->steps - step) / steps_per_s);
    int tty = run_progress_in_place(run);
    printf("%sstep %lld/%lld  %.1f steps/s  ETA %s  loss/value %.4g  loss/q %.4g  loss/policy %.4g", tty ? "\r\033[K" : "",
           (long long)step, (long long)run->cfg->steps, steps_per_s, eta, mean[0], mean[1], mean[2]);
    if (evals) printf("  eval/return %.1f", evals[0]);
    if (run->P > 1) printf("  (mean of %d members)", run->P);
    if (!tty) printf("\n");
    fflush(stdout);
}

void run_print_done(const Run *run, int64_t steps, double seconds, const double *returns, const double *scores) {
    if (run->opt->quiet) return;
    if (run_progress_in_place(run)) printf("\n");
    char dur[32];
    format_duration(dur, sizeof dur, seconds);
    printf("done: %lld steps in %s; checkpoint: %s/checkpoint.h5%s\n", (long long)steps, dur,
           run->P > 1 ? run->opt->out_dir : run->members[0].dir, run->P > 1 ? "/<member>" : "");
    if (!returns) return;
    /* Says over how many episodes, so it is not taken for `cuiql eval`'s larger count. */
    for (int p = 0; p < run->P; p++)
        printf("last evaluation in %s%s%s (%d episodes): mean return %.2f, normalized score %.1f\n", run->cfg->env,
               run->P > 1 ? ", " : "", run->P > 1 ? run->members[p].name : "", run->cfg->eval_episodes, returns[p],
               scores[p]);
}
