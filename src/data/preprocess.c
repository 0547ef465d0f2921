/* preprocess.c — state normalisation and the reward transform, applied in place once per load
 * (see dataset_preprocess in dataset.h). */
#include <math.h>
#include <stdlib.h>

#include "data/dataset.h"

/* r' = r · 1000 / (max return − min return), as the IQL authors and CORL scale locomotion
 * rewards. Every episode counts, the unfinished last one included (as the IQL code does). */
static int iql_locomotion_scale(const Dataset *d, double *scale, Error *err) {
    if (d->n_episodes == 0) return error_set(err, "reward_transform iql-locomotion: the dataset has no episodes");
    double *returns = malloc((size_t)d->n_episodes * sizeof *returns);
    if (!returns) return error_set(err, "out of memory for %lld episode returns", (long long)d->n_episodes);
    dataset_episode_returns(d, returns);
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t e = 0; e < d->n_episodes; e++) {
        lo = fmin(lo, returns[e]);
        hi = fmax(hi, returns[e]);
    }
    free(returns);
    if (!(hi - lo > 0) || !isfinite(1000.0 / (hi - lo)))
        return error_set(err,
                         "reward_transform iql-locomotion: all %lld episodes have the same return (%g), so "
                         "1000 / (max return - min return) is undefined; use reward_transform none or scale",
                         (long long)d->n_episodes, lo);
    *scale = 1000.0 / (hi - lo);
    return 0;
}

/* Mean and population std (numpy's .std()) of the transitions' states s_i = states[state_row[i]],
 * accumulated in double; std gets + 1e-3 so no dimension divides by ~0. */
static int state_statistics(const Dataset *d, float *mean_out, float *std_out, Error *err) {
    size_t S = (size_t)d->obs_dim;
    double *sum = calloc(2 * S, sizeof *sum);
    if (!sum) return error_set(err, "out of memory for the state statistics");
    double *sq = sum + S;
    for (int64_t i = 0; i < d->n; i++) {
        const float *s = d->states + (size_t)d->state_row[i] * S;
        for (size_t j = 0; j < S; j++) sum[j] += s[j];
    }
    for (size_t j = 0; j < S; j++) sum[j] /= (double)d->n;
    /* Second pass on the deviations: one-pass E[x²] − E[x]² loses digits when |mean| ≫ std. */
    for (int64_t i = 0; i < d->n; i++) {
        const float *s = d->states + (size_t)d->state_row[i] * S;
        for (size_t j = 0; j < S; j++) sq[j] += (s[j] - sum[j]) * (s[j] - sum[j]);
    }
    for (size_t j = 0; j < S; j++) {
        mean_out[j] = (float)sum[j];
        std_out[j] = (float)(sqrt(sq[j] / (double)d->n) + 1e-3);
    }
    free(sum);
    return 0;
}

int dataset_preprocess(Dataset *d, const DataPrep *prep, Error *err) {
    if (d->preprocessed)
        return error_set(err, "the dataset is already preprocessed; load it again to preprocess differently");
    if (d->n == 0 || !d->state_mean || !d->state_std) return error_set(err, "dataset_preprocess: no dataset loaded");

    /* Everything that can fail happens before the data changes, so a failure leaves d as it was. */
    double scale = 1.0, shift = 0.0;
    switch (prep->reward_transform) {
    case REWARD_NONE: break;
    case REWARD_IQL_LOCOMOTION:
        if (iql_locomotion_scale(d, &scale, err) < 0) return -1;
        break;
    case REWARD_ANTMAZE: shift = -1.0; break;
    case REWARD_SCALE_SHIFT:
        scale = prep->reward_scale;
        shift = prep->reward_shift;
        if (!isfinite(scale) || !isfinite(shift))
            return error_set(err, "reward_scale and reward_shift must be finite (got %g, %g)", scale, shift);
        break;
    default: return error_set(err, "unknown reward_transform (%d)", (int)prep->reward_transform);
    }

    if (prep->normalize_states) {
        if (state_statistics(d, d->state_mean, d->state_std, err) < 0) return -1;
        /* The whole table: rows used only as s' (next_observations) are normalised too. */
        size_t S = (size_t)d->obs_dim;
        for (int64_t r = 0; r < d->n_states; r++) {
            float *s = d->states + (size_t)r * S;
            for (size_t j = 0; j < S; j++) s[j] = (s[j] - d->state_mean[j]) / d->state_std[j];
        }
        d->states_normalized = 1;
    }
    if (scale != 1.0 || shift != 0.0)
        for (int64_t i = 0; i < d->n; i++) d->rewards[i] = (float)((double)d->rewards[i] * scale + shift);
    d->reward_scale = scale;
    d->reward_shift = shift;
    d->preprocessed = 1;
    return 0;
}
