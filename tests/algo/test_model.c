/* test_model.c — the parameter layout: sizes, member gather/scatter, and that the backend's
 * initialisation (through iql_create) equals model_init_host's and depends only on the seed. */
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

int main(void) {
    Error err;
    int hidden[] = {7, 5};
    ModelLayout pop, one;
    CHECK(model_layout_init(&pop, 3, 4, 2, hidden, 2, &err) == 0, "layout: %s", err.msg);
    CHECK(model_layout_init(&one, 1, 4, 2, hidden, 2, &err) == 0, "layout: %s", err.msg);
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
    float states[8 * 4] = {0}, actions[8 * 2] = {0}, rewards[8] = {0}, terms[8] = {0};
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
    float *pa = malloc(pop.n_params * sizeof(float)), *pb = malloc(pop.n_params * sizeof(float));
    if (st && other) {
        iql_get_population(st, pa, NULL, NULL, NULL, &err);
        iql_get_population(other, pb, NULL, NULL, NULL, &err);
        CHECK(memcmp(pa, pb, pop.n_params * sizeof(float)) == 0, "profiled steps equal iql_step bit for bit");
        double total = 0;
        for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) total += seconds[ph];
        int each_timed = 1;
        for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) each_timed &= seconds[ph] >= 0;
        CHECK(total > 0 && each_timed, "phases were timed");
    }
    free(pa), free(pb);
    iql_destroy(other);
    iql_destroy(st);
    b->ops->destroy(b);
    free(buf), free(single), free(back), free(host), free(from_backend), free(expect), free(alone);
    return test_finish("model_layout", 0);
}
