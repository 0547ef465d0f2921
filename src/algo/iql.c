/* iql.c — one IQL gradient step for P members, as docs/algorithm.md ("One gradient step") reads:
 *
 *   v = V(s), v' = V(s'), y = r + γ(1 − d) v'
 *   u = y − v (td) or min(Q̄1, Q̄2)(s, a) − v (q);   L_V = mean(|τ − 1[u<0]| u²)
 *   L_Q = ½[mean((Q1 − y)²) + mean((Q2 − y)²)]
 *   adv = min(Q̂1, Q̂2)(s, a) − v, w = min(exp(β adv), clip);   L_π = −mean(w log π(a|s))
 *   all three losses at the pre-step parameters, then AdamW, then Q̄ ← (1 − ρ)Q̄ + ρQ.
 *
 * Every network is a stack of strided-batched GEMMs over its ensemble members (P, or 2P for
 * the twin critics: mlp.c); every other operation is one backend call, whose per-element
 * arithmetic is iql_math.h. The backend decides where it runs (src/cpu/, kernels/). The
 * arguments of every call are fixed when the state is created (iql_setup.c), so the step
 * below only issues calls. */
#include "algo/iql_state.h"

/* ---- the step, phase by phase ------------------------------------------------------------ */

static void phase_sample(IqlState *s) {
    s->ops->prepare_step(s->b, s->scalars, s->schedule, s->cfg.adam_beta1, s->cfg.adam_beta2);
    s->ops->sample_batch(s->b, s->replay, &s->sampling, s->scalars, &s->batch);
}

/* Forward passes, all at the pre-step parameters: V(s), V(s'), Q(s, a), Q̄(s, a) when there
 * is a target network, and π(s). They are independent of each other. */
static void phase_forward(IqlState *s) { mlp_forward_all(&s->mlp, s->forward, s->n_forward); }

/* Losses and their gradients at the network outputs. */
static void phase_heads(IqlState *s) {
    s->ops->value_critic_heads(s->b, &s->heads);
    s->ops->policy_head(s->b, &s->policy);
}

/* Backward passes of V, Q and π into the one gradient buffer (each writes its own part), then
 * the gradient of log σ, summed over the batch. */
static void phase_backward(IqlState *s) {
    mlp_backward_all(&s->mlp, s->backward, NET_COUNT);
    if (!s->policy.deterministic)
        s->ops->column_sums(s->b, s->grads + s->layout.net[NET_POLICY].log_std, s->dlog_std_elem, s->P, s->B, s->A);
}

/* Data parallel: the gradient, summed over the ranks' shares of the batch (the heads already
 * divided by the global batch, so the sum is its mean's gradient). Nothing otherwise. */
static void phase_reduce(IqlState *s) {
    if (s->comm) s->ops->allreduce_sum(s->b, s->grads, (int64_t)s->layout.n_params);
}

/* The three optimisers are one fused pass; then the target critics move. */
static void phase_optimize(IqlState *s) {
    s->ops->adamw(s->b, &s->adamw);
    if (s->use_target)
        s->ops->polyak(s->b, s->target, s->params + s->layout.net[NET_Q].begin, (float)s->cfg.target_update_rate,
                       (int64_t)model_target_size(&s->layout));
    s->ops->finish_step(s->b, s->scalars);
}

static void (*const phases[IQL_PHASE_COUNT])(IqlState *) = {
    [IQL_PHASE_SAMPLE] = phase_sample, [IQL_PHASE_FORWARD] = phase_forward, [IQL_PHASE_HEADS] = phase_heads,
    [IQL_PHASE_BACKWARD] = phase_backward, [IQL_PHASE_REDUCE] = phase_reduce, [IQL_PHASE_OPTIMIZE] = phase_optimize,
};
const char *const iql_phase_names[IQL_PHASE_COUNT] = {"sample", "forward", "heads", "backward", "reduce", "optimize"};

static void issue_step(void *arg) {
    for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) phases[ph]((IqlState *)arg);
}

void iql_step(IqlState *s) { s->ops->run_step(s->b, issue_step, s); }

/* ---- profiling ------------------------------------------------------------------------------ */

_Static_assert(IQL_PHASE_COUNT + 1 <= BACKEND_TIME_SLOTS, "a stamp before each phase and after the last");

int iql_profile_step(IqlState *s, double seconds[IQL_PHASE_COUNT], Error *err) {
    if (s->ops->synchronize(s->b, err)) return -1;
    s->ops->time_mark(s->b, 0);
    for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) {
        phases[ph](s);
        s->ops->time_mark(s->b, ph + 1);
    }
    for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) {
        double t;
        if (s->ops->time_elapsed(s->b, ph, ph + 1, &t, err)) return -1;
        seconds[ph] += t;
    }
    return 0;
}
