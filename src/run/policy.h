/* policy.h — a trained network as a Policy (env/evaluate.h): one member's deterministic mean
 * action max_action · tanh(MLP((s − mean) / std)), the state normalised as in training. Used
 * by evaluation during training and by `cuiql eval`. */
#ifndef CUIQL_RUN_POLICY_H
#define CUIQL_RUN_POLICY_H

#include "algo/model.h"
#include "env/evaluate.h"

typedef struct {
    const ModelLayout *layout;
    const float *params;      /* in `layout` */
    int member;
    const float *state_mean;  /* [obs_dim]; NULL: no normalisation */
    const float *state_std;   /* [obs_dim]; NULL: no normalisation */
    float max_action;
} ModelPolicy;

/* The Policy acting through mp (which must outlive it). Fails on a member out of range or a
 * std that is not positive and finite. */
int model_policy(ModelPolicy *mp, Policy *out, Error *err);

#endif
