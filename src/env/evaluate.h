/* evaluate.h — a policy's score in a built-in environment.
 *
 * The policy acts by its deterministic mean action, model_policy_mean() on the normalised
 * state (s − mean) / std, clipped to the environment's action box (as gymnasium's ClipAction
 * would). Episode e starts from Philox stream (seed, ENV_STREAM_EVAL, e), so a score is
 * reproducible and independent of the dataset's start states. */
#ifndef CUIQL_ENV_EVALUATE_H
#define CUIQL_ENV_EVALUATE_H

#include <stdint.h>

#include "core/error.h"
#include "core/model.h"

typedef struct {
    int episodes;
    double mean_return, std_return;  /* population std over episodes */
    double normalized_score;         /* 100 · (mean − random) / (expert − random) */
    double random_return, expert_return;
    double mean_length;              /* steps per episode */
    int has_success;                 /* success_rate is defined for this env */
    double success_rate;             /* fraction of episodes that reached the goal */
} EvalResult;

/* Runs `episodes` episodes of member `member` of the policy in `layout`/`params` in env_name.
 * state_mean / state_std: [obs_dim] (NULL: no normalisation). Fails, naming both, when the
 * policy's state or action size does not match the environment. */
int env_evaluate(const char *env_name, const ModelLayout *layout, const float *params, int member,
                 const float *state_mean, const float *state_std, float max_action, int episodes, uint64_t seed,
                 EvalResult *out, Error *err);

/* The reference returns behind the normalised score (0 = random, 100 = scripted expert). */
int env_reference_returns(const char *env_name, double *random_return, double *expert_return, Error *err);
double env_expert_return(const char *env_name);  /* NAN for an unknown env */
double env_random_return(const char *env_name);  /* NAN for an unknown env */

#endif
