/* fuzz_dataset.c — see fuzz_dataset.h. */
#include "fuzz_dataset.h"

#include <stdlib.h>

#include "fuzz_h5.h"

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


int fuzz_read_dataset(const uint8_t *data, size_t size, FuzzLoad load, Error *err) {
    hid_t file = fuzz_open_image(data, size);
    if (file < 0) return error_set(err, "not an HDF5 image");
    Dataset d = {0};
    int rc = load(file, "fuzz", &d, err);
    if (rc == 0) fuzz_use_dataset(&d);
    dataset_free(&d);
    fuzz_close_image(file);
    return rc;
}
