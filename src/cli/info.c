/* info.c — `cuiql info FILE`: what a D4RL or Minari file holds, as cuiql reads it (after
 * dropping the steps whose next state is unknown), so a user can check a file before training.
 * Output is one "key: value" line per fact, easy to read and to parse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/dataset.h" /* dataset_load, dataset_episode_returns */

static void info_usage(FILE *out) {
    fprintf(out,
            "usage: cuiql info FILE\n"
            "\n"
            "Summarises an HDF5 dataset (D4RL flat layout or Minari episode groups) as cuiql\n"
            "reads it for training: format, transitions, rows in the file and rows dropped\n"
            "(timeout steps and the last step, whose next state is unknown, unless terminal),\n"
            "dimensions, episodes and their returns, rewards, terminal and timeout counts.\n"
            "\n"
            "options:\n"
            "  -h, --help   this help\n");
}

typedef struct {
    double min, mean, max;
} Summary;

static Summary summarise(const double *x, int64_t n) {
    Summary s = {0, 0, 0};
    if (n == 0) return s;
    s.min = s.max = x[0];
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        if (x[i] < s.min) s.min = x[i];
        if (x[i] > s.max) s.max = x[i];
        sum += x[i];
    }
    s.mean = sum / (double)n;
    return s;
}

static Summary summarise_rewards(const Dataset *d) {
    Summary s = {d->rewards[0], 0, d->rewards[0]};
    double sum = 0;
    for (int64_t i = 0; i < d->n; i++) {
        double r = d->rewards[i];
        if (r < s.min) s.min = r;
        if (r > s.max) s.max = r;
        sum += r;
    }
    s.mean = sum / (double)d->n;
    return s;
}

static int print_info(const char *path, const Dataset *d) {
    double *returns = malloc((size_t)(d->n_episodes ? d->n_episodes : 1) * sizeof *returns);
    if (!returns) {
        fprintf(stderr, "cuiql info: out of memory for %lld episode returns\n", (long long)d->n_episodes);
        return 1;
    }
    dataset_episode_returns(d, returns);
    Summary ret = summarise(returns, d->n_episodes), rew = summarise_rewards(d);
    free(returns);

    const char *next = d->format == DATASET_MINARI ? "n/a (Minari: observations hold T+1 rows)"
                       : d->had_next_observations ? "yes"
                                                  : "no (s' = the next row)";
    printf("file:              %s\n", path);
    printf("format:            %s\n", dataset_format_name(d->format));
    printf("transitions:       %lld\n", (long long)d->n);
    printf("rows in file:      %lld\n", (long long)d->rows_in_file);
    printf("dropped:           %lld\n", (long long)d->dropped);
    printf("observation dim:   %d\n", d->obs_dim);
    printf("action dim:        %d\n", d->act_dim);
    printf("episodes:          %lld\n", (long long)d->n_episodes);
    printf("episode return:    min %.6g  mean %.6g  max %.6g\n", ret.min, ret.mean, ret.max);
    printf("reward:            min %.6g  mean %.6g  max %.6g\n", rew.min, rew.mean, rew.max);
    printf("terminals:         %lld\n", (long long)d->n_terminals);
    printf("timeouts:          %lld\n", (long long)d->n_timeouts);
    printf("next_observations: %s\n", next);
    return 0;
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            info_usage(stdout);
            return 0;
        }
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "cuiql info: unknown option '%s' (see cuiql info --help)\n", a);
            return 1;
        }
        if (path) {
            fprintf(stderr, "cuiql info: expected one FILE, got '%s' and '%s'\n", path, a);
            return 1;
        }
        path = a;
    }
    if (!path) {
        fprintf(stderr, "cuiql info: expected a FILE (see cuiql info --help)\n");
        return 1;
    }

    Dataset d;
    Error err = {{0}};
    if (dataset_load(path, &d, &err) < 0) {
        fprintf(stderr, "cuiql info: %s\n", err.msg);
        return 1;
    }
    int rc = print_info(path, &d);
    dataset_free(&d);
    return rc;
}
