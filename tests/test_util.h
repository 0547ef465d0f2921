/* test_util.h — the few helpers every C test uses: checks that count failures and print
 * where and by how much, and a relative-error measure. A test's main returns test_finish(). */
#ifndef CUIQL_TEST_UTIL_H
#define CUIQL_TEST_UTIL_H

#include <stddef.h>

extern int test_failures;

/* Records a failure (with file:line and the message) when cond is false. */
#define CHECK(cond, ...) test_check((cond), __FILE__, __LINE__, #cond, __VA_ARGS__)
void test_check(int ok, const char *file, int line, const char *expr, const char *fmt, ...);

/* ‖a − b‖ / max(‖b‖, tiny), in double; NaN anywhere gives +inf. */
double test_rel_error_f(const float *a, const float *b, size_t n);
double test_rel_error_d(const float *a, const double *b, size_t n);

/* Prints "N passed, M failed" and returns the exit code (0 when nothing failed). */
int test_finish(const char *name, int checks_run);

#define TEST_SKIP 77

#endif
