/* config_value.c — what a key is given, from a YAML node or from --set text (a Value), and
 * applying it to the key's field in Config; the --set forms. Values are checked strictly
 * (base/parse.h): the whole text must be a value of the key's type. */
#include "algo/config_internal.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"

static const char *shape_name(const Value *v) {
    return v->shape == V_SEQUENCE ? "a sequence" : v->shape == V_MAPPING ? "a mapping" : "a scalar";
}

int config_is_null_text(const char *s) {
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

int config_bad_value(Error *err, const char *key, const char *expected, const Value *v) {
    if (v->shape != V_SCALAR) return error_set(err, "%s: expected %s, got %s", key, expected, shape_name(v));
    if (v->is_null) return error_set(err, "%s: expected %s, got null", key, expected);
    size_t n = strlen(v->text);
    return error_set(err, "%s: expected %s, got '%.80s%s'", key, expected, v->text, n > 80 ? "..." : "");
}

void config_choices_text(const char *const *choices, const char *sep, const char *sep_last, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; choices[i]; i++) {
        const char *s = i == 0 ? "" : choices[i + 1] ? sep : sep_last;
        int w = snprintf(buf + len, n - len, "%s%s", s, choices[i]);
        if (w < 0 || (size_t)w >= n - len) return;
        len += (size_t)w;
    }
}

static int parse_choice(const char *s, const char *const *choices) {
    for (int i = 0; choices[i]; i++)
        if (!strcmp(s, choices[i])) return i;
    return -1;
}

/* ---- applying a value to one key ------------------------------------------------------------ */

/* Parses v for key k and stores it in cfg; on error cfg is untouched and the message starts
 * with `shown` (the key as the user wrote it: ours, or CORL's name for it). */
int config_apply_value(Config *cfg, const KeyDef *k, const char *shown, const Value *v, Error *err) {
    void *p = (char *)cfg + k->offset;
    char choices[256];
    if (k->kind != K_INT_LIST && k->kind != K_GROUP_LIST && k->kind != K_STRING &&
        (v->shape != V_SCALAR || v->is_null)) {
        static const char *const expected[] = {
            [K_DOUBLE] = "a number", [K_INT] = "an integer", [K_INT64] = "an integer",
            [K_UINT64] = "a non-negative integer", [K_BOOL] = "true or false"};
        if (k->kind == K_ENUM) {
            config_choices_text(k->choices, ", ", " or ", choices, sizeof choices);
            return config_bad_value(err, shown, choices, v);
        }
        return config_bad_value(err, shown, expected[k->kind], v);
    }
    switch (k->kind) {
    case K_DOUBLE: {
        double d;
        if (parse_double(v->text, &d)) return config_bad_value(err, shown, "a number", v);
        *(double *)p = d;
        return 0;
    }
    case K_INT:
    case K_INT64: {
        int64_t i;
        int rc = parse_int64(v->text, &i);
        if (rc == -1) return config_bad_value(err, shown, "an integer", v);
        if (rc == -2 || (k->kind == K_INT && (i < INT_MIN || i > INT_MAX)))
            return error_set(err, "%s: %.80s is out of range", shown, v->text);
        if (k->kind == K_INT) *(int *)p = (int)i;
        else *(int64_t *)p = i;
        return 0;
    }
    case K_UINT64: {
        uint64_t u;
        int rc = parse_uint64(v->text, &u);
        if (rc == -1) return config_bad_value(err, shown, "a non-negative integer", v);
        if (rc == -2) return error_set(err, "%s: %.80s is out of range", shown, v->text);
        *(uint64_t *)p = u;
        return 0;
    }
    case K_BOOL: {
        int b;
        if (parse_bool(v->text, &b)) return config_bad_value(err, shown, "true or false", v);
        *(int *)p = b;
        return 0;
    }
    case K_ENUM: {
        int i = parse_choice(v->text, k->choices);
        if (i < 0) {
            config_choices_text(k->choices, ", ", " or ", choices, sizeof choices);
            return config_bad_value(err, shown, choices, v);
        }
        *(int *)p = i;
        return 0;
    }
    case K_STRING: {
        if (v->shape != V_SCALAR) return config_bad_value(err, shown, "a string", v);
        const char *s = v->is_null ? "" : v->text;
        if (strlen(s) >= k->aux)
            return error_set(err, "%s: longer than %zu bytes", shown, k->aux - 1);
        if (!utf8_valid(s)) return error_set(err, "%s: not valid UTF-8", shown);
        memcpy(p, s, strlen(s) + 1);
        return 0;
    }
    case K_INT_LIST: {
        if (v->shape != V_SEQUENCE) return config_bad_value(err, shown, "a list of integers like [256, 256]", v);
        if (v->n_items < 1 || v->n_items > CONFIG_MAX_HIDDEN)
            return error_set(err, "%s: expected 1 to %d sizes, got %d", shown, CONFIG_MAX_HIDDEN, v->n_items);
        int vals[CONFIG_MAX_HIDDEN];
        for (int i = 0; i < v->n_items; i++) {
            int64_t x;
            int rc = parse_int64(v->items[i], &x);
            if (rc || x < INT_MIN || x > INT_MAX)
                return error_set(err, "%s: entry %d: expected an integer, got '%.80s'", shown, i + 1,
                                 v->items[i]);
            vals[i] = (int)x;
        }
        memcpy(p, vals, (size_t)v->n_items * sizeof(int));
        *(int *)((char *)cfg + k->aux) = v->n_items;
        return 0;
    }
    case K_GROUP_LIST: {
        if (v->shape != V_SEQUENCE) return config_bad_value(err, shown, "a list like [policy, value, q]", v);
        int flags[LR_GROUP_COUNT] = {0};
        for (int i = 0; i < v->n_items; i++) {
            int g = parse_choice(v->items[i], k->choices);
            if (g < 0) {
                config_choices_text(k->choices, ", ", " or ", choices, sizeof choices);
                return error_set(err, "%s: entry %d: expected %s, got '%.80s'", shown, i + 1, choices,
                                 v->items[i]);
            }
            flags[g] = 1;
        }
        memcpy(p, flags, sizeof flags);
        return 0;
    }
    }
    return error_set(err, "%s: internal error: unknown key kind", shown);
}


int config_unknown_key(Error *err, const char *name) {
    const char *ours = NULL;
    if (corl_key_info(name, &ours) && ours && strcmp(ours, name))
        return error_set(err, "unknown config key '%s' (CORL's name for '%s')", name, ours);
    if (corl_key_info(name, &ours) && !config_find_key(name)) {
        char marks[256];
        corl_marker_names(marks, sizeof marks);
        return error_set(err, "unknown config key '%s' (a CORL key, accepted in CORL files: those with %s)", name,
                         marks);
    }
    return error_set(err, "unknown config key '%s'", name);
}

/* ---- --set ---------------------------------------------------------------------------------- */

static char *trim(char *s) {
    while (*s && strchr(" \t\r\n", *s)) s++;
    size_t n = strlen(s);
    while (n && strchr(" \t\r\n", s[n - 1])) s[--n] = '\0';
    return s;
}

/* Removes one pair of matching outer quotes; returns whether there were any. */
static int unquote(char **s) {
    size_t n = strlen(*s);
    if (n >= 2 && ((*s)[0] == '"' || (*s)[0] == '\'') && (*s)[n - 1] == (*s)[0]) {
        (*s)[n - 1] = '\0';
        (*s)++;
        return 1;
    }
    return 0;
}

/* Splits "[a, b]" or "a,b" for list keys; removes one pair of outer quotes from a scalar. */
int config_value_from_text(const KeyDef *k, const char *text, char *buf, size_t bufsize, Value *v, Error *err) {
    if (strlen(text) >= bufsize) return error_set(err, "%s: value is too long", k->name);
    strcpy(buf, text);
    char *s = trim(buf);
    memset(v, 0, sizeof *v);
    if (k->kind != K_INT_LIST && k->kind != K_GROUP_LIST) {
        int quoted = unquote(&s);
        v->shape = V_SCALAR;
        v->text = s;
        v->is_null = !quoted && config_is_null_text(s);
        return 0;
    }
    v->shape = V_SEQUENCE;
    size_t n = strlen(s);
    if (n && s[0] == '[') {
        if (s[n - 1] != ']') return error_set(err, "%s: unbalanced '[' in '%.80s'", k->name, text);
        s[n - 1] = '\0';
        s = trim(s + 1);
        if (!*s) return 0; /* "[]" */
    }
    for (char *item = s;;) {
        char *comma = strchr(item, ',');
        if (comma) *comma = '\0';
        char *t = trim(item);
        unquote(&t);
        if (!*t) return error_set(err, "%s: empty entry in '%.80s'", k->name, text);
        if (v->n_items == VALUE_MAX_ITEMS)
            return error_set(err, "%s: more than %d entries", k->name, VALUE_MAX_ITEMS);
        v->items[v->n_items++] = t;
        if (!comma) break;
        item = comma + 1;
    }
    return 0;
}

int config_set(Config *cfg, const char *key, const char *value, Error *err) {
    const KeyDef *k = config_find_key(key);
    if (!k) return config_unknown_key(err, key);
    char buf[CONFIG_PATH_MAX + 64];
    Value v;
    if (config_value_from_text(k, value, buf, sizeof buf, &v, err)) return -1;
    return config_apply_value(cfg, k, k->name, &v, err);
}

int config_set_assignment(Config *cfg, const char *assignment, Error *err) {
    const char *eq = strchr(assignment, '=');
    if (!eq) return error_set(err, "expected key=value, got '%.200s'", assignment);
    char key[128];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof key) return error_set(err, "expected key=value, got '%.200s'", assignment);
    memcpy(key, assignment, n);
    key[n] = '\0';
    char *k = trim(key);
    if (!*k) return error_set(err, "expected key=value, got '%.200s'", assignment);
    return config_set(cfg, k, eq + 1, err);
}

