/* config_internal.h — what the config_*.c files share; not for other modules (they use
 * config.h).
 *
 * A KeyDef describes one key: its name, its type, where it lives in Config, its default (as
 * the YAML text a user would write, applied through the same parser), its valid range and a
 * line of help. A Value is what a key was given — a scalar, a list or a mapping — whether it
 * came from a YAML node or from --set text, so both paths share apply_value. */
#ifndef CUIQL_ALGO_CONFIG_INTERNAL_H
#define CUIQL_ALGO_CONFIG_INTERNAL_H

#include <stddef.h>

#include "algo/config.h"

typedef enum {
    K_DOUBLE,     /* double, finite */
    K_INT,        /* int */
    K_INT64,      /* int64_t */
    K_UINT64,     /* uint64_t */
    K_BOOL,       /* int, 0 or 1 */
    K_ENUM,       /* int-sized enum; index into choices */
    K_STRING,     /* char[aux] */
    K_INT_LIST,   /* int[CONFIG_MAX_HIDDEN], count at offset aux */
    K_GROUP_LIST, /* int[LR_GROUP_COUNT] flags, written as a list of group names */
} KeyKind;

typedef struct {
    double lo, hi;
    unsigned char lo_open, hi_open; /* 1: the bound itself is excluded */
} Range;

typedef struct {
    const char *name;
    KeyKind kind;
    size_t offset;
    size_t aux;                 /* K_STRING: buffer size; K_INT_LIST: offset of the count */
    const char *const *choices; /* K_ENUM, K_GROUP_LIST: NULL-terminated names, index = value */
    Range range;                /* of a number (of each entry for K_INT_LIST), see config_validate */
    const char *def;            /* the default, as YAML text */
    const char *group;          /* heading in written YAML and in --help-config */
    const char *help;
} KeyDef;

extern const KeyDef config_keys[];
extern const size_t config_key_count;

const KeyDef *config_find_key(const char *name);

#define VALUE_MAX_ITEMS 16

typedef struct {
    enum { V_SCALAR, V_SEQUENCE, V_MAPPING } shape;
    const char *text; /* V_SCALAR */
    int is_null;      /* V_SCALAR: unquoted "", "~" or "null" */
    int n_items;      /* V_SEQUENCE: scalar entries */
    const char *items[VALUE_MAX_ITEMS];
} Value;

/* config_value.c */
/* Parses v for key k and stores it in cfg; on error cfg is untouched and the message starts
 * with `shown` (the key as the user wrote it: ours, or CORL's name for it). */
int config_apply_value(Config *cfg, const KeyDef *k, const char *shown, const Value *v, Error *err);
/* Splits --set text (or a default) into a Value for key k; buf holds the pieces. */
int config_value_from_text(const KeyDef *k, const char *text, char *buf, size_t bufsize, Value *v, Error *err);
/* "KEY: expected EXPECTED, got 'TEXT'" (or "got null", "got a sequence"); returns -1. */
int config_bad_value(Error *err, const char *key, const char *expected, const Value *v);
/* "unknown config key 'X'", with a hint when X is one of CORL's names; returns -1. */
int config_unknown_key(Error *err, const char *name);
int config_is_null_text(const char *s);
/* Joins NULL-terminated names: "td or q", "none, iql-locomotion, antmaze or scale", or with
 * sep = sep_last = "|", "auto|cpu|cuda". */
void config_choices_text(const char *const *choices, const char *sep, const char *sep_last, char *buf, size_t n);

/* config_yaml.c */
/* config_load_file on text already in memory (len bytes, not necessarily NUL-terminated);
 * `path` names it in messages. The entry tests/fuzz/ feeds its inputs through. */
int config_load_text(Config *cfg, const char *path, const char *text, size_t len, Error *err);

/* config_corl.c: CORL's IQL files (see there). */
typedef struct {
    int normalize_reward;  /* -1: the file does not say */
    const char *env;       /* the file's D4RL task name, or NULL */
} CorlFileState;

/* 1 when the key is one only CORL's files use: its presence makes a file a CORL file. */
int corl_marks_file(const char *name);
/* The Config setting a file key decides (our name), or NULL for ignored and unknown keys. */
const char *corl_target_of(int corl, const char *name);
/* What a CORL run does that its file does not say. */
void corl_implied(Config *cfg);
/* Applies one key of a CORL file (a CORL name, or one of ours CORL does not name). */
int corl_apply_pair(Config *cfg, const char *name, const Value *v, CorlFileState *state, Error *err);
/* After the whole file: the reward transform CORL's normalize_reward implies for its env. */
void corl_finish(Config *cfg, const CorlFileState *state);
/* A CORL key, for config_unknown_key's hint: its mapping to our key (NULL if none) and whether
 * it is one at all. */
int corl_key_info(const char *name, const char **ours);
/* The CORL-only names, "iql_tau, actor_lr, ... or iql_deterministic". */
void corl_marker_names(char *buf, size_t n);

#endif
