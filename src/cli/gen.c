/* gen.c — `cuiql gen`: a D4RL-layout dataset from a built-in environment and behaviour. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "cli/commands.h"
#include "cuiql/error.h"
#include "data/d4rl_write.h"  /* defines: d4rl_write */
#include "env/env.h"
#include "env/generate.h"     /* defines: env_generate */

int gen_data_write(const char *path, const GenData *d, const char *env_name, const char *behavior, uint64_t seed,
                   Error *err) {
    const D4rlAttr attrs[] = {
        {"env", env_name, 0}, {"behavior", behavior, 0}, {"seed", NULL, (int64_t)seed}, {"episodes", NULL, d->episodes},
    };
    D4rlArrays arrays = {
        .obs_dim = d->obs_dim, .act_dim = d->act_dim, .n = d->n, .observations = d->observations,
        .actions = d->actions, .rewards = d->rewards, .next_observations = d->next_observations,
        .terminals = d->terminals, .timeouts = d->timeouts, .attrs = attrs, .n_attrs = 4,
    };
    return d4rl_write(path, &arrays, err);
}

static void gen_usage(FILE *out) {
    fprintf(out,
            "usage: cuiql gen --env NAME --behavior NAME --episodes N --out FILE [--seed S]\n"
            "\n"
            "Runs N episodes of a behaviour in a built-in environment and writes them as a D4RL-layout\n"
            "HDF5 file (observations, actions, rewards, next_observations, terminals, timeouts).\n"
            "The same arguments always give the same data.\n"
            "\n"
            "  --env NAME        environment:\n");
    for (int i = 0; i < env_count(); i++) fprintf(out, "                      %-12s %s\n", env_at(i)->name, env_at(i)->summary);
    fprintf(out,
            "  --behavior NAME   random | expert | noisy-expert (expert + N(0, (%.1f·max_action)²)) |\n"
            "                    mixed (pendulum, mountaincar: 1 in %d episodes noisy-expert, the rest random;\n"
            "                    pointmaze: short noisy segments along the corridor, never start to goal)\n"
            "  --episodes N      number of episodes (segments for pointmaze mixed)\n"
            "  --out FILE        output file (written to FILE.tmp, then renamed)\n"
            "  --seed S          random seed (default 0)\n"
            "\n"
            "Details: docs/environments.md\n",
            GEN_NOISE_STD, GEN_MIXED_PERIOD);
}

int cmd_gen(int argc, char **argv) {
    const char *env_name = NULL, *behavior = NULL, *out_path = NULL, *episodes_arg = NULL;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            gen_usage(stdout);
            return 0;
        }
        const char **slot = !strcmp(a, "--env") ? &env_name : !strcmp(a, "--behavior") ? &behavior
                          : !strcmp(a, "--out") ? &out_path : !strcmp(a, "--episodes") ? &episodes_arg : NULL;
        int is_seed = !strcmp(a, "--seed");
        if (!slot && !is_seed) {
            fprintf(stderr, "cuiql gen: unknown option '%s' (try 'cuiql gen --help')\n", a);
            return 1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "cuiql gen: %s needs a value\n", a);
            return 1;
        }
        const char *v = argv[++i];
        if (is_seed) {
            if (parse_uint64(v, &seed) != 0) {
                fprintf(stderr, "cuiql gen: --seed: expected a non-negative integer, got '%s'\n", v);
                return 1;
            }
        } else {
            *slot = v;
        }
    }
    const char *missing = !env_name ? "--env" : !behavior ? "--behavior" : !episodes_arg ? "--episodes"
                        : !out_path ? "--out" : NULL;
    if (missing) {
        fprintf(stderr, "cuiql gen: %s is required (try 'cuiql gen --help')\n", missing);
        return 1;
    }
    uint64_t episodes;
    if (parse_uint64(episodes_arg, &episodes) != 0 || episodes < 1 || episodes > 100000000) {
        fprintf(stderr, "cuiql gen: --episodes: expected an integer from 1 to 100000000, got '%s'\n", episodes_arg);
        return 1;
    }

    Error err;
    const Env *env = env_find(env_name, &err);
    Behavior b;
    if (!env || behavior_from_name(behavior, &b, &err) != 0) {
        fprintf(stderr, "cuiql gen: %s\n", err.msg);
        return 1;
    }
    GenData d;
    if (env_generate(env, b, (int)episodes, seed, &d, &err) != 0 ||
        gen_data_write(out_path, &d, env->name, behavior_name(b), seed, &err) != 0) {
        gen_data_free(&d);
        fprintf(stderr, "cuiql gen: %s\n", err.msg);
        return 1;
    }

    double mean = 0, m2 = 0;
    int successes = 0;
    for (int e = 0; e < d.episodes; e++) {
        double delta = d.episode_return[e] - mean;
        mean += delta / (e + 1);
        m2 += delta * (d.episode_return[e] - mean);
        successes += d.episode_success[e];
    }
    int64_t terminals = 0, timeouts = 0;
    for (int64_t i = 0; i < d.n; i++) {
        terminals += d.terminals[i];
        timeouts += d.timeouts[i];
    }
    printf("%s: %s/%s, seed %" PRIu64 ": %d episodes, %lld transitions (%lld terminals, %lld timeouts)\n", out_path,
           env->name, behavior_name(b), seed, d.episodes, (long long)d.n, (long long)terminals, (long long)timeouts);
    printf("episode return: %.4f ± %.4f (normalized %.2f)", mean, sqrt(m2 / d.episodes),
           env_normalized_score(env, mean));
    if (env->has_success) printf(", success rate %.3f", (double)successes / d.episodes);
    printf("\n");
    gen_data_free(&d);
    return 0;
}
