/* test_dataset.c — the HDF5 readers and preprocessing against the fixtures that
 * make_fixtures.py writes (run as the data_fixtures test first; ctest orders them).
 *
 *   test_dataset DIR
 *
 * For each file in DIR/good.txt: loads it and compares every array with NAME.expect.h5 (numpy's
 * answer: rows kept, s and s' of every transition, actions, rewards, flags, episode starts and
 * returns), then each preprocessing (normalisation + iql-locomotion, antmaze, scale/shift).
 * For each line of DIR/bad.txt: the load must fail with one line naming the file and holding
 * the listed words. After every load, no HDF5 object may be left open. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "test_util.h"

/* Must match SCALE, SHIFT in make_fixtures.py. */
#define TEST_SCALE 2.5
#define TEST_SHIFT (-0.5)

/* ---- the expectation files ---------------------------------------------------------------- */

/* The whole dataset `key` of an expectation file as doubles (malloc'd); NULL if absent. */
static double *expect_array(hid_t f, const char *key, size_t *len) {
    *len = 0;
    if (H5Lexists(f, key, H5P_DEFAULT) <= 0) return NULL;
    hid_t d = H5Dopen2(f, key, H5P_DEFAULT), s = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    double *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof *buf);
    if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) n = -1;
    H5Sclose(s);
    H5Dclose(d);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    *len = (size_t)n;
    return buf;
}

static double expect_scalar(hid_t f, const char *key) {
    size_t len;
    double *v = expect_array(f, key, &len);
    double x = v && len == 1 ? v[0] : NAN;
    CHECK(v && len == 1, "expectation '%s' missing", key);
    free(v);
    return x;
}

/* ---- comparisons ------------------------------------------------------------------------ */

/* got must equal want exactly (want holds float32 values widened to double). */
static void check_exact(const char *file, const char *what, const float *got, const double *want, size_t n,
                        size_t want_n) {
    CHECK(n == want_n, "%s: %s: %zu values, expected %zu", file, what, n, want_n);
    if (n != want_n) return;
    for (size_t i = 0; i < n; i++)
        if ((double)got[i] != want[i]) {
            CHECK(0, "%s: %s[%zu] = %.9g, expected %.9g", file, what, i, (double)got[i], want[i]);
            return;
        }
}

/* |got − want| ≤ tol · max(1, |want|) everywhere. */
static void check_close(const char *file, const char *what, const float *got, const double *want, size_t n,
                        size_t want_n, double tol) {
    CHECK(n == want_n, "%s: %s: %zu values, expected %zu", file, what, n, want_n);
    if (n != want_n) return;
    size_t worst = 0;
    double worst_err = -1;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / fmax(1.0, fabs(want[i]));
        if (!(e <= worst_err)) worst_err = e, worst = i;
    }
    CHECK(n == 0 || worst_err <= tol, "%s: %s[%zu] = %.9g, expected %.9g (error %.3g > %.3g)", file, what, worst,
          n ? (double)got[worst] : 0.0, n ? want[worst] : 0.0, worst_err, tol);
}

static void check_rows(const char *file, const char *what, const uint32_t *got, int64_t n, const double *want,
                       size_t want_n) {
    CHECK((size_t)n == want_n, "%s: %s: %lld values, expected %zu", file, what, (long long)n, want_n);
    if ((size_t)n != want_n) return;
    for (int64_t i = 0; i < n; i++)
        if ((double)got[i] != want[i]) {
            CHECK(0, "%s: %s[%lld] = %u, expected %.0f", file, what, (long long)i, got[i], want[i]);
            return;
        }
}

/* s_i (which = 0) or s'_i (which = 1) of every transition, gathered from the state table. */
static float *gather_states(const Dataset *d, int which) {
    float *out = malloc((size_t)(d->n ? d->n : 1) * (size_t)d->obs_dim * sizeof *out);
    for (int64_t i = 0; i < d->n; i++) {
        uint32_t r = which ? d->next_row[i] : d->state_row[i];
        CHECK(r < d->n_states, "row %u of transition %lld outside the table (%lld rows)", r, (long long)i,
              (long long)d->n_states);
        if (r >= d->n_states) r = 0;
        memcpy(out + (size_t)i * d->obs_dim, d->states + (size_t)r * d->obs_dim, (size_t)d->obs_dim * sizeof *out);
    }
    return out;
}

/* ---- HDF5 handles ----------------------------------------------------------------------- */

typedef struct {
    ssize_t objects;       /* files, groups, datasets, named types, attributes */
    hsize_t spaces, types; /* dataspace and datatype ids (the library's own types included) */
} OpenIds;

static OpenIds open_ids(void) {
    OpenIds o = {H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL), 0, 0};
    H5Inmembers(H5I_DATASPACE, &o.spaces);
    H5Inmembers(H5I_DATATYPE, &o.types);
    return o;
}

static void check_no_leak(const char *file, OpenIds before) {
    OpenIds now = open_ids();
    CHECK(now.objects == before.objects && now.spaces == before.spaces && now.types == before.types,
          "%s: HDF5 ids left open: objects %zd -> %zd, dataspaces %llu -> %llu, datatypes %llu -> %llu", file,
          before.objects, now.objects, (unsigned long long)before.spaces, (unsigned long long)now.spaces,
          (unsigned long long)before.types, (unsigned long long)now.types);
}

/* ---- well-formed files ------------------------------------------------------------------ */

static void check_loaded(const char *file, hid_t ef, const Dataset *d) {
    CHECK((double)d->format == expect_scalar(ef, "format"), "%s: format %s", file, dataset_format_name(d->format));
    CHECK((double)d->n == expect_scalar(ef, "n"), "%s: n = %lld", file, (long long)d->n);
    CHECK((double)d->obs_dim == expect_scalar(ef, "obs_dim"), "%s: obs_dim = %d", file, d->obs_dim);
    CHECK((double)d->act_dim == expect_scalar(ef, "act_dim"), "%s: act_dim = %d", file, d->act_dim);
    CHECK((double)d->n_states == expect_scalar(ef, "n_states"), "%s: n_states = %lld (states stored once)", file,
          (long long)d->n_states);
    CHECK((double)d->rows_in_file == expect_scalar(ef, "rows_in_file"), "%s: rows_in_file = %lld", file,
          (long long)d->rows_in_file);
    CHECK((double)d->dropped == expect_scalar(ef, "dropped"), "%s: dropped = %lld", file, (long long)d->dropped);
    CHECK((double)d->n_terminals == expect_scalar(ef, "n_terminals"), "%s: n_terminals = %lld", file,
          (long long)d->n_terminals);
    CHECK((double)d->n_timeouts == expect_scalar(ef, "n_timeouts"), "%s: n_timeouts = %lld", file,
          (long long)d->n_timeouts);
    CHECK((double)d->had_next_observations == expect_scalar(ef, "had_next"), "%s: had_next_observations = %d", file,
          d->had_next_observations);
    CHECK((double)d->n_episodes == expect_scalar(ef, "n_episodes"), "%s: n_episodes = %lld", file,
          (long long)d->n_episodes);
    if ((double)d->n != expect_scalar(ef, "n") || (double)d->obs_dim != expect_scalar(ef, "obs_dim") ||
        (double)d->n_episodes != expect_scalar(ef, "n_episodes"))
        return; /* the arrays cannot be compared */

    size_t len, n = (size_t)d->n, S = (size_t)d->obs_dim, A = (size_t)d->act_dim;
    double *w;
    w = expect_array(ef, "state_row", &len);
    check_rows(file, "state_row", d->state_row, d->n, w, len);
    free(w);
    w = expect_array(ef, "next_row", &len);
    check_rows(file, "next_row", d->next_row, d->n, w, len);
    free(w);

    float *s = gather_states(d, 0), *s2 = gather_states(d, 1);
    w = expect_array(ef, "s", &len);
    check_exact(file, "s", s, w, n * S, len);
    free(w);
    w = expect_array(ef, "s2", &len);
    check_exact(file, "s'", s2, w, n * S, len);
    free(w);
    free(s);
    free(s2);
    w = expect_array(ef, "actions", &len);
    check_exact(file, "actions", d->actions, w, n * A, len);
    free(w);
    w = expect_array(ef, "rewards", &len);
    check_exact(file, "rewards", d->rewards, w, n, len);
    free(w);
    w = expect_array(ef, "terminals", &len);
    check_exact(file, "terminals", d->terminals, w, n, len);
    free(w);

    w = expect_array(ef, "episode_start", &len);
    CHECK(len == (size_t)d->n_episodes + 1, "%s: episode_start length", file);
    for (size_t e = 0; e < len && len == (size_t)d->n_episodes + 1; e++)
        if ((double)d->episode_start[e] != w[e]) {
            CHECK(0, "%s: episode_start[%zu] = %lld, expected %.0f", file, e, (long long)d->episode_start[e], w[e]);
            break;
        }
    free(w);

    double *returns = malloc((size_t)(d->n_episodes + 1) * sizeof *returns);
    CHECK(dataset_episode_returns(d, returns) == 0, "%s: dataset_episode_returns failed", file);
    w = expect_array(ef, "returns", &len);
    for (size_t e = 0; e < len && len == (size_t)d->n_episodes; e++)
        CHECK(fabs(returns[e] - w[e]) <= 1e-9 * fmax(1, fabs(w[e])), "%s: return of episode %zu = %.12g, expected %.12g",
              file, e, returns[e], w[e]);
    free(w);
    free(returns);

    int identity = !d->states_normalized && d->reward_scale == 1.0 && d->reward_shift == 0.0 && !d->preprocessed;
    for (size_t j = 0; j < S; j++) identity = identity && d->state_mean[j] == 0.0f && d->state_std[j] == 1.0f;
    CHECK(identity, "%s: a fresh load must record no preprocessing (mean 0, std 1, scale 1, shift 0)", file);
}

static DataPrep test_prep(int normalize, RewardTransform transform) {
    DataPrep cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.normalize_states = normalize;
    cfg.reward_transform = transform;
    cfg.reward_scale = TEST_SCALE;
    cfg.reward_shift = TEST_SHIFT;
    return cfg;
}

/* Loads path, which must succeed; returns 0 when it did. */
static int load_good(const char *path, Dataset *d) {
    Error err = {{0}};
    int rc = dataset_load(path, d, &err);
    CHECK(rc == 0, "%s: load failed: %s", path, err.msg);
    return rc;
}

static void check_normalized_iql(const char *file, const char *path, hid_t ef) {
    Dataset d;
    if (load_good(path, &d) < 0) return;
    DataPrep cfg = test_prep(1, REWARD_IQL_LOCOMOTION);
    Error err = {{0}};
    int rc = dataset_preprocess(&d, &cfg, &err);
    size_t len, n = (size_t)d.n, S = (size_t)d.obs_dim;
    double *w;
    if (expect_scalar(ef, "iql_error") == 1.0) {
        CHECK(rc == -1 && strstr(err.msg, "return"), "%s: iql-locomotion with equal returns must fail (rc %d: %s)",
              file, rc, err.msg);
        CHECK(!d.states_normalized && !d.preprocessed && d.reward_scale == 1.0,
              "%s: a failed preprocess must leave the dataset as loaded", file);
        w = expect_array(ef, "rewards", &len);
        check_exact(file, "rewards after a failed preprocess", d.rewards, w, n, len);
        free(w);
        float *s = gather_states(&d, 0);
        w = expect_array(ef, "s", &len);
        check_exact(file, "s after a failed preprocess", s, w, n * S, len);
        free(w);
        free(s);
        dataset_free(&d);
        return;
    }
    CHECK(rc == 0, "%s: preprocess (normalize + iql-locomotion) failed: %s", file, err.msg);
    CHECK(d.states_normalized == 1 && d.preprocessed == 1, "%s: flags after preprocess", file);
    w = expect_array(ef, "norm_mean", &len);
    check_close(file, "state_mean", d.state_mean, w, S, len, 1e-6);
    free(w);
    w = expect_array(ef, "norm_std", &len);
    check_close(file, "state_std", d.state_std, w, S, len, 1e-6);
    free(w);
    float *s = gather_states(&d, 0), *s2 = gather_states(&d, 1);
    w = expect_array(ef, "s_norm", &len);
    check_close(file, "normalised s", s, w, n * S, len, 2e-6);
    free(w);
    w = expect_array(ef, "s2_norm", &len);
    check_close(file, "normalised s'", s2, w, n * S, len, 2e-6);
    free(w);
    free(s);
    free(s2);
    w = expect_array(ef, "r_iql", &len);
    check_close(file, "iql-locomotion rewards", d.rewards, w, n, len, 1e-6);
    free(w);
    double scale = expect_scalar(ef, "iql_scale");
    CHECK(fabs(d.reward_scale - scale) <= 1e-9 * scale && d.reward_shift == 0.0,
          "%s: reward_scale %.12g shift %g, expected %.12g, 0", file, d.reward_scale, d.reward_shift, scale);
    rc = dataset_preprocess(&d, &cfg, &err);
    CHECK(rc == -1 && strstr(err.msg, "already"), "%s: a second preprocess must be refused", file);
    dataset_free(&d);
}

static void check_reward_transform(const char *file, const char *path, hid_t ef, RewardTransform t,
                                   const char *key, double scale, double shift) {
    Dataset d;
    if (load_good(path, &d) < 0) return;
    DataPrep cfg = test_prep(0, t);
    Error err = {{0}};
    CHECK(dataset_preprocess(&d, &cfg, &err) == 0, "%s: preprocess %s failed: %s", file, key, err.msg);
    size_t len;
    double *w = expect_array(ef, key, &len);
    check_close(file, key, d.rewards, w, (size_t)d.n, len, 1e-6);
    free(w);
    CHECK(d.reward_scale == scale && d.reward_shift == shift, "%s: %s recorded scale %g shift %g, expected %g %g",
          file, key, d.reward_scale, d.reward_shift, scale, shift);
    CHECK(!d.states_normalized && d.state_std[0] == 1.0f, "%s: states must stay raw without normalize_states", file);
    dataset_free(&d);
}

static void test_good(const char *dir, const char *file) {
    char path[2048], expect[2100];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(expect, sizeof expect, "%s.expect.h5", path);
    hid_t ef = H5Fopen(expect, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(ef >= 0, "%s: cannot open the expectations %s", file, expect);
    if (ef < 0) return;

    OpenIds before = open_ids();
    Dataset d;
    if (load_good(path, &d) == 0) {
        check_no_leak(file, before);
        check_loaded(file, ef, &d);

        DataPrep none = test_prep(0, REWARD_NONE);
        Error err = {{0}};
        size_t len;
        CHECK(dataset_preprocess(&d, &none, &err) == 0, "%s: preprocess none failed: %s", file, err.msg);
        double *w = expect_array(ef, "rewards", &len);
        check_exact(file, "rewards after transform none", d.rewards, w, (size_t)d.n, len);
        free(w);
        CHECK(d.reward_scale == 1.0 && d.reward_shift == 0.0 && !d.states_normalized, "%s: none changed things", file);
        dataset_free(&d);
        dataset_free(&d); /* twice is allowed */
        CHECK(d.states == NULL && d.n == 0 && d.state_mean == NULL, "%s: dataset_free must zero the struct", file);
    }
    check_normalized_iql(file, path, ef);
    check_reward_transform(file, path, ef, REWARD_ANTMAZE, "r_antmaze", 1.0, -1.0);
    check_reward_transform(file, path, ef, REWARD_SCALE_SHIFT, "r_scaled", TEST_SCALE, TEST_SHIFT);
    check_no_leak(file, before);
    H5Fclose(ef);
}

/* ---- malformed files -------------------------------------------------------------------- */

/* line: FILE<TAB>WORD<TAB>WORD... */
static void test_bad(const char *dir, char *line) {
    char *words[16];
    int n = 0;
    for (char *tok = strtok(line, "\t\r\n"); tok && n < 16; tok = strtok(NULL, "\t\r\n")) words[n++] = tok;
    if (n == 0) return;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, words[0]);

    OpenIds before = open_ids();
    Dataset d;
    memset(&d, 0xab, sizeof d); /* garbage: the load must not trust what was there */
    Error err = {{0}};
    int rc = dataset_load(path, &d, &err);
    CHECK(rc == -1, "%s: the load must fail (rc %d)", words[0], rc);
    if (rc == 0) {
        dataset_free(&d);
        return;
    }
    printf("  %s\n", err.msg);
    CHECK(strstr(err.msg, path) != NULL, "%s: message must name the file: %s", words[0], err.msg);
    CHECK(strchr(err.msg, '\n') == NULL && err.msg[0], "%s: message must be one line: %s", words[0], err.msg);
    for (int i = 1; i < n; i++)
        CHECK(strstr(err.msg, words[i]) != NULL, "%s: message must contain \"%s\": %s", words[0], words[i], err.msg);
    CHECK(d.states == NULL && d.actions == NULL && d.n == 0 && d.state_mean == NULL,
          "%s: a failed load must leave the dataset empty", words[0]);
    check_no_leak(words[0], before);
    dataset_free(&d);
}

/* ---- the rest of the API ---------------------------------------------------------------- */

static void test_api_edges(void) {
    Dataset d;
    memset(&d, 0, sizeof d);
    dataset_free(&d); /* a zeroed struct */
    dataset_free(&d);
    DataPrep cfg = test_prep(1, REWARD_NONE);
    Error err = {{0}};
    CHECK(dataset_preprocess(&d, &cfg, &err) == -1, "preprocess of an empty dataset must fail");
    CHECK(!strcmp(dataset_format_name(DATASET_D4RL), "D4RL") && !strcmp(dataset_format_name(DATASET_MINARI), "Minari"),
          "format names");
}

static int for_each_line(const char *dir, const char *list, void (*fn)(const char *, char *)) {
    char path[2048], line[4096];
    snprintf(path, sizeof path, "%s/%s", dir, list);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int count = 0;
    while (fgets(line, sizeof line, f)) {
        fn(dir, line);
        count++;
    }
    fclose(f);
    return count;
}

static void run_good(const char *dir, char *line) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0]) test_good(dir, line);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "fixtures";
    H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    test_api_edges();
    int good = for_each_line(dir, "good.txt", run_good);
    int bad = for_each_line(dir, "bad.txt", test_bad);
    CHECK(good >= 7 && bad >= 30, "fixture lists in %s: %d good, %d bad (run make_fixtures.py %s first)", dir, good,
          bad, dir);
    return test_finish("test_dataset", 0);
}
