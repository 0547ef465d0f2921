/* test_sweep_memory.c — the memory estimate a sweep plans its groups with (run/sweep_memory.h)
 * against what iql_create really asks the backend for: the CPU backend with its alloc counted,
 * for populations of 1 and 3 members, with and without target critics, two network shapes.
 *
 * The estimate is written apart from src/algo/iql_setup.c; when that file changes what it
 * allocates per member, this test says whether the estimate still holds: never below the real
 * figure (a plan would overfill the device) nor far above it (groups smaller than needed). */
#include <stdio.h>
#include <string.h>

#include "algo/iql.h"
#include "run/sweep_memory.h"
#include "test_util.h"

static BackendOps counting_ops;
static const BackendOps *real_ops;
static size_t allocated;

static void *counting_alloc(Backend *b, size_t bytes, Error *err) {
    allocated += bytes;
    return real_ops->alloc(b, bytes, err);
}

/* Bytes a population of P asks the backend for. */
static size_t population_bytes(Backend *b, const Config *cfg, int P, const ReplaySource *src) {
    MemberSpec specs[3] = {{0.7, 2, 0}, {0.8, 3, 1}, {0.9, 1, 2}};
    Error err;
    allocated = 0;
    IqlState *s = iql_create(b, cfg, specs, P, src, &err);
    CHECK(s != NULL, "iql_create: %s", err.msg);
    iql_destroy(s);
    return allocated;
}

int main(void) {
    enum { N = 64, S = 5, A = 3 };
    static float states[(N + 1) * S], actions[N * A], rewards[N], terms[N];
    static uint32_t rows[N], next[N];
    for (int i = 0; i < N; i++) rows[i] = (uint32_t)i, next[i] = (uint32_t)i + 1;
    ReplaySource src = {.n = N, .n_states = N + 1, .obs_dim = S, .act_dim = A, .states = states, .state_row = rows,
                        .next_row = next, .actions = actions, .rewards = rewards, .terminals = terms};
    Error err;
    BackendOptions bopt = {.threads = 1};
    Backend *b = cpu_backend_create(&bopt, &err);
    if (!b) {
        fprintf(stderr, "cpu backend: %s\n", err.msg);
        return 1;
    }
    real_ops = b->ops;
    counting_ops = *b->ops;
    counting_ops.alloc = counting_alloc;
    b->ops = &counting_ops;

    const char *hiddens[] = {"[32,32]", "[24,40,16]"};
    for (int h = 0; h < 2; h++)
        for (int use_target = 0; use_target < 2; use_target++) {
            Config cfg;
            config_defaults(&cfg);
            config_set(&cfg, "hidden", hiddens[h], &err);
            config_set(&cfg, "batch_size", "48", &err);
            config_set(&cfg, "target_update_rate", use_target ? "0.005" : "1", &err);
            ModelLayout single;
            CHECK(model_layout_init(&single, 1, S, A, cfg.hidden, cfg.n_hidden, &err) == 0, "layout: %s", err.msg);
            size_t one = population_bytes(b, &cfg, 1, &src), three = population_bytes(b, &cfg, 3, &src);
            size_t real_member = (three - one) / 2, real_fixed = one - real_member;
            size_t est_member = sweep_member_bytes(&single, cfg.batch_size, use_target);
            size_t est_fixed = sweep_population_bytes(&single, cfg.batch_size, use_target);
            printf("hidden %s, targets %d: per member %zu bytes (estimate %zu), fixed %zu (estimate %zu)\n",
                   hiddens[h], use_target, real_member, est_member, real_fixed, est_fixed);
            CHECK(est_member >= real_member && est_member <= real_member + real_member / 4,
                  "per-member estimate %zu within [1, 1.25] x what iql_setup.c allocates, %zu: keep "
                  "iql_memory_plan in step with alloc_buffers", est_member, real_member);
            CHECK(est_fixed + est_member >= one, "one member: estimate %zu >= %zu allocated", est_fixed + est_member, one);
            CHECK(3 * est_member + est_fixed >= three, "three members: estimate >= %zu allocated", three);
        }
    b->ops = real_ops;
    b->ops->destroy(b);
    return test_finish("sweep_memory", 0);
}
