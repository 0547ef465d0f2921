/* cuda_debug.h — hooks into the CUDA backend for its tests (tests/gpu/), beyond the ops table:
 * the raw cuRAND stream the kernels draw from, and where a replay put its data. C linkage, so
 * the C tests can call them; defined only in CUDA builds. */
#ifndef CUIQL_CUDA_DEBUG_H
#define CUIQL_CUDA_DEBUG_H

#include <stdint.h>

#include "cuiql/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dst[j] (device memory, n words) = the cuRAND Philox4_32_10 word at `offset + j` of stream
 * (seed, subsequence). one_thread = 1: one thread calls curand_init(seed, subsequence, offset)
 * then curand() n times (the state's own stepping, across Philox blocks); 0: thread j calls
 * curand_init(seed, subsequence, offset + j) and curand() once. Asynchronous, like a step op:
 * failures show in status(). */
void cuda_debug_philox_words(Backend *b, uint32_t *dst, int64_t n, uint64_t seed, uint64_t subsequence,
                             uint64_t offset, int one_thread);

/* REPLAY_DEVICE or REPLAY_HOST: where replay_create put the data (auto resolved). */
int cuda_debug_replay_mode(const Replay *r);

/* Host replays: how many gathers found their batch already staged by the stage kernel (the
 * overlapped path) rather than reading the rows over PCIe themselves. Read after
 * synchronize(); -1 if the count cannot be read. */
int64_t cuda_debug_replay_staged_hits(const Replay *r);

/* gemm_bias_activation calls issued through one fused cuBLASLt call, and as a GEMM then the
 * bias kernel (epilogues off, or no cuBLASLt algorithm for the shape). */
void cuda_debug_epilogue_calls(Backend *b, int64_t *fused, int64_t *unfused);

#ifdef __cplusplus
}
#endif

#endif
