/* test_cuda_philox.c — the CUDA kernels draw the numbers philox.h promises:
 *   - cuRAND's Philox4_32_10 stream (curand_init(seed, subsequence, offset) + curand()) equals
 *     philox_value(seed, subsequence, offset + j) word for word, for seeds with high bits set,
 *     subsequences across the 2^32 boundary and in the initialisation range (≥ 2^40), and
 *     offsets inside a Philox block, at block edges and across the 2^32-block carry; both one
 *     thread stepping through the stream and one curand_init per word;
 *   - init_uniform writes the host formula's floats bit for bit (CPU backend and model.c's
 *     own draw).
 * Exits 77 (skipped) when no CUDA device is usable. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_debug.h"
#include "cuiql/philox.h"
#include "gpu_test_util.h"
#include "test_util.h"

enum { WORDS = 37 };  /* > 9 Philox blocks, not a multiple of 4 */

static void test_stream(Backend *gpu, uint32_t *dev) {
    static const uint64_t seeds[] = {0, 1, 0xDEADBEEFCAFEF00Dull, (1ull << 63) + 7};
    static const uint64_t subs[] = {0, 1, 0xFFFFFFFFull, 1ull << 32, PHILOX_INIT_SUBSEQUENCE_BASE + 123};
    static const uint64_t offsets[] = {0, 1, 3, 4, 5, 4ull * 0xFFFFFFFFull - 2, (1ull << 34) + 3, ~0ull - 64};
    Error err;
    for (size_t si = 0; si < sizeof seeds / sizeof seeds[0]; si++)
        for (size_t ui = 0; ui < sizeof subs / sizeof subs[0]; ui++)
            for (size_t oi = 0; oi < sizeof offsets / sizeof offsets[0]; oi++)
                for (int one_thread = 0; one_thread < 2; one_thread++) {
                    uint32_t got[WORDS];
                    cuda_debug_philox_words(gpu, dev, WORDS, seeds[si], subs[ui], offsets[oi], one_thread);
                    int rc = gpu->ops->synchronize(gpu, &err) || gpu->ops->download(gpu, got, dev, sizeof got, &err);
                    CHECK(rc == 0, "philox words: %s", err.msg);
                    if (rc) return;
                    int bad = -1;
                    for (int j = 0; j < WORDS && bad < 0; j++)
                        if (got[j] != philox_value(seeds[si], subs[ui], offsets[oi] + (uint64_t)j)) bad = j;
                    CHECK(bad < 0, "seed %llu subsequence %llu offset %llu (%s): word %d is %08x, philox_value says %08x",
                          (unsigned long long)seeds[si], (unsigned long long)subs[ui], (unsigned long long)offsets[oi],
                          one_thread ? "one thread" : "thread per word", bad, bad >= 0 ? got[bad] : 0,
                          bad >= 0 ? philox_value(seeds[si], subs[ui], offsets[oi] + (uint64_t)bad) : 0);
                }
}

static void test_init_uniform(Backends *bk) {
    static const int64_t sizes[] = {1, 5, 1000, 4099};
    static const uint64_t seeds[] = {0, 7, 0xDEADBEEFCAFEF00Dull};
    for (size_t ni = 0; ni < sizeof sizes / sizeof sizes[0]; ni++)
        for (size_t si = 0; si < sizeof seeds / sizeof seeds[0]; si++) {
            int64_t n = sizes[ni];
            uint64_t sub = PHILOX_INIT_SUBSEQUENCE_BASE + ni * 5 + si;
            float bound = 1.0f / sqrtf(256.0f + (float)ni);
            Mirror m = mirror_new(bk, (size_t)n, ni % 2);
            mirror_poison(bk, &m);
            bk->cpu->ops->init_uniform(bk->cpu, m.cpu, n, bound, seeds[si], sub);
            bk->gpu->ops->init_uniform(bk->gpu, m.gpu, n, bound, seeds[si], sub);
            char what[96];
            snprintf(what, sizeof what, "init_uniform n=%lld seed=%llu", (long long)n, (unsigned long long)seeds[si]);
            mirror_check(bk->gpu, &m, 0, what);
            /* And the formula model.c uses for host-side initialisation, written out here. */
            float *g = mirror_download(bk->gpu, &m);
            int64_t bad = -1;
            for (int64_t j = 0; j < n && bad < 0; j++) {
                float want = bound * (2.0f * philox_uniform01(philox_value(seeds[si], sub, (uint64_t)j)) - 1.0f);
                if (memcmp(&want, &g[j], sizeof want) != 0) bad = j;
            }
            CHECK(bad < 0, "%s: element %lld differs from the host formula", what, (long long)bad);
            free(g);
            mirror_free(bk, &m);
        }
}

int main(void) {
    if (!gpu_available("cuda_philox")) return TEST_SKIP;
    Backends bk;
    BackendOptions opt = {.device_index = 0, .precision = PRECISION_FP32, .use_graphs = 0};
    if (backends_open(&bk, &opt)) return test_finish("cuda_philox", 0);
    Error err;
    uint32_t *dev = bk.gpu->ops->alloc(bk.gpu, sizeof(uint32_t) * WORDS, &err);
    CHECK(dev != NULL, "alloc: %s", err.msg);
    if (dev) {
        test_stream(bk.gpu, dev);
        bk.gpu->ops->release(bk.gpu, dev);
    }
    test_init_uniform(&bk);
    CHECK(bk.gpu->ops->status(bk.gpu, &err) == 0, "status: %s", err.msg);
    backends_close(&bk);
    return test_finish("cuda_philox", 0);
}
