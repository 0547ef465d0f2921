/* crc32c.h — CRC-32C (Castagnoli), the checksum that frames TensorBoard event records.
 *
 * Hand-written rather than a dependency: the algorithm is a 256-entry table and a three-line
 * loop, and no maintained C library offering it (crc32c in LevelDB/Abseil is C++, zlib has only
 * the IEEE polynomial) would be a reasonable thing to add to the build for that.
 * Pure functions, thread-safe. */
#ifndef CUIQL_LOG_CRC32C_H
#define CUIQL_LOG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of n bytes: reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF.
 * crc32c("123456789", 9) == 0xE3069283. data may be NULL when n == 0. */
uint32_t crc32c(const void *data, size_t n);

/* Continues a CRC over more bytes: crc32c_extend(crc32c(a, na), b, nb) == crc32c(a ‖ b). */
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n);

/* LevelDB's / TFRecord's mask, ((crc >> 15) | (crc << 17)) + 0xA282EAD8 mod 2^32. It exists so
 * that a CRC stored inside the data it covers does not checksum to a fixed point. */
uint32_t crc32c_masked(uint32_t crc);

#endif
