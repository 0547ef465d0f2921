/* test_data_checks.c — the dataset's action range against max_action (src/run/data_checks.c):
 * actions at the bound pass silently, a little beyond give one note, far beyond refuse with the
 * observed range and the key to set, and a known environment supplies its bound. */
#include <stdio.h>
#include <string.h>

#include "run/data_checks.h"
#include "test_util.h"

typedef struct {
    int n;
    char last[1024];
} Notes;

static void collect(void *ctx, const char *text) {
    Notes *notes = ctx;
    notes->n++;
    snprintf(notes->last, sizeof notes->last, "%s", text);
}

/* A dataset of act_dim 1 (obs_dim 3: the pendulum's) holding these actions. */
static Dataset with_actions(float *actions, int n) {
    Dataset d;
    memset(&d, 0, sizeof d);
    d.n = n;
    d.obs_dim = 3;
    d.act_dim = 1;
    d.actions = actions;
    return d;
}

static int check(float *actions, int n, Config *cfg, Notes *notes, Error *err) {
    Dataset d = with_actions(actions, n);
    memset(notes, 0, sizeof *notes);
    err->msg[0] = '\0';
    return run_check_actions(&d, cfg, collect, notes, err);
}

int main(void) {
    Config cfg;
    Error err;
    Notes notes;
    config_defaults(&cfg); /* max_action 1, env "" */
    snprintf(cfg.dataset, sizeof cfg.dataset, "no-such-file.h5"); /* no env attribute to find */

    float at_bound[] = {-1.0f, 0.25f, 1.0f, 1.00005f}; /* exactly at ±1, and float rounding above */
    CHECK(check(at_bound, 4, &cfg, &notes, &err) == 0 && notes.n == 0, "at the bound: rc, %d notes", notes.n);
    CHECK(cfg.max_action == 1.0, "max_action unchanged: %g", cfg.max_action);

    float a_little[] = {-1.0f, 0.5f, 1.2f};
    CHECK(check(a_little, 3, &cfg, &notes, &err) == 0 && notes.n == 1, "a little beyond: one note (%d)", notes.n);
    CHECK(strstr(notes.last, "[-1, 1.2]") && strstr(notes.last, "max_action 1") && strstr(notes.last, "--set max_action=1.2"),
          "the note names the range, the bound and the key: %s", notes.last);

    float far[] = {-3.0f, 0.0f, 2.5f};
    CHECK(check(far, 3, &cfg, &notes, &err) == -1, "far beyond: refused");
    CHECK(strstr(err.msg, "no-such-file.h5") && strstr(err.msg, "[-3, 2.5]") && strstr(err.msg, "--set max_action=3") &&
              strstr(err.msg, "env"),
          "the error names the file, the range and the keys to set: %s", err.msg);
    CHECK(!strchr(err.msg, '\n'), "one line: %s", err.msg);
    float just_over_factor[] = {1.51f};
    CHECK(check(just_over_factor, 1, &cfg, &notes, &err) == -1, "1.51 x max_action is refused");
    float just_under_factor[] = {-1.49f};
    CHECK(check(just_under_factor, 1, &cfg, &notes, &err) == 0 && notes.n == 1, "1.49 x max_action is a note");

    /* A known environment: its bound replaces the config's, said once. */
    float pendulum[] = {-2.0f, 0.3f, 2.0f};
    snprintf(cfg.env, sizeof cfg.env, "pendulum");
    CHECK(check(pendulum, 3, &cfg, &notes, &err) == 0, "pendulum data with env pendulum: %s", err.msg);
    CHECK(cfg.max_action == 2.0, "max_action from pendulum's bound: %g", cfg.max_action);
    CHECK(notes.n == 1 && strstr(notes.last, "pendulum") && strstr(notes.last, "max_action 2") &&
              strstr(notes.last, "said 1"),
          "one note saying the bound, where it came from and what the config said: %s", notes.last);
    CHECK(check(pendulum, 3, &cfg, &notes, &err) == 0 && notes.n == 0, "already at the bound: no note (%d)", notes.n);

    /* Data beyond even the known environment's bound is still held against it. */
    float beyond_env[] = {-4.0f, 3.5f};
    CHECK(check(beyond_env, 2, &cfg, &notes, &err) == -1 && strstr(err.msg, "max_action 2"),
          "beyond the env's bound: %s", err.msg);

    /* A file without an env attribute: none found, not an error. */
    char name[64];
    CHECK(data_file_env("no-such-file.h5", name, sizeof name) == -1, "no file: no env");
    return test_finish("data_checks", 0);
}
