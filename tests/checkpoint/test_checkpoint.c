/* test_checkpoint.c — checkpoint_write / checkpoint_read: bit-exact round trips, the refusals
 * of bad files (each message checked for the names it must carry), no leaked HDF5 handles on
 * any path, and that a failed or killed write never damages the previous checkpoint. */
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"  // defines: checkpoint_write, checkpoint_read, ...
#include "test_util.h"

/* ---- helpers ------------------------------------------------------------------------------ */

typedef struct {
    uint64_t state;
} Rng;

static uint64_t rng_next(Rng *r) {  /* splitmix64 */
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float rng_float(Rng *r) {  /* uniform in [-1, 1) */
    return (float)((double)(rng_next(r) >> 11) * 0x1p-53 * 2.0 - 1.0);
}

static void fill_random(float *x, size_t n, Rng *r, int positive) {
    for (size_t i = 0; i < n; i++) x[i] = positive ? fabsf(rng_float(r)) : rng_float(r);
}

static void fill_const(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}

static int all_equal_to(const float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++)
        if (x[i] != v) return 0;
    return 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* Open HDF5 files and objects in them (groups, datasets, attributes, named types), over all
 * files: a function that leaks one of these on some path leaves this larger than before (and
 * keeps a file open). HDF5 1.10 has no public count of dataspace or property-list ids. */
static long h5_open_ids(void) {
    ssize_t n = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    return (long)n;
}

/* Everything one test writes lives in a fresh directory under the build tree. */
typedef struct {
    char dir[256];
} Ctx;

static void path_in(const Ctx *c, const char *name, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", c->dir, name);
}

/* One model's four buffers (member view) and the meta that goes with them. */
typedef struct {
    ModelLayout layout;
    float *params, *target, *m, *v;
    CheckpointMeta meta;
    float mean[64], std[64];
} Model;

static int model_alloc(Model *md, int obs, int act, const int *hidden, int n_hidden) {
    memset(md, 0, sizeof *md);
    Error err;
    if (model_layout_init(&md->layout, 1, obs, act, hidden, n_hidden, &err) != 0) {
        fprintf(stderr, "layout: %s\n", err.msg);
        return -1;
    }
    size_t n = md->layout.n_params, nt = model_target_size(&md->layout);
    md->params = malloc(sizeof(float) * n);
    md->m = malloc(sizeof(float) * n);
    md->v = malloc(sizeof(float) * n);
    md->target = malloc(sizeof(float) * nt);
    if (!md->params || !md->m || !md->v || !md->target) return -1;
    CheckpointMeta *mt = &md->meta;
    mt->obs_dim = obs;
    mt->act_dim = act;
    mt->n_hidden = n_hidden;
    memcpy(mt->hidden, hidden, sizeof(int) * (size_t)n_hidden);
    mt->max_action = 1.0;
    mt->tau = 0.7;
    mt->beta = 3.0;
    mt->reward_scale = 1.0;
    for (int i = 0; i < obs && i < 64; i++) {
        md->mean[i] = 0.1f * (float)i - 0.3f;
        md->std[i] = 0.5f + 0.25f * (float)i;
    }
    mt->state_mean = md->mean;
    mt->state_std = md->std;
    return 0;
}

static void model_free(Model *md) {
    free(md->params);
    free(md->target);
    free(md->m);
    free(md->v);
}

static void model_randomize(Model *md, uint64_t seed) {
    Rng r = {seed};
    size_t n = md->layout.n_params;
    fill_random(md->params, n, &r, 0);
    fill_random(md->m, n, &r, 0);
    fill_random(md->v, n, &r, 1);
    fill_random(md->target, model_target_size(&md->layout), &r, 0);
}

static int msg_has(const Error *e, const char *s) {
    return strstr(e->msg, s) != NULL;
}

/* ---- round trips -------------------------------------------------------------------------- */

static void test_round_trip(const Ctx *c) {
    const int hidden[2] = {7, 5};
    Model md;
    CHECK(model_alloc(&md, 3, 2, hidden, 2) == 0, "alloc");
    model_randomize(&md, 1);
    CheckpointMeta *mt = &md.meta;
    mt->step = 123456789012345LL;
    mt->deterministic = 1;
    mt->max_action = 0.75;
    mt->tau = 0.9;
    mt->beta = 10.0 / 3.0;
    mt->seed = 42;
    mt->batch_seed = 9007199254740993LL;  /* not representable as a double: must stay an integer */
    mt->reward_scale = 1000.0 / 3.0;
    mt->reward_shift = -1.25;
    char config[] = "steps: 1000\ntau: 0.9\ndataset: \"donn\xc3\xa9" "es/hopper.hdf5\"\nhidden: [7, 5]\n";
    mt->config_yaml = config;

    char path[512], tmp[520];
    path_in(c, "round.h5", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    long ids = h5_open_ids();
    Error err = {""};
    int rc = checkpoint_write(path, &md.layout, mt, md.params, md.target, md.m, md.v, &err);
    CHECK(rc == 0, "write: %s", err.msg);
    CHECK(file_exists(path) && !file_exists(tmp), "after a write PATH exists and PATH.tmp does not");

    CheckpointMeta got;
    rc = checkpoint_read_meta(path, &got, &err);
    CHECK(rc == 0, "read_meta: %s", err.msg);
    if (rc == 0) {
        CHECK(got.step == mt->step, "step %lld", (long long)got.step);
        CHECK(got.obs_dim == 3 && got.act_dim == 2, "dims %d %d", got.obs_dim, got.act_dim);
        CHECK(got.n_hidden == 2 && got.hidden[0] == 7 && got.hidden[1] == 5, "hidden %d [%d, %d]", got.n_hidden,
              got.hidden[0], got.hidden[1]);
        CHECK(got.deterministic == 1, "deterministic %d", got.deterministic);
        CHECK(got.max_action == mt->max_action && got.tau == mt->tau && got.beta == mt->beta, "max_action/tau/beta");
        CHECK(got.seed == 42 && got.batch_seed == mt->batch_seed, "seeds %lld %lld", (long long)got.seed,
              (long long)got.batch_seed);
        CHECK(got.reward_scale == mt->reward_scale && got.reward_shift == mt->reward_shift, "reward transform");
        CHECK(memcmp(got.state_mean, md.mean, 3 * sizeof(float)) == 0, "state_mean");
        CHECK(memcmp(got.state_std, md.std, 3 * sizeof(float)) == 0, "state_std");
        CHECK(got.config_yaml && !strcmp(got.config_yaml, config), "config '%s'", got.config_yaml ? got.config_yaml : "(null)");
        checkpoint_meta_free(&got);
        CHECK(!got.state_mean && !got.state_std && !got.config_yaml, "meta_free clears the pointers");
    }

    ModelLayout layout;
    CheckpointMeta lm;
    rc = checkpoint_layout_from_file(path, &layout, &lm, &err);
    CHECK(rc == 0, "layout_from_file: %s", err.msg);
    CHECK(rc == 0 && memcmp(&layout, &md.layout, sizeof layout) == 0, "layout from the file equals the writer's");
    if (rc == 0) checkpoint_meta_free(&lm);
    rc = checkpoint_layout_from_file(path, &layout, NULL, &err);
    CHECK(rc == 0, "layout_from_file without meta: %s", err.msg);

    size_t n = md.layout.n_params, nt = model_target_size(&md.layout);
    float *p = malloc(n * sizeof(float)), *t = malloc(nt * sizeof(float));
    float *m = malloc(n * sizeof(float)), *v = malloc(n * sizeof(float));
    fill_const(p, n, 777.0f);
    fill_const(t, nt, 777.0f);
    fill_const(m, n, 777.0f);
    fill_const(v, n, 777.0f);
    int has_t = -1, has_o = -1;
    rc = checkpoint_read(path, &md.layout, p, t, m, v, &has_t, &has_o, &err);
    CHECK(rc == 0, "read: %s", err.msg);
    CHECK(has_t == 1 && has_o == 1, "has_target %d has_optimizer %d", has_t, has_o);
    CHECK(memcmp(p, md.params, n * sizeof(float)) == 0, "params bit-identical");
    CHECK(memcmp(t, md.target, nt * sizeof(float)) == 0, "targets bit-identical");
    CHECK(memcmp(m, md.m, n * sizeof(float)) == 0, "exp_avg bit-identical");
    CHECK(memcmp(v, md.v, n * sizeof(float)) == 0, "exp_avg_sq bit-identical");

    /* Only the parameters wanted: the flags still report what the file has. */
    has_t = has_o = -1;
    rc = checkpoint_read(path, &md.layout, p, NULL, NULL, NULL, &has_t, &has_o, &err);
    CHECK(rc == 0 && has_t == 1 && has_o == 1, "read params only: rc %d flags %d %d %s", rc, has_t, has_o, err.msg);

    /* A Gaussian policy, no config, no normalisation given: written as 0 / 1. */
    mt->deterministic = 0;
    mt->config_yaml = NULL;
    mt->state_mean = mt->state_std = NULL;
    rc = checkpoint_write(path, &md.layout, mt, md.params, md.target, md.m, md.v, &err);
    CHECK(rc == 0, "rewrite: %s", err.msg);
    rc = checkpoint_read_meta(path, &got, &err);
    CHECK(rc == 0, "read_meta: %s", err.msg);
    if (rc == 0) {
        CHECK(got.deterministic == 0, "gaussian policy read back");
        CHECK(got.config_yaml == NULL, "no config attribute gives config_yaml NULL");
        int ok = 1;
        for (int i = 0; i < 3; i++) ok &= got.state_mean[i] == 0.0f && got.state_std[i] == 1.0f;
        CHECK(ok, "NULL normalisation is written as mean 0, std 1");
        checkpoint_meta_free(&got);
    }
    mt->state_mean = md.mean;
    mt->state_std = md.std;

    /* Weights-only (no optimizer): adam buffers untouched, has_optimizer 0. */
    char wpath[512];
    path_in(c, "weights_only.h5", wpath, sizeof wpath);
    rc = checkpoint_write(wpath, &md.layout, mt, md.params, md.target, NULL, NULL, &err);
    CHECK(rc == 0, "weights-only write: %s", err.msg);
    fill_const(m, n, 777.0f);
    fill_const(v, n, 777.0f);
    has_t = has_o = -1;
    rc = checkpoint_read(wpath, &md.layout, p, t, m, v, &has_t, &has_o, &err);
    CHECK(rc == 0, "weights-only read: %s", err.msg);
    CHECK(has_o == 0 && has_t == 1, "weights-only: has_optimizer %d has_target %d", has_o, has_t);
    CHECK(all_equal_to(m, n, 777.0f) && all_equal_to(v, n, 777.0f), "moments untouched when the file has none");
    CHECK(memcmp(p, md.params, n * sizeof(float)) == 0, "weights-only params bit-identical");

    /* No targets: target buffer untouched, has_target 0. */
    char npath[512];
    path_in(c, "no_target.h5", npath, sizeof npath);
    rc = checkpoint_write(npath, &md.layout, mt, md.params, NULL, md.m, md.v, &err);
    CHECK(rc == 0, "no-target write: %s", err.msg);
    fill_const(t, nt, 777.0f);
    has_t = has_o = -1;
    rc = checkpoint_read(npath, &md.layout, p, t, m, v, &has_t, &has_o, &err);
    CHECK(rc == 0, "no-target read: %s", err.msg);
    CHECK(has_t == 0 && has_o == 1, "no-target: has_target %d has_optimizer %d", has_t, has_o);
    CHECK(all_equal_to(t, nt, 777.0f), "target buffer untouched when the file has none");
    CHECK(memcmp(m, md.m, n * sizeof(float)) == 0 && memcmp(v, md.v, n * sizeof(float)) == 0, "no-target moments");

    /* Reading with a different layout names the tensor and both shapes. */
    ModelLayout other;
    const int hidden_other[2] = {7, 6};
    model_layout_init(&other, 1, 3, 2, hidden_other, 2, &err);
    float *big = calloc(other.n_params, sizeof(float));
    rc = checkpoint_read(path, &other, big, NULL, NULL, NULL, NULL, NULL, &err);
    CHECK(rc != 0 && msg_has(&err, "/policy/layer1/weight") && msg_has(&err, "[5, 7]") && msg_has(&err, "[6, 7]") &&
              msg_has(&err, path),
          "layout mismatch message: %s", err.msg);
    free(big);
    /* A layout with fewer layers must not read the file's first layers silently. */
    const int hidden_short[1] = {7};
    model_layout_init(&other, 1, 3, 5, hidden_short, 1, &err);
    big = calloc(other.n_params, sizeof(float));
    rc = checkpoint_read(path, &other, big, NULL, NULL, NULL, NULL, NULL, &err);
    CHECK(rc != 0 && msg_has(&err, "/policy/layer2") && msg_has(&err, "one layer more"), "extra layer: %s", err.msg);
    free(big);

    CHECK(h5_open_ids() == ids, "no HDF5 handle leaked (%ld open, %ld before)", h5_open_ids(), ids);
    free(p);
    free(t);
    free(m);
    free(v);
    model_free(&md);
}

/* ---- refusals ----------------------------------------------------------------------------- */

/* File surgery for the error tests, with the plain HDF5 API. */
static hid_t open_rw(const char *path) {
    return H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
}

static int replace_dataset(const char *path, const char *name, int rank, const hsize_t *dims, hid_t type,
                           const void *data) {
    hid_t f = open_rw(path);
    if (f < 0) return -1;
    if (H5Lexists(f, name, H5P_DEFAULT) > 0) H5Ldelete(f, name, H5P_DEFAULT);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d >= 0 && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0 ? 0 : -1;
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    H5Pclose(lcpl);
    H5Fclose(f);
    return rc;
}

/* Sets element `index` of an existing float dataset. */
static int poke_float(const char *path, const char *name, hsize_t index, float value) {
    hid_t f = open_rw(path);
    if (f < 0) return -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t s = d >= 0 ? H5Dget_space(d) : -1;
    hssize_t n = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    int rc = -1;
    if (n > 0 && (hsize_t)n > index) {
        float *buf = malloc(sizeof(float) * (size_t)n);
        if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) {
            buf[index] = value;
            rc = H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0 ? 0 : -1;
        }
        free(buf);
    }
    if (s >= 0) H5Sclose(s);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return rc;
}

static int delete_link(const char *path, const char *name) {
    hid_t f = open_rw(path);
    if (f < 0) return -1;
    int rc = H5Ldelete(f, name, H5P_DEFAULT) >= 0 ? 0 : -1;
    H5Fclose(f);
    return rc;
}

static int set_attr_i64(const char *path, const char *name, int64_t value) {
    hid_t f = open_rw(path);
    if (f < 0) return -1;
    if (H5Aexists(f, name) > 0) H5Adelete(f, name);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &value) >= 0 ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Fclose(f);
    return rc;
}

static int set_attr_fixed_string(const char *path, const char *name, const char *value) {
    hid_t f = open_rw(path);
    if (f < 0) return -1;
    if (H5Aexists(f, name) > 0) H5Adelete(f, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value));
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, t, value) >= 0 ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    H5Fclose(f);
    return rc;
}

/* Both readers must refuse the file with a message holding every one of `needles`. */
static void expect_refused(const char *path, const Model *md, const char *what, const char *n1, const char *n2,
                           const char *n3) {
    Error err = {""};
    CheckpointMeta meta;
    float *p = calloc(md->layout.n_params, sizeof(float));
    float *m = calloc(md->layout.n_params, sizeof(float));
    float *v = calloc(md->layout.n_params, sizeof(float));
    float *t = calloc(model_target_size(&md->layout), sizeof(float));
    const char *needles[] = {path, n1, n2, n3};
    int rc_meta = checkpoint_read_meta(path, &meta, &err);
    Error err_meta = err;
    if (rc_meta == 0) checkpoint_meta_free(&meta);
    int rc_read = checkpoint_read(path, &md->layout, p, t, m, v, NULL, NULL, &err);
    CHECK(rc_read != 0, "%s: checkpoint_read accepted the file", what);
    for (size_t i = 0; i < 4; i++)
        if (needles[i]) CHECK(msg_has(&err, needles[i]), "%s: read message lacks '%s': %s", what, needles[i], err.msg);
    /* read_meta checks the structure too, but the optimizer and target trees only in read */
    if (rc_meta != 0)
        for (size_t i = 0; i < 4; i++)
            if (needles[i])
                CHECK(msg_has(&err_meta, needles[i]), "%s: meta message lacks '%s': %s", what, needles[i], err_meta.msg);
    free(p);
    free(m);
    free(v);
    free(t);
}

/* A new valid checkpoint file (bad<k>.h5) for the next refusal case to break. */
static int fresh_file(const Ctx *c, int *case_no, const Model *md, char *path, size_t cap, Error *err) {
    char name[64];
    snprintf(name, sizeof name, "bad%d.h5", (*case_no)++);
    path_in(c, name, path, cap);
    return checkpoint_write(path, &md->layout, &md->meta, md->params, md->target, md->m, md->v, err);
}

static void test_refusals(const Ctx *c) {
    const int hidden[2] = {7, 5};
    Model md;
    CHECK(model_alloc(&md, 3, 2, hidden, 2) == 0, "alloc");
    model_randomize(&md, 2);
    long ids = h5_open_ids();
    Error err = {""};
    char path[512];
    CheckpointMeta meta;

    path_in(c, "does_not_exist.h5", path, sizeof path);
    CHECK(checkpoint_read_meta(path, &meta, &err) != 0 && msg_has(&err, path) && msg_has(&err, "No such file"),
          "missing file: %s", err.msg);
    CHECK(checkpoint_read(path, &md.layout, md.params, NULL, NULL, NULL, NULL, NULL, &err) != 0 &&
              msg_has(&err, "No such file"),
          "missing file (read): %s", err.msg);

    path_in(c, "text.h5", path, sizeof path);
    FILE *f = fopen(path, "w");
    fputs("this is not HDF5\n", f);
    fclose(f);
    CHECK(checkpoint_read_meta(path, &meta, &err) != 0 && msg_has(&err, path) && msg_has(&err, "not an HDF5 file"),
          "not HDF5: %s", err.msg);
    CHECK(checkpoint_read_meta(c->dir, &meta, &err) != 0 && msg_has(&err, "not a regular file"), "directory: %s",
          err.msg);

    /* Each case starts from a fresh valid file and breaks one thing. */
    int case_no = 0;
    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && set_attr_i64(path, "format_version", 2) == 0, "setup newer: %s", err.msg);
    expect_refused(path, &md, "newer format", "written by a newer cuiql (format 2); this build reads format 1", NULL,
                   NULL);

    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && set_attr_i64(path, "format_version", 0) == 0, "setup version 0");
    expect_refused(path, &md, "format 0", "format_version 0", NULL, NULL);

    float wrong[5 * 6] = {0};
    hsize_t wrong_dims[2] = {5, 6};
    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && replace_dataset(path, "value/layer1/weight", 2, wrong_dims, H5T_NATIVE_FLOAT, wrong) == 0,
          "setup shape");
    expect_refused(path, &md, "wrong shape", "/value/layer1/weight", "[5, 6]", "[5, 7]");

    hsize_t rank3[3] = {1, 5, 7};
    float r3[35] = {0};
    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && replace_dataset(path, "q1/layer1/weight", 3, rank3, H5T_NATIVE_FLOAT, r3) == 0,
          "setup rank");
    expect_refused(path, &md, "wrong rank", "/q1/layer1/weight", "[1, 5, 7]", "rank 2");

    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && poke_float(path, "policy/layer0/weight", 1 * 3 + 2, NAN) == 0, "setup nan");
    expect_refused(path, &md, "NaN weight", "/policy/layer0/weight", "[1, 2]", "nan");

    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && poke_float(path, "q2_target/layer2/weight", 4, -INFINITY) == 0, "setup inf target");
    expect_refused(path, &md, "Inf target", "/q2_target/layer2/weight", "[0, 4]", "-inf");

    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && poke_float(path, "optimizer/exp_avg/q2/layer2/bias", 0, INFINITY) == 0, "setup inf moment");
    expect_refused(path, &md, "Inf moment", "/optimizer/exp_avg/q2/layer2/bias", "+inf", NULL);

    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && poke_float(path, "optimizer/exp_avg_sq/value/layer0/bias", 3, -1.0f) == 0,
          "setup negative v");
    expect_refused(path, &md, "negative second moment", "/optimizer/exp_avg_sq/value/layer0/bias", "negative", NULL);

    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && delete_link(path, "q2/layer2/bias") == 0, "setup missing");
    expect_refused(path, &md, "missing tensor", "tensor /q2/layer2/bias is missing", NULL, NULL);

    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && delete_link(path, "optimizer/exp_avg_sq/policy/log_std") == 0, "setup missing moment");
    expect_refused(path, &md, "missing moment", "tensor /optimizer/exp_avg_sq/policy/log_std is missing", NULL, NULL);

    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && delete_link(path, "q2_target") == 0, "setup one target");
    expect_refused(path, &md, "one target", "/q1_target is present but /q2_target is missing", NULL, NULL);

    int ints[5] = {1, 2, 3, 4, 5};
    hsize_t five = 5;
    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && replace_dataset(path, "value/layer0/bias", 1, &five, H5T_NATIVE_INT, ints) == 0,
          "setup int");
    expect_refused(path, &md, "integer tensor", "/value/layer0/bias", "integer", NULL);

    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && set_attr_i64(path, "obs_dim", 4) == 0, "setup obs_dim");
    CHECK(checkpoint_read_meta(path, &meta, &err) != 0 && msg_has(&err, "attribute obs_dim = 4") && msg_has(&err, "3"),
          "obs_dim disagreeing with the shapes: %s", err.msg);

    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && set_attr_fixed_string(path, "policy", "stochastic") == 0, "setup policy");
    CHECK(checkpoint_read_meta(path, &meta, &err) != 0 && msg_has(&err, "stochastic"), "unknown policy: %s", err.msg);

    /* A fixed-length (numpy bytes) policy string is as good as a variable-length one. */
    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && set_attr_fixed_string(path, "policy", "deterministic") == 0, "setup fixed string");
    int rc = checkpoint_read_meta(path, &meta, &err);
    CHECK(rc == 0 && meta.deterministic == 1, "fixed-length policy string: rc %d %s", rc, err.msg);
    if (rc == 0) checkpoint_meta_free(&meta);

    CHECK(fresh_file(c, &case_no, &md, path, sizeof path, &err) == 0 && poke_float(path, "normalization/state_std", 1, 0.0f) == 0, "setup std");
    CHECK(checkpoint_read_meta(path, &meta, &err) != 0 && msg_has(&err, "/normalization/state_std"), "zero std: %s",
          err.msg);

    /* Write-side refusals: nothing is written, no .tmp is left. */
    char tmp[520];
    path_in(c, "refused.h5", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    float saved = md.params[md.layout.net[NET_VALUE].weight[1] + 3];
    md.params[md.layout.net[NET_VALUE].weight[1] + 3] = NAN;
    rc = checkpoint_write(path, &md.layout, &md.meta, md.params, md.target, md.m, md.v, &err);
    CHECK(rc != 0 && msg_has(&err, "/value/layer1/weight") && msg_has(&err, "[0, 3]") && msg_has(&err, "nan"),
          "write refuses NaN: %s", err.msg);
    CHECK(!file_exists(path) && !file_exists(tmp), "a refused write creates nothing");
    md.params[md.layout.net[NET_VALUE].weight[1] + 3] = saved;
    rc = checkpoint_write(path, &md.layout, &md.meta, md.params, md.target, md.m, NULL, &err);
    CHECK(rc != 0 && msg_has(&err, "both Adam moments"), "one moment only: %s", err.msg);
    md.meta.obs_dim = 4;
    rc = checkpoint_write(path, &md.layout, &md.meta, md.params, md.target, md.m, md.v, &err);
    CHECK(rc != 0 && msg_has(&err, "disagrees with the layout"), "meta vs layout: %s", err.msg);
    md.meta.obs_dim = 3;
    md.std[2] = 0.0f;
    rc = checkpoint_write(path, &md.layout, &md.meta, md.params, md.target, md.m, md.v, &err);
    CHECK(rc != 0 && msg_has(&err, "normalisation of state 2"), "zero std: %s", err.msg);
    md.std[2] = 1.0f;
    CHECK(!file_exists(path) && !file_exists(tmp), "refused writes create nothing");

    CHECK(h5_open_ids() == ids, "no HDF5 handle leaked on error paths (%ld open, %ld before)", h5_open_ids(), ids);
    model_free(&md);
}

/* ---- interrupted writes ------------------------------------------------------------------- */

/* Version v of a model's contents: every buffer is a function of (v, index), so a file can be
 * checked against the version its step attribute names, element by element. */
static void fill_version(Model *md, int64_t v) {
    size_t n = md->layout.n_params, nt = model_target_size(&md->layout);
    for (size_t i = 0; i < n; i++) {
        float x = (float)(((uint64_t)v * 7919u + i) % 100003u) * 1e-3f - 50.0f;
        md->params[i] = x;
        md->m[i] = 0.5f * x;
        md->v[i] = (float)v + 1e-3f * (float)(i % 1000);
    }
    for (size_t i = 0; i < nt; i++) md->target[i] = -(float)(((uint64_t)v * 104729u + i) % 100003u) * 1e-3f;
    md->meta.step = v;
}

/* Reads path and checks it is a complete version: returns the version, or -1 (with a failed
 * CHECK) when the file cannot be read or its contents are not exactly version `step`'s. */
static int64_t read_version_of(const char *path, Model *expect, float *p, float *t, float *m, float *v);

/* The reader opens the file twice (its step, then its tensors), and a rename between the two
 * would pair one version's step with the next one's tensors: so it reads a hard link to the
 * file it found, which a rename cannot swap. */
static int64_t read_version(const char *path, Model *expect, float *p, float *t, float *m, float *v) {
    char snap[1100];
    snprintf(snap, sizeof snap, "%s.reader-link", path);
    unlink(snap);
    if (link(path, snap) != 0) return read_version_of(path, expect, p, t, m, v);  /* an unwritable dir: no writer */
    int64_t version = read_version_of(snap, expect, p, t, m, v);
    unlink(snap);
    return version;
}

static int64_t read_version_of(const char *path, Model *expect, float *p, float *t, float *m, float *v) {
    Error err = {""};
    CheckpointMeta meta;
    if (checkpoint_read_meta(path, &meta, &err) != 0) {
        CHECK(0, "version file unreadable: %s", err.msg);
        return -1;
    }
    int64_t step = meta.step;
    checkpoint_meta_free(&meta);
    int has_t = 0, has_o = 0;
    if (checkpoint_read(path, &expect->layout, p, t, m, v, &has_t, &has_o, &err) != 0) {
        CHECK(0, "version file unreadable: %s", err.msg);
        return -1;
    }
    fill_version(expect, step);
    size_t n = expect->layout.n_params, nt = model_target_size(&expect->layout);
    int same = has_t && has_o && !memcmp(p, expect->params, n * sizeof(float)) &&
               !memcmp(t, expect->target, nt * sizeof(float)) && !memcmp(m, expect->m, n * sizeof(float)) &&
               !memcmp(v, expect->v, n * sizeof(float));
    CHECK(same, "file with step %lld does not hold version %lld's contents", (long long)step, (long long)step);
    return same ? step : -1;
}

/* (a) Writes that fail partway (PATH.tmp is a directory; the file size limit hits in the middle
 * of the tensors; an unwritable directory) leave the previous checkpoint intact. */
static void test_failed_write(const Ctx *c) {
    const int hidden[2] = {256, 256};
    Model md, check;
    CHECK(model_alloc(&md, 17, 6, hidden, 2) == 0 && model_alloc(&check, 17, 6, hidden, 2) == 0, "alloc");
    size_t n = md.layout.n_params, nt = model_target_size(&md.layout);
    float *p = malloc(n * 4), *t = malloc(nt * 4), *m = malloc(n * 4), *v = malloc(n * 4);
    char path[512], tmp[520];
    path_in(c, "failing.h5", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    Error err = {""};
    long ids = h5_open_ids();

    fill_version(&md, 1);
    CHECK(checkpoint_write(path, &md.layout, &md.meta, md.params, md.target, md.m, md.v, &err) == 0, "v1: %s", err.msg);

    CHECK(mkdir(tmp, 0755) == 0, "mkdir %s", tmp);
    fill_version(&md, 2);
    int rc = checkpoint_write(path, &md.layout, &md.meta, md.params, md.target, md.m, md.v, &err);
    CHECK(rc != 0 && msg_has(&err, path) && msg_has(&err, "Is a directory"), "write over a directory .tmp: %s",
          err.msg);
    CHECK(read_version(path, &check, p, t, m, v) == 1, "previous checkpoint intact after a failed create");
    struct stat st;
    CHECK(stat(tmp, &st) == 0 && S_ISDIR(st.st_mode), "the directory in the way is not deleted");
    rmdir(tmp);

    /* A mid-write failure: a child process with a file size limit of half the checkpoint, so
     * the first tensors are written and a later one fails with EFBIG. */
    CHECK(stat(path, &st) == 0, "stat");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);  /* get EFBIG from write(2) instead of being killed */
        struct rlimit lim = {(rlim_t)st.st_size / 2, (rlim_t)st.st_size / 2};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(10);
        Error e = {""};
        fill_version(&md, 3);
        int r = checkpoint_write(path, &md.layout, &md.meta, md.params, md.target, md.m, md.v, &e);
        fprintf(stderr, "  (child, size limit %lld bytes: %s)\n", (long long)lim.rlim_cur, r ? e.msg : "succeeded?");
        if (r == 0) _exit(11);
        if (!strstr(e.msg, path) || !strstr(e.msg, "File too large")) _exit(12);
        if (file_exists(tmp)) _exit(13);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "size-limited child: status %d (11 wrote anyway, 12 bad message, 13 .tmp left)",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    CHECK(read_version(path, &check, p, t, m, v) == 1, "previous checkpoint intact after a mid-write failure");

    /* An unwritable directory (root ignores permissions, so only as another user). */
    if (geteuid() != 0) {
        char sub[512], subpath[600];
        path_in(c, "readonly", sub, sizeof sub);
        snprintf(subpath, sizeof subpath, "%s/ckpt.h5", sub);
        CHECK(mkdir(sub, 0755) == 0, "mkdir");
        fill_version(&md, 4);
        CHECK(checkpoint_write(subpath, &md.layout, &md.meta, md.params, md.target, md.m, md.v, &err) == 0, "%s",
              err.msg);
        chmod(sub, 0555);
        fill_version(&md, 5);
        rc = checkpoint_write(subpath, &md.layout, &md.meta, md.params, md.target, md.m, md.v, &err);
        CHECK(rc != 0 && msg_has(&err, "Permission denied"), "unwritable dir: %s", err.msg);
        CHECK(read_version(subpath, &check, p, t, m, v) == 4, "previous checkpoint intact in an unwritable dir");
        chmod(sub, 0755);
    } else {
        printf("  (running as root: the unwritable-directory case is skipped)\n");
    }
    CHECK(h5_open_ids() == ids, "no HDF5 handle leaked (%ld open, %ld before)", h5_open_ids(), ids);
    free(p);
    free(t);
    free(m);
    free(v);
    model_free(&md);
    model_free(&check);
}

typedef struct {
    _Atomic int64_t started, completed;  /* the version the writer began / finished last */
} Progress;

/* The writer: checkpoints of increasing versions in a loop until killed. */
static void writer_child(const char *path, Model *md, int64_t first, Progress *pr) {
    alarm(300);  /* never outlive a parent that died */
    for (int64_t v = first; v < first + 1000000; v++) {
        fill_version(md, v);
        atomic_store(&pr->started, v);
        Error err = {""};
        if (checkpoint_write(path, &md->layout, &md->meta, md->params, md->target, md->m, md->v, &err) != 0) {
            fprintf(stderr, "writer: %s\n", err.msg);
            _exit(3);
        }
        atomic_store(&pr->completed, v);
    }
    _exit(0);
}

/* (b) SIGKILL a writer of a large model at random moments, mostly in the middle of a write:
 * PATH must always read back cleanly as one complete version, the newest finished one (or the
 * one being written, when the kill came between the rename and the writer noting it). */
static void test_killed_writer(const Ctx *c, uint64_t seed) {
    const int hidden[2] = {1024, 1024};
    Model md, check;
    CHECK(model_alloc(&md, 17, 6, hidden, 2) == 0 && model_alloc(&check, 17, 6, hidden, 2) == 0, "alloc");
    size_t n = md.layout.n_params, nt = model_target_size(&md.layout);
    float *p = malloc(n * 4), *t = malloc(nt * 4), *m = malloc(n * 4), *v = malloc(n * 4);
    char path[512];
    path_in(c, "killed.h5", path, sizeof path);
    Error err = {""};
    Rng rng = {seed};

    fill_version(&md, 0);
    double t0 = now_s();
    CHECK(checkpoint_write(path, &md.layout, &md.meta, md.params, md.target, md.m, md.v, &err) == 0, "v0: %s", err.msg);
    double write_s = now_s() - t0;
    Progress *pr = mmap(NULL, sizeof *pr, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(pr != MAP_FAILED, "mmap");
    if (pr == MAP_FAILED) return;

    const int trials = 6;
    int mid_write = 0;
    int64_t prev = 0;
    for (int trial = 0; trial < trials; trial++) {
        int64_t first = 1000 * (trial + 1);
        atomic_store(&pr->started, -1);
        atomic_store(&pr->completed, -1);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) writer_child(path, &md, first, pr);
        CHECK(pid > 0, "fork");
        if (pid < 0) break;

        /* While it writes, readers see a complete file: the rename swaps whole files. */
        double deadline = now_s() + 120;
        while (atomic_load(&pr->started) < first && now_s() < deadline) sleep_s(1e-4);
        int64_t seen = read_version(path, &check, p, t, m, v);
        CHECK(seen == prev || (seen >= first && seen <= atomic_load(&pr->started)),
              "concurrent read got version %lld (previous %lld, writer at %lld)", (long long)seen, (long long)prev,
              (long long)atomic_load(&pr->started));

        /* Kill at a random point of a write that has just begun (or, every third trial, at a
         * random point after the previous kill-free stretch, wherever the writer is). */
        int64_t s0 = atomic_load(&pr->started);
        if (trial % 3 != 2)
            while (atomic_load(&pr->started) == s0 && now_s() < deadline) sleep_s(1e-4);
        double delay = (double)(rng_next(&rng) >> 11) * 0x1p-53 * 1.2 * write_s;
        sleep_s(delay);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "writer ended by itself (status %d)", status);

        int64_t started = atomic_load(&pr->started), completed = atomic_load(&pr->completed);
        if (started != completed) mid_write++;
        int64_t got = read_version(path, &check, p, t, m, v);
        int64_t newest = completed >= first ? completed : prev;
        CHECK(got == newest || got == started,
              "after a kill: version %lld, newest complete %lld, being written %lld", (long long)got,
              (long long)newest, (long long)started);
        printf("  trial %d: killed %.3f s into a write (%.3f s each): writer at %lld, finished %lld, file holds %lld\n",
               trial, delay, write_s, (long long)started, (long long)completed, (long long)got);
        if (got >= 0) prev = got;
    }
    CHECK(mid_write >= 1, "no kill landed in the middle of a write (%d of %d)", mid_write, trials);

    /* A stale PATH.tmp from a killed writer does not stop the next write. */
    fill_version(&md, 999999);
    CHECK(checkpoint_write(path, &md.layout, &md.meta, md.params, md.target, md.m, md.v, &err) == 0,
          "write after kills: %s", err.msg);
    char tmp[520];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(!file_exists(tmp), "no .tmp after a successful write");
    CHECK(read_version(path, &check, p, t, m, v) == 999999, "final version");
    munmap(pr, sizeof *pr);
    free(p);
    free(t);
    free(m);
    free(v);
    model_free(&md);
    model_free(&check);
}

/* Removes the test directory (flat, plus the one subdirectory test_failed_write makes). */
static void remove_tree(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(int argc, char **argv) {
    Ctx c;
    snprintf(c.dir, sizeof c.dir, "ckpt-test-XXXXXX");
    if (!mkdtemp(c.dir)) {
        perror("mkdtemp");
        return 1;
    }
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : (uint64_t)time(NULL);
    printf("test_checkpoint: work dir %s, seed %llu\n", c.dir, (unsigned long long)seed);
    test_round_trip(&c);
    test_refusals(&c);
    test_failed_write(&c);
    test_killed_writer(&c, seed);
    if (test_failures == 0) remove_tree(c.dir);
    return test_finish("test_checkpoint", 0);
}
