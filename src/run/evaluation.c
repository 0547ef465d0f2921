/* evaluation.c — scoring every member of the population in the run's evaluation environment:
 * a built-in one (env/) on the host, now, from one download of the parameters; or a gymnasium
 * one through the bridge (gym_eval.c), whose results arrive while training goes on. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env/env.h"
#include "env/evaluate.h"
#include "run/data_parallel.h"
#include "run/policy.h"
#include "run/run_state.h"

#define GYM_PREFIX "gym:"

const char *run_eval_name(const Run *run) {
    return run->cfg->env[0] ? run->cfg->env : run->cfg->eval_env;
}

int run_eval_enabled(const Run *run) { return run->eval_builtin || run->gym; }

static int check_builtin(Run *run, const char *key, const char *name, Error *err) {
    const Env *env = env_find(name, err);
    if (!env)
        return error_prefix(err, "config '%s'%s", key, !strcmp(key, "eval_env") ? " (gymnasium: gym:<id>)" : "");
    if (env->obs_dim != run->data.obs_dim || env->act_dim != run->data.act_dim)
        return error_set(err, "config '%s': %s has %d-dimensional states and %d-dimensional actions, the dataset %d and %d",
                         key, name, env->obs_dim, env->act_dim, run->data.obs_dim, run->data.act_dim);
    run->eval_builtin = env->name;
    return 0;
}

int run_eval_prepare(Run *run, Error *err) {
    const Config *c = run->cfg;
    run->eval_step = -1;
    int gym = !strncmp(c->eval_env, GYM_PREFIX, strlen(GYM_PREFIX));
    if (c->eval_ref_scores[0] && !gym)
        return error_set(err, "config 'eval_ref_scores' (%s) scores a gymnasium evaluation, but eval_env is not gym:<id>",
                         c->eval_ref_scores);
    if (!c->env[0] && !c->eval_env[0]) return 0;
    if (c->env[0] && c->eval_env[0])
        return error_set(err, "config: 'env' (%s) and 'eval_env' (%s) both name an evaluation environment; set one "
                         "(eval_env takes built-in names too)", c->env, c->eval_env);
    /* [n_all]: a group of the population (run->P of them) uses the first P */
    if (!(run->eval_returns = calloc((size_t)run->n_all * 2 + 2, sizeof(double))))
        return error_set(err, "out of host memory");
    run->eval_scores = run->eval_returns + run->n_all + 1;
    if (c->env[0]) return check_builtin(run, "env", c->env, err);
    if (!gym) return check_builtin(run, "eval_env", c->eval_env, err);
    const char *id = c->eval_env + strlen(GYM_PREFIX);
    if (!id[0]) return error_set(err, "config 'eval_env': '%s' names no gymnasium environment (gym:Hopper-v5)", c->eval_env);
    if (!dp_is_writer(run)) return 0;  /* data parallel: rank 0 alone evaluates */
    return gym_eval_start(run, id, err);
}

/* A fixed seed for evaluation episodes, apart from the training seed's own streams. */
#define EVAL_SEED_OFFSET 1000003

uint64_t run_eval_seed(const Run *run) { return run->cfg->seed + EVAL_SEED_OFFSET; }

static int evaluate_builtin(Run *run, int64_t step, Error *err) {
    const Config *c = run->cfg;
    if (iql_get_population(run->iql, run->pop_params, NULL, NULL, NULL, err)) return -1;
    for (int p = 0; p < run->P; p++) {
        model_member_gather(iql_layout(run->iql), p, run->pop_params, run->params, 0);
        ModelPolicy mp = {.layout = &run->single, .params = run->params, .member = 0, .state_mean = run->data.state_mean,
                          .state_std = run->data.state_std, .max_action = (float)c->max_action};
        Policy policy;
        EvalResult res;
        if (model_policy(&mp, &policy, err) ||
            env_evaluate(run->eval_builtin, &policy, c->eval_episodes, run_eval_seed(run), &res, err))
            return error_prefix(err, "evaluation in '%s'", run->eval_builtin);
        run->eval_returns[p] = res.mean_return;
        run->eval_scores[p] = res.normalized_score;
    }
    run->eval_step = step;
    return 0;
}

int run_eval_at(Run *run, int64_t step, int *done, Error *err) {
    *done = 0;
    if (run->gym) return gym_eval_submit(run, step, err);
    if (evaluate_builtin(run, step, err)) return -1;
    *done = 1;
    return 0;
}

void run_eval_close(Run *run) {
    gym_eval_close(run);
    free(run->eval_returns);
    run->eval_returns = run->eval_scores = NULL;
}
