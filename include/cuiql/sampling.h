/* sampling.h — which transition each slot of a batch draws: the one rule, used by the CPU
 * backend's gather, the CUDA gather kernel and the CUDA host replay's staging alike.
 *
 * Step k's batch of B rows is transitions [kB, (k+1)B) mod N when sequential; otherwise slot i
 * draws philox_index(word, N), where word is word i of the Philox4x32-10 stream (seed,
 * subsequence k). A data-parallel rank r of R holds rows [r·B/R, (r+1)·B/R) of that global
 * batch: its slot i is global slot slot_offset + i of a batch of global_rows = B rows, so the
 * ranks together draw exactly the batch one process would. On the device the word comes from cuRAND (curand_init(seed, k, i), then
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
    int slot_offset; /* data parallel: the global slot of this batch's first row (0 otherwise) */
    int global_rows; /* data parallel: the rows of the global batch; 0: the batch's own rows */
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

/* The transition (0 ≤ t < n) that slot `slot` of step `step`'s batch of `rows` rows draws:
 * global slot slot_offset + slot of the global batch (the batch itself without data parallel). */
CUIQL_HD static inline uint32_t iql_replay_row(const SamplingArgs *args, uint64_t step, int rows, int slot, uint32_t n) {
    uint64_t global_rows = (uint64_t)(args->global_rows > 0 ? args->global_rows : rows);
    int global_slot = args->slot_offset + slot;
    if (args->sequential) return (uint32_t)((step * global_rows + (uint64_t)global_slot) % (uint64_t)n);
    return philox_index(iql_batch_word(args->seed, step, global_slot), n);
}

#endif
