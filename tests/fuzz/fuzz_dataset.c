/* fuzz_dataset.c — see fuzz_dataset.h. */
#include "fuzz_dataset.h"

#include <stdlib.h>

void fuzz_use_dataset(Dataset *d) {
    (void)dataset_fingerprint(d);
    d->state_mean = calloc((size_t)d->obs_dim, sizeof(float));
    d->state_std = malloc((size_t)d->obs_dim * sizeof(float));
    if (!d->state_mean || !d->state_std) return;
    for (int j = 0; j < d->obs_dim; j++) d->state_std[j] = 1.0f;
    DataPrep prep = {.normalize_states = 1, .reward_transform = REWARD_IQL_LOCOMOTION};
    Error err;
    (void)dataset_preprocess(d, &prep, &err);
    double *returns = malloc((size_t)(d->n_episodes + 1) * sizeof *returns);
    if (returns) dataset_episode_returns(d, returns);
    free(returns);
}

