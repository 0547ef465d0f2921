/* fingerprint.c — a 64-bit fingerprint of a dataset's content as read (see dataset.h). */
#include "base/hash.h"
#include "data/dataset.h"

uint64_t dataset_fingerprint(const Dataset *d) {
    uint64_t h = hash_word(HASH_SEED, (uint64_t)d->n);
    h = hash_word(h, (uint64_t)d->n_states);
    h = hash_word(h, ((uint64_t)(uint32_t)d->obs_dim << 32) | (uint32_t)d->act_dim);
    size_t n = (size_t)d->n, S = (size_t)d->obs_dim, A = (size_t)d->act_dim;
    if (d->states) h = hash_bytes(h, d->states, (size_t)d->n_states * S * sizeof(float));
    if (d->state_row) h = hash_bytes(h, d->state_row, n * sizeof(uint32_t));
    if (d->next_row) h = hash_bytes(h, d->next_row, n * sizeof(uint32_t));
    if (d->actions) h = hash_bytes(h, d->actions, n * A * sizeof(float));
    if (d->rewards) h = hash_bytes(h, d->rewards, n * sizeof(float));
    if (d->terminals) h = hash_bytes(h, d->terminals, n * sizeof(float));
    return hash_finish(h);
}
