/* iql_math.h — the per-element arithmetic of one IQL gradient step (docs/algorithm.md, "One gradient step").
 *
 * Each function here is what one CUDA thread computes for one element, and what one iteration
 * of the CPU backend's loop computes. Kernels and CPU loops only do the indexing around them.
 * Shapes below: P members, B batch rows, A action dimensions. */
#ifndef CUIQL_IQL_MATH_H
#define CUIQL_IQL_MATH_H

#include <math.h>
#include <stdint.h>
#include "cuiql/hd.h"
#include "cuiql/settings.h"

#define IQL_HALF_LOG_2PI 0.91893853320467274178f

/* ---- layers ---------------------------------------------------------------------------- */

CUIQL_HD static inline float iql_relu(float x) { return x > 0.0f ? x : 0.0f; }

/* Gradient through a ReLU, written in terms of its output y (what the forward pass keeps). */
CUIQL_HD static inline float iql_relu_backward(float dy, float y) { return y > 0.0f ? dy : 0.0f; }

/* ---- value and critic heads -------------------------------------------------------------- */

/* TD target of the critics: y = r + γ (1 − d) V(s'). */
CUIQL_HD static inline float iql_td_target(float reward, float terminal, float discount, float v_next) {
    return reward + discount * (1.0f - terminal) * v_next;
}

/* Expectile weight |τ − 1[u < 0]|. */
CUIQL_HD static inline float iql_expectile_weight(float tau, float u) {
    return u < 0.0f ? 1.0f - tau : tau;
}

/* One element of L_V = mean(|τ − 1[u<0]| u²) with u = target − v: the loss term and
 * dL_V/dv, where inv_batch = 1/B carries the mean. */
CUIQL_HD static inline float iql_expectile_loss(float tau, float u) {
    return iql_expectile_weight(tau, u) * u * u;
}
CUIQL_HD static inline float iql_expectile_grad_v(float tau, float u, float inv_batch) {
    return -2.0f * iql_expectile_weight(tau, u) * u * inv_batch;
}

/* One critic's term of L_Q = q_scale · [mean((Q1−y)²) + mean((Q2−y)²)], where q_scale is ½
 * (the seed's and CORL's average) or 1 (the official code's sum): dL_Q/dq. */
CUIQL_HD static inline float iql_critic_grad(float q, float y, float q_scale, float inv_batch) {
    return 2.0f * q_scale * (q - y) * inv_batch;
}

/* Advantage weight w = min(exp(β · adv), clip). Written so that NaN propagates (fminf would
 * hide it) and so that exp overflowing to +inf still clips. */
CUIQL_HD static inline float iql_advantage_weight(float beta, float adv, float clip) {
    float e = expf(beta * adv);
    return e > clip ? clip : e;
}
CUIQL_HD static inline float iql_weight_is_clipped(float beta, float adv, float clip) {
    return expf(beta * adv) > clip ? 1.0f : 0.0f;
}

/* ---- policy head ----------------------------------------------------------------------------- */

CUIQL_HD static inline float iql_clamp(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* Gaussian policy, one (row, action dim) element. z is the MLP's pre-tanh output, the mean is
 * max_action · tanh(z), log σ = clamp(log_std, lo, hi). Returns log N(a | μ, σ) for this
 * dimension; writes dL/dz and this element's share of dL/dlog_std for
 * L_π = −mean_b(w_b Σ_j log π_j). coef = w_b / B. The clamp passes gradient only inside
 * [lo, hi] (inclusive, like torch.clamp). */
CUIQL_HD static inline float iql_gaussian_policy_elem(float z, float log_std, float action, float coef,
                                                     float max_action, float lo, float hi,
                                                     float *dz, float *dlog_std) {
    float t = tanhf(z);
    float mean = max_action * t;
    float ls = iql_clamp(log_std, lo, hi);
    float inv_var = expf(-2.0f * ls);
    float diff = action - mean;
    float scaled = diff * diff * inv_var;
    *dz = -coef * diff * inv_var * max_action * (1.0f - t * t);
    *dlog_std = (log_std >= lo && log_std <= hi) ? -coef * (scaled - 1.0f) : 0.0f;
    return -0.5f * scaled - ls - IQL_HALF_LOG_2PI;
}

/* Deterministic policy, one element of L_π = mean_b(w_b ‖π(s_b) − a_b‖²): returns the squared
 * error of this dimension and writes dL/dz. */
CUIQL_HD static inline float iql_deterministic_policy_elem(float z, float action, float coef, float max_action,
                                                          float *dz) {
    float t = tanhf(z);
    float diff = max_action * t - action;
    *dz = 2.0f * coef * diff * max_action * (1.0f - t * t);
    return diff * diff;
}

/* ---- optimiser ------------------------------------------------------------------------------- */

/* Per-step scalars of the optimiser, computed once per step from the step counter (on the
 * device in the CUDA backend, so a captured graph needs no host input). */
typedef struct {
    int64_t step;       /* updates completed before this one */
    float lr[LR_GROUP_COUNT]; /* this step's learning rate per group (LrGroup order) */
    float bias_correction1, bias_correction2;
    int64_t pad;        /* keeps the struct 16-byte aligned in arrays */
} StepScalars;

typedef struct {
    float lr0, lr_min;  /* CosineAnnealingLR's base lr and eta_min */
    int64_t t_max;      /* in schedule units; 0 or a constant schedule: lr stays lr0 */
    int64_t steps_per_unit; /* gradient steps per schedule unit (an "epoch"), ≥ 1 */
    int cosine;         /* 0: constant */
    int64_t warmup_steps; /* linear warm-up over the first steps; 0: none */
} LrSchedule;

/* PyTorch CosineAnnealingLR's closed form, lr_t = lr_min + (lr0 − lr_min)(1 + cos(π t/T))/2,
 * with t the number of completed schedule units (scheduler.step() once per unit); during a
 * warm-up of W steps, update k (0-based) takes (k + 1)/W of it (docs/algorithm.md, "Large
 * batches"). Without warm-up the lr is exactly the closed form's float. */
CUIQL_HD static inline float iql_schedule_lr(LrSchedule s, int64_t step) {
    double lr = s.lr0;
    if (s.cosine && s.t_max > 0) {
        double t = (double)(step / (s.steps_per_unit > 0 ? s.steps_per_unit : 1));
        lr = s.lr_min + (s.lr0 - s.lr_min) * (1.0 + cos(3.14159265358979323846 * t / (double)s.t_max)) * 0.5;
    }
    if (s.warmup_steps > 0 && step < s.warmup_steps) lr *= (double)(step + 1) / (double)s.warmup_steps;
    return (float)lr;
}

/* β1, β2 in double: PyTorch computes the bias corrections from Python floats. */
CUIQL_HD static inline StepScalars iql_step_scalars(const LrSchedule sched[LR_GROUP_COUNT], int64_t step, double beta1, double beta2) {
    StepScalars out;
    out.step = step;
    for (int g = 0; g < LR_GROUP_COUNT; g++) out.lr[g] = iql_schedule_lr(sched[g], step);
    out.bias_correction1 = (float)(1.0 - pow(beta1, (double)(step + 1)));
    out.bias_correction2 = (float)(1.0 - pow(beta2, (double)(step + 1)));
    out.pad = 0;
    return out;
}

/* AdamW's constants as float32, with 1 − β computed in double first: PyTorch passes
 * `1 - beta2` from a Python float, and (1.0f − 0.999f) would be 1.3e-5 off in relative terms. */
typedef struct {
    float beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
} AdamHyper;

CUIQL_HD static inline AdamHyper iql_adam_hyper(double beta1, double beta2, double eps, double weight_decay) {
    AdamHyper h = {(float)beta1, (float)(1.0 - beta1), (float)beta2, (float)(1.0 - beta2), (float)eps,
                   (float)weight_decay};
    return h;
}

/* x, or 0 where x is subnormal (|x| < FLT_MIN, 1.2e-38). */
CUIQL_HD static inline float iql_flush_subnormal(float x) { return fabsf(x) < 1.17549435e-38f ? 0.0f : x; }

/* One parameter of torch.optim.AdamW (decoupled weight decay, then Adam with bias correction),
 * in PyTorch's order of operations.
 *
 * The moments are stored with subnormal values flushed to zero (the update itself uses them
 * unflushed). Why: a parameter whose gradient is 0 (a dead ReLU unit: 56 % of the gradients in
 * bench_step after 2,000 steps) has m multiplied by β1 = 0.9 every step, which reaches the
 * subnormal range after ≈ 800 steps and then stays there for good (0.9 × the smallest
 * subnormals rounds back to themselves). x86 CPUs compute on subnormals through a slow
 * microcode assist: 43 % of m was subnormal and the CPU step ran 20–25 % slower from then on
 * (bench/RESULTS.md §6). GPUs handle subnormals at full speed; the rule is here, shared, so
 * both backends keep the same state. What a subnormal moment would add to a parameter (≤ lr · 1.2e-38 / ε ≈
 * 4e-34) is far below the parameter's own rounding, so the training is unchanged. */
CUIQL_HD static inline void iql_adamw_elem(float *param, float *m, float *v, float grad, float lr, AdamHyper h,
                                          float bias_correction1, float bias_correction2) {
    float p = *param * (1.0f - lr * h.weight_decay);
    float m_new = h.beta1 * *m + h.one_minus_beta1 * grad;
    float v_new = h.beta2 * *v + h.one_minus_beta2 * grad * grad;
    float denom = sqrtf(v_new) / sqrtf(bias_correction2) + h.eps;
    *param = p - (lr / bias_correction1) * m_new / denom;
    *m = iql_flush_subnormal(m_new);
    *v = iql_flush_subnormal(v_new);
}

/* Target network update Q̄ ← (1 − ρ) Q̄ + ρ Q. */
CUIQL_HD static inline float iql_polyak(float target, float online, float rho) {
    return (1.0f - rho) * target + rho * online;
}

/* ---- logged statistics ------------------------------------------------------------------------ */

/* Per-element statistics the step writes, reduced over the batch only on logging steps.
 * Layout of the stats buffer: [P, IQL_STAT_COUNT, B]. */
enum {
    IQL_STAT_VALUE_LOSS,     /* |τ − 1[u<0]| u² */
    IQL_STAT_Q_LOSS,         /* q_scale · ((Q1−y)² + (Q2−y)²) */
    IQL_STAT_POLICY_LOSS,    /* −w log π  or  w ‖π − a‖² */
    IQL_STAT_VALUE,          /* V(s) */
    IQL_STAT_Q,              /* (Q1 + Q2)/2 */
    IQL_STAT_ADVANTAGE,      /* min(Q̂1,Q̂2) − V(s) */
    IQL_STAT_WEIGHT,         /* w */
    IQL_STAT_WEIGHT_CLIPPED, /* 1 if exp(β adv) > clip */
    IQL_STAT_COUNT
};

#endif
