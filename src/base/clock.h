/* clock.h — seconds on the monotonic clock, for durations (deadlines, step rates, timings):
 * unlike the wall clock it never jumps when the system time is set. */
#ifndef CUIQL_BASE_CLOCK_H
#define CUIQL_BASE_CLOCK_H

#include <time.h>

static inline double clock_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
