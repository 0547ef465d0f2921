/* sampling.h — which transition each slot of a batch draws: the one rule, used by the CPU
 * backend's gather, the CUDA gather kernel and the CUDA host replay's staging alike.
 *
 * Step k's batch of B rows is transitions [kB, (k+1)B) mod N when sequential; otherwise slot i
 * draws philox_index(word, N), where word is word i of the Philox4x32-10 stream (seed,
 * subsequence k). On the device the word comes from cuRAND (curand_init(seed, k, i), then
 * curand()); on the host from philox.h, which reproduces cuRAND's stream bit for bit
 * (tests/gpu/test_cuda_philox.c). */
#ifndef CUIQL_SAMPLING_H
#define CUIQL_SAMPLING_H

#include <stdint.h>

#include "cuiql/hd.h"
#include "cuiql/philox.h"

/* nvcc's host and device passes must see the same declarations, so cuRAND is included in
 * both; only device code draws from it. The emulated device (tests/kernel_emu) compiles
 * kernels/ for the host with cuRAND's own device code, so its kernels take that branch too. */
#if defined(__CUDACC__) || defined(CUIQL_CUDA_EMU)
#include <curand_kernel.h>
#endif
#if defined(__CUDA_ARCH__) || defined(CUIQL_CUDA_EMU)
#define CUIQL_SAMPLE_WITH_CURAND 1
#endif

typedef struct {
    int sequential;  /* 1: rows in order, wrapping; 0: uniform with replacement */
    uint64_t seed;   /* the batch stream's seed (the config's resolved batch_seed) */
} SamplingArgs;

/* Word `slot` of Philox stream (seed, subsequence step). */
CUIQL_HD static inline uint32_t iql_batch_word(uint64_t seed, uint64_t step, int slot) {
#ifdef CUIQL_SAMPLE_WITH_CURAND
    curandStatePhilox4_32_10_t state;
    curand_init(seed, step, (unsigned long long)slot, &state);
    return curand(&state);
#else
    return philox_value(seed, step, (uint64_t)slot);
#endif
}

/* The transition (0 ≤ t < n) that slot `slot` of step `step`'s batch of `rows` rows draws. */
CUIQL_HD static inline uint32_t iql_replay_row(const SamplingArgs *args, uint64_t step, int rows, int slot, uint32_t n) {
    if (args->sequential) return (uint32_t)((step * (uint64_t)rows + (uint64_t)slot) % (uint64_t)n);
    return philox_index(iql_batch_word(args->seed, step, slot), n);
}

#endif
