/* hash.c — see hash.h. */
#include "base/hash.h"

#include <string.h>

static const uint64_t P1 = 11400714785074694791ull, P2 = 14029467366897019727ull, P3 = HASH_SEED;

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t hash_word(uint64_t h, uint64_t word) {
    h ^= rotl(word * P2, 31) * P1;
    return rotl(h, 27) * P1 + P3;
}

uint64_t hash_bytes(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = hash_word(h, w);
    }
    uint64_t tail = 0;
    memcpy(&tail, p + i, n - i);
    h = hash_word(h, tail ^ ((uint64_t)(n - i) << 56));
    return hash_word(h, (uint64_t)n);
}

uint64_t hash_finish(uint64_t h) {
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    return h ^ (h >> 32);
}
