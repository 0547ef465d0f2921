/* env_trace.c — test helper: prints a built-in environment's trajectory for a given start state
 * and action sequence, so tests/env/test_gym_match.py can replay it in gymnasium.
 *
 *   env_trace ENV --reset SEED EPISODE   prints the physical start state that episode EPISODE of
 *                                        an evaluation with SEED gets ("state x0 x1 ...", %.17g)
 *   env_trace ENV X0 X1 ... < actions    starts from state (X0, X1, ...), reads act_dim numbers per
 *                                        step from stdin until EOF, and prints
 *                                          "obs o0 o1 ..."                                (start)
 *                                          "step o0 o1 ... reward terminated truncated"   (each step)
 * Exit status 0, or 2 with a message on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/env.h"

static void print_obs(const Env *env, const EnvState *st) {
    float obs[ENV_MAX_DIM];
    env->observe(st, obs);
    for (int j = 0; j < env->obs_dim; j++) printf(" %.9g", obs[j]);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: env_trace ENV (--reset SEED EPISODE | X0 X1 ...) < actions\n");
        return 2;
    }
    Error err;
    const Env *env = env_find(argv[1], &err);
    if (!env) {
        fprintf(stderr, "env_trace: %s\n", err.msg);
        return 2;
    }
    EnvState st;
    memset(&st, 0, sizeof st);
    if (!strcmp(argv[2], "--reset")) {
        if (argc != 5) {
            fprintf(stderr, "env_trace: --reset takes SEED EPISODE\n");
            return 2;
        }
        EnvRng rng;
        env_rng_init(&rng, strtoull(argv[3], NULL, 10), ENV_STREAM_EVAL, strtoull(argv[4], NULL, 10));
        env->reset(&st, &rng);
        printf("state");
        for (int j = 0; j < env->state_dim; j++) printf(" %.17g", st.x[j]);
        printf("\n");
        return 0;
    }
    if (argc != 2 + env->state_dim) {
        fprintf(stderr, "env_trace: %s has a %d-dimensional state, got %d numbers\n", env->name, env->state_dim,
                argc - 2);
        return 2;
    }
    for (int j = 0; j < env->state_dim; j++) {
        char *end;
        st.x[j] = strtod(argv[2 + j], &end);
        if (*end) {
            fprintf(stderr, "env_trace: not a number: '%s'\n", argv[2 + j]);
            return 2;
        }
    }
    printf("obs");
    print_obs(env, &st);
    printf("\n");
    for (;;) {
        float action[ENV_MAX_DIM];
        int got = 0;
        for (int j = 0; j < env->act_dim; j++) got += scanf("%f", &action[j]) == 1;
        if (got == 0) break;
        if (got != env->act_dim) {
            fprintf(stderr, "env_trace: a step needs %d action values\n", env->act_dim);
            return 2;
        }
        EnvStep r;
        env_step(env, &st, action, &r);
        printf("step");
        print_obs(env, &st);
        printf(" %.17g %d %d\n", r.reward, r.terminated, r.truncated);
    }
    return 0;
}
