/* test_philox.c — Philox4x32-10 against the published known-answer vectors (Random123's
 * kat_vectors), the cuRAND stream mapping, and the uniform/index helpers. */
#include <stdio.h>

#include "cuiql/philox.h"
#include "test_util.h"

static void check_block(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                        uint32_t e0, uint32_t e1, uint32_t e2, uint32_t e3) {
    Philox4 out = philox4x32_10((Philox4){{c0, c1, c2, c3}}, k0, k1);
    CHECK(out.v[0] == e0 && out.v[1] == e1 && out.v[2] == e2 && out.v[3] == e3,
          "ctr %08x.. key %08x: got %08x %08x %08x %08x, want %08x %08x %08x %08x", c0, k0, out.v[0], out.v[1],
          out.v[2], out.v[3], e0, e1, e2, e3);
}

int main(void) {
    /* Known answers of philox4x32 with 10 rounds (Salmon et al., Random123 kat_vectors). */
    check_block(0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8);
    check_block(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
                0xa20bc7c6, 0x6d5451fd);
    check_block(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
                0x5001e420, 0x24126ea1);

    /* cuRAND's mapping: word k of (seed, subsequence) is word k%4 of the block at counter
     * (k/4 low, k/4 high, subsequence low, subsequence high) under key (seed low, seed high). */
    uint64_t seed = 0x0123456789abcdefull, sub = 0x00000002fffffffdull;
    for (uint64_t k = 0; k < 12; k++) {
        Philox4 block = philox4x32_10((Philox4){{(uint32_t)(k / 4), 0, (uint32_t)sub, (uint32_t)(sub >> 32)}},
                                      (uint32_t)seed, (uint32_t)(seed >> 32));
        CHECK(philox_value(seed, sub, k) == block.v[k % 4], "stream word %llu", (unsigned long long)k);
    }
    uint64_t far = (1ull << 34) + 5;  /* an offset whose block number needs the high counter word */
    Philox4 block = philox4x32_10((Philox4){{(uint32_t)(far / 4), (uint32_t)((far / 4) >> 32), 0, 0}}, 7, 0);
    CHECK(philox_value(7, 0, far) == block.v[far % 4], "offset past 2^32 blocks");

    /* Uniforms lie in (0, 1]; indices in [0, n). */
    CHECK(philox_uniform01(0) > 0.0f && philox_uniform01(0) < 1e-9f, "uniform of 0 is 2^-33: %g", philox_uniform01(0));
    CHECK(philox_uniform01(0xffffffffu) == 1.0f, "uniform of 2^32-1 rounds to 1: %.9g", philox_uniform01(0xffffffffu));
    double sum = 0;
    int n = 100000, in_range = 1;
    uint32_t counts[7] = {0};
    for (int i = 0; i < n; i++) {
        uint32_t u = philox_value(42, 3, (uint64_t)i);
        float x = philox_uniform01(u);
        in_range &= x > 0.0f && x <= 1.0f;
        sum += x;
        uint32_t idx = philox_index(u, 7);
        in_range &= idx < 7;
        counts[idx < 7 ? idx : 0]++;
    }
    CHECK(in_range, "every uniform in (0,1] and index in [0,7)");
    CHECK(sum / n > 0.495 && sum / n < 0.505, "mean of uniforms %.4f", sum / n);
    for (int i = 0; i < 7; i++) CHECK(counts[i] > n / 7 * 0.95 && counts[i] < n / 7 * 1.05, "index %d drawn %u times", i, counts[i]);
    return test_finish("philox", 0);
}
