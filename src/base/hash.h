/* hash.h — a 64-bit hash of bytes, for telling data apart (not for security): a dataset's
 * fingerprint (data/dataset.h) and the data-parallel ranks' check that their parameters are
 * still the same (run/data_parallel.c). Written here because no library the project uses has
 * one: xxHash64's round and avalanche, about as fast as memory reads. */
#ifndef CUIQL_BASE_HASH_H
#define CUIQL_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_SEED 1609587929392839161ull

/* Mixes one 64-bit word into h. */
uint64_t hash_word(uint64_t h, uint64_t word);
/* Mixes n bytes (and their count) into h. */
uint64_t hash_bytes(uint64_t h, const void *data, size_t n);
/* The avalanche: every bit of the result depends on every bit of h. */
uint64_t hash_finish(uint64_t h);

#endif
