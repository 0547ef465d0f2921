/* parse.h — strict parsing of the numbers, booleans and strings a user types, shared by the
 * config reader (YAML scalars, --set) and the command-line options.
 *
 * "Strict" means the whole text is consumed: no leading space, no trailing characters, no
 * silent wrap of "-1" into an unsigned, no NaN or infinity. Each parser returns 0 on success,
 * -1 when the text is not of its kind and (the integer parsers) -2 when it is, but out of range;
 * *out is written only on success. */
#ifndef CUIQL_BASE_PARSE_H
#define CUIQL_BASE_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* A finite decimal or exponent number ("0.97", "3e-4"). */
int parse_double(const char *s, double *out);

/* A signed integer; an integral number in exponent form ("1e6") is accepted too, because step
 * counts are naturally written that way. */
int parse_int64(const char *s, int64_t *out);

/* A non-negative decimal integer without a sign. */
int parse_uint64(const char *s, uint64_t *out);

/* true/yes/on/1 or false/no/off/0, any case (YAML 1.1's booleans). */
int parse_bool(const char *s, int *out);

/* Length of the UTF-8 sequence at s (n bytes left) and its code point; 0 when invalid
 * (overlong, surrogate, beyond U+10FFFF, truncated). */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* 1 when the NUL-terminated s is valid UTF-8. */
int utf8_valid(const char *s);

#endif
