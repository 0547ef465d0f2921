/* error.h — errors are values: a function that can fail fills an Error and returns -1 (or
 * NULL); its caller adds context or passes it up; main() prints the one line and exits non-zero.
 * Messages name what and where: "data/hopper.hdf5: dataset 'rewards': has 999 rows, expected 1000".
 *
 * Every layer uses it, the backends included, so it lives with the shared headers; the two
 * functions are defined in src/base/error.c. */
#ifndef CUIQL_ERROR_H
#define CUIQL_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char msg[1024];
} Error;

/* Sets the message (printf-style) and returns -1 so callers can `return error_set(err, ...)`. */
int error_set(Error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prepends "prefix: " to the message already in err; returns -1. */
int error_prefix(Error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif
