/* test_model.c — the parameter layout: sizes, member gather/scatter, the aligned packing the
 * backends hold (every tensor on 256 bytes, padded first-layer inputs whose weights stay zero),
 * that the backend's initialisation (through iql_create) equals model_init_host's and depends
 * only on the seed, and that iql_memory_plan counts what iql_create allocates. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "algo/iql.h"
#include "algo/model.h"
#include "test_util.h"

static size_t mlp_size(int in, int out, const int *hidden, int n_hidden, int members) {
    size_t total = 0;
    int w = in;
    for (int l = 0; l <= n_hidden; l++) {
        int o = l < n_hidden ? hidden[l] : out;
        total += (size_t)members * ((size_t)o * w + o);
        w = o;
    }
    return total;
}

/* 1 where a population buffer holds a parameter of some member, 0 at padding. */
static unsigned char *logical_mask(const ModelLayout *pop, int q_only) {
    ModelLayout one;
    model_layout_init(&one, 1, pop->obs_dim, pop->act_dim, pop->hidden, pop->n_hidden, NULL);
    size_t n = q_only ? model_target_size(pop) : pop->n_params, n1 = one.n_params;
    float *buf = calloc(n, sizeof(float)), *ones = malloc(n1 * sizeof(float));
    for (size_t i = 0; i < n1; i++) ones[i] = 1.0f;
    for (int p = 0; p < pop->members; p++) model_member_scatter(pop, p, q_only ? ones + one.net[NET_Q].begin : ones, buf, q_only);
    unsigned char *mask = malloc(n);
    for (size_t i = 0; i < n; i++) mask[i] = buf[i] != 0.0f;
    free(buf), free(ones);
    return mask;
}

/* The aligned packing: where tensors start, the padded first-layer widths, and gather/scatter
 * between it and the packed member view by logical shape. */
static void test_aligned_layout(void) {
    Error err;
    int hidden[] = {7, 5};
    ModelLayout al, packed, one;
    /* S = 17, A = 6: the inputs 17 and 23 pad to 20 and 24; hidden widths 7 and 5 are odd */
    CHECK(model_layout_init_aligned(&al, 3, 17, 6, hidden, 2, &err) == 0, "aligned layout: %s", err.msg);
    model_layout_init(&packed, 3, 17, 6, hidden, 2, &err);
    model_layout_init(&one, 1, 17, 6, hidden, 2, &err);
    CHECK(al.state_ld == 20 && al.state_action_ld == 24, "padded input widths %d, %d", al.state_ld, al.state_action_ld);
    CHECK(packed.state_ld == 17 && packed.state_action_ld == 23 && packed.n_params == packed.n_logical,
          "the packed layout has no padding");
    CHECK(al.n_logical == packed.n_params, "aligned: %zu parameters proper, packed %zu", al.n_logical, packed.n_params);
    for (int n = 0; n < NET_COUNT; n++) {
        const NetLayout *net = &al.net[n];
        CHECK(net->begin % MODEL_ALIGN_FLOATS == 0 && net->end % MODEL_ALIGN_FLOATS == 0, "net %d span aligned", n);
        CHECK(net->ld[0] == (n == NET_Q ? 24 : 20) && net->in[0] == (n == NET_Q ? 23 : 17), "net %d first layer", n);
        for (int l = 0; l < net->n_layers; l++) {
            CHECK(net->weight[l] % MODEL_ALIGN_FLOATS == 0 && net->bias[l] % MODEL_ALIGN_FLOATS == 0,
                  "net %d layer %d: weights at %zu, bias at %zu: not on 256 bytes", n, l, net->weight[l], net->bias[l]);
            CHECK(net->weight_stride[l] % MODEL_VEC_FLOATS == 0 && net->bias_stride[l] % MODEL_VEC_FLOATS == 0 &&
                      net->weight_stride[l] >= (size_t)net->out[l] * net->ld[l] && net->bias_stride[l] >= (size_t)net->out[l],
                  "net %d layer %d: member strides %zu, %zu", n, l, net->weight_stride[l], net->bias_stride[l]);
        }
    }
    CHECK(al.net[NET_POLICY].log_std % MODEL_ALIGN_FLOATS == 0, "log_std aligned");
    CHECK(al.net[NET_POLICY].end == al.net[NET_VALUE].begin && al.net[NET_VALUE].end == al.net[NET_Q].begin &&
              al.net[NET_Q].end == al.n_params, "groups contiguous (padding belongs to the group before it)");

    /* gather(scatter(x)) = x for every member, scatter writes exactly the logical elements, and
     * both packings give a member the same tensors. */
    float *buf = calloc(al.n_params, sizeof(float)), *single = malloc(one.n_params * sizeof(float));
    float *back = malloc(one.n_params * sizeof(float)), *pbuf = calloc(packed.n_params, sizeof(float));
    for (int p = 0; p < 3; p++) {
        for (size_t i = 0; i < one.n_params; i++) single[i] = (float)(p * 1000003 + i + 1);
        model_member_scatter(&al, p, single, buf, 0);
        model_member_scatter(&packed, p, single, pbuf, 0);
        model_member_gather(&al, p, buf, back, 0);
        CHECK(memcmp(single, back, one.n_params * sizeof(float)) == 0, "aligned: gather(scatter(x)) = x, member %d", p);
    }
    size_t nonzero = 0;
    for (size_t i = 0; i < al.n_params; i++) nonzero += buf[i] != 0.0f;
    CHECK(nonzero == al.n_logical, "scatter wrote %zu elements of the aligned buffer, want %zu", nonzero, al.n_logical);
    for (int p = 0; p < 3; p++) {
        model_member_gather(&al, p, buf, single, 0);
        model_member_gather(&packed, p, pbuf, back, 0);
        CHECK(memcmp(single, back, one.n_params * sizeof(float)) == 0, "member %d: same tensors in both packings", p);
    }
    /* the targets (q span only) */
    float *tbuf = calloc(model_target_size(&al), sizeof(float));
    for (size_t i = 0; i < one.n_params; i++) single[i] = (float)(i + 7);
    model_member_scatter(&al, 2, single + one.net[NET_Q].begin, tbuf, 1);
    model_member_gather(&al, 2, tbuf, back + one.net[NET_Q].begin, 1);
    CHECK(memcmp(single + one.net[NET_Q].begin, back + one.net[NET_Q].begin, model_target_size(&one) * sizeof(float)) == 0,
          "aligned targets: gather(scatter(x)) = x");

    /* model_init_host: the same values in both packings, zero padding */
    uint64_t seeds[3] = {3, 1, 4};
    model_init_host(&al, buf, seeds);
    model_init_host(&packed, pbuf, seeds);
    unsigned char *mask = logical_mask(&al, 0);
    int pad_zero = 1;
    for (size_t i = 0; i < al.n_params; i++) pad_zero &= mask[i] || buf[i] == 0.0f;
    CHECK(pad_zero, "model_init_host leaves padding at zero");
    for (int p = 0; p < 3; p++) {
        model_member_gather(&al, p, buf, single, 0);
        model_member_gather(&packed, p, pbuf, back, 0);
        CHECK(memcmp(single, back, one.n_params * sizeof(float)) == 0, "member %d: init equal in both packings", p);
    }
    free(mask), free(buf), free(single), free(back), free(pbuf), free(tbuf);
}

/* A state trained a few steps on the CPU backend: its buffers are in the aligned packing, every
 * padding element of the parameters, gradients, moments and targets is still exactly zero, and
 * the memory plan counts what was allocated. */
static void test_state_padding(IqlState *st, const ModelLayout *packed_pop, const Config *cfg) {
    Error err;
    const ModelLayout *L = iql_layout(st);
    CHECK(L->aligned && L->n_logical == packed_pop->n_params, "the backend holds the aligned packing");
    size_t np = L->n_params, nt = model_target_size(L);
    float *p = malloc(np * sizeof(float)), *m = malloc(np * sizeof(float)), *v = malloc(np * sizeof(float));
    float *t = malloc(nt * sizeof(float));
    CHECK(iql_get_population(st, p, t, m, v, &err) == 0, "population: %s", err.msg);
    unsigned char *mask = logical_mask(L, 0), *tmask = logical_mask(L, 1);
    size_t bad = 0, moved = 0;
    for (size_t i = 0; i < np; i++) {
        if (!mask[i]) bad += p[i] != 0.0f || m[i] != 0.0f || v[i] != 0.0f;
        else moved += m[i] != 0.0f;
    }
    for (size_t i = 0; i < nt; i++) bad += !tmask[i] && t[i] != 0.0f;
    /* m = 0 after steps also says every gradient there was 0 (m accumulates (1 − β1)·g) */
    CHECK(bad == 0, "%zu padding elements became nonzero after training", bad);
    CHECK(moved > L->n_logical / 2, "the parameters proper did train (%zu moments nonzero)", moved);
    free(p), free(m), free(v), free(t), free(mask), free(tmask);

    IqlMemory plan;
    iql_memory_plan(L, cfg->batch_size, cfg->target_update_rate < 1.0, &plan);
    CHECK(plan.total == iql_state_bytes(st), "memory plan %zu bytes, allocated %zu", plan.total, iql_state_bytes(st));
}

int main(void) {
    Error err;
    int hidden[] = {7, 5};
    ModelLayout pop, one;
    CHECK(model_layout_init(&pop, 3, 4, 2, hidden, 2, &err) == 0, "layout: %s", err.msg);
    CHECK(model_layout_init(&one, 1, 4, 2, hidden, 2, &err) == 0, "layout: %s", err.msg);
    /* a state width from a crafted checkpoint: refused before any width sum could overflow int
     * (fuzz_checkpoint found obs_dim 2^31 - 1 + 2 in the aligned layout; tests/fuzz/regressions) */
    ModelLayout huge;
    CHECK(model_layout_init_aligned(&huge, 1, 2147483647, 2, hidden, 2, &err) == -1 && strstr(err.msg, "state dimension"),
          "obs_dim 2^31 - 1 refused: %s", err.msg);
    CHECK(model_layout_init(&huge, 1, MODEL_MAX_INPUT, MODEL_MAX_WIDTH, hidden, 2, &err) == 0, "the widest state: %s",
          err.msg);
    size_t want = mlp_size(4, 2, hidden, 2, 3) + 3 * 2 + mlp_size(4, 1, hidden, 2, 3) + mlp_size(6, 1, hidden, 2, 6);
    CHECK(pop.n_params == want, "n_params %zu, want %zu", pop.n_params, want);
    CHECK(pop.net[NET_POLICY].begin == 0 && pop.net[NET_POLICY].end == pop.net[NET_VALUE].begin &&
          pop.net[NET_VALUE].end == pop.net[NET_Q].begin && pop.net[NET_Q].end == pop.n_params,
          "groups are contiguous in the order policy, value, q");
    CHECK(pop.net[NET_Q].members == 6 && pop.net[NET_Q].in[0] == 6, "critics: 2P members on concat(s, a)");
    CHECK(model_layout_init(&pop, 1, 4, 2, (int[]){0}, 1, &err) != 0, "a zero-width layer is refused");
    CHECK(model_layout_init(&pop, 3, 4, 2, hidden, 2, &err) == 0, "layout again");

    /* gather(scatter(x)) = x, and scatter touches only the member's own slices */
    float *buf = malloc(pop.n_params * sizeof(float)), *single = malloc(one.n_params * sizeof(float));
    float *back = malloc(one.n_params * sizeof(float));
    for (size_t i = 0; i < pop.n_params; i++) buf[i] = (float)i;
    for (size_t i = 0; i < one.n_params; i++) single[i] = -1.0f - (float)i;
    model_member_scatter(&pop, 1, single, buf, 0);
    model_member_gather(&pop, 1, buf, back, 0);
    CHECK(memcmp(single, back, one.n_params * sizeof(float)) == 0, "gather(scatter(x)) = x");
    size_t touched = 0;
    for (size_t i = 0; i < pop.n_params; i++) touched += buf[i] < 0;
    CHECK(touched == one.n_params, "scatter wrote %zu values, want %zu", touched, one.n_params);
    model_member_gather(&pop, 0, buf, back, 0);
    CHECK(back[0] == 0.0f, "member 0 untouched");

    /* The backend's initialisation equals model_init_host, member by member, and a member's
     * weights depend on its seed only (member 2 with seed 9 = a single run with seed 9). */
    Config cfg;
    config_defaults(&cfg);
    config_set(&cfg, "hidden", "[7,5]", &err);
    config_set(&cfg, "target_update_rate", "0.05", &err);  /* a target network: its padding too */
    float states[8 * 4], actions[8 * 2], rewards[8], terms[8] = {0};
    for (int i = 0; i < 32; i++) states[i] = (float)sin(0.7 * i);  /* nonzero inputs: every weight trains */
    for (int i = 0; i < 16; i++) actions[i] = (float)cos(0.3 * i);
    for (int i = 0; i < 8; i++) rewards[i] = (float)(i % 3) - 1.0f;
    uint32_t rows[8] = {0, 1, 2, 3, 4, 5, 6, 7}, next[8] = {1, 2, 3, 4, 5, 6, 7, 7};
    ReplaySource src = {.n = 8, .n_states = 8, .obs_dim = 4, .act_dim = 2, .states = states, .state_row = rows,
                        .next_row = next, .actions = actions, .rewards = rewards, .terminals = terms};
    BackendOptions bopt = {.threads = 1};
    Backend *b = cpu_backend_create(&bopt, &err);
    MemberSpec specs[3] = {{0.7, 2, 1}, {0.8, 3, 4}, {0.9, 1, 9}};
    IqlState *st = iql_create(b, &cfg, specs, 3, &src, &err);
    CHECK(st != NULL, "iql_create: %s", err.msg);
    uint64_t seeds[3] = {1, 4, 9};
    float *host = malloc(pop.n_params * sizeof(float));
    model_init_host(&pop, host, seeds);
    float *from_backend = malloc(one.n_params * sizeof(float)), *expect = malloc(one.n_params * sizeof(float));
    for (int p = 0; p < 3 && st; p++) {
        iql_get_member(st, p, from_backend, NULL, NULL, NULL, &err);
        model_member_gather(&pop, p, host, expect, 0);
        CHECK(memcmp(from_backend, expect, one.n_params * sizeof(float)) == 0, "member %d: backend init = host init", p);
    }
    float *alone = malloc(one.n_params * sizeof(float));
    model_init_host(&one, alone, &seeds[2]);
    model_member_gather(&pop, 2, host, expect, 0);
    CHECK(memcmp(alone, expect, one.n_params * sizeof(float)) == 0, "a member's init depends only on its seed");
    float bound = 1.0f / sqrtf(4.0f);
    int in_bounds = 1;
    for (size_t i = one.net[NET_POLICY].weight[0]; i < one.net[NET_POLICY].bias[0]; i++)
        in_bounds &= alone[i] >= -bound && alone[i] <= bound;
    CHECK(in_bounds, "first-layer weights within ±1/sqrt(fan_in)");
    CHECK(alone[one.net[NET_POLICY].log_std] == 0.0f, "log_std starts at 0");

    /* The profiled step (eager, a time stamp between phases) is the same update as iql_step. */
    IqlState *other = iql_create(b, &cfg, specs, 3, &src, &err);
    CHECK(other != NULL, "second state: %s", err.msg);
    double seconds[IQL_PHASE_COUNT] = {0};
    for (int i = 0; i < 3 && st && other; i++) {
        iql_step(st);
        CHECK(iql_profile_step(other, seconds, &err) == 0, "profile step: %s", err.msg);
    }
    size_t backend_np = st ? iql_layout(st)->n_params : 0;
    float *pa = malloc(backend_np * sizeof(float) + 1), *pb = malloc(backend_np * sizeof(float) + 1);
    if (st && other) {
        iql_get_population(st, pa, NULL, NULL, NULL, &err);
        iql_get_population(other, pb, NULL, NULL, NULL, &err);
        CHECK(memcmp(pa, pb, backend_np * sizeof(float)) == 0, "profiled steps equal iql_step bit for bit");
        double total = 0;
        for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) total += seconds[ph];
        int each_timed = 1;
        for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) each_timed &= seconds[ph] >= 0;
        CHECK(total > 0 && each_timed, "phases were timed");
    }
    free(pa), free(pb);
    if (st) test_state_padding(st, &pop, &cfg);
    iql_destroy(other);
    iql_destroy(st);
    b->ops->destroy(b);
    test_aligned_layout();
    free(buf), free(single), free(back), free(host), free(from_backend), free(expect), free(alone);
    return test_finish("model_layout", 0);
}
