/* philox.h — Philox4x32-10 counter-based random numbers, bit-identical to cuRAND's
 * curand_init(seed, subsequence, offset) + curand() stream.
 *
 * cuRAND's Philox4_32_10 state maps (seed, subsequence, offset k) to
 *   key     = (low 32 bits of seed, high 32 bits of seed)
 *   counter = (low, high 32 bits of k/4, low, high 32 bits of subsequence)
 * and returns word k%4 of philox4x32_10(counter, key). philox_value() computes exactly that,
 * so the CPU backend and the CUDA kernels (which draw through cuRAND) see the same numbers.
 * The constants and round structure are those of Salmon et al., "Parallel random numbers:
 * as easy as 1, 2, 3" (SC'11). */
#ifndef CUIQL_PHILOX_H
#define CUIQL_PHILOX_H

#include <math.h>
#include <stdint.h>
#include "cuiql/hd.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u /* golden ratio */
#define PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

typedef struct { uint32_t v[4]; } Philox4;

CUIQL_HD static inline Philox4 philox4x32_10(Philox4 ctr, uint32_t key0, uint32_t key1) {
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * ctr.v[0];
        uint64_t p1 = (uint64_t)PHILOX_M1 * ctr.v[2];
        Philox4 next;
        next.v[0] = (uint32_t)(p1 >> 32) ^ ctr.v[1] ^ key0;
        next.v[1] = (uint32_t)p1;
        next.v[2] = (uint32_t)(p0 >> 32) ^ ctr.v[3] ^ key1;
        next.v[3] = (uint32_t)p0;
        ctr = next;
        key0 += PHILOX_W0;
        key1 += PHILOX_W1;
    }
    return ctr;
}

/* Word `offset` of stream (seed, subsequence), as cuRAND's curand() would return it. */
CUIQL_HD static inline uint32_t philox_value(uint64_t seed, uint64_t subsequence, uint64_t offset) {
    uint64_t block = offset >> 2;
    Philox4 ctr = {{(uint32_t)block, (uint32_t)(block >> 32),
                    (uint32_t)subsequence, (uint32_t)(subsequence >> 32)}};
    Philox4 out = philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32));
    return out.v[offset & 3];
}

/* A uniform float in (0, 1]: u * 2^-32 + 2^-33 with one rounding (fused multiply-add on both
 * host and device, so both sides round identically). */
CUIQL_HD static inline float philox_uniform01(uint32_t u) {
    return fmaf((float)u, 2.3283064365386963e-10f, 1.1641532182693481e-10f);
}

/* An index uniform in [0, n) from one 32-bit word (multiply-shift; bias < n / 2^32). */
CUIQL_HD static inline uint32_t philox_index(uint32_t u, uint32_t n) {
    return (uint32_t)(((uint64_t)u * n) >> 32);
}

/* Subsequence ids: batches use the step number; initialisation uses ids above 2^40 so the two
 * never share numbers even when the batch seed equals a member's seed. */
#define PHILOX_INIT_SUBSEQUENCE_BASE (1ull << 40)

#endif
