/* test_cuda_train.c — the CUDA backend computes the CPU backend's update, through iql_step(),
 * in each way the backend can run a step (bias and ReLU as kernels or in cuBLASLt's GEMM
 * epilogue; the networks in order or on parallel streams), in both value-target modes:
 *   - synced: at steps 1, 10, 100, 500 and 1000 of a CPU run, each way takes one step from
 *     the CPU's exact state (the composition of the ops at trained weights);
 *   - free: 300 steps on its own (plain, and epilogues + parallel), drifting from the CPU by at
 *     most 10× the CPU's own drift (nothing systematically wrong; see "free runs" below);
 *   - a captured graph replays exactly what eager launches compute, and host-memory replay
 *     gives the same run as device-memory replay (bit for bit, 50 steps, every way);
 *   - a P = 8 population equals 8 single runs member by member.
 *
 * Tolerances, from the arithmetic rather than from what one device gave. Every GPU sums in
 * another order than the CPU (cuBLAS tiles, splits k, picks other kernels for other batch
 * counts), and AdamW turns rounding into whole steps where the arithmetic is ill-conditioned:
 * its step is lr·m̂/(√v̂ + ε), which at the first step is lr·sign(g), so a gradient near zero
 * whose sign another summation order flips moves by 2·lr instead of 0; a ReLU whose input
 * rounds across zero flips that unit's gradient for that row. Hence, for a step from the same
 * state X, with "reference" the CPU and "other" the GPU (or the CPU summing in another order):
 *   (a) every element within what any AdamW step can do: |p_o − p_r| ≤ lr·(|u_r| + |u_o|),
 *       u = m̂/(√v̂ + ε) from each side's own moments, plus a few roundings of p;
 *   (b) the gradient, seen through the first moment (m' − β1·m = (1 − β1)·g, smooth in g, with
 *       no sign blow-up): ‖g_o − g_r‖/‖g_r‖ ≤ max(4× the CPU's own under a permuted summation
 *       order, 1e-3);
 *   (c) the update: ‖p_o − p_r‖/‖p_r − p_X‖ ≤ max(4× the CPU's own, 0.1): 0.1 lets 0.25 % of the
 *       elements flip sign at the first step (2·lr each), far beyond what a permuted order
 *       flips (printed), far below what a wrong buffer or a missing wait does (≥ 1).
 * "Permuted summation order" is the CPU backend with every GEMM's k summed in two halves.
 * Where the GPU's GEMMs are the CPU's own sums (the emulator, CUIQL_EMU_EXACT=1) the old strict
 * bounds hold as well: 1e-5 relative for a synced step, bit for bit for P = 8 against singles.
 * Exits 77 (skipped) when no CUDA device is usable. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/iql.h"
#include "cuiql/philox.h"
#include "test_util.h"

enum { S = 11, A = 3, N = 5000 };
#define FREE_STEPS 300   /* the free runs' length, and where their drift is measured */
#define REPLAY_STEPS 50  /* graph = eager = host replay, compared after this many steps */
#define POP_STEPS 5      /* P = 8 against singles */

typedef struct {
    float *states, *actions, *rewards, *terminals;
    uint32_t *rows, *next;
    ReplaySource src;
} Data;

/* perturb: every other state entry moved by one ulp, for the CPU's own spread (see main). */
static void make_data(Data *d, int perturb) {
    d->states = malloc(sizeof(float) * (N + 1) * S);
    d->actions = malloc(sizeof(float) * N * A);
    d->rewards = malloc(sizeof(float) * N);
    d->terminals = malloc(sizeof(float) * N);
    d->rows = malloc(sizeof(uint32_t) * N);
    d->next = malloc(sizeof(uint32_t) * N);
    uint64_t k = 0;
    for (int i = 0; i < (N + 1) * S; i++) {
        d->states[i] = 2 * philox_uniform01(philox_value(99, 0, k++)) - 1;
        if (perturb && i % 2) d->states[i] = nextafterf(d->states[i], 2.0f);
    }
    for (int i = 0; i < N * A; i++) d->actions[i] = 2 * philox_uniform01(philox_value(99, 0, k++)) - 1;
    for (int i = 0; i < N; i++) {
        d->rewards[i] = philox_uniform01(philox_value(99, 0, k++));
        d->terminals[i] = i % 97 == 0;
        d->rows[i] = (uint32_t)i;
        d->next[i] = (uint32_t)i + 1;
    }
    d->src = (ReplaySource){.n = N, .n_states = N + 1, .obs_dim = S, .act_dim = A, .states = d->states,
                            .state_row = d->rows, .next_row = d->next, .actions = d->actions, .rewards = d->rewards,
                            .terminals = d->terminals};
}

static void free_data(Data *d) {
    free(d->states), free(d->actions), free(d->rewards), free(d->terminals), free(d->rows), free(d->next);
}

/* ---- the CPU backend summing in another order ------------------------------------------------ */

/* Every GEMM's k in two halves, the second added onto the first: the same products, another
 * order of summation (as a split-k kernel sums), so rounding differs as it does on a GPU. */
static BackendOps permuted_ops;
static void (*cpu_gemm)(Backend *, const GemmArgs *);

static void permuted_gemm(Backend *b, const GemmArgs *g) {
    if (g->k < 2) {
        cpu_gemm(b, g);
        return;
    }
    int k1 = g->k / 2;
    GemmArgs first = *g, second = *g;
    first.k = k1;
    second.k = g->k - k1;
    second.beta = 1.0f;
    /* row-major op(A) is m × k: column k1 is A + k1 (no transpose) or row k1, A + k1·lda */
    second.a = g->a + (g->trans_a ? (int64_t)k1 * g->lda : k1);
    second.b = g->b + (g->trans_b ? k1 : (int64_t)k1 * g->ldb);
    cpu_gemm(b, &first);
    cpu_gemm(b, &second);
}

static void permuted_gemm_bias_activation(Backend *b, const GemmArgs *g, const float *bias, int64_t bias_stride,
                                          Activation act) {
    permuted_gemm(b, g);
    b->ops->bias_activation(b, g->c, bias, bias_stride, g->batch, g->m, g->n, act);
}

/* ---- trainers -------------------------------------------------------------------------------- */

typedef struct {
    Backend *b;
    IqlState *s;
} Trainer;

/* The ways of running the same step: the CUDA backend's, and the CPU's two summation orders. */
enum { FUSED = 1, PARALLEL = 2 };
#define N_WAYS 4
static const char *const way_names[N_WAYS] = {"plain", "gemm epilogues", "parallel nets", "epilogues + parallel"};
typedef enum { ON_CPU, ON_CPU_PERMUTED, ON_CUDA } Device;

static Trainer make(Device dev, int graphs, int way, ReplayKind replay, const Config *base, const MemberSpec *m, int P,
                    const Data *d) {
    Config cfg = *base;
    cfg.replay = replay;
    Error err;
    BackendOptions opt = {.threads = 0, .precision = PRECISION_FP32, .use_graphs = graphs,
                          .gemm_epilogues = (way & FUSED) != 0, .parallel_nets = (way & PARALLEL) != 0};
    Trainer t = {0};
    t.b = dev == ON_CUDA ? cuda_backend_create(&opt, &err) : cpu_backend_create(&opt, &err);
    CHECK(t.b != NULL, "backend: %s", err.msg);
    if (!t.b) return t;
    if (dev == ON_CPU_PERMUTED) {
        permuted_ops = *t.b->ops;
        cpu_gemm = t.b->ops->gemm;
        permuted_ops.gemm = permuted_gemm;
        permuted_ops.gemm_bias_activation = permuted_gemm_bias_activation;
        t.b->ops = &permuted_ops;
    }
    t.s = iql_create(t.b, &cfg, m, P, &d->src, &err);
    CHECK(t.s != NULL, "iql_create: %s", err.msg);
    return t;
}

static void destroy(Trainer *t) {
    iql_destroy(t->s);
    if (t->b) t->b->ops->destroy(t->b);
    t->s = NULL, t->b = NULL;
}

static void run(Trainer *t, int steps) {
    for (int i = 0; i < steps && t->s; i++) iql_step(t->s);
}

/* One member's state in the member view (packed P = 1 layout). */
typedef struct {
    float *p, *t, *m, *v;
} State;

static size_t np, nt;  /* member-view sizes */

static State state_new(void) {
    State x = {malloc(sizeof(float) * np), malloc(sizeof(float) * nt), malloc(sizeof(float) * np),
               malloc(sizeof(float) * np)};
    return x;
}

static void state_free(State *x) { free(x->p), free(x->t), free(x->m), free(x->v); }

static void state_get(Trainer *tr, int member, State *x) {
    Error err;
    int bad = !tr->s || iql_get_member(tr->s, member, x->p, x->t, x->m, x->v, &err);
    CHECK(!bad, "reading a trainer's state: %s", tr->s ? err.msg : "no state");
    if (bad)
        for (size_t i = 0; i < np; i++) x->p[i] = NAN;
}

/* Puts `from`'s whole state (parameters, targets, Adam moments) into `to`, whose step count
 * becomes `step` (the number of steps `from` has taken). P = 1. */
static void copy_state(Trainer *from, Trainer *to, int64_t step) {
    if (!from->s || !to->s) return;
    State x = state_new();
    state_get(from, 0, &x);
    Error err;
    int bad = iql_set_member(to->s, 0, x.p, x.t, x.m, x.v, &err) || iql_set_step_count(to->s, step, &err);
    CHECK(!bad, "copying a trainer's state: %s", err.msg);
    state_free(&x);
}

/* ‖a − b‖ over parameters and targets. */
static double distance(const State *a, const State *b) {
    double d = 0;
    for (size_t i = 0; i < np; i++) d += ((double)a->p[i] - b->p[i]) * ((double)a->p[i] - b->p[i]);
    for (size_t i = 0; i < nt; i++) d += ((double)a->t[i] - b->t[i]) * ((double)a->t[i] - b->t[i]);
    return isnan(d) ? INFINITY : sqrt(d);
}

static double norm_pt(const State *a) {
    double d = 0;
    for (size_t i = 0; i < np; i++) d += (double)a->p[i] * a->p[i];
    for (size_t i = 0; i < nt; i++) d += (double)a->t[i] * a->t[i];
    return sqrt(d);
}

/* Relative error of member `ma` of x against member `mb` of y, over parameters and targets. */
static double compare(Trainer *x, int ma, Trainer *y, int mb) {
    if (!x->s || !y->s) return INFINITY;
    State a = state_new(), b = state_new();
    state_get(x, ma, &a);
    state_get(y, mb, &b);
    double e = distance(&a, &b) / fmax(norm_pt(&b), 1e-30);
    state_free(&a), state_free(&b);
    return e;
}

/* ---- one step from the same state: the measures (b), (c) and the check (a) -------------------- */

typedef struct {
    double grad_rel;    /* ‖g_o − g_r‖/‖g_r‖, g read from the first moments */
    double update_rel;  /* ‖p_o − p_r‖/‖p_r − p_X‖ over parameters and targets */
    double param_rel;   /* ‖p_o − p_r‖/‖p_r‖ (the strict measure, where GEMMs are exact) */
    size_t beyond;      /* elements beyond what any step can do (a) */
} StepDiff;

typedef struct {
    const Config *cfg;
    ModelLayout one;    /* the member view */
    double lr[LR_GROUP_COUNT];
    int64_t step;       /* steps X had completed */
} StepContext;

static int group_of(const ModelLayout *L, size_t i) {
    return i < L->net[NET_POLICY].end ? LR_GROUP_POLICY : i < L->net[NET_VALUE].end ? LR_GROUP_VALUE : LR_GROUP_Q;
}

/* AdamW's u = m̂/(√v̂ + ε) of element i, from a side's own moments after the step. */
static double adam_u(const StepContext *c, const State *s, size_t i) {
    double t = (double)c->step + 1, bc1 = 1 - pow(c->cfg->adam_beta1, t), bc2 = 1 - pow(c->cfg->adam_beta2, t);
    return (s->m[i] / bc1) / (sqrt(s->v[i]) / sqrt(bc2) + c->cfg->adam_eps);
}

static StepDiff step_diff(const StepContext *c, const State *x, const State *r, const State *o) {
    StepDiff d = {0};
    const double u = 0x1p-24, beta1 = c->cfg->adam_beta1, rho = c->cfg->target_update_rate;
    double dg = 0, g = 0;
    double *bound = malloc(sizeof(double) * np);
    for (size_t i = 0; i < np; i++) {
        double lr = c->lr[group_of(&c->one, i)];
        bound[i] = lr * (fabs(adam_u(c, r, i)) + fabs(adam_u(c, o, i))) * (1 + 1e-3) +
                   16 * u * (fabs(x->p[i]) + fabs(r->p[i]));
        double diff = fabs((double)o->p[i] - r->p[i]);
        d.beyond += !(diff <= bound[i]);
        double gr = r->m[i] - beta1 * x->m[i], go = o->m[i] - beta1 * x->m[i];
        dg += (go - gr) * (go - gr), g += gr * gr;
    }
    if (rho < 1) {  /* Q̄' = (1 − ρ)·Q̄ + ρ·Q': ρ times the critics' difference, a few roundings */
        size_t q0 = c->one.net[NET_Q].begin;
        for (size_t j = 0; j < nt; j++) {
            double b = rho * bound[q0 + j] + 8 * u * (fabs(x->t[j]) + fabs(r->t[j]));
            d.beyond += !(fabs((double)o->t[j] - r->t[j]) <= b);
        }
    }
    free(bound);
    d.grad_rel = sqrt(dg) / fmax(sqrt(g), 1e-30);
    d.update_rel = distance(o, r) / fmax(distance(r, x), 1e-30);
    d.param_rel = distance(o, r) / fmax(norm_pt(r), 1e-30);
    return d;
}

/* ---- main --------------------------------------------------------------------------------------- */

static int exact_gemms(void) {
    const char *env = getenv("CUIQL_EMU_EXACT");
    return env && strcmp(env, "1") == 0;
}

int main(void) {
    char desc[256];
    if (!cuda_backend_probe(0, desc, sizeof desc)) {
        printf("cuda_train: skipped: %s\n", desc);
        return TEST_SKIP;
    }
    Data d, d_ulp;
    make_data(&d, 0);
    make_data(&d_ulp, 1);
    Config cfg;
    config_defaults(&cfg);
    Error err;
    config_set(&cfg, "batch_size", "256", &err);
    StepContext ctx = {.cfg = NULL};
    model_layout_init(&ctx.one, 1, S, A, cfg.hidden, cfg.n_hidden, &err);
    np = ctx.one.n_params, nt = model_target_size(&ctx.one);
    MemberSpec m = {.tau = 0.7, .beta = 3.0, .seed = 5};
    int exact = exact_gemms();

    /* Free runs. Training is chaotic at the scale of rounding (the sign flips above), so two
     * free runs drift apart whatever the arithmetic, in proportion to how much each step
     * differs until the drift saturates: after 300 steps the CPU against itself with one-ulp
     * input noise differs by ~5e-5 (td) to ~3e-3 (q), with its GEMMs summed in another order by
     * ~2e-6 (td) to ~2.5e-3 (q). A GPU's steps differ from the CPU's in more places (every
     * reduction, the heads' FMAs and libm), by r = (its one-step update difference) / (the
     * permuted CPU's), measured at the synced steps. So the CPU's own drift is the larger of
     * the noisy run's and r × the permuted run's (r ≥ 1), and a free run may drift 10× that. */
    static const int synced_at[] = {0, 9, 99, 499, 999};  /* steps completed before the synced one */
    enum { N_SYNCED = sizeof synced_at / sizeof synced_at[0], LAST_STEP = 1000 };
    State graph_state[N_WAYS];  /* mode 0: each way's graph run after REPLAY_STEPS */
    for (int w = 0; w < N_WAYS; w++) graph_state[w] = state_new();
    for (int mode = 0; mode < 2; mode++) {
        Config c = cfg;
        c.value_target = mode ? VALUE_TARGET_Q : VALUE_TARGET_TD;
        c.target_update_rate = mode ? 0.005 : 1.0;
        ctx.cfg = &c;
        Trainer cpu = make(ON_CPU, 0, 0, REPLAY_AUTO, &c, &m, 1, &d);
        Trainer noisy = make(ON_CPU, 0, 0, REPLAY_AUTO, &c, &m, 1, &d_ulp);
        Trainer permuted = make(ON_CPU_PERMUTED, 0, 0, REPLAY_AUTO, &c, &m, 1, &d);
        Trainer permuted_free = make(ON_CPU_PERMUTED, 0, 0, REPLAY_AUTO, &c, &m, 1, &d);
        /* Free runs: plain and epilogues + parallel for FREE_STEPS; in mode 0 the two other ways
         * too, for REPLAY_STEPS, as the graph runs of the replay checks below. */
        Trainer free_run[N_WAYS] = {{0}}, synced[N_WAYS];
        int free_steps[N_WAYS];
        for (int w = 0; w < N_WAYS; w++) {
            free_steps[w] = w == 0 || w == N_WAYS - 1 ? FREE_STEPS : mode == 0 ? REPLAY_STEPS : 0;
            if (free_steps[w]) free_run[w] = make(ON_CUDA, 1, w, REPLAY_DEVICE, &c, &m, 1, &d);
            synced[w] = make(ON_CUDA, 1, w, REPLAY_DEVICE, &c, &m, 1, &d);
            CHECK(compare(&cpu, 0, &synced[w], 0) == 0.0, "mode %d, %s: identical initialisation (cuRAND = CPU Philox)",
                  mode, way_names[w]);
        }
        State x = state_new(), ref = state_new(), other = state_new(), cpu_at_free = state_new();
        StepDiff worst[N_WAYS] = {{0}}, worst_perm = {0};
        for (int k = 0, next = 0; k < LAST_STEP; k++) {
            int sync = next < N_SYNCED && synced_at[next] == k;
            if (sync) {
                state_get(&cpu, 0, &x);
                copy_state(&cpu, &permuted, k);
                for (int w = 0; w < N_WAYS; w++) copy_state(&cpu, &synced[w], k);
            }
            run(&cpu, 1);
            if (k < FREE_STEPS) run(&noisy, 1), run(&permuted_free, 1);
            for (int w = 0; w < N_WAYS; w++)
                if (k < free_steps[w]) {
                    run(&free_run[w], 1);
                    if (mode == 0 && k + 1 == REPLAY_STEPS) state_get(&free_run[w], 0, &graph_state[w]);
                }
            if (k + 1 == FREE_STEPS) state_get(&cpu, 0, &cpu_at_free);
            if (!sync) continue;
            next++;
            /* the reference: the CPU's own step; its learning rates for the bounds */
            state_get(&cpu, 0, &ref);
            double scalars[LOG_TRAIN_SCALAR_COUNT];
            CHECK(cpu.s && iql_read_scalars(cpu.s, scalars, &err) == 0, "scalars: %s", err.msg);
            ctx.lr[LR_GROUP_POLICY] = scalars[LOG_LR_POLICY];
            ctx.lr[LR_GROUP_VALUE] = scalars[LOG_LR_VALUE];
            ctx.lr[LR_GROUP_Q] = scalars[LOG_LR_Q];
            ctx.step = k;
            run(&permuted, 1);
            state_get(&permuted, 0, &other);
            StepDiff p = step_diff(&ctx, &x, &ref, &other);
            worst_perm.grad_rel = fmax(worst_perm.grad_rel, p.grad_rel);
            worst_perm.update_rel = fmax(worst_perm.update_rel, p.update_rel);
            CHECK(p.beyond == 0, "mode %d, step %d: the CPU in another order has %zu elements beyond any step (a)", mode,
                  k + 1, p.beyond);
            for (int w = 0; w < N_WAYS; w++) {
                run(&synced[w], 1);
                state_get(&synced[w], 0, &other);
                StepDiff e = step_diff(&ctx, &x, &ref, &other);
                worst[w].grad_rel = fmax(worst[w].grad_rel, e.grad_rel);
                worst[w].update_rel = fmax(worst[w].update_rel, e.update_rel);
                worst[w].param_rel = fmax(worst[w].param_rel, e.param_rel);
                const char *way = way_names[w];
                CHECK(e.beyond == 0, "mode %d, %s, step %d from the CPU's state: %zu elements beyond any AdamW step (a)",
                      mode, way, k + 1, e.beyond);
                CHECK(e.grad_rel <= fmax(4 * p.grad_rel, 1e-3),
                      "mode %d, %s, step %d from the CPU's state: gradient off by %.3g (CPU in another order: %.3g) (b)",
                      mode, way, k + 1, e.grad_rel, p.grad_rel);
                CHECK(e.update_rel <= fmax(4 * p.update_rel, 0.1),
                      "mode %d, %s, step %d from the CPU's state: update off by %.3g (CPU in another order: %.3g) (c)",
                      mode, way, k + 1, e.update_rel, p.update_rel);
                if (exact)
                    CHECK(e.param_rel < 1e-5, "mode %d, %s, step %d from the CPU's state, exact GEMMs: rel error %.3g",
                          mode, way, k + 1, e.param_rel);
            }
        }
        State own = state_new();  /* noisy and permuted_free stopped at FREE_STEPS */
        state_get(&noisy, 0, &own);
        double noise_spread = distance(&own, &cpu_at_free) / fmax(norm_pt(&cpu_at_free), 1e-30);
        state_get(&permuted_free, 0, &own);
        double order_spread = distance(&own, &cpu_at_free) / fmax(norm_pt(&cpu_at_free), 1e-30);
        state_free(&own);
        printf("value_target %s: the CPU in another order, one step from its own state (steps 1-%d): gradient within "
               "%.3g, update within %.3g\n",
               mode ? "q" : "td", LAST_STEP, worst_perm.grad_rel, worst_perm.update_rel);
        double r = 1;
        for (int w = 0; w < N_WAYS; w++) r = fmax(r, worst[w].update_rel / fmax(worst_perm.update_rel, 1e-30));
        double spread = fmax(noise_spread, r * order_spread);
        for (int w = 0; w < N_WAYS; w++) {
            printf("value_target %s, %s: one step from the CPU's state: gradient within %.3g, update within %.3g, "
                   "parameters within %.3g",
                   mode ? "q" : "td", way_names[w], worst[w].grad_rel, worst[w].update_rel, worst[w].param_rel);
            if (free_steps[w] == FREE_STEPS && free_run[w].s) {
                State fr = state_new();
                state_get(&free_run[w], 0, &fr);
                double drift = distance(&fr, &cpu_at_free) / fmax(norm_pt(&cpu_at_free), 1e-30);
                state_free(&fr);
                printf("; free run after %d steps %.3g (CPU vs CPU with 1-ulp noise: %.3g, in another order: %.3g, "
                       "r = %.3g)", FREE_STEPS, drift, noise_spread, order_spread, r);
                CHECK(drift <= 10 * spread + 1e-6, "mode %d, %s: %d free steps drift %.3g, over 10x the CPU's own %.3g",
                      mode, way_names[w], FREE_STEPS, drift, spread);
            }
            printf("\n");
        }
        destroy(&cpu), destroy(&noisy), destroy(&permuted), destroy(&permuted_free);
        for (int w = 0; w < N_WAYS; w++) destroy(&free_run[w]), destroy(&synced[w]);
        state_free(&x), state_free(&ref), state_free(&other), state_free(&cpu_at_free);
    }

    /* Graph = eager, host replay = device replay, bit for bit, in every way (td, ρ = 1: the
     * graph runs are mode 0's free runs above). */
    for (int w = 0; w < N_WAYS; w++) {
        Config c = cfg;
        c.value_target = VALUE_TARGET_TD;
        c.target_update_rate = 1.0;
        Trainer eager = make(ON_CUDA, 0, w, REPLAY_DEVICE, &c, &m, 1, &d), host = make(ON_CUDA, 1, w, REPLAY_HOST, &c, &m, 1, &d);
        run(&eager, REPLAY_STEPS), run(&host, REPLAY_STEPS);
        State e = state_new(), h = state_new();
        state_get(&eager, 0, &e);
        state_get(&host, 0, &h);
        CHECK(distance(&e, &graph_state[w]) == 0.0, "%s: graph replay equals eager launches (bitwise)", way_names[w]);
        CHECK(distance(&h, &graph_state[w]) == 0.0, "%s: host replay equals device replay (bitwise)", way_names[w]);
        state_free(&e), state_free(&h);
        destroy(&eager), destroy(&host);
    }
    for (int w = 0; w < N_WAYS; w++) state_free(&graph_state[w]);

    /* P = 8 against 8 singles: every member's own τ, β, seed and batches matter within a few
     * steps. cuBLAS may run 16 critics with other kernels than 2, so the bound is the CPU's own
     * under another summation order, as above, relative to how far the parameters moved. */
    MemberSpec pop[8];
    for (int p = 0; p < 8; p++) pop[p] = (MemberSpec){.tau = 0.6 + 0.04 * p, .beta = 0.5 + p, .seed = 100 + (uint64_t)p};
    Trainer all = make(ON_CUDA, 1, 0, REPLAY_DEVICE, &cfg, pop, 8, &d);
    run(&all, POP_STEPS);
    double worst_pop = 0, worst_pop_param = 0, worst_pop_own = 0;
    for (int p = 0; p < 8; p++) {
        Trainer single = make(ON_CUDA, 1, 0, REPLAY_DEVICE, &cfg, &pop[p], 1, &d);
        Trainer cpu = make(ON_CPU, 0, 0, REPLAY_AUTO, &cfg, &pop[p], 1, &d);
        Trainer permuted = make(ON_CPU_PERMUTED, 0, 0, REPLAY_AUTO, &cfg, &pop[p], 1, &d);
        State init = state_new(), a = state_new(), b = state_new(), r = state_new(), o = state_new();
        state_get(&single, 0, &init);
        run(&single, POP_STEPS), run(&cpu, POP_STEPS), run(&permuted, POP_STEPS);
        state_get(&all, p, &a);
        state_get(&single, 0, &b);
        state_get(&cpu, 0, &r);
        state_get(&permuted, 0, &o);
        double moved = fmax(distance(&b, &init), 1e-30);
        double e = distance(&a, &b) / moved, own = distance(&o, &r) / distance(&r, &init);
        worst_pop = fmax(worst_pop, e), worst_pop_own = fmax(worst_pop_own, own);
        worst_pop_param = fmax(worst_pop_param, distance(&a, &b) / fmax(norm_pt(&b), 1e-30));
        if (exact)
            CHECK(distance(&a, &b) == 0.0, "P=8 member %d equals its single run bit for bit (exact GEMMs): %.3g", p, e);
        CHECK(e <= fmax(4 * own, 0.1), "P=8 member %d against its single run: %.3g of the way moved (CPU in another "
              "order: %.3g)", p, e, own);
        state_free(&init), state_free(&a), state_free(&b), state_free(&r), state_free(&o);
        destroy(&single), destroy(&cpu), destroy(&permuted);
    }
    printf("P=8 against its single members after %d steps: within %.3g of the way moved (%.3g of the parameters); "
           "the CPU in another order: %.3g\n", POP_STEPS, worst_pop, worst_pop_param, worst_pop_own);
    destroy(&all);
    free_data(&d), free_data(&d_ulp);
    return test_finish("cuda_train", 0);
}
