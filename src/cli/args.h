/* args.h — parsing of command-line numbers, shared by the subcommands. */
#ifndef CUIQL_ARGS_H
#define CUIQL_ARGS_H

#include <stdint.h>

/* Strict decimal parse of a non-negative integer that fits in uint64 (no sign, no trailing
 * characters); 0 on success, -1 otherwise. */
int parse_u64(const char *s, uint64_t *out);

#endif
