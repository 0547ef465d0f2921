/* config_yaml.c — reading a config file: the whole file, parsed with libyaml's document API
 * (so every node keeps its line for error messages), checked for duplicate and conflicting
 * keys, then applied key by key (ours, or CORL's through config_corl.c). */
#include "algo/config_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define CONFIG_FILE_MAX (16 << 20)
/* A config is a mapping of scalars and short lists: depth 2. libyaml's scanner slows down
 * quadratically with nesting (100k levels took 44 s), so deeper input is refused after a
 * first pass over its events, which stops as soon as the cap is passed. */
#define CONFIG_MAX_DEPTH 32

/* The whole file in a malloc'd buffer, so read errors (a directory, EIO) are reported as such
 * rather than as libyaml's "input error". */
static char *read_file(const char *path, size_t *len, Error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(err, "%s: cannot open: %s", path, strerror(errno)), NULL;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return error_set(err, "%s: cannot read: is a directory", path), NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        if (cap >= CONFIG_FILE_MAX) {
            free(buf);
            fclose(f);
            return error_set(err, "%s: larger than %d MiB; not a config file?", path, CONFIG_FILE_MAX >> 20), NULL;
        }
        char *grown = realloc(buf, cap *= 2);
        if (!grown) free(buf);
        buf = grown;
    }
    int read_failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (!buf) return error_set(err, "%s: out of memory", path), NULL;
    if (read_failed) {
        free(buf);
        return error_set(err, "%s: cannot read: %s", path, strerror(saved)), NULL;
    }
    *len = n;
    return buf;
}

static int yaml_error(const char *path, const yaml_parser_t *p, Error *err) {
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_MEMORY_ERROR) return error_set(err, "%s: out of memory while parsing YAML", path);
    if (p->error == YAML_READER_ERROR)
        return error_set(err, "%s: YAML error: %s at byte %zu", path, problem, p->problem_offset);
    if (p->context)
        return error_set(err, "%s:%zu:%zu: YAML syntax error: %s %s (line %zu)", path,
                         p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context,
                         p->context_mark.line + 1);
    return error_set(err, "%s:%zu:%zu: YAML syntax error: %s", path, p->problem_mark.line + 1,
                     p->problem_mark.column + 1, problem);
}

/* Refuses nesting deeper than CONFIG_MAX_DEPTH, reading events only until it is reached; a
 * syntax error is left for the real load to report with its context. */
static int check_depth(const char *path, const char *text, size_t len, Error *err) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return error_set(err, "%s: out of memory", path);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int depth = 0, rc = 0;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) break;
        yaml_event_type_t type = e.type;
        size_t line = e.start_mark.line + 1;
        yaml_event_delete(&e);
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++depth > CONFIG_MAX_DEPTH) {
                rc = error_set(err, "%s:%zu: nested more than %d levels deep; a config is a mapping of values and "
                               "short lists", path, line, CONFIG_MAX_DEPTH);
                break;
            }
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            depth--;
        } else if (type == YAML_STREAM_END_EVENT) {
            break;
        }
    }
    yaml_parser_delete(&p);
    return rc;
}

static const char *node_text(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }
static size_t node_line(const yaml_node_t *n) { return n->start_mark.line + 1; }

/* The Value of a node; nested collections inside a sequence are refused here. */
static int value_from_node(yaml_document_t *doc, yaml_node_t *n, const char *key, Value *v, Error *err) {
    memset(v, 0, sizeof *v);
    switch (n->type) {
    case YAML_SCALAR_NODE:
        if (strlen(node_text(n)) != n->data.scalar.length)
            return error_set(err, "%s: value contains a NUL character", key);
        v->shape = V_SCALAR;
        v->text = node_text(n);
        v->is_null = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && config_is_null_text(v->text);
        return 0;
    case YAML_SEQUENCE_NODE:
        v->shape = V_SEQUENCE;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            yaml_node_t *item = yaml_document_get_node(doc, *it);
            if (!item || item->type != YAML_SCALAR_NODE)
                return error_set(err, "%s: entry %d: expected a scalar, got a nested %s", key,
                                 v->n_items + 1,
                                 item && item->type == YAML_MAPPING_NODE ? "mapping" : "sequence");
            if (v->n_items == VALUE_MAX_ITEMS)
                return error_set(err, "%s: more than %d entries", key, VALUE_MAX_ITEMS);
            v->items[v->n_items++] = node_text(item);
        }
        return 0;
    case YAML_MAPPING_NODE:
        v->shape = V_MAPPING;
        return 0;
    default:
        return error_set(err, "%s: empty node", key);
    }
}


/* One key: value pair of a file: ours, or (in a CORL file) CORL's. */
static int apply_pair(Config *cfg, int corl, const char *name, const Value *v, CorlFileState *state, Error *err) {
    if (corl) return corl_apply_pair(cfg, name, v, state, err);
    const KeyDef *k = config_find_key(name);
    if (!k) return config_unknown_key(err, name);
    return config_apply_value(cfg, k, name, v, err);
}

/* The keys seen so far, hashed: comparing each key with every earlier one took 119 s for a
 * file of 100k keys. Open addressing over at least twice as many slots as keys. */
typedef struct {
    yaml_node_t **slots;
    size_t mask;
} KeySet;

static int keyset_init(KeySet *set, size_t keys) {
    size_t cap = 16;
    while (cap < 2 * keys) cap *= 2;
    set->slots = calloc(cap, sizeof *set->slots);
    set->mask = cap - 1;
    return set->slots ? 0 : -1;
}

static uint64_t text_hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The earlier key node with the same text, or NULL after adding this one. */
static yaml_node_t *seen_before(KeySet *set, yaml_node_t *key) {
    for (size_t i = text_hash(node_text(key)) & set->mask;; i = (i + 1) & set->mask) {
        if (!set->slots[i]) {
            set->slots[i] = key;
            return NULL;
        }
        if (!strcmp(node_text(set->slots[i]), node_text(key))) return set->slots[i];
    }
}

/* Applies the document's mapping to cfg (a scratch copy: the caller commits on success). */
static int apply_document(Config *cfg, const char *path, yaml_document_t *doc, ConfigNotes *notes, Error *err) {
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root) return 0; /* empty file or only comments: nothing to set */
    if (root->type != YAML_MAPPING_NODE)
        return error_set(err, "%s:%zu: the top level must be a mapping of key: value, got a %s", path,
                         node_line(root), root->type == YAML_SEQUENCE_NODE ? "sequence" : "scalar");

    yaml_node_pair_t *pairs = root->data.mapping.pairs.start, *end = root->data.mapping.pairs.top;
    int corl = 0;
    KeySet seen;
    if (keyset_init(&seen, (size_t)(end - pairs))) return error_set(err, "%s: out of memory", path);
    for (yaml_node_pair_t *p = pairs; p < end; p++) {
        yaml_node_t *key = yaml_document_get_node(doc, p->key);
        if (!key || key->type != YAML_SCALAR_NODE) {
            free(seen.slots);
            return error_set(err, "%s:%zu: keys must be names, got a %s", path, key ? node_line(key) : 0,
                             key && key->type == YAML_MAPPING_NODE ? "mapping" : "sequence");
        }
        yaml_node_t *earlier = seen_before(&seen, key);
        if (earlier) {
            free(seen.slots);
            return error_set(err, "%s:%zu: duplicate key '%s' (first at line %zu)", path, node_line(key),
                             node_text(key), node_line(earlier));
        }
        if (corl_marks_file(node_text(key))) corl = 1;
    }
    free(seen.slots);

    /* Two names for one setting (steps and max_timesteps, policy and iql_deterministic) would
     * otherwise be decided silently by their order in the file. */
    for (yaml_node_pair_t *p = pairs; p < end; p++) {
        const char *name = node_text(yaml_document_get_node(doc, p->key));
        const char *target = corl_target_of(corl, name);
        for (yaml_node_pair_t *q = pairs; q < p && target; q++) {
            yaml_node_t *earlier = yaml_document_get_node(doc, q->key);
            const char *other = corl_target_of(corl, node_text(earlier));
            if (other && !strcmp(other, target))
                return error_set(err, "%s:%zu: '%s' and '%s' (line %zu) both set %s", path,
                                 node_line(yaml_document_get_node(doc, p->key)), name,
                                 node_text(earlier), node_line(earlier), target);
        }
    }
    if (corl) corl_implied(cfg);

    CorlFileState corl_state = {.normalize_reward = -1, .env = NULL, .path = path, .notes = notes};
    for (yaml_node_pair_t *p = pairs; p < end; p++) {
        yaml_node_t *key = yaml_document_get_node(doc, p->key);
        yaml_node_t *val = yaml_document_get_node(doc, p->value);
        const char *name = node_text(key);
        corl_state.line = node_line(key);
        Value v;
        if (!val || value_from_node(doc, val, name, &v, err) ||
            apply_pair(cfg, corl, name, &v, &corl_state, err)) {
            if (!val) error_set(err, "%s: missing value", name);
            return error_prefix(err, "%s:%zu", path, node_line(key));
        }
    }
    if (corl) corl_finish(cfg, &corl_state);
    return 0;
}

int config_load_string(Config *cfg, const char *text, size_t len, const char *name, ConfigNotes *notes, Error *err) {
    if (check_depth(name, text, len, err)) return -1;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return error_set(err, "%s: out of memory", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yaml_document_t doc, extra;
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = yaml_error(name, &parser, err);
    } else {
        /* A second document would be silently ignored otherwise. */
        if (!yaml_parser_load(&parser, &extra)) {
            rc = yaml_error(name, &parser, err);
        } else {
            yaml_node_t *second = yaml_document_get_root_node(&extra);
            if (second) {
                rc = error_set(err, "%s:%zu: more than one YAML document; a config is one mapping",
                               name, node_line(second));
            } else {
                Config scratch = *cfg; /* so that a failed load leaves cfg (and notes) as they were */
                ConfigNotes found = {.n = 0};
                rc = apply_document(&scratch, name, &doc, &found, err);
                if (rc == 0) {
                    *cfg = scratch;
                    if (notes) *notes = found;
                }
            }
            yaml_document_delete(&extra);
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}

int config_load_file_notes(Config *cfg, const char *path, ConfigNotes *notes, Error *err) {
    size_t len;
    char *text = read_file(path, &len, err);
    if (!text) return -1;
    int rc = config_load_string(cfg, text, len, path, notes, err);
    free(text);
    return rc;
}

int config_load_file(Config *cfg, const char *path, Error *err) { return config_load_file_notes(cfg, path, NULL, err); }
