/* evaluate.h — a policy's score in a built-in environment.
 *
 * The policy is anything that maps an observation to an action (Policy below): a trained
 * network's deterministic mean action (src/run/policy.h), a scripted controller in a test.
 * Its actions are clipped to the environment's action box (as gymnasium's ClipAction would).
 * Episode e starts from Philox stream (seed, ENV_STREAM_EVAL, e), so a score is reproducible
 * and independent of the dataset's start states. */
#ifndef CUIQL_ENV_EVALUATE_H
#define CUIQL_ENV_EVALUATE_H

#include <stdint.h>

#include "cuiql/error.h"

typedef struct {
    int episodes;
    double mean_return, std_return;  /* population std over episodes */
    double normalized_score;         /* 100 · (mean − random) / (expert − random) */
    double random_return, expert_return;
    double mean_length;              /* steps per episode */
    int has_success;                 /* success_rate is defined for this env */
    double success_rate;             /* fraction of episodes that reached the goal */
} EvalResult;

/* A policy as the environment sees it: act(ctx, observation, action) writes act_dim floats for
 * the environment's raw observation of obs_dim floats. */
typedef struct {
    int obs_dim, act_dim;
    void *ctx;
    void (*act)(void *ctx, const float *observation, float *action);
} Policy;

/* Runs `episodes` episodes of the policy in env_name. Fails, naming both, when the policy's
 * state or action size does not match the environment, and on a non-finite action. */
int env_evaluate(const char *env_name, const Policy *policy, int episodes, uint64_t seed, EvalResult *out,
                 Error *err);

/* The reference returns behind the normalised score (0 = random, 100 = scripted expert). */
int env_reference_returns(const char *env_name, double *random_return, double *expert_return, Error *err);
double env_expert_return(const char *env_name);  /* NAN for an unknown env */
double env_random_return(const char *env_name);  /* NAN for an unknown env */

#endif
