/* test_gradients.c — the gradients one iql_step() computes, against central finite differences
 * in float64 of each loss with respect to every parameter tensor.
 *
 * The losses are re-implemented here in double from docs/algorithm.md, holding the step's targets fixed
 * (y, the value target and the advantage weights are constants: no gradient flows into them).
 * The batch is the whole dataset (sequential sampling, B = N), so the step sees exactly the
 * transitions the float64 losses see. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/iql.h"
#include "cuiql/philox.h"
#include "test_util.h"

enum { S = 3, A = 2, N = 24 };

typedef struct {
    const ModelLayout *L;
    const Config *cfg;
    const float *states, *next_states, *actions, *rewards, *terminals;
    double tau, beta;
    double y[N], value_target[N], weight[N];  /* constants of the step */
} Problem;

/* An MLP of the P = 1 layout in double; member k picks critic k of the twin block. */
static void mlp(const NetLayout *net, const double *params, int k, const double *x, double *out) {
    double a[2][512];
    const double *in = x;
    for (int l = 0; l < net->n_layers; l++) {
        int ni = net->in[l], no = net->out[l];
        const double *w = params + net->weight[l] + (size_t)k * no * ni, *b = params + net->bias[l] + (size_t)k * no;
        double *o = l + 1 == net->n_layers ? out : a[l & 1];
        for (int r = 0; r < no; r++) {
            double acc = b[r];
            for (int c = 0; c < ni; c++) acc += w[r * ni + c] * in[c];
            o[r] = l + 1 < net->n_layers && acc < 0 ? 0 : acc;
        }
        in = o;
    }
}

static void inputs(const Problem *pb, int i, double *s, double *s2, double *sa) {
    for (int j = 0; j < S; j++) s[j] = sa[j] = pb->states[i * S + j], s2[j] = pb->next_states[i * S + j];
    for (int j = 0; j < A; j++) sa[S + j] = pb->actions[i * A + j];
}

/* The targets, from the unperturbed parameters (targets = online critics at step 0). */
static void fix_constants(Problem *pb, const double *p) {
    const ModelLayout *L = pb->L;
    for (int i = 0; i < N; i++) {
        double s[S], s2[S], sa[S + A], v, v2, q1, q2;
        inputs(pb, i, s, s2, sa);
        mlp(&L->net[NET_VALUE], p, 0, s, &v);
        mlp(&L->net[NET_VALUE], p, 0, s2, &v2);
        mlp(&L->net[NET_Q], p, 0, sa, &q1);
        mlp(&L->net[NET_Q], p, 1, sa, &q2);
        pb->y[i] = pb->rewards[i] + pb->cfg->discount * (1 - pb->terminals[i]) * v2;
        double qmin = fmin(q1, q2);
        pb->value_target[i] = pb->cfg->value_target == VALUE_TARGET_Q ? qmin : pb->y[i];
        pb->weight[i] = fmin(exp(pb->beta * (qmin - v)), pb->cfg->adv_clip);
    }
}

/* L_V + L_Q + L_π with the constants fixed; each parameter belongs to exactly one of them. */
static double total_loss(const Problem *pb, const double *p) {
    const ModelLayout *L = pb->L;
    const Config *c = pb->cfg;
    double lv = 0, lq = 0, lp = 0;
    double qs = c->q_loss == Q_LOSS_SUM ? 1.0 : 0.5;
    for (int i = 0; i < N; i++) {
        double s[S], s2[S], sa[S + A], v, q1, q2, pre[A];
        inputs(pb, i, s, s2, sa);
        mlp(&L->net[NET_VALUE], p, 0, s, &v);
        mlp(&L->net[NET_Q], p, 0, sa, &q1);
        mlp(&L->net[NET_Q], p, 1, sa, &q2);
        mlp(&L->net[NET_POLICY], p, 0, s, pre);
        double u = pb->value_target[i] - v;
        lv += (u < 0 ? 1 - pb->tau : pb->tau) * u * u / N;
        lq += qs * ((q1 - pb->y[i]) * (q1 - pb->y[i]) + (q2 - pb->y[i]) * (q2 - pb->y[i])) / N;
        double term = 0;
        for (int j = 0; j < A; j++) {
            double mean = c->max_action * tanh(pre[j]), a = pb->actions[i * A + j];
            if (c->policy == POLICY_DETERMINISTIC) {
                term += (mean - a) * (mean - a);
            } else {
                double ls = fmin(fmax(p[L->net[NET_POLICY].log_std + j], c->log_std_min), c->log_std_max);
                term += -(a - mean) * (a - mean) / (2 * exp(2 * ls)) - ls - 0.5 * log(2 * M_PI);
            }
        }
        lp += (c->policy == POLICY_DETERMINISTIC ? 1 : -1) * pb->weight[i] * term / N;
    }
    return lv + lq + lp;
}

/* Compares the analytic gradient of one tensor [off, off+n) with finite differences. */
static void check_tensor(const Problem *pb, double *p, const float *grad, size_t off, size_t n, const char *what) {
    double diff = 0, norm = 0;
    for (size_t i = off; i < off + n; i++) {
        double saved = p[i], h = 1e-6;
        p[i] = saved + h;
        double up = total_loss(pb, p);
        p[i] = saved - h;
        double down = total_loss(pb, p);
        p[i] = saved;
        double fd = (up - down) / (2 * h);
        diff += (grad[i] - fd) * (grad[i] - fd);
        norm += fd * fd;
    }
    double rel = sqrt(diff) / fmax(sqrt(norm), 1e-12);
    CHECK(rel < 2e-4 || sqrt(diff) < 1e-7, "%s: gradient rel error %.3g (|fd| %.3g)", what, rel, sqrt(norm));
}

static void run_case(const char *name, const char *const *sets, int n_sets, int clamp_log_std) {
    Config cfg;
    config_defaults(&cfg);
    Error err;
    const char *base[] = {"batch_size=24", "hidden=[8,6]", "sampling=sequential", "max_action=1.5"};
    for (int i = 0; i < 4; i++) config_set_assignment(&cfg, base[i], &err);
    for (int i = 0; i < n_sets; i++) CHECK(config_set_assignment(&cfg, sets[i], &err) == 0, "%s: %s", sets[i], err.msg);

    float states[N * S], next_states[N * S], actions[N * A], rewards[N], terminals[N];
    uint64_t k = 0;
    for (int i = 0; i < N * S; i++) states[i] = 2 * philox_uniform01(philox_value(5, 0, k++)) - 1;
    for (int i = 0; i < N * S; i++) next_states[i] = 2 * philox_uniform01(philox_value(5, 0, k++)) - 1;
    for (int i = 0; i < N * A; i++) actions[i] = 2.8f * philox_uniform01(philox_value(5, 0, k++)) - 1.4f;
    for (int i = 0; i < N; i++) rewards[i] = philox_uniform01(philox_value(5, 0, k++)), terminals[i] = i % 5 == 0;
    /* The state table: s_i at row i, s'_i at row N + i. */
    float table[2 * N * S];
    uint32_t rows[N], next[N];
    memcpy(table, states, sizeof states);
    memcpy(table + N * S, next_states, sizeof next_states);
    for (int i = 0; i < N; i++) rows[i] = (uint32_t)i, next[i] = (uint32_t)(N + i);
    ReplaySource src = {.n = N, .n_states = 2 * N, .obs_dim = S, .act_dim = A, .states = table, .state_row = rows,
                        .next_row = next, .actions = actions, .rewards = rewards, .terminals = terminals};

    BackendOptions bopt = {.threads = 1};
    Backend *b = cpu_backend_create(&bopt, &err);
    MemberSpec spec = {.tau = cfg.tau, .beta = cfg.beta, .seed = 11};
    IqlState *st = iql_create(b, &cfg, &spec, 1, &src, &err);
    CHECK(st != NULL, "%s: iql_create: %s", name, err.msg);
    if (!st) return;
    /* the member view (packed, P = 1): what iql_get_member and iql_get_gradients fill */
    ModelLayout single;
    model_layout_init(&single, 1, S, A, cfg.hidden, cfg.n_hidden, &err);
    const ModelLayout *L = &single;
    size_t np = L->n_params;
    float *pf = malloc(np * sizeof(float)), *grad = malloc(np * sizeof(float));
    double *p = malloc(np * sizeof(double));
    iql_get_member(st, 0, pf, NULL, NULL, NULL, &err);
    if (clamp_log_std) {  /* one dimension below the clamp: its gradient must be zero */
        pf[L->net[NET_POLICY].log_std] = (float)cfg.log_std_min - 1.0f;
        pf[L->net[NET_POLICY].log_std + 1] = 0.4f;
        iql_set_member(st, 0, pf, NULL, NULL, NULL, &err);
    }
    for (size_t i = 0; i < np; i++) p[i] = pf[i];
    iql_step(st);
    CHECK(iql_get_gradients(st, 0, grad, &err) == 0, "%s: gradients: %s", name, err.msg);

    Problem pb = {.L = L, .cfg = &cfg, .states = states, .next_states = next_states, .actions = actions,
                  .rewards = rewards, .terminals = terminals, .tau = cfg.tau, .beta = cfg.beta};
    fix_constants(&pb, p);
    static const char *const net_names[] = {"policy", "value", "q"};
    for (int n = 0; n < NET_COUNT; n++) {
        const NetLayout *net = &L->net[n];
        for (int l = 0; l < net->n_layers; l++) {
            char what[96];
            snprintf(what, sizeof what, "%s %s layer%d weight", name, net_names[n], l);
            check_tensor(&pb, p, grad, net->weight[l], (size_t)net->members * net->out[l] * net->in[l], what);
            snprintf(what, sizeof what, "%s %s layer%d bias", name, net_names[n], l);
            check_tensor(&pb, p, grad, net->bias[l], (size_t)net->members * net->out[l], what);
        }
    }
    if (cfg.policy == POLICY_GAUSSIAN) {
        char what[96];
        snprintf(what, sizeof what, "%s policy log_std", name);
        check_tensor(&pb, p, grad, L->net[NET_POLICY].log_std, (size_t)A, what);
        if (clamp_log_std) CHECK(grad[L->net[NET_POLICY].log_std] == 0.0f, "%s: clamped log_std has zero gradient", name);
    }
    free(pf), free(grad), free(p);
    iql_destroy(st);
    b->ops->destroy(b);
}

int main(void) {
    const char *seed_rule[] = {"value_target=td", "target_update_rate=1"};
    run_case("td/gaussian", seed_rule, 2, 0);
    const char *paper_rule[] = {"value_target=q", "target_update_rate=0.005", "beta=3", "tau=0.9"};
    run_case("q/gaussian", paper_rule, 4, 0);
    const char *det[] = {"value_target=q", "policy=deterministic", "q_loss=sum", "beta=0.5"};
    run_case("q/deterministic/sum", det, 4, 0);
    const char *clamp[] = {"value_target=td", "log_std_min=-1", "log_std_max=0.5"};
    run_case("td/gaussian/clamped", clamp, 3, 1);
    return test_finish("gradients", 0);
}
