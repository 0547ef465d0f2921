/* test_json.c — base/json.h: the values the gym bridge's lines hold, the strictness that keeps
 * a corrupt line from reading as a reply, \u escapes, and string literals written back. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "test_util.h"

static JsonValue *parse(const char *s, Error *err) { return json_parse(s, strlen(s), err); }

static void test_values(void) {
    Error err;
    const char *line = "{\"ok\": true, \"env\": \"Hopper-v5\", \"obs_dim\": 11, \"action_low\": [-1.0, -1e0, null],"
                       " \"ref\": {\"name\": \"hopper\", \"random\": -20.272305, \"expert\": 3234.3}, \"no\": false,"
                       " \"empty\": [], \"obj\": {}, \"big\": 1.5E+3}";
    JsonValue *v = parse(line, &err);
    CHECK(v != NULL, "%s", err.msg);
    if (!v) return;
    CHECK(v->type == JSON_OBJECT && v->count == 9, "object of 9, got type %d count %zu", v->type, v->count);
    const JsonValue *ok = json_get(v, "ok"), *env = json_get(v, "env"), *dim = json_get(v, "obs_dim");
    CHECK(ok && ok->type == JSON_BOOL && ok->boolean, "ok");
    CHECK(env && env->type == JSON_STRING && !strcmp(env->string, "Hopper-v5"), "env");
    CHECK(dim && dim->type == JSON_NUMBER && dim->number == 11, "obs_dim");
    const JsonValue *low = json_get(v, "action_low");
    CHECK(low && low->type == JSON_ARRAY && low->count == 3 && low->items[0].number == -1 && low->items[1].number == -1 &&
              low->items[2].type == JSON_NULL,
          "action_low");
    const JsonValue *ref = json_get(v, "ref");
    CHECK(ref && json_get(ref, "random") && json_get(ref, "random")->number == -20.272305 &&
              json_get(ref, "expert")->number == 3234.3 && !strcmp(json_get(ref, "name")->string, "hopper"),
          "ref");
    CHECK(json_get(v, "no")->type == JSON_BOOL && !json_get(v, "no")->boolean, "false");
    CHECK(json_get(v, "empty")->type == JSON_ARRAY && json_get(v, "empty")->count == 0, "[]");
    CHECK(json_get(v, "obj")->type == JSON_OBJECT && json_get(v, "obj")->count == 0, "{}");
    CHECK(json_get(v, "big")->number == 1500, "1.5E+3");
    CHECK(json_get(v, "missing") == NULL && json_get(env, "x") == NULL, "absent member, not an object");
    json_free(v);

    v = parse("  -0.5e-2 \r\n", &err);
    CHECK(v && v->type == JSON_NUMBER && v->number == -0.005, "a bare number with whitespace: %s", v ? "" : err.msg);
    json_free(v);
    v = parse("[[[1]], {\"a\": [2, {\"b\": 3}]}]", &err);
    CHECK(v && v->count == 2 && v->items[0].items[0].items[0].number == 1 &&
              json_get(&json_get(&v->items[1], "a")->items[1], "b")->number == 3,
          "nesting");
    json_free(v);
}

static void test_strings(void) {
    Error err;
    /* Python's json.dumps writes non-ASCII as \u escapes, astral characters as surrogate pairs. */
    JsonValue *v = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t \\u00e9 \\u20ac \\ud83d\\ude00 \xc3\xa9\"", &err);
    CHECK(v && v->type == JSON_STRING, "%s", err.msg);
    if (v)
        CHECK(!strcmp(v->string, "a\"b\\c/d\b\f\n\r\t \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9"), "decoded: %s",
              v->string);
    json_free(v);

    char buf[128];
    int n = json_write_string(buf, sizeof buf, "/runs/a \"b\"\\c\n\x01 \xc3\xa9");
    CHECK(n > 0 && !strcmp(buf, "\"/runs/a \\\"b\\\"\\\\c\\u000a\\u0001 \xc3\xa9\""), "written: %s", buf);
    v = n > 0 ? parse(buf, &err) : NULL;
    CHECK(v && !strcmp(v->string, "/runs/a \"b\"\\c\n\x01 \xc3\xa9"), "round trip");
    json_free(v);
    CHECK(json_write_string(buf, 8, "123456") == -1, "too long for the buffer");
    CHECK(json_write_string(buf, 9, "123456") == 8 && !strcmp(buf, "\"123456\""), "exactly fits");
    CHECK(json_write_string(buf, sizeof buf, "bad \xff") == -1, "not UTF-8");
}

static void test_refused(void) {
    static const char *const bad[] = {
        "", "   ", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a: 1}", "[1 2]", "01", "1.", ".5", "+1", "1e", "-",
        "NaN", "Infinity", "-Infinity", "1e999", "tru", "nulls", "\"abc", "\"a\\x\"", "\"\\u12\"", "\"\\ud83d\"",
        "\"\\ude00\"", "\"\\u0000\"", "\"tab\there\"", "\"\xff\"", "{} {}", "[1] x", "// c\n1", "'a'",
        "{\"a\": [1, 2}", "[{\"a\": 1]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        Error err = {{0}};
        JsonValue *v = parse(bad[i], &err);
        CHECK(v == NULL && !strncmp(err.msg, "column ", 7), "'%s' accepted (or no column in '%s')", bad[i], err.msg);
        json_free(v);
    }
    Error err;
    char deep[2 * JSON_MAX_DEPTH + 8];
    for (int levels = JSON_MAX_DEPTH; levels <= JSON_MAX_DEPTH + 1; levels++) {
        memset(deep, '[', (size_t)levels);
        memset(deep + levels, ']', (size_t)levels);
        deep[2 * levels] = '\0';
        JsonValue *v = parse(deep, &err);
        CHECK(levels <= JSON_MAX_DEPTH ? v != NULL : (v == NULL && strstr(err.msg, "deeply") != NULL),
              "%d levels: %s", levels, v ? "accepted" : err.msg);
        json_free(v);
    }
    const char nul[] = "[1, \0 2]";
    CHECK(json_parse(nul, sizeof nul - 1, &err) == NULL && strstr(err.msg, "NUL"), "a NUL byte: %s", err.msg);
}

int main(void) {
    test_values();
    test_strings();
    test_refused();
    return test_finish("base_json", 0);
}
