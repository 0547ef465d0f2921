/* sizes.h — checked size arithmetic for everything a file declares, and the memory a reader may
 * ask for.
 *
 * An HDF5 file declares its dimensions in a few bytes: a 2 KB file can claim rows × cols
 * elements whose byte count wraps past 2^64, so that an unchecked `rows * cols * 4` allocates a
 * small buffer which HDF5 then fills far beyond its end. Every size computed from a file goes
 * through these helpers, which refuse instead of wrapping; a reader turns the refusal into a
 * message naming the dataset and its shape.
 *
 *   size_t bytes;
 *   if (size_mul3(rows, cols, sizeof(float), &bytes)) return error_set(err, "... too large");
 *   if (size_check_memory(bytes, &err)) ...              // more than can be had now
 *
 * size_memory_limit() is how much may still be allocated: what the kernel can hand out now
 * (MemAvailable + SwapFree; the physical memory where /proc/meminfo is missing), so a file or a
 * population that would need more is refused with the numbers before malloc's overcommit lets
 * the OOM killer end the process halfway through (or starve the machine's other users). Tests
 * and fuzzers set it with size_set_memory_limit(). */
#ifndef CUIQL_BASE_SIZES_H
#define CUIQL_BASE_SIZES_H

#include <stddef.h>
#include <stdint.h>

#include "cuiql/error.h"

/* *out = a · b (a + b); -1 when the result does not fit size_t, *out untouched. */
int size_mul(uint64_t a, uint64_t b, size_t *out);
int size_add(size_t a, size_t b, size_t *out);
/* *out = a · b · c; -1 when it does not fit. */
int size_mul3(uint64_t a, uint64_t b, uint64_t c, size_t *out);

/* The same for int64_t counts (rows, transitions): -1 on overflow or a negative result. */
int count_add(int64_t a, int64_t b, int64_t *out);

/* The memory that may still be allocated, in bytes (see above). */
size_t size_memory_limit(void);
/* Sets it (0 restores what the kernel reports). */
void size_set_memory_limit(size_t bytes);

/* 0 when `bytes` fits under size_memory_limit(), else -1 with "needs X GB of memory, more than
 * the Y GB available (free memory and swap)" (the caller prefixes what it was loading). */
int size_check_memory(size_t bytes, Error *err);

/* "1.5 GB", "12 MB", "512 bytes" for messages. */
void size_format(size_t bytes, char *buf, size_t len);

#endif
