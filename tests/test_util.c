/* test_util.c — see test_util.h. */
#include "test_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

int test_failures = 0;
static int test_checks = 0;

void test_check(int ok, const char *file, int line, const char *expr, const char *fmt, ...) {
    test_checks++;
    if (ok) return;
    test_failures++;
    fprintf(stderr, "FAIL %s:%d: %s: ", file, line, expr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double test_rel_error_f(const float *a, const float *b, size_t n) {
    double diff = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        if (isnan(a[i]) || isnan(b[i])) return INFINITY;
        diff += d * d;
        norm += (double)b[i] * b[i];
    }
    return sqrt(diff) / fmax(sqrt(norm), 1e-30);
}

double test_rel_error_d(const float *a, const double *b, size_t n) {
    double diff = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) return INFINITY;
        double d = (double)a[i] - b[i];
        diff += d * d;
        norm += b[i] * b[i];
    }
    return sqrt(diff) / fmax(sqrt(norm), 1e-30);
}

int test_finish(const char *name, int checks_run) {
    (void)checks_run;
    int passed = test_checks - test_failures;
    printf("%s: %d passed, %d failed\n", name, passed, test_failures);
    return test_failures ? 1 : 0;
}
