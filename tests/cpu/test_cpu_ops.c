/* test_cpu_ops.c — every CPU backend op against a naive float64 implementation written here
 * from docs/algorithm.md (not from iql_math.h), on random inputs of awkward sizes, with every output
 * poisoned (NaN) before each call so an unwritten element fails. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuiql/backend.h"
#include "cuiql/philox.h"
#include "test_util.h"

static uint64_t rng_counter = 0;
static float rnd(float lo, float hi) {  /* test-only draw: fresh numbers for every input */
    return lo + (hi - lo) * philox_uniform01(philox_value(2024, 1, rng_counter++));
}
static float *rand_buf(size_t n, float lo, float hi) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = rnd(lo, hi);
    return p;
}
static float *poisoned(size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}

static const int sizes[] = {1, 3, 255, 257};

static void test_gemm(Backend *b) {
    for (int si = 0; si < 4; si++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int shared = 0; shared < 2; shared++) {
                    int m = sizes[si], n = sizes[(si + 1) % 4] % 64 + 1, k = sizes[(si + 2) % 4] % 100 + 2, batch = 3;
                    int lda = ta ? m : k, ldb = tb ? k : n;
                    size_t sa = (size_t)m * k, sb = (size_t)k * n, sc = (size_t)m * n;
                    float *A = rand_buf(sa * batch, -1, 1), *B = rand_buf(sb * batch, -1, 1), *C = poisoned(sc * batch);
                    double *ref = calloc(sc * batch, sizeof(double));
                    for (int i = 0; i < batch; i++) {
                        const float *Ai = A + (shared ? 0 : i * sa), *Bi = B + i * sb;
                        for (int r = 0; r < m; r++)
                            for (int c = 0; c < n; c++) {
                                double acc = 0;
                                for (int t = 0; t < k; t++)
                                    acc += (double)(ta ? Ai[t * lda + r] : Ai[r * lda + t]) *
                                           (tb ? Bi[c * ldb + t] : Bi[t * ldb + c]);
                                ref[i * sc + r * n + c] = 0.5 * acc;
                            }
                    }
                    GemmArgs g = {.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k, .alpha = 0.5f, .beta = 0.0f,
                                  .a = A, .lda = lda, .stride_a = shared ? 0 : (int64_t)sa, .b = B, .ldb = ldb,
                                  .stride_b = (int64_t)sb, .c = C, .ldc = n, .stride_c = (int64_t)sc, .batch = batch};
                    b->ops->gemm(b, &g);
                    double e = test_rel_error_d(C, ref, sc * batch);
                    CHECK(e < 1e-5, "gemm m=%d n=%d k=%d ta=%d tb=%d shared=%d: rel error %.3g", m, n, k, ta, tb, shared, e);
                    free(A), free(B), free(C), free(ref);
                }
}

static void test_layers(Backend *b) {
    for (int si = 0; si < 4; si++) {
        int E = 3, rows = sizes[si], cols = sizes[(si + 3) % 4] % 40 + 1;
        size_t n = (size_t)E * rows * cols;
        int bias_stride = cols + si % 2 * 3;  /* packed, and members apart by more than a row */
        float *x = rand_buf(n, -1, 1), *bias = rand_buf((size_t)E * bias_stride, -1, 1);
        for (int act = 0; act < 2; act++) {
            float *y = malloc(sizeof(float) * n);
            memcpy(y, x, sizeof(float) * n);
            b->ops->bias_activation(b, y, bias, bias_stride, E, rows, cols, act ? ACTIVATION_RELU : ACTIVATION_NONE);
            int ok = 1;
            for (size_t i = 0; i < n; i++) {
                int e = (int)(i / ((size_t)rows * cols)), c = (int)(i % cols);
                double v = (double)x[i] + bias[e * bias_stride + c];
                if (act && v < 0) v = 0;
                ok &= fabs(y[i] - v) <= 1e-6 * (1 + fabs(v));
            }
            CHECK(ok, "bias_activation act=%d rows=%d cols=%d", act, rows, cols);
            free(y);
        }
        float *dy = rand_buf(n, -1, 1), *dy0 = malloc(sizeof(float) * n);
        memcpy(dy0, dy, sizeof(float) * n);
        b->ops->relu_backward(b, dy, x, (int64_t)n);
        int ok = 1;
        for (size_t i = 0; i < n; i++) ok &= dy[i] == (x[i] > 0 ? dy0[i] : 0.0f);
        CHECK(ok, "relu_backward n=%zu", n);

        float *cs = poisoned((size_t)E * cols);
        double *ref = calloc((size_t)E * cols, sizeof(double));
        for (size_t i = 0; i < n; i++) ref[(i / ((size_t)rows * cols)) * cols + i % cols] += x[i];
        b->ops->column_sums(b, cs, x, E, rows, cols);
        CHECK(test_rel_error_d(cs, ref, (size_t)E * cols) < 1e-5, "column_sums rows=%d cols=%d", rows, cols);
        float *rs = poisoned((size_t)E * rows);
        double *rref = calloc((size_t)E * rows, sizeof(double));
        for (size_t i = 0; i < n; i++) rref[i / cols] += x[i];
        b->ops->row_sums(b, rs, x, (int64_t)E * rows, cols);
        CHECK(test_rel_error_d(rs, rref, (size_t)E * rows) < 1e-5, "row_sums rows=%d cols=%d", rows, cols);
        free(x), free(bias), free(dy), free(dy0), free(cs), free(ref), free(rs), free(rref);
    }
}

static void test_heads(Backend *b) {
    for (int si = 0; si < 4; si++)
        for (int mode = 0; mode < 2; mode++) {
            int P = 2, B = sizes[si];
            float *v = rand_buf((size_t)P * B, -2, 2), *vn = rand_buf((size_t)P * B, -2, 2);
            float *q = rand_buf((size_t)2 * P * B, -2, 2), *qh = rand_buf((size_t)2 * P * B, -2, 2);
            float *r = rand_buf(B, -1, 1), *d = malloc(sizeof(float) * B);
            for (int i = 0; i < B; i++) d[i] = rnd(0, 1) < 0.3f ? 1.0f : 0.0f;
            float tau[2] = {0.7f, 0.9f}, beta[2] = {3.0f, 10.0f};
            float *dv = poisoned((size_t)P * B), *dq = poisoned((size_t)2 * P * B), *w = poisoned((size_t)P * B);
            float *stats = poisoned((size_t)P * IQL_STAT_COUNT * B);
            HeadsArgs h = {.members = P, .rows = B, .v = v, .v_next = vn, .q = q, .q_hat = qh, .reward = r, .terminal = d,
                           .tau = tau, .beta = beta, .discount = 0.97f, .adv_clip = 100.0f, .q_scale = mode ? 1.0f : 0.5f,
                           .value_target_q = mode, .dv = dv, .dq = dq, .weight = w, .stats = stats};
            b->ops->value_critic_heads(b, &h);
            int ok = 1, clipped_seen = 0;
            for (int p = 0; p < P; p++)
                for (int i = 0; i < B; i++) {
                    double y = r[i] + 0.97 * (1.0 - d[i]) * vn[p * B + i];
                    double qmin = fmin(qh[2 * p * B + i], qh[(2 * p + 1) * B + i]);
                    double vv = v[p * B + i];
                    double u = mode ? qmin - vv : y - vv;
                    double weight_u = u < 0 ? 1 - tau[p] : tau[p];
                    double adv = qmin - vv, e = exp(beta[p] * adv), wr = e > 100 ? 100 : e;
                    double qs = mode ? 1.0 : 0.5;
                    double e1 = q[2 * p * B + i] - y, e2 = q[(2 * p + 1) * B + i] - y;
                    double want[] = {-2 * weight_u * u / B, 2 * qs * e1 / B, 2 * qs * e2 / B, wr};
                    double got[] = {dv[p * B + i], dq[2 * p * B + i], dq[(2 * p + 1) * B + i], w[p * B + i]};
                    for (int t = 0; t < 4; t++) ok &= fabs(got[t] - want[t]) <= 1e-5 * (1 + fabs(want[t]));
                    const float *st = stats + (size_t)p * IQL_STAT_COUNT * B;
                    double swant[IQL_STAT_COUNT] = {weight_u * u * u, qs * (e1 * e1 + e2 * e2), NAN, vv,
                                                    0.5 * (q[2 * p * B + i] + q[(2 * p + 1) * B + i]), adv, wr, e > 100};
                    for (int t = 0; t < IQL_STAT_COUNT; t++)
                        if (t != IQL_STAT_POLICY_LOSS) ok &= fabs(st[t * B + i] - swant[t]) <= 1e-5 * (1 + fabs(swant[t]));
                    clipped_seen |= e > 100;
                }
            CHECK(ok, "value_critic_heads B=%d value_target_q=%d", B, mode);
            if (B > 200) CHECK(clipped_seen, "inputs exercise the clip (B=%d)", B);
            free(v), free(vn), free(q), free(qh), free(r), free(d), free(dv), free(dq), free(w), free(stats);
        }
}

static void test_policy_head(Backend *b) {
    for (int si = 0; si < 4; si++)
        for (int det = 0; det < 2; det++) {
            int P = 2, B = sizes[si], A = 3;
            size_t n = (size_t)P * B * A;
            float *pre = rand_buf(n, -2, 2), *act = rand_buf((size_t)B * A, -2, 2), *w = rand_buf((size_t)P * B, 0, 5);
            float log_std[6] = {-0.5f, 0.3f, 3.0f /* above max: clamped */, -25.0f /* below min */, 0.0f, 1.9f};
            float *dpre = poisoned(n), *dls = poisoned(n), *stats = poisoned((size_t)P * IQL_STAT_COUNT * B);
            PolicyHeadArgs h = {.members = P, .rows = B, .act_dim = A, .deterministic = det, .pre = pre, .log_std = log_std,
                                .action = act, .weight = w, .max_action = 2.0f, .log_std_min = -20.0f, .log_std_max = 2.0f,
                                .dpre = dpre, .dlog_std_elem = dls, .stats = stats};
            b->ops->policy_head(b, &h);
            int ok = 1;
            for (int p = 0; p < P; p++)
                for (int i = 0; i < B; i++) {
                    double wi = w[p * B + i], total = 0;
                    /* A narrow σ multiplies float's rounding of (a − μ) by 1/σ²: allow for it. */
                    double slack = 0;
                    for (int j = 0; j < A; j++) {
                        size_t k = ((size_t)p * B + i) * A + j;
                        double t = tanh(pre[k]), mean = 2.0 * t, a = act[i * A + j];
                        double dz, dl = 0, dz_slack = 0;
                        if (det) {
                            total += (mean - a) * (mean - a);
                            dz = wi / B * 2 * (mean - a) * 2.0 * (1 - t * t);
                        } else {
                            double raw = log_std[p * A + j], ls = fmin(fmax(raw, -20.0), 2.0), var = exp(2 * ls);
                            total += -0.5 * (a - mean) * (a - mean) / var - ls - 0.5 * log(2 * M_PI);
                            slack += wi * fabs(a - mean) / var * 1e-6;
                            dz_slack = wi / B / var * 2.0 * 1e-6;
                            dz = -wi / B * (a - mean) / var * 2.0 * (1 - t * t);
                            dl = (raw >= -20 && raw <= 2) ? -wi / B * ((a - mean) * (a - mean) / var - 1) : 0;
                        }
                        if (!(fabs(dpre[k] - dz) <= 1e-5 * (1 + fabs(dz)) + dz_slack) || (!det && !(fabs(dls[k] - dl) <= 1e-5 * (1 + fabs(dl))))) {
                            if (ok) fprintf(stderr, "p=%d i=%d j=%d dz %.9g want %.9g dls %.9g want %.9g\n", p, i, j, dpre[k], dz, dls[k], dl);
                            ok = 0;
                        }
                    }
                    double loss = det ? wi * total : -wi * total;
                    double got = stats[((size_t)p * IQL_STAT_COUNT + IQL_STAT_POLICY_LOSS) * B + i];
                    ok &= fabs(got - loss) <= 1e-5 * (1 + fabs(loss)) + slack;
                }
            CHECK(ok, "policy_head B=%d deterministic=%d", B, det);
            free(pre), free(act), free(w), free(dpre), free(dls), free(stats);
        }
}

static void test_optimizer(Backend *b) {
    LrSchedule sched[3] = {{.lr0 = 1e-3f, .lr_min = 1e-5f, .t_max = 7, .steps_per_unit = 3, .cosine = 1},
                           {.lr0 = 3e-4f, .cosine = 0},
                           {.lr0 = 2e-3f, .lr_min = 0, .t_max = 100, .steps_per_unit = 1, .cosine = 1}};
    StepScalars sc = {.step = 10};
    b->ops->prepare_step(b, &sc, sched, 0.9, 0.999);
    double t0 = floor(10.0 / 3);
    double want0 = 1e-5 + (1e-3 - 1e-5) * (1 + cos(M_PI * t0 / 7)) / 2, want2 = 2e-3 * (1 + cos(M_PI * 10 / 100)) / 2;
    CHECK(fabs(sc.lr[0] - want0) < 1e-9 && sc.lr[1] == 3e-4f && fabs(sc.lr[2] - want2) < 1e-9, "schedule: %g %g %g",
          sc.lr[0], sc.lr[1], sc.lr[2]);
    CHECK(fabs(sc.bias_correction1 - (1 - pow(0.9, 11))) < 1e-7 && fabs(sc.bias_correction2 - (1 - pow(0.999, 11))) < 1e-7,
          "bias corrections at step 11");
    b->ops->finish_step(b, &sc);
    CHECK(sc.step == 11, "finish_step counts");

    int64_t n = 1001;
    float *p = rand_buf(n, -1, 1), *g = rand_buf(n, -1, 1), *m = rand_buf(n, -0.1f, 0.1f), *v = rand_buf(n, 0, 0.01f);
    double *pr = malloc(sizeof(double) * n);
    float *m0 = malloc(sizeof(float) * n), *v0 = malloc(sizeof(float) * n);
    memcpy(m0, m, sizeof(float) * n), memcpy(v0, v, sizeof(float) * n);
    b->ops->prepare_step(b, &sc, sched, 0.9, 0.999);  /* step 11: the lrs the update uses */
    int64_t ends[3] = {300, 301, 1001};
    for (int64_t i = 0; i < n; i++) {
        int grp = i < 300 ? 0 : i < 301 ? 1 : 2;
        double lr = sc.lr[grp], wd = 0.01;
        double mm = 0.9 * m0[i] + 0.1 * g[i], vv = 0.999 * v0[i] + 0.001 * (double)g[i] * g[i];
        double bc1 = 1 - pow(0.9, 12), bc2 = 1 - pow(0.999, 12);
        pr[i] = p[i] * (1 - lr * wd) - lr / bc1 * mm / (sqrt(vv) / sqrt(bc2) + 1e-8);
    }
    AdamWArgs a = {.param = p, .grad = g, .m = m, .v = v, .n = n, .group_end = {ends[0], ends[1], ends[2]},
                   .hyper = iql_adam_hyper(0.9, 0.999, 1e-8, 0.01), .scalars = &sc};
    b->ops->adamw(b, &a);
    CHECK(test_rel_error_d(p, pr, n) < 1e-6, "adamw: rel error %.3g", test_rel_error_d(p, pr, n));

    /* A parameter whose gradient stays 0 (a dead ReLU unit): its m decays by β1 each step into
     * the subnormal range, where 0.9 × the smallest subnormals rounds back to themselves. The
     * stored moments must reach 0 instead (iql_adamw_elem: subnormals are slow on x86), and the
     * parameter must not move for it. m starts at 1e-36: subnormal after 42 steps. */
    float dp[2] = {0.5f, -0.25f}, dg[2] = {0, 0}, dm[2] = {1e-36f, -1e-36f}, dv[2] = {1e-6f, 1e-6f};
    AdamWArgs dead = {.param = dp, .grad = dg, .m = dm, .v = dv, .n = 2, .group_end = {2, 2, 2},
                      .hyper = iql_adam_hyper(0.9, 0.999, 1e-8, 0), .scalars = &sc};
    int reached_zero = 0, stayed_normal = 1;
    for (int k = 0; k < 400; k++) {
        b->ops->adamw(b, &dead);
        for (int i = 0; i < 2; i++) stayed_normal &= dm[i] == 0 || fabsf(dm[i]) >= FLT_MIN;
        reached_zero = dm[0] == 0 && dm[1] == 0;
    }
    CHECK(stayed_normal && reached_zero, "adamw: decaying moments go to 0, never subnormal (m %g %g)", dm[0], dm[1]);
    CHECK(dp[0] == 0.5f && dp[1] == -0.25f, "adamw: a dead parameter keeps its value (%.9g %.9g)", dp[0], dp[1]);

    float *t = rand_buf(n, -1, 1), *o = rand_buf(n, -1, 1);
    double *tr = malloc(sizeof(double) * n);
    for (int64_t i = 0; i < n; i++) tr[i] = 0.995 * t[i] + 0.005 * o[i];
    b->ops->polyak(b, t, o, 0.005f, n);
    CHECK(test_rel_error_d(t, tr, n) < 1e-6, "polyak");
    float *c = poisoned(n);
    b->ops->copy(b, c, o, n);
    CHECK(memcmp(c, o, sizeof(float) * n) == 0, "copy");
    float *init = poisoned(n);
    b->ops->init_uniform(b, init, n, 0.25f, 77, 5);
    int ok = 1;
    for (int64_t i = 0; i < n; i++) {
        double u = ((double)philox_value(77, 5, i) + 0.5) / 4294967296.0;
        ok &= fabs(init[i] - 0.25 * (2 * u - 1)) < 1e-7 && fabs(init[i]) <= 0.25f;
    }
    CHECK(ok, "init_uniform follows the Philox stream");
    free(p), free(g), free(m), free(v), free(pr), free(m0), free(v0), free(t), free(o), free(tr), free(c), free(init);
}

static void test_sampling(Backend *b) {
    int S = 3, A = 2, N = 37, B = 16;
    float *states = rand_buf((size_t)(2 * N) * S, -1, 1), *actions = rand_buf((size_t)N * A, -1, 1);
    float *rewards = rand_buf(N, -1, 1), *terms = rand_buf(N, 0, 1);
    uint32_t rows[37], next[37];
    for (int i = 0; i < N; i++) rows[i] = (uint32_t)(2 * i), next[i] = (uint32_t)(2 * i + 1);
    ReplaySource src = {.n = N, .n_states = 2 * N, .obs_dim = S, .act_dim = A, .states = states, .state_row = rows,
                        .next_row = next, .actions = actions, .rewards = rewards, .terminals = terms};
    Error err;
    Replay *r = b->ops->replay_create(b, &src, REPLAY_AUTO, B, &err);
    for (int seq = 0; seq < 2; seq++) {
        /* rows padded as the aligned layout pads them (S 3 → 4, S + A 5 → 8): zeros there */
        int ld = 4, ld_sa = 8;
        Batch bt = {.rows = B, .state_ld = ld, .state_action_ld = ld_sa, .state = poisoned(B * ld),
                    .next_state = poisoned(B * ld), .state_action = poisoned(B * ld_sa), .action = poisoned(B * A),
                    .reward = poisoned(B), .terminal = poisoned(B), .index = malloc(4 * B)};
        StepScalars sc = {.step = 5};
        SamplingArgs sa = {.sequential = seq, .seed = 9};
        b->ops->sample_batch(b, r, &sa, &sc, &bt);
        int ok = 1;
        for (int i = 0; i < B; i++) {
            uint32_t t = seq ? (uint32_t)((5 * B + i) % N) : (uint32_t)(((uint64_t)philox_value(9, 5, i) * N) >> 32);
            ok &= bt.index[i] == t && bt.reward[i] == rewards[t] && bt.terminal[i] == terms[t];
            for (int j = 0; j < S; j++)
                ok &= bt.state[i * ld + j] == states[2 * t * S + j] && bt.next_state[i * ld + j] == states[(2 * t + 1) * S + j] &&
                      bt.state_action[i * ld_sa + j] == states[2 * t * S + j];
            for (int j = 0; j < A; j++)
                ok &= bt.action[i * A + j] == actions[t * A + j] && bt.state_action[i * ld_sa + S + j] == actions[t * A + j];
            for (int j = S; j < ld; j++) ok &= bt.state[i * ld + j] == 0.0f && bt.next_state[i * ld + j] == 0.0f;
            for (int j = S + A; j < ld_sa; j++) ok &= bt.state_action[i * ld_sa + j] == 0.0f;
        }
        CHECK(ok, "sample_batch sequential=%d", seq);
        free(bt.state), free(bt.next_state), free(bt.state_action), free(bt.action), free(bt.reward), free(bt.terminal);
        free(bt.index);
    }
    b->ops->replay_destroy(b, r);
    free(states), free(actions), free(rewards), free(terms);
}

/* Stamps in order give ordered, non-negative times; memory is reported and consistent. */
static void test_measurement(Backend *b) {
    Error err = {{0}};
    size_t free_bytes = 0, total = 0;
    CHECK(b->ops->memory_info(b, &free_bytes, &total, &err) == 0, "memory_info: %s", err.msg);
    CHECK(total > 0 && free_bytes <= total, "memory_info: %zu free of %zu", free_bytes, total);
    size_t n = 1 << 22;
    float *x = rand_buf(n, -1, 1), *y = poisoned(n);
    b->ops->time_mark(b, 3);
    for (int r = 0; r < 20; r++) b->ops->copy(b, y, x, (int64_t)n);
    b->ops->time_mark(b, 5);
    double busy = -1, backwards = 0;
    CHECK(b->ops->time_elapsed(b, 3, 5, &busy, &err) == 0, "time_elapsed: %s", err.msg);
    CHECK(b->ops->time_elapsed(b, 5, 3, &backwards, &err) == 0, "time_elapsed: %s", err.msg);
    CHECK(busy > 0 && busy < 60 && backwards == -busy, "20 copies of 16 MiB timed at %g s (reversed: %g)", busy, backwards);
    CHECK(b->ops->time_elapsed(b, -1, 5, &busy, &err) != 0, "slot -1 accepted");
    CHECK(y[n - 1] == x[n - 1], "copy wrote its output");
    free(x), free(y);
}

int main(void) {
    Error err;
    BackendOptions opt = {.threads = 1};
    Backend *b = cpu_backend_create(&opt, &err);
    CHECK(b != NULL, "cpu backend: %s", err.msg);
    if (!b) return test_finish("cpu_ops", 0);
    test_gemm(b);
    test_layers(b);
    test_heads(b);
    test_policy_head(b);
    test_optimizer(b);
    test_sampling(b);
    test_measurement(b);
    b->ops->destroy(b);
    return test_finish("cpu_ops", 0);
}
