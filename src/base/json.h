/* json.h — one line of JSON (RFC 8259) read into a tree, and strings written as JSON literals:
 * the protocol of the gymnasium bridge (docs/gym-bridge.md) is JSON lines.
 *
 *     JsonValue *v = json_parse(line, len, &err);
 *     const JsonValue *obs = json_get(v, "obs_dim");
 *     if (!v || !obs || obs->type != JSON_NUMBER) ...
 *     json_free(v);
 *
 * Strict: one value and nothing after it but whitespace; no NaN, Infinity, comments or trailing
 * commas; strings must be valid UTF-8 and may not contain U+0000 (they are handed out as C
 * strings); \u escapes (surrogate pairs included) are decoded to UTF-8; nesting is limited to
 * JSON_MAX_DEPTH. A number is read as a double (integers beyond 2^53 lose precision). */
#ifndef CUIQL_BASE_JSON_H
#define CUIQL_BASE_JSON_H

#include <stddef.h>

#include "cuiql/error.h"

#define JSON_MAX_DEPTH 32

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue JsonValue;
struct JsonValue {
    JsonType type;
    int boolean;       /* JSON_BOOL */
    double number;     /* JSON_NUMBER */
    char *string;      /* JSON_STRING: NUL-terminated UTF-8 */
    size_t count;      /* JSON_ARRAY, JSON_OBJECT: elements / members */
    JsonValue *items;  /* their values, in order */
    char **keys;       /* JSON_OBJECT: their names (a repeated name: json_get finds the first) */
};

/* Parses text[0..len) (NUL bytes in it are an error). NULL and err on failure: "column C: ...". */
JsonValue *json_parse(const char *text, size_t len, Error *err);

/* Frees a tree from json_parse; NULL is a no-op. */
void json_free(JsonValue *v);

/* The member `key` of an object; NULL when v is not an object or has no such member. */
const JsonValue *json_get(const JsonValue *v, const char *key);

/* Writes s (NUL-terminated UTF-8) as a JSON string literal, quotes included, into buf[cap].
 * Returns the length written, or -1 when it does not fit or s is not valid UTF-8. */
int json_write_string(char *buf, size_t cap, const char *s);

#endif
