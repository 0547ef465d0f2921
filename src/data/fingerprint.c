/* fingerprint.c — a 64-bit fingerprint of a dataset's content as read (see dataset.h). */
#include <string.h>

#include "data/dataset.h"

/* xxHash64's round and avalanche: about as fast as memory reads, so hashing every array of a
 * 2M-transition dataset costs a small fraction of reading it. */
static const uint64_t P1 = 11400714785074694791ull, P2 = 14029467366897019727ull, P3 = 1609587929392839161ull;

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t mix(uint64_t h, uint64_t word) {
    h ^= rotl(word * P2, 31) * P1;
    return rotl(h, 27) * P1 + P3;
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = mix(h, w);
    }
    uint64_t tail = 0;
    memcpy(&tail, p + i, n - i);
    h = mix(h, tail ^ ((uint64_t)(n - i) << 56));
    return mix(h, (uint64_t)n);
}

uint64_t dataset_fingerprint(const Dataset *d) {
    uint64_t h = mix(P3, (uint64_t)d->n);
    h = mix(h, (uint64_t)d->n_states);
    h = mix(h, ((uint64_t)(uint32_t)d->obs_dim << 32) | (uint32_t)d->act_dim);
    size_t n = (size_t)d->n, S = (size_t)d->obs_dim, A = (size_t)d->act_dim;
    if (d->states) h = hash_bytes(h, d->states, (size_t)d->n_states * S * sizeof(float));
    if (d->state_row) h = hash_bytes(h, d->state_row, n * sizeof(uint32_t));
    if (d->next_row) h = hash_bytes(h, d->next_row, n * sizeof(uint32_t));
    if (d->actions) h = hash_bytes(h, d->actions, n * A * sizeof(float));
    if (d->rewards) h = hash_bytes(h, d->rewards, n * sizeof(float));
    if (d->terminals) h = hash_bytes(h, d->terminals, n * sizeof(float));
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    return h ^ (h >> 32);
}
