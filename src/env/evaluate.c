/* evaluate.c — a policy's score in a built-in environment (evaluate.h). */
#include "env/evaluate.h"

#include <math.h>
#include <string.h>

#include "env/env.h"

int env_reference_returns(const char *env_name, double *random_return, double *expert_return, Error *err) {
    const Env *env = env_find(env_name, err);
    if (!env) return -1;
    if (random_return) *random_return = env->random_return;
    if (expert_return) *expert_return = env->expert_return;
    return 0;
}

double env_expert_return(const char *env_name) {
    const Env *env = env_lookup(env_name);
    return env ? env->expert_return : NAN;
}

double env_random_return(const char *env_name) {
    const Env *env = env_lookup(env_name);
    return env ? env->random_return : NAN;
}

int env_evaluate(const char *env_name, const Policy *policy, int episodes, uint64_t seed, EvalResult *out,
                 Error *err) {
    memset(out, 0, sizeof *out);
    const Env *env = env_find(env_name, err);
    if (!env) return -1;
    if (policy->obs_dim != env->obs_dim || policy->act_dim != env->act_dim)
        return error_set(err, "%s: the policy takes %d-dimensional states and gives %d-dimensional actions; "
                         "the environment has %d and %d", env->name, policy->obs_dim, policy->act_dim, env->obs_dim,
                         env->act_dim);
    if (episodes < 1) return error_set(err, "episodes must be at least 1, got %d", episodes);

    double mean = 0, m2 = 0, steps = 0;  /* Welford's running mean and sum of squared deviations */
    int successes = 0;
    for (int e = 0; e < episodes; e++) {
        EnvRng rng;
        env_rng_init(&rng, seed, ENV_STREAM_EVAL, (uint64_t)e);
        EnvState st;
        env->reset(&st, &rng);
        double ret = 0;
        int success = 0;
        EnvStep r;
        do {
            float obs[ENV_MAX_DIM], action[ENV_MAX_DIM];
            env->observe(&st, obs);
            policy->act(policy->ctx, obs, action);
            for (int j = 0; j < env->act_dim; j++) {
                if (!isfinite(action[j]))
                    return error_set(err, "%s: episode %d step %d: the policy's action %d is %g", env->name, e,
                                     st.t, j, action[j]);
                if (action[j] > env->max_action) action[j] = env->max_action;
                if (action[j] < -env->max_action) action[j] = -env->max_action;
            }
            env_step(env, &st, action, &r);
            ret += r.reward;
            if (r.success) success = 1;
        } while (!r.terminated && !r.truncated);
        double delta = ret - mean;
        mean += delta / (e + 1);
        m2 += delta * (ret - mean);
        steps += st.t;
        successes += success;
    }
    out->episodes = episodes;
    out->mean_return = mean;
    out->std_return = sqrt(m2 / episodes);
    out->random_return = env->random_return;
    out->expert_return = env->expert_return;
    out->normalized_score = env_normalized_score(env, out->mean_return);
    out->mean_length = steps / episodes;
    out->has_success = env->has_success;
    out->success_rate = env->has_success ? (double)successes / episodes : 0.0;
    return 0;
}
