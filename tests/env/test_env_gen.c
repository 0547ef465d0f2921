/* test_env_gen.c — dataset generation: determinism, the data's internal consistency, the
 * behaviours' documented blends (pointmaze's segments never span the route), the HDF5 file
 * (dataset_load reads it back; attributes and flag types as h5py writes them; same seed, same
 * bytes) and `cuiql gen`'s errors. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/dataset.h"
#include "env/env.h"
#include "env/generate.h"
#include "env/pointmaze.h"
#include "test_util.h"

static int same_data(const GenData *a, const GenData *b) {
    if (a->n != b->n || a->obs_dim != b->obs_dim || a->act_dim != b->act_dim || a->episodes != b->episodes) return 0;
    size_t n = (size_t)a->n;
    return !memcmp(a->observations, b->observations, n * a->obs_dim * sizeof(float)) &&
           !memcmp(a->actions, b->actions, n * a->act_dim * sizeof(float)) &&
           !memcmp(a->rewards, b->rewards, n * sizeof(float)) &&
           !memcmp(a->next_observations, b->next_observations, n * a->obs_dim * sizeof(float)) &&
           !memcmp(a->terminals, b->terminals, n) && !memcmp(a->timeouts, b->timeouts, n);
}

/* Rows chain within an episode, every episode ends in exactly one terminal or timeout row,
 * actions stay in the box, and the per-episode bookkeeping adds up. */
static void check_consistency(const Env *env, const GenData *d, const char *what) {
    int S = d->obs_dim, A = d->act_dim, ends = 0, chain_breaks = 0, out_of_box = 0;
    int64_t row = 0;
    for (int e = 0; e < d->episodes; e++) {
        double ret = 0;
        for (int t = 0; t < d->episode_length[e]; t++, row++) {
            ret += d->rewards[row];
            int last = t == d->episode_length[e] - 1;
            int ended = d->terminals[row] || d->timeouts[row];
            if (ended != last) chain_breaks++;
            if (d->terminals[row] && d->timeouts[row]) chain_breaks++;
            if (!last && memcmp(d->next_observations + row * S, d->observations + (row + 1) * S, S * sizeof(float)))
                chain_breaks++;
            for (int j = 0; j < A; j++) out_of_box += fabsf(d->actions[row * A + j]) > env->max_action;
        }
        ends++;
        CHECK(fabs(ret - d->episode_return[e]) < 1e-3 * (1 + fabs(ret)), "%s: episode %d return %g vs %g", what, e, ret,
              d->episode_return[e]);
    }
    CHECK(row == d->n, "%s: episode lengths add up to %lld of %lld rows", what, (long long)row, (long long)d->n);
    CHECK(chain_breaks == 0, "%s: %d rows break the episode structure", what, chain_breaks);
    CHECK(out_of_box == 0, "%s: %d actions outside the box", what, out_of_box);
    CHECK(ends == d->episodes, "%s: episodes", what);
}

static void test_determinism_and_consistency(void) {
    for (int i = 0; i < env_count(); i++) {
        const Env *env = env_at(i);
        for (int b = 0; b < BEHAVIOR_COUNT; b++) {
            char what[64];
            snprintf(what, sizeof what, "%s/%s", env->name, behavior_name((Behavior)b));
            GenData d1, d2, d3;
            Error err;
            int rc = env_generate(env, (Behavior)b, 10, 42, &d1, &err) | env_generate(env, (Behavior)b, 10, 42, &d2, &err) |
                     env_generate(env, (Behavior)b, 10, 43, &d3, &err);
            CHECK(rc == 0, "%s: %s", what, err.msg);
            if (rc) continue;
            CHECK(same_data(&d1, &d2), "%s: the same seed gave different data", what);
            /* the expert from pointmaze's fixed start differs only by the start's jitter, so
             * every behaviour must change with the seed */
            CHECK(!same_data(&d1, &d3), "%s: seeds 42 and 43 gave the same data", what);
            CHECK(d1.episodes == 10, "%s: %d episodes", what, d1.episodes);
            check_consistency(env, &d1, what);
            gen_data_free(&d1);
            gen_data_free(&d2);
            gen_data_free(&d3);
        }
    }
}

/* The pendulum's reward is a function of the observation before the step and the action. */
static void test_pendulum_rewards_align(void) {
    GenData d;
    Error err;
    CHECK(env_generate(env_lookup("pendulum"), BEHAVIOR_RANDOM, 3, 1, &d, &err) == 0, "%s", err.msg);
    double worst = 0;
    for (int64_t i = 0; i < d.n; i++) {
        const float *o = d.observations + i * 3;
        double th = atan2(o[1], o[0]), u = d.actions[i];
        double r = -(th * th + 0.1 * o[2] * o[2] + 0.001 * u * u);
        worst = fmax(worst, fabs(r - d.rewards[i]));
    }
    CHECK(worst < 1e-4, "pendulum rewards differ from the cost of (s, a) by up to %g", worst);
    gen_data_free(&d);
}

static void test_mixed_blends(void) {
    Error err;
    GenData d;
    /* pendulum and mountaincar: every 5th episode is the noisy expert, the rest random */
    const Env *mc = env_lookup("mountaincar");
    CHECK(env_generate(mc, BEHAVIOR_MIXED, 50, 7, &d, &err) == 0, "%s", err.msg);
    int good = 0, good_at_period = 0;
    for (int e = 0; e < d.episodes; e++) {
        good += d.episode_success[e];
        good_at_period += d.episode_success[e] && e % GEN_MIXED_PERIOD == GEN_MIXED_PERIOD - 1;
    }
    CHECK(good_at_period == 10 && good <= 11, "mountaincar mixed: %d successes, %d of them noisy-expert episodes", good,
          good_at_period);
    gen_data_free(&d);

    /* pointmaze: segments of GEN_SEGMENT_MIN..MAX cells both ways; none from start to goal */
    const Env *pm = env_lookup("pointmaze");
    const int n = 2000;
    CHECK(env_generate(pm, BEHAVIOR_MIXED, n, 7, &d, &err) == 0, "%s", err.msg);
    check_consistency(pm, &d, "pointmaze/mixed");
    int forward = 0, backward = 0, reach_goal = 0, full_route = 0, long_span = 0, rewarded_rows = 0;
    int covered[POINTMAZE_PATH_LEN] = {0};
    int64_t row = 0;
    for (int e = 0; e < d.episodes; e++) {
        int lo = POINTMAZE_PATH_LEN, hi = -1, first = -1, last = -1;
        for (int t = 0; t < d.episode_length[e]; t++, row++) {
            int k = pointmaze_path_index(d.observations[row * 2], d.observations[row * 2 + 1]);
            int kn = pointmaze_path_index(d.next_observations[row * 2], d.next_observations[row * 2 + 1]);
            if (t == 0) first = k;
            last = kn;
            lo = k < lo ? k : lo;
            hi = kn > hi ? kn : hi;
            lo = kn < lo ? kn : lo;
            if (k >= 0) covered[k]++;
            rewarded_rows += d.rewards[row] > 0;
        }
        forward += last > first;
        backward += last < first;
        reach_goal += d.episode_success[e];
        full_route += lo == 0 && hi == POINTMAZE_PATH_LEN - 1;
        long_span += hi - lo > GEN_SEGMENT_MAX + 1;
    }
    printf("pointmaze mixed: %d segments, %lld rows, %d forward, %d backward, %d reach the goal\n", n, (long long)d.n,
           forward, backward, reach_goal);
    CHECK(full_route == 0, "%d segments span start to goal", full_route);
    CHECK(long_span == 0, "%d segments span more than %d cells", long_span, GEN_SEGMENT_MAX + 1);
    CHECK(forward > n / 3 && backward > n / 3, "directions: %d forward, %d backward", forward, backward);
    CHECK(reach_goal > 0 && reach_goal < n / 2 && rewarded_rows == reach_goal, "%d segments reach the goal, %d rewards",
          reach_goal, rewarded_rows);
    for (int k = 0; k < POINTMAZE_PATH_LEN; k++) CHECK(covered[k] > 0, "corridor cell %d never visited", k);
    gen_data_free(&d);
}

static long file_bytes(const char *path, unsigned char **out) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc(n > 0 ? n : 1);
    if (!*out || fread(*out, 1, n, f) != (size_t)n) n = -1;
    fclose(f);
    return n;
}

/* Reads a root attribute as a string (variable-length) or int64. */
static int read_attr_string(hid_t file, const char *name, char *buf, size_t len) {
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8); /* conversion between character sets is refused */
    char *s = NULL;
    int rc = H5Aread(a, t, &s) < 0 ? -1 : 0;
    if (rc == 0) {
        snprintf(buf, len, "%s", s);
        H5free_memory(s);
    }
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

static int read_attr_i64(hid_t file, const char *name, int64_t *v) {
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    if (a < 0) return -1;
    int rc = H5Aread(a, H5T_NATIVE_INT64, v) < 0 ? -1 : 0;
    H5Aclose(a);
    return rc;
}

static void test_file(void) {
    const char *p1 = "env_gen_a.h5", *p2 = "env_gen_b.h5", *p3 = "env_gen_c.h5";
    GenData d, e;
    Error err;
    const Env *env = env_lookup("pendulum");
    CHECK(env_generate(env, BEHAVIOR_MIXED, 6, 5, &d, &err) == 0, "%s", err.msg);
    CHECK(env_generate(env, BEHAVIOR_MIXED, 6, 6, &e, &err) == 0, "%s", err.msg);
    CHECK(gen_data_write(p1, &d, "pendulum", "mixed", 5, &err) == 0, "%s", err.msg);
    CHECK(gen_data_write(p2, &d, "pendulum", "mixed", 5, &err) == 0, "%s", err.msg);
    CHECK(gen_data_write(p3, &e, "pendulum", "mixed", 6, &err) == 0, "%s", err.msg);
    FILE *tmp = fopen("env_gen_a.h5.tmp", "rb");
    CHECK(tmp == NULL, "the .tmp file was left behind");
    if (tmp) fclose(tmp);

    unsigned char *b1 = NULL, *b2 = NULL, *b3 = NULL;
    long n1 = file_bytes(p1, &b1), n2 = file_bytes(p2, &b2), n3 = file_bytes(p3, &b3);
    CHECK(n1 > 0 && n1 == n2 && !memcmp(b1, b2, n1), "equal data gave different files (%ld, %ld bytes)", n1, n2);
    CHECK(n3 > 0 && (n3 != n1 || memcmp(b1, b3, n1)), "different seeds gave the same file");
    free(b1);
    free(b2);
    free(b3);

    /* the project's reader takes it as D4RL with every row a transition */
    Dataset ds;
    memset(&ds, 0, sizeof ds);
    int rc = dataset_load(p1, &ds, &err);
    CHECK(rc == 0, "dataset_load: %s", err.msg);
    if (rc == 0) {
        CHECK(ds.format == DATASET_D4RL && ds.n == d.n && ds.obs_dim == 3 && ds.act_dim == 1, "loaded n %lld dims %d %d",
              (long long)ds.n, ds.obs_dim, ds.act_dim);
        CHECK(ds.dropped == 0 && ds.had_next_observations, "dropped %lld, next_observations %d", (long long)ds.dropped,
              ds.had_next_observations);
        CHECK(ds.n_episodes == d.episodes, "%lld episodes, wrote %d", (long long)ds.n_episodes, d.episodes);
        int64_t timeouts = 0, terminals = 0;
        for (int64_t i = 0; i < d.n; i++) timeouts += d.timeouts[i], terminals += d.terminals[i];
        CHECK(ds.n_timeouts == timeouts && ds.n_terminals == terminals && timeouts == 6, "flags: %lld/%lld timeouts",
              (long long)ds.n_timeouts, (long long)timeouts);
        int diffs = 0;
        for (int64_t i = 0; i < ds.n && i < d.n; i++) {
            diffs += memcmp(ds.states + (size_t)ds.state_row[i] * 3, d.observations + i * 3, 3 * sizeof(float)) != 0;
            diffs += memcmp(ds.states + (size_t)ds.next_row[i] * 3, d.next_observations + i * 3, 3 * sizeof(float)) != 0;
            diffs += ds.actions[i] != d.actions[i] || ds.rewards[i] != d.rewards[i];
            diffs += ds.terminals[i] != (float)d.terminals[i];
        }
        CHECK(diffs == 0, "%d values differ between the file and the generated data", diffs);
        dataset_free(&ds);
    }

    /* attributes, and the flags as h5py's numpy-bool enum */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(p1, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0, "H5Fopen");
    if (f >= 0) {
        char s[64] = "";
        int64_t v = -1;
        CHECK(read_attr_string(f, "env", s, sizeof s) == 0 && !strcmp(s, "pendulum"), "env attribute '%s'", s);
        CHECK(read_attr_string(f, "behavior", s, sizeof s) == 0 && !strcmp(s, "mixed"), "behavior attribute '%s'", s);
        CHECK(read_attr_i64(f, "seed", &v) == 0 && v == 5, "seed attribute %lld", (long long)v);
        CHECK(read_attr_i64(f, "episodes", &v) == 0 && v == 6, "episodes attribute %lld", (long long)v);
        hid_t dset = H5Dopen2(f, "terminals", H5P_DEFAULT);
        hid_t type = dset >= 0 ? H5Dget_type(dset) : -1;
        CHECK(type >= 0 && H5Tget_class(type) == H5T_ENUM && H5Tget_size(type) == 1, "terminals are not an 8-bit enum");
        if (type >= 0) {
            char *name = H5Tget_member_name(type, 1);
            CHECK(name && !strcmp(name, "TRUE"), "enum member 1 is '%s'", name ? name : "(none)");
            H5free_memory(name);
            H5Tclose(type);
        }
        if (dset >= 0) H5Dclose(dset);
        H5Fclose(f);
    }

    /* a directory that does not exist: a clear error, nothing left behind */
    rc = gen_data_write("no/such/dir/x.h5", &d, "pendulum", "mixed", 5, &err);
    CHECK(rc != 0 && strstr(err.msg, "no/such/dir/x.h5"), "unwritable path: rc %d '%s'", rc, err.msg);
    gen_data_free(&d);
    gen_data_free(&e);
    remove(p1);
    remove(p2);
    remove(p3);
}

static int run_gen(int argc, const char **argv) { return cmd_gen(argc, (char **)argv); }

static void test_cli(void) {
    const char *ok[] = {"gen", "--env", "pointmaze", "--behavior", "mixed", "--episodes", "20", "--out",
                        "env_gen_cli.h5", "--seed", "3"};
    CHECK(run_gen(11, ok) == 0, "cuiql gen failed");
    Dataset ds;
    memset(&ds, 0, sizeof ds);
    Error err;
    int rc = dataset_load("env_gen_cli.h5", &ds, &err);
    CHECK(rc == 0 && ds.obs_dim == 2 && ds.act_dim == 2 && ds.n_episodes == 20, "cuiql gen's file: %s",
          rc ? err.msg : "wrong shape");
    if (rc == 0) dataset_free(&ds);
    remove("env_gen_cli.h5");

    const char *bad_env[] = {"gen", "--env", "cartpole", "--behavior", "random", "--episodes", "2", "--out", "x.h5"};
    const char *bad_beh[] = {"gen", "--env", "pendulum", "--behavior", "good", "--episodes", "2", "--out", "x.h5"};
    const char *no_out[] = {"gen", "--env", "pendulum", "--behavior", "random", "--episodes", "2"};
    const char *zero[] = {"gen", "--env", "pendulum", "--behavior", "random", "--episodes", "0", "--out", "x.h5"};
    const char *junk[] = {"gen", "--env", "pendulum", "--behavior", "random", "--episodes", "2x", "--out", "x.h5"};
    const char *seed[] = {"gen", "--env", "pendulum", "--behavior", "random", "--episodes", "2", "--out", "x.h5",
                          "--seed", "-1"};
    const char *unknown[] = {"gen", "--frobnicate"};
    const char *dangling[] = {"gen", "--env"};
    CHECK(run_gen(9, bad_env) == 1, "unknown env accepted");
    CHECK(run_gen(9, bad_beh) == 1, "unknown behavior accepted");
    CHECK(run_gen(7, no_out) == 1, "missing --out accepted");
    CHECK(run_gen(9, zero) == 1, "0 episodes accepted");
    CHECK(run_gen(9, junk) == 1, "'2x' episodes accepted");
    CHECK(run_gen(11, seed) == 1, "negative seed accepted");
    CHECK(run_gen(2, unknown) == 1, "unknown option accepted");
    CHECK(run_gen(2, dangling) == 1, "option without value accepted");
    FILE *f = fopen("x.h5", "rb");
    CHECK(f == NULL, "a failed gen wrote x.h5");
    if (f) fclose(f);
    const char *help[] = {"gen", "--help"};
    CHECK(run_gen(2, help) == 0, "--help");
}

int main(void) {
    test_determinism_and_consistency();
    test_pendulum_rewards_align();
    test_mixed_blends();
    test_file();
    test_cli();
    return test_finish("test_env_gen", 0);
}
