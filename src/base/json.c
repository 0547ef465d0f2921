/* json.c — a strict JSON reader into a tree, and JSON string literals (json.h). Recursive
 * descent over the text; every node is its own allocation, freed by json_free. */
#include "base/json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"

typedef struct {
    const char *s;
    size_t n, i;
    Error *err;
} Parser;

static int fail(Parser *p, const char *what) {
    return error_set(p->err, "column %zu: %s", p->i + 1, what);
}

static void skip_space(Parser *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int literal(Parser *p, const char *word) {
    size_t k = strlen(word);
    if (p->n - p->i < k || memcmp(p->s + p->i, word, k)) return fail(p, "not a JSON value");
    p->i += k;
    return 0;
}

/* The JSON number grammar, checked before strtod reads it (strtod alone would take "0x1p3",
 * "inf", leading '+' or ".5"). */
static int number(Parser *p, double *out) {
    size_t start = p->i, i = p->i;
    const char *s = p->s;
    if (i < p->n && s[i] == '-') i++;
    if (i < p->n && s[i] == '0') i++;
    else if (i < p->n && s[i] >= '1' && s[i] <= '9') while (i < p->n && s[i] >= '0' && s[i] <= '9') i++;
    else return fail(p, "not a JSON value");
    if (i < p->n && s[i] == '.') {
        size_t d = ++i;
        while (i < p->n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return fail(p, "a digit must follow the decimal point");
    }
    if (i < p->n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->n && (s[i] == '+' || s[i] == '-')) i++;
        size_t d = i;
        while (i < p->n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return fail(p, "a digit must follow the exponent");
    }
    char buf[64];
    if (i - start >= sizeof buf) return fail(p, "number too long");
    memcpy(buf, s + start, i - start);
    buf[i - start] = '\0';
    *out = strtod(buf, NULL);
    if (!isfinite(*out)) return fail(p, "number out of range");
    p->i = i;
    return 0;
}

static int hex4(Parser *p, uint32_t *out) {
    if (p->n - p->i < 4) return fail(p, "\\u needs four hex digits");
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i + k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return fail(p, "\\u needs four hex digits");
        v = v * 16 + (uint32_t)d;
    }
    p->i += 4;
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000)
        return o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)), o[2] = (char)(0x80 | (cp & 0x3F)), 3;
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string literal at p->i (the opening quote) into a malloc'd C string. The decoded text is
 * never longer than the literal, so one allocation of the literal's length is enough. */
static int string(Parser *p, char **out) {
    p->i++;  /* the opening quote */
    size_t end = p->i;
    while (end < p->n && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->n) return fail(p, "unterminated string");
    char *o = malloc(end - p->i + 1);
    if (!o) return fail(p, "out of memory");
    size_t k = 0;
    while (p->i < end) {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c < 0x20) {
            free(o);
            return fail(p, "control character in a string");
        }
        if (c != '\\') {
            uint32_t cp;
            size_t len = utf8_decode((const unsigned char *)p->s + p->i, end - p->i, &cp);
            if (!len) {
                free(o);
                return fail(p, "a string is not valid UTF-8");
            }
            memcpy(o + k, p->s + p->i, len);
            k += len;
            p->i += len;
            continue;
        }
        char e = p->s[p->i + 1];
        p->i += 2;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            o[k++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            continue;
        }
        uint32_t cp;
        if (e != 'u' || hex4(p, &cp)) {
            free(o);
            return e != 'u' ? fail(p, "unknown escape in a string") : -1;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {  /* a high surrogate: its low half must follow */
            uint32_t lo;
            if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' || (p->i += 2, hex4(p, &lo)) ||
                lo < 0xDC00 || lo > 0xDFFF) {
                free(o);
                return fail(p, "unpaired surrogate in a string");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            free(o);
            return fail(p, "unpaired surrogate in a string");
        }
        if (cp == 0) {
            free(o);
            return fail(p, "U+0000 in a string");
        }
        k += put_utf8(o + k, cp);
    }
    o[k] = '\0';
    p->i = end + 1;
    *out = o;
    return 0;
}

static void free_children(JsonValue *v) {
    if (v->type == JSON_STRING) free(v->string);
    for (size_t k = 0; k < v->count; k++) {
        free_children(&v->items[k]);
        if (v->keys) free(v->keys[k]);
    }
    free(v->items);
    free(v->keys);
}

static int value(Parser *p, JsonValue *v, int depth);

/* Grows an array or object by one slot (doubling; count is the slots in use). */
static int grow(Parser *p, JsonValue *v, size_t *cap) {
    if (v->count < *cap) return 0;
    size_t n = *cap ? 2 * *cap : 4;
    JsonValue *items = realloc(v->items, n * sizeof *items);
    if (!items) return fail(p, "out of memory");
    v->items = items;
    if (v->type == JSON_OBJECT) {
        char **keys = realloc(v->keys, n * sizeof *keys);
        if (!keys) return fail(p, "out of memory");
        v->keys = keys;
    }
    *cap = n;
    return 0;
}

static int container(Parser *p, JsonValue *v, int depth) {
    int object = p->s[p->i] == '{';
    char close = object ? '}' : ']';
    v->type = object ? JSON_OBJECT : JSON_ARRAY;
    if (depth >= JSON_MAX_DEPTH) return fail(p, "nested too deeply");
    p->i++;
    skip_space(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    for (size_t cap = 0;;) {
        if (grow(p, v, &cap)) return -1;
        JsonValue *item = &v->items[v->count];
        memset(item, 0, sizeof *item);
        if (object) {
            skip_space(p);
            if (p->i >= p->n || p->s[p->i] != '"') return fail(p, "an object member must start with a name");
            if (string(p, &v->keys[v->count])) return -1;
            skip_space(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(v->keys[v->count]);
                return fail(p, "':' must follow a member name");
            }
            p->i++;
        }
        v->count++;  /* counted now so that a failure below frees what it holds */
        if (value(p, item, depth + 1)) return -1;
        skip_space(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return 0;
        }
        return fail(p, object ? "',' or '}' expected" : "',' or ']' expected");
    }
}

static int value(Parser *p, JsonValue *v, int depth) {
    skip_space(p);
    if (p->i >= p->n) return fail(p, "a value is missing");
    switch (p->s[p->i]) {
    case '{':
    case '[': return container(p, v, depth);
    case '"': v->type = JSON_STRING; return string(p, &v->string);
    case 't': v->type = JSON_BOOL; v->boolean = 1; return literal(p, "true");
    case 'f': v->type = JSON_BOOL; v->boolean = 0; return literal(p, "false");
    case 'n': v->type = JSON_NULL; return literal(p, "null");
    default: v->type = JSON_NUMBER; return number(p, &v->number);
    }
}

JsonValue *json_parse(const char *text, size_t len, Error *err) {
    Parser p = {text, len, 0, err};
    if (memchr(text, '\0', len)) {
        error_set(err, "column %zu: NUL byte", (size_t)((const char *)memchr(text, '\0', len) - text) + 1);
        return NULL;
    }
    JsonValue *v = calloc(1, sizeof *v);
    if (!v) {
        error_set(err, "out of memory");
        return NULL;
    }
    int rc = value(&p, v, 0);
    if (!rc) {
        skip_space(&p);
        if (p.i < p.n) rc = fail(&p, "text after the value");
    }
    if (rc) {
        json_free(v);
        return NULL;
    }
    return v;
}

void json_free(JsonValue *v) {
    if (!v) return;
    free_children(v);
    free(v);
}

const JsonValue *json_get(const JsonValue *v, const char *key) {
    if (!v || v->type != JSON_OBJECT) return NULL;
    for (size_t k = 0; k < v->count; k++)
        if (!strcmp(v->keys[k], key)) return &v->items[k];
    return NULL;
}

int json_write_string(char *buf, size_t cap, const char *s) {
    size_t k = 0, n = strlen(s);
    if (cap < 3) return -1;
    buf[k++] = '"';
    for (size_t i = 0, len; i < n; i += len) {
        uint32_t cp;
        len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!len) return -1;
        char esc[8];
        size_t m;
        if (cp == '"' || cp == '\\') m = (size_t)snprintf(esc, sizeof esc, "\\%c", (char)cp);
        else if (cp < 0x20) m = (size_t)snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
        else memcpy(esc, s + i, len), m = len;
        if (k + m + 2 > cap) return -1;  /* room for the closing quote and the NUL */
        memcpy(buf + k, esc, m);
        k += m;
    }
    buf[k++] = '"';
    buf[k] = '\0';
    return (int)k;
}
