/* error.c — formatting of Error values (see error.h). */
#include "cuiql/error.h"

#include <stdio.h>
#include <string.h>

int error_set(Error *err, const char *fmt, ...) {
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int error_prefix(Error *err, const char *fmt, ...) {
    if (!err) return -1;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Built by hand rather than snprintf("%s: %s") so an over-long message is cut silently
     * (truncation is the intended behaviour here, and -Wformat-truncation would flag it). */
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    size_t cap = sizeof err->msg - 1, len = 0;
    for (const char *part[] = {prefix, ": ", old}, **p = part; p < part + 3; p++)
        for (const char *c = *p; *c && len < cap; c++) err->msg[len++] = *c;
    err->msg[len] = '\0';
    return -1;
}
