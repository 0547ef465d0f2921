/* policy.c — a member of a trained population as a Policy (see policy.h). */
#include "run/policy.h"

#include <math.h>

static void act(void *ctx, const float *observation, float *action) {
    const ModelPolicy *mp = ctx;
    float state[MODEL_MAX_WIDTH];  /* state sizes are bounded like widths (model_layout_init) */
    int S = mp->layout->obs_dim;
    for (int j = 0; j < S; j++) {
        float mu = mp->state_mean ? mp->state_mean[j] : 0.0f, sd = mp->state_std ? mp->state_std[j] : 1.0f;
        state[j] = (observation[j] - mu) / sd;
    }
    model_policy_mean(mp->layout, mp->params, mp->member, state, mp->max_action, action);
}

int model_policy(ModelPolicy *mp, Policy *out, Error *err) {
    const ModelLayout *L = mp->layout;
    if (mp->member < 0 || mp->member >= L->members)
        return error_set(err, "member %d out of range (the model has %d)", mp->member, L->members);
    if (L->obs_dim > MODEL_MAX_WIDTH)
        return error_set(err, "the policy takes %d-dimensional states; evaluation handles up to %d", L->obs_dim,
                         MODEL_MAX_WIDTH);
    if (mp->state_std)
        for (int j = 0; j < L->obs_dim; j++)
            if (!(mp->state_std[j] > 0) || !isfinite(mp->state_std[j]))
                return error_set(err, "state_std[%d] = %g: must be positive and finite", j, mp->state_std[j]);
    *out = (Policy){.obs_dim = L->obs_dim, .act_dim = L->act_dim, .ctx = mp, .act = act};
    return 0;
}
