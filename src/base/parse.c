/* parse.c — strict parsers (see parse.h). */
#include "base/parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* strtod and strtoll skip leading white space; a strict parser does not. */
static int starts_with_space(const char *s) { return strchr(" \t\n\r\f\v", *s) != NULL; }

int parse_double(const char *s, double *out) {
    if (!s || !*s || starts_with_space(s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || !isfinite(v)) return -1; /* rejects nan, inf and overflow (HUGE_VAL) */
    *out = v;
    return 0;
}

int parse_int64(const char *s, int64_t *out) {
    if (!s || !*s || starts_with_space(s)) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*end) {
        if (errno == ERANGE) return -2;
        *out = v;
        return 0;
    }
    double d;
    if (parse_double(s, &d) || d != floor(d)) return -1;
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return -2;
    *out = (int64_t)d;
    return 0;
}

int parse_uint64(const char *s, uint64_t *out) {
    if (!s || !*s || strchr(" \t\n\r\f\v+-", *s)) return -1; /* strtoull would wrap "-1" */
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) return -1;
    if (errno == ERANGE) return -2;
    *out = v;
    return 0;
}

int parse_bool(const char *s, int *out) {
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; s && i < 4; i++) {
        if (!strcasecmp(s, yes[i])) return *out = 1, 0;
        if (!strcasecmp(s, no[i])) return *out = 0, 0;
    }
    return -1;
}

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    if (s[0] < 0x80) return *cp = s[0], 1;
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (!len || len > n || s[0] > 0xF4) return 0;
    uint32_t c = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min_for_len[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

int utf8_valid(const char *s) {
    size_t n = strlen(s);
    uint32_t cp;
    for (size_t i = 0, len; i < n; i += len)
        if (!(len = utf8_decode((const unsigned char *)s + i, n - i, &cp))) return 0;
    return 1;
}
