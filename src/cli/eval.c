/* eval.c — `cuiql eval`: a checkpoint's policy in a built-in environment. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "algo/config.h"
#include "base/parse.h"
#include "cli/commands.h"
#include "checkpoint/checkpoint.h"  /* defines: checkpoint_layout_from_file, checkpoint_read */
#include "cuiql/error.h"
#include "env/env.h"
#include "env/evaluate.h"            /* defines: env_evaluate */
#include "run/policy.h"              /* defines: model_policy */

static void eval_usage(FILE *out) {
    fprintf(out,
            "usage: cuiql eval --checkpoint CKPT [--env NAME] [--episodes N] [--seed S]\n"
            "\n"
            "Runs the checkpoint's policy (its deterministic mean action on the state normalised as in\n"
            "training) in a built-in environment and prints the mean return and the normalised score\n"
            "(0 = random behaviour, 100 = the scripted expert).\n"
            "\n"
            "  --checkpoint CKPT  checkpoint file written by `cuiql train`\n"
            "  --env NAME         environment (default: the `env` its run was trained with):");
    for (int i = 0; i < env_count(); i++) fprintf(out, "%s %s", i ? "," : "", env_at(i)->name);
    fprintf(out,
            "\n"
            "  --episodes N       episodes to average (default 10)\n"
            "  --seed S           seed of the episodes' start states (default 0)\n"
            "\n"
            "For gymnasium / MuJoCo environments use tools/gym_eval.py.\n");
}

/* The environment the checkpoint's run was trained with: its `config` attribute (the run's
 * resolved YAML), else the config.yaml beside it; an error naming both when neither says. */
static int eval_recorded_env(const char *ckpt, const char *config_yaml, char *buf, size_t len, const char **from,
                             Error *err) {
    Config cfg;
    config_defaults(&cfg);
    if (config_yaml && config_load_string(&cfg, config_yaml, strlen(config_yaml), "its config attribute", NULL,
                                          err) != 0)
        return error_prefix(err, "%s", ckpt);
    *from = "recorded in the checkpoint's config";
    if (!config_yaml) {
        char path[4096];
        const char *slash = strrchr(ckpt, '/');
        int dir_len = slash ? (int)(slash - ckpt) : 1;
        snprintf(path, sizeof path, "%.*s/config.yaml", dir_len, slash ? ckpt : ".");
        if (access(path, R_OK) == 0 && config_load_file(&cfg, path, err) != 0) return -1;
        *from = "recorded in the run's config.yaml";
    }
    if (!cfg.env[0]) {
        char names[128] = "";
        for (int i = 0; i < env_count(); i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "|" : "", env_at(i)->name);
        return error_set(err, "%s: its run recorded no env (its config's env is \"\"); give --env %s", ckpt, names);
    }
    snprintf(buf, len, "%s", cfg.env);
    return 0;
}

int cmd_eval(int argc, char **argv) {
    const char *ckpt = NULL, *env_name = NULL;
    uint64_t episodes = 10, seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            eval_usage(stdout);
            return 0;
        }
        int known = !strcmp(a, "--checkpoint") || !strcmp(a, "--env") || !strcmp(a, "--episodes") ||
                    !strcmp(a, "--seed");
        if (!known) {
            fprintf(stderr, "cuiql eval: unknown option '%s' (try 'cuiql eval --help')\n", a);
            return 1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "cuiql eval: %s needs a value\n", a);
            return 1;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--checkpoint")) {
            ckpt = v;
        } else if (!strcmp(a, "--env")) {
            env_name = v;
        } else if (!strcmp(a, "--episodes")) {
            if (parse_uint64(v, &episodes) != 0 || episodes < 1 || episodes > 10000000) {
                fprintf(stderr, "cuiql eval: --episodes: expected an integer from 1 to 10000000, got '%s'\n", v);
                return 1;
            }
        } else if (parse_uint64(v, &seed) != 0) {
            fprintf(stderr, "cuiql eval: --seed: expected a non-negative integer, got '%s'\n", v);
            return 1;
        }
    }
    if (!ckpt) {
        fprintf(stderr, "cuiql eval: --checkpoint is required (try 'cuiql eval --help')\n");
        return 1;
    }

    Error err;
    ModelLayout single;
    CheckpointMeta meta;
    if (checkpoint_layout_from_file(ckpt, &single, &meta, &err) != 0) {
        fprintf(stderr, "cuiql eval: %s\n", err.msg);
        return 1;
    }
    char recorded[64];
    const char *from = "--env";
    if (!env_name) {
        if (eval_recorded_env(ckpt, meta.config_yaml, recorded, sizeof recorded, &from, &err) != 0) {
            fprintf(stderr, "cuiql eval: %s\n", err.msg);
            checkpoint_meta_free(&meta);
            return 1;
        }
        env_name = recorded;
    }
    const Env *env = env_find(env_name, &err);
    if (!env) {
        fprintf(stderr, "cuiql eval: %s%s\n", err.msg, env_name == recorded ? " (the env its run recorded)" : "");
        checkpoint_meta_free(&meta);
        return 1;
    }
    float *params = malloc(sizeof(float) * single.n_params);
    int rc = 0;
    EvalResult res;
    ModelPolicy mp = {.layout = &single, .params = params, .member = 0, .state_mean = meta.state_mean,
                      .state_std = meta.state_std, .max_action = (float)meta.max_action};
    Policy policy;
    if (!params) {
        rc = error_set(&err, "out of memory for %zu parameters", single.n_params);
    } else if (checkpoint_read(ckpt, &single, params, NULL, NULL, NULL, NULL, NULL, &err) != 0) {
        rc = -1;
    } else if (model_policy(&mp, &policy, &err) != 0 ||
               env_evaluate(env->name, &policy, (int)episodes, seed, &res, &err) != 0) {
        rc = error_prefix(&err, "%s", ckpt);
    }
    free(params);
    checkpoint_meta_free(&meta);
    if (rc != 0) {
        fprintf(stderr, "cuiql eval: %s\n", err.msg);
        return 1;
    }
    printf("env: %s (%s)\n", env->name, from);
    printf("return: %.4f ± %.4f over %d episodes (mean length %.1f", res.mean_return, res.std_return, res.episodes,
           res.mean_length);
    if (res.has_success) printf(", success rate %.3f", res.success_rate);
    printf(")\n");
    printf("normalized score: %.2f (random %.10g, expert %.10g)\n", res.normalized_score, res.random_return,
           res.expert_return);
    return 0;
}
