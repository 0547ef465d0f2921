/* dp_orders.c — the tolerance of the data-parallel test (test_data_parallel.py), derived from
 * summation order, and the comparison against it.
 *
 *   dp_orders CONFIG DATASET REF.h5 CANDIDATE.h5... [--device cpu|cuda] [--set KEY=VALUE]...
 *
 * A data-parallel step computes every row of the global batch exactly as one process does (the
 * same rows, the same per-row arithmetic, the heads dividing by the global batch); what differs
 * is only the order in which the rows' contributions are added: each rank sums its half, then
 * the all-reduce adds the halves. So the yardstick is what reordering the rows does to one
 * process's run. This program trains the single-process run of the config on the backend
 * (the CPU with one BLAS thread, or CUDA with graphs) with each step's batch permuted in ORDERS ways — rotated by B/4, B/2 and
 * 3B/4 rows, and reversed: the same rows, the same update in exact arithmetic, other sums — and
 * measures how far each ends from the unpermuted run, per state buffer (parameters, targets,
 * both Adam moments) and network (policy, value, critics), as ‖x − x_ref‖ / ‖x_ref‖. A
 * candidate is within tolerance when, for every (buffer, network), its distance from REF is at
 * most SAFETY times the largest of those reorderings' distances.
 *
 * SAFETY: the data-parallel order is one more reordering, so its distance is of the same size
 * as theirs; 4 covers the spread among orderings (which stay within a small factor of one
 * another, since all are the same rounding noise grown by the same 100 steps of dynamics)
 * while a real difference — a wrong row, a wrong divisor, an update missed — is larger by
 * orders of magnitude (the test shows that a 1e-4 change of one learning rate is caught).
 *
 * REF must be the single-process checkpoint of the same config (the CLI's): it is checked to
 * equal this program's unpermuted run bit for bit. Prints one JSON object per candidate:
 * {"candidate": PATH, "worst_ratio": distance / tolerance at the worst group, "worst": GROUP,
 * "ref_reproduced": true|false}; exits 0, or 2 when something cannot be run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/config.h"
#include "algo/iql_state.h"
#include "run/backend_select.h"
#include "checkpoint/checkpoint.h"
#include "data/dataset.h"

#define ORDERS 4
#define SAFETY 4.0
#define BUFFERS 4

static const char *const buffer_names[BUFFERS] = {"params", "target", "adam_m", "adam_v"};
static const char *const net_names[NET_COUNT] = {"policy", "value", "q"};

/* ---- a backend whose batches come permuted ----------------------------------------------------
 * The backend's own gather, then every array of the batch permuted by the same rows, row by row
 * with the backend's copy (so it works in device memory and inside a captured CUDA step). */

static const BackendOps *base_ops;
static BackendOps permuted_ops;
static int order_rotate, order_reverse;
static int g_S, g_A;   /* the dataset's state and action widths: a Batch's row sizes */
static float *g_tmp;   /* backend memory for one array of the batch */

static void permute_rows(Backend *b, float *base, int width, int rows) {
    for (int i = 0; i < rows; i++) {
        int from = order_reverse ? rows - 1 - i : (i + order_rotate) % rows;
        base_ops->copy(b, g_tmp + (size_t)i * width, base + (size_t)from * width, width);
    }
    base_ops->copy(b, base, g_tmp, (int64_t)rows * width);
}

static void permuted_sample(Backend *b, Replay *r, const SamplingArgs *a, const StepScalars *sc, Batch *out) {
    base_ops->sample_batch(b, r, a, sc, out);
    int B = out->rows;
    permute_rows(b, out->state, out->state_ld, B);  /* whole rows, padding included */
    permute_rows(b, out->next_state, out->state_ld, B);
    permute_rows(b, out->state_action, out->state_action_ld, B);
    permute_rows(b, out->action, g_A, B);
    permute_rows(b, out->reward, 1, B);
    permute_rows(b, out->terminal, 1, B);
    permute_rows(b, (float *)out->index, 1, B);  /* 4-byte elements: copied as they are */
}

/* ---- one run -------------------------------------------------------------------------------------- */

typedef struct {
    float *buf[BUFFERS];  /* member view: params, target (q span), adam_m, adam_v */
} State;

static int train_once(const Config *cfg, DeviceKind device, const Dataset *d, const ModelLayout *single, int rotate,
                      int reverse, int permuted, State *out, Error *err) {
    BackendOptions bopt = {.threads = 1, .precision = cfg->precision, .use_graphs = 1};
    Backend *b = backend_select(device, &bopt, NULL, 0, err);
    if (!b) return -1;
    base_ops = b->ops;
    permuted_ops = *base_ops;
    permuted_ops.sample_batch = permuted_sample;
    order_rotate = rotate;
    order_reverse = reverse;
    g_S = d->obs_dim;
    g_A = d->act_dim;
    /* room for the widest array: state_action's padded rows (≤ S + A + 3) */
    g_tmp = base_ops->alloc(b, sizeof(float) * (size_t)cfg->batch_size * (g_S + g_A + 4), err);
    if (!g_tmp) return -1;
    if (permuted) b->ops = &permuted_ops;  /* the backend's own state is untouched */
    MemberSpec m = {.tau = cfg->tau, .beta = cfg->beta, .seed = cfg->seed};
    ReplaySource src = {.n = d->n, .n_states = d->n_states, .obs_dim = d->obs_dim, .act_dim = d->act_dim,
                        .states = d->states, .state_row = d->state_row, .next_row = d->next_row,
                        .actions = d->actions, .rewards = d->rewards, .terminals = d->terminals};
    IqlState *s = iql_create(b, cfg, &m, 1, &src, err);
    int rc = s ? 0 : -1;
    for (int64_t k = 0; !rc && k < cfg->steps; k++) iql_step(s);
    for (int i = 0; !rc && i < BUFFERS; i++)
        if (!(out->buf[i] = malloc(sizeof(float) * single->n_params))) rc = error_set(err, "out of memory");
    if (!rc) rc = iql_get_member(s, 0, out->buf[0], out->buf[1], out->buf[2], out->buf[3], err);
    iql_destroy(s);
    b->ops = base_ops;
    base_ops->release(b, g_tmp);
    base_ops->destroy(b);
    return rc;
}

static void state_free(State *s) {
    for (int i = 0; i < BUFFERS; i++) free(s->buf[i]);
}

/* ‖a − b‖ / ‖b‖ over [begin, end), in double (0 when both are 0). */
static double rel(const float *a, const float *b, size_t begin, size_t end) {
    double num = 0, den = 0;
    for (size_t i = begin; i < end; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    if (!isfinite(num)) return INFINITY;
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* The (buffer, network) groups: the target buffer holds the critics only, from offset 0. */
static int group_span(const ModelLayout *L, int buffer, int net, size_t *begin, size_t *end) {
    if (buffer == 1) {
        if (net != NET_Q) return 0;
        *begin = 0;
        *end = model_target_size(L);
        return 1;
    }
    *begin = L->net[net].begin;
    *end = L->net[net].end;
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: dp_orders CONFIG DATASET REF.h5 CANDIDATE.h5... [--device cpu|cuda] [--set KEY=VALUE]...\n");
        return 2;
    }
    Error err = {{0}};
    Config cfg;
    config_defaults(&cfg);
    int first_option = argc;  /* candidates end at the first option */
    for (int i = 4; i < argc; i++)
        if (!strncmp(argv[i], "--", 2)) {
            first_option = i;
            break;
        }
    if (config_load_file(&cfg, argv[1], &err)) goto fail;
    snprintf(cfg.dataset, sizeof cfg.dataset, "%s", argv[2]);
    DeviceKind device = DEVICE_CPU;
    for (int i = first_option; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--device")) device = !strcmp(argv[i + 1], "cuda") ? DEVICE_CUDA : DEVICE_CPU;
        else if (!strcmp(argv[i], "--set")) {
            if (config_set_assignment(&cfg, argv[i + 1], &err)) goto fail;
        } else {
            error_set(&err, "unknown option %s", argv[i]);
            goto fail;
        }
    }
    if (config_validate(&cfg, &err)) goto fail;

    Dataset d;
    DataPrep prep = {.normalize_states = cfg.normalize_states, .reward_transform = cfg.reward_transform,
                     .reward_scale = cfg.reward_scale, .reward_shift = cfg.reward_shift};
    if (dataset_load(cfg.dataset, &d, &err) || dataset_preprocess(&d, &prep, &err)) goto fail;
    ModelLayout single;
    if (model_layout_init(&single, 1, d.obs_dim, d.act_dim, cfg.hidden, cfg.n_hidden, &err)) goto fail;

    State base = {{0}}, orders[ORDERS] = {{{0}}};
    int B = cfg.batch_size;
    const int rotations[ORDERS] = {B / 4, B / 2, 3 * B / 4, 0}, reversed[ORDERS] = {0, 0, 0, 1};
    if (train_once(&cfg, device, &d, &single, 0, 0, 0, &base, &err)) goto fail;
    for (int o = 0; o < ORDERS; o++)
        if (train_once(&cfg, device, &d, &single, rotations[o], reversed[o], 1, &orders[o], &err)) goto fail;

    /* The spread per group: the largest distance of a reordering from the unpermuted run. */
    double spread[BUFFERS][NET_COUNT] = {{0}};
    for (int bf = 0; bf < BUFFERS; bf++)
        for (int n = 0; n < NET_COUNT; n++) {
            size_t lo, hi;
            if (!group_span(&single, bf, n, &lo, &hi)) continue;
            for (int o = 0; o < ORDERS; o++) {
                double r = rel(orders[o].buf[bf], base.buf[bf], lo, hi);
                if (r > spread[bf][n]) spread[bf][n] = r;
            }
            fprintf(stderr, "dp_orders: spread of %s/%s over %d orders: %.3g\n", buffer_names[bf], net_names[n],
                    ORDERS, spread[bf][n]);
        }

    State ref = {{0}};
    for (int i = 0; i < BUFFERS; i++)
        if (!(ref.buf[i] = calloc(single.n_params, sizeof(float)))) return 2;
    int has_target = 0, has_opt = 0;
    if (checkpoint_read(argv[3], &single, ref.buf[0], ref.buf[1], ref.buf[2], ref.buf[3], &has_target, &has_opt, &err))
        goto fail;
    int reproduced = has_target && has_opt;
    for (int bf = 0; bf < BUFFERS; bf++) {
        size_t n = bf == 1 ? model_target_size(&single) : single.n_params;
        reproduced &= memcmp(ref.buf[bf], base.buf[bf], n * sizeof(float)) == 0;
    }

    for (int c = 4; c < first_option; c++) {
        State cand = {{0}};
        for (int i = 0; i < BUFFERS; i++)
            if (!(cand.buf[i] = calloc(single.n_params, sizeof(float)))) return 2;
        if (checkpoint_read(argv[c], &single, cand.buf[0], cand.buf[1], cand.buf[2], cand.buf[3], NULL, NULL, &err))
            goto fail;
        double worst = 0;
        char worst_group[64] = "none";
        for (int bf = 0; bf < BUFFERS; bf++)
            for (int n = 0; n < NET_COUNT; n++) {
                size_t lo, hi;
                if (!group_span(&single, bf, n, &lo, &hi)) continue;
                double dist = rel(cand.buf[bf], ref.buf[bf], lo, hi), tol = SAFETY * spread[bf][n];
                /* a group no reordering moves must not move at all */
                double ratio = dist == 0 ? 0 : tol > 0 ? dist / tol : INFINITY;
                fprintf(stderr, "dp_orders: %s %s/%s: distance %.3g, tolerance %.3g\n", argv[c], buffer_names[bf],
                        net_names[n], dist, tol);
                if (ratio > worst || (worst == 0 && ratio > 0)) {
                    worst = ratio;
                    snprintf(worst_group, sizeof worst_group, "%s/%s", buffer_names[bf], net_names[n]);
                }
            }
        printf("{\"candidate\": \"%s\", \"worst_ratio\": %.6g, \"worst\": \"%s\", \"ref_reproduced\": %s}\n", argv[c],
               isinf(worst) ? 1e300 : worst, worst_group, reproduced ? "true" : "false");
        state_free(&cand);
    }
    state_free(&base);
    state_free(&ref);
    for (int o = 0; o < ORDERS; o++) state_free(&orders[o]);
    dataset_free(&d);
    return 0;

fail:
    fprintf(stderr, "dp_orders: %s\n", err.msg);
    return 2;
}
