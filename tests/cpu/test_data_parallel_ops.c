/* test_data_parallel_ops.c — the pieces of a data-parallel step on the CPU backend, each
 * against the single-process computation it must reproduce, in one process (the ranks
 * themselves are tests/run/test_data_parallel.py's, under mpirun):
 *
 *   sampling   rank r of R, holding B/R rows, draws rows [r·B/R, (r+1)·B/R) of the batch one
 *              process draws, bit for bit (uniform and sequential);
 *   heads      with mean_rows = B, each share's per-row gradients, weights and statistics are
 *              the single process's rows, bit for bit (both heads, both policies);
 *   allreduce  without a Comm it leaves the buffer alone; with one it hands the buffer to the
 *              Comm, and a failing Comm is reported by status();
 *   step       a data-parallel state over a Comm of one rank takes the same steps as the plain
 *              one, bit for bit, and logs the same scalars. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/iql.h"
#include "cuiql/backend.h"
#include "cuiql/iql_heads.h"
#include "cuiql/philox.h"
#include "test_util.h"

static uint64_t rng_counter = 0;
static float *rand_buf(size_t n, float lo, float hi) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * philox_uniform01(philox_value(77, 3, rng_counter++));
    return p;
}

/* ---- a Comm in one process: size ranks that all hold this buffer, or one that fails ---------- */

typedef struct {
    Comm base;
    int calls;
    int fail;
} FakeComm;

static int fake_sum(Comm *c, void *buf, int64_t count, CommType type, Error *err) {
    FakeComm *f = (FakeComm *)c;
    f->calls++;
    if (f->fail) return error_set(err, "MPI_Allreduce: the fake comm fails");
    for (int64_t i = 0; i < count; i++) {  /* every rank holds the same values: the sum is size × */
        if (type == COMM_FLOAT) ((float *)buf)[i] *= (float)c->size;
        else if (type == COMM_DOUBLE) ((double *)buf)[i] *= c->size;
        else ((int *)buf)[i] *= c->size;
    }
    return 0;
}
static int fake_max(Comm *c, int *buf, int count, Error *err) { (void)c, (void)buf, (void)count, (void)err; return 0; }
static int fake_bcast(Comm *c, void *buf, size_t bytes, int root, Error *err) {
    (void)c, (void)buf, (void)bytes, (void)root, (void)err;
    return 0;
}
static void fake_abort(Comm *c, int status) { (void)c; exit(status); }
static const CommOps fake_ops = {fake_sum, fake_max, fake_bcast, fake_abort};

/* ---- sampling --------------------------------------------------------------------------------- */

static Batch batch_of(int rows, int S, int A) {
    Batch b = {.rows = rows, .state_ld = S, .state_action_ld = S + A,  /* unpadded rows: ld ≥ the width */
               .state = calloc((size_t)rows * S, 4), .next_state = calloc((size_t)rows * S, 4),
               .state_action = calloc((size_t)rows * (S + A), 4), .action = calloc((size_t)rows * A, 4),
               .reward = calloc(rows, 4), .terminal = calloc(rows, 4), .index = calloc(rows, 4)};
    return b;
}
static void batch_free(Batch *b) {
    free(b->state), free(b->next_state), free(b->state_action), free(b->action), free(b->reward), free(b->terminal);
    free(b->index);
}

/* Rows [first, first + share.rows) of whole equal share, in every array. */
static int same_rows(const Batch *whole, const Batch *share, int first, int S, int A) {
    int n = share->rows;
    return !memcmp(whole->state + (size_t)first * S, share->state, sizeof(float) * n * S) &&
           !memcmp(whole->next_state + (size_t)first * S, share->next_state, sizeof(float) * n * S) &&
           !memcmp(whole->state_action + (size_t)first * (S + A), share->state_action, sizeof(float) * n * (S + A)) &&
           !memcmp(whole->action + (size_t)first * A, share->action, sizeof(float) * n * A) &&
           !memcmp(whole->reward + first, share->reward, sizeof(float) * n) &&
           !memcmp(whole->terminal + first, share->terminal, sizeof(float) * n) &&
           !memcmp(whole->index + first, share->index, sizeof(uint32_t) * n);
}

static void test_sampling(Backend *b) {
    int S = 3, A = 2, N = 101, G = 24;
    float *states = rand_buf((size_t)(2 * N) * S, -1, 1), *actions = rand_buf((size_t)N * A, -1, 1);
    float *rewards = rand_buf(N, -1, 1), *terms = rand_buf(N, 0, 1);
    uint32_t rows[101], next[101];
    for (int i = 0; i < N; i++) rows[i] = (uint32_t)(2 * i), next[i] = (uint32_t)(2 * i + 1);
    ReplaySource src = {.n = N, .n_states = 2 * N, .obs_dim = S, .act_dim = A, .states = states, .state_row = rows,
                        .next_row = next, .actions = actions, .rewards = rewards, .terminals = terms};
    Error err;
    Replay *r = b->ops->replay_create(b, &src, REPLAY_AUTO, G, &err);
    for (int seq = 0; seq < 2; seq++)
        for (int64_t step = 0; step < 6; step += 5) {
            StepScalars sc = {.step = step};
            SamplingArgs one = {.sequential = seq, .seed = 4242};
            Batch whole = batch_of(G, S, A);
            b->ops->sample_batch(b, r, &one, &sc, &whole);
            for (int R = 1; R <= 4; R++) {
                int ok = 1, share = G / R;
                for (int rank = 0; rank < R; rank++) {
                    SamplingArgs part = one;
                    part.slot_offset = rank * share;
                    part.global_rows = G;
                    Batch mine = batch_of(share, S, A);
                    b->ops->sample_batch(b, r, &part, &sc, &mine);
                    ok &= same_rows(&whole, &mine, rank * share, S, A);
                    batch_free(&mine);
                }
                CHECK(ok, "sequential=%d step %lld: %d ranks of %d rows draw the single process's batch of %d", seq,
                      (long long)step, R, share, G);
            }
            batch_free(&whole);
        }
    b->ops->replay_destroy(b, r);
    free(states), free(actions), free(rewards), free(terms);
}

/* ---- heads ---------------------------------------------------------------------------------------- */

static void test_heads(Backend *b) {
    int P = 2, B = 10, A = 3, half = B / 2;
    float *v = rand_buf(P * B, -1, 1), *vn = rand_buf(P * B, -1, 1), *q = rand_buf(2 * P * B, -1, 1);
    float *qh = rand_buf(2 * P * B, -1, 1), *rw = rand_buf(B, -1, 1), *term = rand_buf(B, 0, 1);
    float tau[2] = {0.7f, 0.9f}, beta[2] = {3.0f, 0.5f};
    for (int i = 0; i < B; i++) term[i] = term[i] > 0.8f;
    /* The single process over B rows, and two shares of B/2 rows (their inputs are slices). */
    float *dv = calloc(P * B, 4), *dq = calloc(2 * P * B, 4), *w = calloc(P * B, 4);
    float *st = calloc((size_t)P * IQL_STAT_COUNT * B, 4);
    HeadsArgs whole = {.members = P, .rows = B, .v = v, .v_next = vn, .q = q, .q_hat = qh, .reward = rw, .terminal = term,
                       .tau = tau, .beta = beta, .discount = 0.97f, .adv_clip = 100.0f, .q_scale = 0.5f,
                       .value_target_q = 1, .dv = dv, .dq = dq, .weight = w, .stats = st};
    b->ops->value_critic_heads(b, &whole);
    float *pre = rand_buf((size_t)P * B * A, -2, 2), *ls = rand_buf((size_t)P * A, -1, 0.5f), *act = rand_buf((size_t)B * A, -1, 1);
    for (int det = 0; det < 2; det++) {
        float *dpre = calloc((size_t)P * B * A, 4), *dls = calloc((size_t)P * B * A, 4);
        PolicyHeadArgs pw = {.members = P, .rows = B, .act_dim = A, .deterministic = det, .pre = pre, .log_std = ls,
                             .action = act, .weight = w, .max_action = 1.5f, .log_std_min = -5, .log_std_max = 2,
                             .dpre = dpre, .dlog_std_elem = dls, .stats = st};
        b->ops->policy_head(b, &pw);
        int ok = 1;
        for (int s = 0; s < 2; s++) {
            /* share s: rows [s·half, (s+1)·half), in the [P, ..., half] layouts of a rank */
            float *sv = malloc(P * half * 4), *svn = malloc(P * half * 4), *sq = malloc(2 * P * half * 4);
            float *sqh = malloc(2 * P * half * 4), *sdv = malloc(P * half * 4), *sdq = malloc(2 * P * half * 4);
            float *sw = malloc(P * half * 4), *sst = malloc((size_t)P * IQL_STAT_COUNT * half * 4);
            float *spre = malloc((size_t)P * half * A * 4), *sdpre = malloc((size_t)P * half * A * 4);
            float *sdls = malloc((size_t)P * half * A * 4);
            for (int p = 0; p < P; p++) {
                memcpy(sv + p * half, v + p * B + s * half, half * 4);
                memcpy(svn + p * half, vn + p * B + s * half, half * 4);
                for (int k = 0; k < 2; k++) {
                    memcpy(sq + (2 * p + k) * half, q + (2 * p + k) * B + s * half, half * 4);
                    memcpy(sqh + (2 * p + k) * half, qh + (2 * p + k) * B + s * half, half * 4);
                }
                memcpy(spre + (size_t)p * half * A, pre + ((size_t)p * B + s * half) * A, (size_t)half * A * 4);
            }
            HeadsArgs h = whole;
            h.rows = half, h.mean_rows = B, h.v = sv, h.v_next = svn, h.q = sq, h.q_hat = sqh, h.reward = rw + s * half;
            h.terminal = term + s * half, h.dv = sdv, h.dq = sdq, h.weight = sw, h.stats = sst;
            b->ops->value_critic_heads(b, &h);
            PolicyHeadArgs ph = pw;
            ph.rows = half, ph.mean_rows = B, ph.pre = spre, ph.action = act + (size_t)s * half * A, ph.weight = sw;
            ph.dpre = sdpre, ph.dlog_std_elem = sdls, ph.stats = sst;
            b->ops->policy_head(b, &ph);
            for (int p = 0; p < P; p++) {
                ok &= !memcmp(sdv + p * half, dv + p * B + s * half, half * 4);
                ok &= !memcmp(sw + p * half, w + p * B + s * half, half * 4);
                for (int k = 0; k < 2; k++) ok &= !memcmp(sdq + (2 * p + k) * half, dq + (2 * p + k) * B + s * half, half * 4);
                for (int t = 0; t < IQL_STAT_COUNT; t++)
                    ok &= !memcmp(sst + ((size_t)p * IQL_STAT_COUNT + t) * half, st + ((size_t)p * IQL_STAT_COUNT + t) * B + s * half,
                                  half * 4);
                ok &= !memcmp(sdpre + (size_t)p * half * A, dpre + ((size_t)p * B + s * half) * A, (size_t)half * A * 4);
                ok &= !memcmp(sdls + (size_t)p * half * A, dls + ((size_t)p * B + s * half) * A, (size_t)half * A * 4);
            }
            free(sv), free(svn), free(sq), free(sqh), free(sdv), free(sdq), free(sw), free(sst), free(spre), free(sdpre);
            free(sdls);
        }
        CHECK(ok, "deterministic=%d: each half's rows with mean_rows = B are the whole batch's rows, bit for bit", det);
        /* and the divisor matters: without mean_rows a half divides by B/2 */
        CHECK(iql_inv_batch(half, 0) == 2 * iql_inv_batch(half, B), "mean_rows sets the divisor");
        free(dpre), free(dls);
    }
    free(v), free(vn), free(q), free(qh), free(rw), free(term), free(dv), free(dq), free(w), free(st), free(pre), free(ls);
    free(act);
}

/* ---- allreduce_sum ------------------------------------------------------------------------------------ */

static void test_allreduce(void) {
    Error err = {{0}};
    float x[5] = {1, -2, 3.5f, 0, 7};
    BackendOptions plain = {.threads = 1};
    Backend *b = cpu_backend_create(&plain, &err);
    b->ops->allreduce_sum(b, x, 5);
    CHECK(x[0] == 1 && x[2] == 3.5f && x[4] == 7, "allreduce_sum without a Comm leaves the buffer");
    b->ops->destroy(b);

    FakeComm two = {.base = {.ops = &fake_ops, .rank = 0, .size = 2, .host = "here"}};
    BackendOptions dp = {.threads = 1, .comm = &two.base};
    b = cpu_backend_create(&dp, &err);
    b->ops->allreduce_sum(b, x, 5);
    CHECK(two.calls == 1 && x[0] == 2 && x[1] == -4 && x[4] == 14, "allreduce_sum sums through the Comm");
    CHECK(b->ops->status(b, &err) == 0, "no error after a good all-reduce");
    two.fail = 1;
    b->ops->allreduce_sum(b, x, 5);
    CHECK(b->ops->status(b, &err) != 0 && strstr(err.msg, "fake comm fails"),
          "a failed all-reduce is reported by status: '%s'", err.msg);
    CHECK(b->ops->synchronize(b, &err) != 0, "and by synchronize");
    b->ops->destroy(b);
}

/* ---- the step over a Comm of one rank ---------------------------------------------------------------------- */

static IqlState *make_state(Backend *b, Comm *comm, const ReplaySource *src, Config *cfg, Error *err) {
    MemberSpec m[2] = {{.tau = 0.7, .beta = 3.0, .seed = 1}, {.tau = 0.9, .beta = 1.0, .seed = 2}};
    return iql_create_parallel(b, cfg, m, 2, src, comm, err);
}

static void test_step_one_rank(void) {
    int S = 4, A = 2, N = 200;
    float *states = rand_buf((size_t)N * S, -1, 1), *actions = rand_buf((size_t)N * A, -1, 1);
    float *rewards = rand_buf(N, -1, 1), *terms = calloc(N, 4);
    uint32_t rows[200], next[200];
    for (int i = 0; i < N; i++) rows[i] = (uint32_t)i, next[i] = (uint32_t)((i + 1) % N);
    ReplaySource src = {.n = N, .n_states = N, .obs_dim = S, .act_dim = A, .states = states, .state_row = rows,
                        .next_row = next, .actions = actions, .rewards = rewards, .terminals = terms};
    Config cfg;
    config_defaults(&cfg);
    cfg.batch_size = 32;
    cfg.hidden[0] = cfg.hidden[1] = 16;
    cfg.target_update_rate = 0.01;
    Error err = {{0}};
    FakeComm one = {.base = {.ops = &fake_ops, .rank = 0, .size = 1, .host = "here"}};
    BackendOptions plain = {.threads = 1}, dp = {.threads = 1, .comm = &one.base};
    Backend *b1 = cpu_backend_create(&plain, &err), *b2 = cpu_backend_create(&dp, &err);
    IqlState *s1 = make_state(b1, NULL, &src, &cfg, &err), *s2 = make_state(b2, &one.base, &src, &cfg, &err);
    CHECK(s1 && s2, "states: %s", err.msg);
    if (!s1 || !s2) return;
    for (int k = 0; k < 7; k++) iql_step(s1), iql_step(s2);
    CHECK(one.calls == 7, "one gradient all-reduce per step (%d for 7)", one.calls);
    size_t np = iql_layout(s1)->n_params;
    float *p1 = malloc(np * 4), *p2 = malloc(np * 4), *m1 = malloc(np * 4), *m2 = malloc(np * 4);
    CHECK(iql_get_population(s1, p1, NULL, m1, NULL, &err) == 0 && iql_get_population(s2, p2, NULL, m2, NULL, &err) == 0,
          "download: %s", err.msg);
    CHECK(!memcmp(p1, p2, np * 4) && !memcmp(m1, m2, np * 4), "one data-parallel rank steps as one process, bit for bit");
    double l1[2 * LOG_TRAIN_SCALAR_COUNT], l2[2 * LOG_TRAIN_SCALAR_COUNT];
    CHECK(iql_read_scalars(s1, l1, &err) == 0 && iql_read_scalars(s2, l2, &err) == 0, "scalars: %s", err.msg);
    CHECK(one.calls == 8 && !memcmp(l1, l2, sizeof l1), "and logs the same scalars, summed over its one rank");

    /* A batch the ranks do not split is refused before anything is built. */
    FakeComm three = {.base = {.ops = &fake_ops, .rank = 1, .size = 3, .host = "here"}};
    BackendOptions dp3 = {.threads = 1, .comm = &three.base};
    Backend *b3 = cpu_backend_create(&dp3, &err);
    IqlState *s3 = make_state(b3, &three.base, &src, &cfg, &err);
    CHECK(!s3 && strstr(err.msg, "32 rows do not split evenly over 3"), "batch 32 over 3 ranks refused: '%s'", err.msg);
    iql_destroy(s1), iql_destroy(s2);
    b1->ops->destroy(b1), b2->ops->destroy(b2), b3->ops->destroy(b3);
    free(p1), free(p2), free(m1), free(m2), free(states), free(actions), free(rewards), free(terms);
}

int main(void) {
    Error err;
    BackendOptions opt = {.threads = 1};
    Backend *b = cpu_backend_create(&opt, &err);
    if (!b) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    test_sampling(b);
    test_heads(b);
    b->ops->destroy(b);
    test_allreduce();
    test_step_one_rank();
    return test_finish("data_parallel_ops", 0);
}
