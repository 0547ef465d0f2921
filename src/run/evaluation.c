/* evaluation.c — scoring every member of the population in the run's evaluation environment
 * (the built-in ones, env/), on the host, from one download of the parameters. */
#include "env/env.h"
#include "env/evaluate.h"
#include "run/policy.h"
#include "run/run_state.h"

int run_check_eval_env(const Run *run, Error *err) {
    const char *name = run->cfg->env;
    const Env *env = env_find(name, err);
    if (!env) return error_prefix(err, "config 'env'");
    if (env->obs_dim != run->data.obs_dim || env->act_dim != run->data.act_dim)
        return error_set(err, "config 'env': %s has %d-dimensional states and %d-dimensional actions, the dataset %d and %d",
                         name, env->obs_dim, env->act_dim, run->data.obs_dim, run->data.act_dim);
    return 0;
}

/* A fixed seed for evaluation episodes, apart from the training seed's own streams. */
#define EVAL_SEED_OFFSET 1000003

int run_evaluate(Run *run, double *returns, double *scores, Error *err) {
    const Config *c = run->cfg;
    if (iql_get_population(run->iql, run->pop_params, NULL, NULL, NULL, err)) return -1;
    for (int p = 0; p < run->P; p++) {
        model_member_gather(iql_layout(run->iql), p, run->pop_params, run->params, 0);
        ModelPolicy mp = {.layout = &run->single, .params = run->params, .member = 0, .state_mean = run->data.state_mean,
                          .state_std = run->data.state_std, .max_action = (float)c->max_action};
        Policy policy;
        EvalResult res;
        if (model_policy(&mp, &policy, err) ||
            env_evaluate(c->env, &policy, c->eval_episodes, c->seed + EVAL_SEED_OFFSET, &res, err))
            return error_prefix(err, "evaluation in '%s'", c->env);
        returns[p] = res.mean_return;
        scores[p] = res.normalized_score;
    }
    return 0;
}
