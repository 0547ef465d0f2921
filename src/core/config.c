/* config.c — the table of config keys and everything driven by it: YAML files (libyaml's
 * document API, so every node keeps its line for error messages), --set overrides, range
 * checks, YAML output and the key listing for --help.
 *
 * One table (config_keys) names every key, its type, where it lives in Config, its valid range
 * and a line of help. Loading, overriding, validating, writing and help all walk that table, so
 * a new key is one line here and cannot be forgotten by one of them. CORL's IQL files have a
 * second, smaller table (corl_keys) that maps their names onto ours. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

/* Enum fields are read and written through an int pointer by the table-driven code. */
_Static_assert(sizeof(ValueTarget) == sizeof(int) && sizeof(PolicyKind) == sizeof(int) &&
                   sizeof(LrScheduleKind) == sizeof(int) && sizeof(SamplingKind) == sizeof(int) &&
                   sizeof(RewardTransform) == sizeof(int) && sizeof(DeviceKind) == sizeof(int) &&
                   sizeof(ReplayKind) == sizeof(int) && sizeof(PrecisionKind) == sizeof(int) &&
                   sizeof(QLossKind) == sizeof(int),
               "enum fields must be int-sized");

/* ---- the key table ------------------------------------------------------------------------ */

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
    Range range; /* of a number (of each entry for K_INT_LIST), checked by config_validate */
    const char *group; /* heading in written YAML */
    const char *help;
} KeyDef;

static const char *const value_target_names[] = {"td", "q", NULL};
static const char *const q_loss_names[] = {"mean", "sum", NULL};
static const char *const policy_names[] = {"gaussian", "deterministic", NULL};
static const char *const lr_schedule_names[] = {"cosine", "constant", NULL};
static const char *const sampling_names[] = {"uniform", "sequential", NULL};
static const char *const reward_names[] = {"none", "iql-locomotion", "antmaze", "scale", NULL};
static const char *const device_names[] = {"auto", "cpu", "cuda", NULL};
static const char *const replay_names[] = {"auto", "device", "host", NULL};
static const char *const precision_names[] = {"fp32", "tf32", NULL};
static const char *const group_names[] = {"policy", "value", "q", NULL}; /* LR_GROUP_* order */

#define OFF(field) offsetof(Config, field)
#define LR_OFF(group) (offsetof(Config, lr) + (group) * sizeof(double))
/* Numeric keys must state their range, so it cannot be left out by accident. */
#define NUM(kind_, name_, off_, range_, group_, help_)                                             \
    {.name = name_, .kind = kind_, .offset = off_, .range = range_, .group = group_, .help = help_}
#define ENUM(name_, off_, choices_, group_, help_)                                                 \
    {.name = name_, .kind = K_ENUM, .offset = off_, .choices = choices_, .group = group_,          \
     .help = help_}
#define OTHER(kind_, name_, off_, aux_, group_, help_)                                             \
    {.name = name_, .kind = kind_, .offset = off_, .aux = aux_, .group = group_, .help = help_}
#define ANY {-HUGE_VAL, HUGE_VAL, 0, 0}
#define GE(x) {(x), HUGE_VAL, 0, 0}
#define GT(x) {(x), HUGE_VAL, 1, 0}
#define IN(lo, lo_open, hi, hi_open) {(lo), (hi), (lo_open), (hi_open)}

static const char G_DATA[] = "data", G_UPDATE[] = "the update", G_NET[] = "networks",
                  G_OPT[] = "optimiser and schedule", G_SAMPLE[] = "sampling and randomness",
                  G_BOOK[] = "bookkeeping", G_EVAL[] = "evaluation in a built-in environment",
                  G_HW[] = "hardware";

/* In Config's order, which is also the order of written YAML. */
static const KeyDef config_keys[] = {
    OTHER(K_STRING, "dataset", OFF(dataset), sizeof(((Config *)0)->dataset), G_DATA,
          "HDF5 file of transitions (D4RL flat or Minari layout)"),
    OTHER(K_BOOL, "normalize_states", OFF(normalize_states), 0, G_DATA,
          "normalise states by the dataset's mean and std (+1e-3)"),
    ENUM("reward_transform", OFF(reward_transform), reward_names, G_DATA,
         "iql-locomotion: r*1000/(max-min episode return); antmaze: r-1; scale: r*scale+shift"),
    NUM(K_DOUBLE, "reward_scale", OFF(reward_scale), ANY, G_DATA, "used by reward_transform scale"),
    NUM(K_DOUBLE, "reward_shift", OFF(reward_shift), ANY, G_DATA, "used by reward_transform scale"),

    NUM(K_INT64, "steps", OFF(steps), GE(0), G_UPDATE, "gradient steps to train"),
    NUM(K_INT, "batch_size", OFF(batch_size), GE(1), G_UPDATE, "transitions per gradient step"),
    NUM(K_DOUBLE, "discount", OFF(discount), IN(0, 0, 1, 0), G_UPDATE, "discount factor gamma"),
    NUM(K_DOUBLE, "tau", OFF(tau), IN(0, 1, 1, 1), G_UPDATE, "expectile tau of the value loss"),
    NUM(K_DOUBLE, "beta", OFF(beta), GE(0), G_UPDATE, "inverse temperature of the policy weights"),
    NUM(K_DOUBLE, "adv_clip", OFF(adv_clip), GT(0), G_UPDATE, "upper clip of exp(beta*adv)"),
    ENUM("value_target", OFF(value_target), value_target_names, G_UPDATE,
         "td: V regresses on r+gamma*V(s') (seed); q: on min of target Qs (paper)"),
    NUM(K_DOUBLE, "target_update_rate", OFF(target_update_rate), IN(0, 1, 1, 0), G_UPDATE,
        "Polyak rate rho of the target critics; 1 = no target network"),
    ENUM("q_loss", OFF(q_loss), q_loss_names, G_UPDATE,
         "mean: (MSE1+MSE2)/2 (seed, CORL); sum: MSE1+MSE2 (official code)"),

    ENUM("policy", OFF(policy), policy_names, G_NET,
         "gaussian (weighted log-likelihood) or deterministic (weighted squared error)"),
    {.name = "hidden", .kind = K_INT_LIST, .offset = OFF(hidden), .aux = OFF(n_hidden), .range = GE(1),
     .group = G_NET, .help = "hidden layer sizes of every MLP"},
    NUM(K_DOUBLE, "max_action", OFF(max_action), GT(0), G_NET, "policy mean = max_action*tanh(.)"),
    NUM(K_DOUBLE, "log_std_min", OFF(log_std_min), ANY, G_NET, "lower clamp of log sigma"),
    NUM(K_DOUBLE, "log_std_max", OFF(log_std_max), ANY, G_NET, "upper clamp of log sigma"),

    NUM(K_DOUBLE, "lr_policy", LR_OFF(LR_GROUP_POLICY), GE(0), G_OPT, "learning rate, policy"),
    NUM(K_DOUBLE, "lr_value", LR_OFF(LR_GROUP_VALUE), GE(0), G_OPT, "learning rate, value"),
    NUM(K_DOUBLE, "lr_q", LR_OFF(LR_GROUP_Q), GE(0), G_OPT, "learning rate, critics"),
    NUM(K_DOUBLE, "lr_min", OFF(lr_min), GE(0), G_OPT, "cosine schedule floor (eta_min)"),
    NUM(K_DOUBLE, "weight_decay", OFF(weight_decay), GE(0), G_OPT, "AdamW decoupled weight decay"),
    NUM(K_DOUBLE, "adam_beta1", OFF(adam_beta1), IN(0, 0, 1, 1), G_OPT, "Adam beta1"),
    NUM(K_DOUBLE, "adam_beta2", OFF(adam_beta2), IN(0, 0, 1, 1), G_OPT, "Adam beta2"),
    NUM(K_DOUBLE, "adam_eps", OFF(adam_eps), GT(0), G_OPT, "Adam epsilon"),
    ENUM("lr_schedule", OFF(lr_schedule), lr_schedule_names, G_OPT,
         "cosine (CosineAnnealingLR) or constant"),
    {.name = "lr_schedule_groups", .kind = K_GROUP_LIST, .offset = OFF(lr_schedule_groups),
     .choices = group_names, .group = G_OPT, .help = "groups the schedule applies to"},
    NUM(K_INT64, "lr_t_max", OFF(lr_t_max), GE(0), G_OPT,
        "cosine period T_max in epochs; 0 = the whole run"),
    NUM(K_INT64, "steps_per_epoch", OFF(steps_per_epoch), GE(1), G_OPT,
        "gradient steps per schedule epoch; 1 = T_max counts steps"),

    ENUM("sampling", OFF(sampling), sampling_names, G_SAMPLE,
         "uniform: drawn with replacement; sequential: rows in order, wrapping"),
    NUM(K_UINT64, "seed", OFF(seed), ANY, G_SAMPLE, "initialisation seed"),
    NUM(K_INT64, "batch_seed", OFF(batch_seed), GE(-1), G_SAMPLE,
        "seed of the batch indices; -1 = same as seed"),

    NUM(K_INT64, "log_every", OFF(log_every), GE(1), G_BOOK, "steps between log rows"),
    NUM(K_INT64, "checkpoint_every", OFF(checkpoint_every), GE(0), G_BOOK,
        "steps between checkpoints; 0 = only the final one"),

    OTHER(K_STRING, "env", OFF(env), sizeof(((Config *)0)->env), G_EVAL,
          "built-in environment to evaluate in; empty = no evaluation"),
    NUM(K_INT64, "eval_every", OFF(eval_every), GE(0), G_EVAL,
        "steps between evaluations; 0 = only at the end"),
    NUM(K_INT, "eval_episodes", OFF(eval_episodes), GE(1), G_EVAL, "episodes per evaluation"),

    ENUM("device", OFF(device), device_names, G_HW, "auto: CUDA when a device is present"),
    ENUM("replay", OFF(replay), replay_names, G_HW,
         "where the dataset lives during training; auto: on the device when it fits"),
    ENUM("precision", OFF(precision), precision_names, G_HW, "fp32, or tf32 tensor-core GEMMs"),
};
#define N_KEYS (sizeof config_keys / sizeof config_keys[0])

static const KeyDef *find_key(const char *name) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(config_keys[i].name, name)) return &config_keys[i];
    return NULL;
}

static void *field(Config *cfg, const KeyDef *k) { return (char *)cfg + k->offset; }
static const void *cfield(const Config *cfg, const KeyDef *k) {
    return (const char *)cfg + k->offset;
}

/* ---- CORL's IQL keys ----------------------------------------------------------------------- */

/* CORL (algorithms/offline/iql.py, configs/offline/iql/...) names IQL's settings differently and
 * gives `tau` another meaning: there it is the Polyak rate of the target critics, the expectile
 * being `iql_tau`. A file is read as CORL's when it holds a key that only CORL uses (marks_corl);
 * then CORL's names take precedence over ours for the keys both use (tau, env, device), and our
 * own keys are still accepted for everything CORL does not name (hidden, dataset, ...). */
typedef enum {
    CORL_TO_OURS,          /* same meaning as our key `ours` */
    CORL_NORMALIZE_REWARD, /* bool; the transform depends on `env` (see corl_reward) */
    CORL_DETERMINISTIC,    /* bool: policy deterministic or gaussian */
    CORL_ENV,              /* D4RL id: picks the reward transform; not an environment of ours */
    CORL_IGNORED,          /* no meaning for cuiql */
    CORL_IGNORED_IF_UNSET, /* accepted only when null/empty/0: otherwise CORL would behave
                              differently in a way cuiql does not reproduce */
} CorlAction;

typedef struct {
    const char *name;
    CorlAction action;
    const char *ours; /* CORL_TO_OURS */
    int marks_corl;   /* its presence makes the file a CORL file */
    const char *why;  /* CORL_IGNORED*: why */
} CorlKey;

static const CorlKey corl_keys[] = {
    {"iql_tau", CORL_TO_OURS, "tau", 1, NULL},
    {"tau", CORL_TO_OURS, "target_update_rate", 0, NULL},
    {"beta", CORL_TO_OURS, "beta", 0, NULL},
    {"discount", CORL_TO_OURS, "discount", 0, NULL},
    {"actor_lr", CORL_TO_OURS, "lr_policy", 1, NULL},
    {"qf_lr", CORL_TO_OURS, "lr_q", 1, NULL},
    {"vf_lr", CORL_TO_OURS, "lr_value", 1, NULL},
    {"batch_size", CORL_TO_OURS, "batch_size", 0, NULL},
    {"max_timesteps", CORL_TO_OURS, "steps", 1, NULL},
    {"normalize", CORL_TO_OURS, "normalize_states", 0, NULL},
    {"eval_freq", CORL_TO_OURS, "eval_every", 0, NULL},
    {"n_episodes", CORL_TO_OURS, "eval_episodes", 0, NULL},
    {"seed", CORL_TO_OURS, "seed", 0, NULL},
    {"normalize_reward", CORL_NORMALIZE_REWARD, NULL, 1, NULL},
    {"iql_deterministic", CORL_DETERMINISTIC, NULL, 1, NULL},
    {"env", CORL_ENV, NULL, 0, NULL},
    {"project", CORL_IGNORED, NULL, 0, "wandb project"},
    {"group", CORL_IGNORED, NULL, 0, "wandb group"},
    {"name", CORL_IGNORED, NULL, 0, "wandb run name"},
    {"device", CORL_IGNORED, NULL, 0, "torch device; cuiql's `device` stays as set"},
    {"buffer_size", CORL_IGNORED, NULL, 0, "replay capacity; cuiql holds the whole dataset"},
    {"checkpoints_path", CORL_IGNORED, NULL, 0, "cuiql's output is named on its command line"},
    {"deterministic_torch", CORL_IGNORED, NULL, 0, "a PyTorch switch"},
    {"load_model", CORL_IGNORED_IF_UNSET, NULL, 0, "resuming from a CORL checkpoint"},
    {"actor_dropout", CORL_IGNORED_IF_UNSET, NULL, 0, "policy dropout"},
};
#define N_CORL_KEYS (sizeof corl_keys / sizeof corl_keys[0])

static const CorlKey *find_corl_key(const char *name) {
    for (size_t i = 0; i < N_CORL_KEYS; i++)
        if (!strcmp(corl_keys[i].name, name)) return &corl_keys[i];
    return NULL;
}

/* What a CORL run does that its file does not say: TrainConfig's defaults (for keys the file
 * leaves out) and what iql.py hard-codes — Adam without weight decay, the value loss against the
 * target critics, CosineAnnealingLR(actor_optimizer, max_timesteps) stepped every step on the
 * actor only, exp(beta*adv) clamped at 100, log sigma clamped to [-20, 2], two layers of 256. */
static void corl_implied(Config *c) {
    c->discount = 0.99;
    c->target_update_rate = 0.005;
    c->beta = 3.0;
    c->tau = 0.7;
    c->policy = POLICY_GAUSSIAN;
    c->steps = 1000000;
    c->batch_size = 256;
    c->normalize_states = 1;
    c->reward_transform = REWARD_NONE;
    c->lr[LR_GROUP_POLICY] = c->lr[LR_GROUP_VALUE] = c->lr[LR_GROUP_Q] = 3e-4;
    c->eval_every = 5000;
    c->eval_episodes = 10;
    c->seed = 0;

    c->value_target = VALUE_TARGET_Q;
    c->q_loss = Q_LOSS_MEAN;
    c->adv_clip = 100.0;
    c->log_std_min = -20.0;
    c->log_std_max = 2.0;
    c->n_hidden = 2;
    c->hidden[0] = c->hidden[1] = 256;
    c->max_action = 1.0; /* CORL reads it from the env: 1 in every D4RL task */
    c->weight_decay = 0.0;
    c->adam_beta1 = 0.9;
    c->adam_beta2 = 0.999;
    c->adam_eps = 1e-8;
    c->lr_schedule = LR_SCHEDULE_COSINE;
    c->lr_schedule_groups[LR_GROUP_POLICY] = 1;
    c->lr_schedule_groups[LR_GROUP_VALUE] = 0;
    c->lr_schedule_groups[LR_GROUP_Q] = 0;
    c->lr_min = 0.0;
    c->steps_per_epoch = 1;
    c->lr_t_max = 0;
}

/* iql.py's modify_reward: locomotion tasks are scaled by 1000/(return range), AntMaze shifted by
 * -1, anything else left alone. Without an `env` key CORL's default is halfcheetah-medium-expert. */
static RewardTransform corl_reward(int normalize_reward, const char *env) {
    if (!normalize_reward) return REWARD_NONE;
    if (!env) env = "halfcheetah-medium-expert-v2";
    if (strstr(env, "halfcheetah") || strstr(env, "hopper") || strstr(env, "walker2d"))
        return REWARD_IQL_LOCOMOTION;
    if (strstr(env, "antmaze")) return REWARD_ANTMAZE;
    return REWARD_NONE;
}

/* ---- values: what a key is given, from a YAML node or from --set text ---------------------- */

#define VALUE_MAX_ITEMS 16

typedef struct {
    enum { V_SCALAR, V_SEQUENCE, V_MAPPING } shape;
    const char *text; /* V_SCALAR */
    int is_null;      /* V_SCALAR: unquoted "", "~" or "null" */
    int n_items;      /* V_SEQUENCE: scalar entries */
    const char *items[VALUE_MAX_ITEMS];
} Value;

static const char *shape_name(const Value *v) {
    return v->shape == V_SEQUENCE ? "a sequence" : v->shape == V_MAPPING ? "a mapping" : "a scalar";
}

static int is_null_text(const char *s) {
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

/* "got 'abc'" / "got null" / "got a sequence", for error messages. */
static int bad_value(Error *err, const char *key, const char *expected, const Value *v) {
    if (v->shape != V_SCALAR) return error_set(err, "%s: expected %s, got %s", key, expected, shape_name(v));
    if (v->is_null) return error_set(err, "%s: expected %s, got null", key, expected);
    size_t n = strlen(v->text);
    return error_set(err, "%s: expected %s, got '%.80s%s'", key, expected, v->text, n > 80 ? "..." : "");
}

/* Joins NULL-terminated names: ("td or q"), ("none, iql-locomotion, antmaze or scale"),
 * or with sep = sep_last = "|" ("auto|cpu|cuda"). */
static void choices_text(const char *const *choices, const char *sep, const char *sep_last, char *buf,
                         size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; choices[i]; i++) {
        const char *s = i == 0 ? "" : choices[i + 1] ? sep : sep_last;
        int w = snprintf(buf + len, n - len, "%s%s", s, choices[i]);
        if (w < 0 || (size_t)w >= n - len) return;
        len += (size_t)w;
    }
}

/* ---- scalar parsers: strict, whole text consumed ----------------------------------------- */

static int parse_double(const char *s, double *out) {
    if (!*s || strchr(" \t\n\r\f\v", *s)) return -1; /* strtod would skip leading space */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || !isfinite(v)) return -1; /* rejects nan, inf and overflow (HUGE_VAL) */
    *out = v;
    return 0;
}

/* Integers in decimal; an integral number in exponent form ("1e6") is accepted too because
 * step counts are naturally written that way. Returns -2 when out of range. */
static int parse_int64(const char *s, int64_t *out) {
    if (!*s || strchr(" \t\n\r\f\v", *s)) return -1;
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

static int parse_uint64(const char *s, uint64_t *out) {
    if (!*s || strchr(" \t\n\r\f\v+-", *s)) return -1; /* strtoull would wrap "-1" */
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) return -1;
    if (errno == ERANGE) return -2;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out) {
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) return *out = 1, 0;
        if (!strcasecmp(s, no[i])) return *out = 0, 0;
    }
    return -1;
}

static int parse_choice(const char *s, const char *const *choices) {
    for (int i = 0; choices[i]; i++)
        if (!strcmp(s, choices[i])) return i;
    return -1;
}

/* Length of the UTF-8 sequence at s (n bytes left) and its code point; 0 when invalid
 * (overlong, surrogate, beyond U+10FFFF, truncated). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
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

static int valid_utf8(const char *s) {
    size_t n = strlen(s);
    uint32_t cp;
    for (size_t i = 0, len; i < n; i += len)
        if (!(len = utf8_decode((const unsigned char *)s + i, n - i, &cp))) return 0;
    return 1;
}

/* ---- applying a value to one key ------------------------------------------------------------ */

/* Parses v for key k and stores it in cfg; on error cfg is untouched and the message starts
 * with `shown` (the key as the user wrote it: ours, or CORL's name for it). */
static int apply_value(Config *cfg, const KeyDef *k, const char *shown, const Value *v, Error *err) {
    void *p = field(cfg, k);
    char choices[256];
    if (k->kind != K_INT_LIST && k->kind != K_GROUP_LIST && k->kind != K_STRING &&
        (v->shape != V_SCALAR || v->is_null)) {
        static const char *const expected[] = {
            [K_DOUBLE] = "a number", [K_INT] = "an integer", [K_INT64] = "an integer",
            [K_UINT64] = "a non-negative integer", [K_BOOL] = "true or false"};
        if (k->kind == K_ENUM) {
            choices_text(k->choices, ", ", " or ", choices, sizeof choices);
            return bad_value(err, shown, choices, v);
        }
        return bad_value(err, shown, expected[k->kind], v);
    }
    switch (k->kind) {
    case K_DOUBLE: {
        double d;
        if (parse_double(v->text, &d)) return bad_value(err, shown, "a number", v);
        *(double *)p = d;
        return 0;
    }
    case K_INT:
    case K_INT64: {
        int64_t i;
        int rc = parse_int64(v->text, &i);
        if (rc == -1) return bad_value(err, shown, "an integer", v);
        if (rc == -2 || (k->kind == K_INT && (i < INT_MIN || i > INT_MAX)))
            return error_set(err, "%s: %.80s is out of range", shown, v->text);
        if (k->kind == K_INT) *(int *)p = (int)i;
        else *(int64_t *)p = i;
        return 0;
    }
    case K_UINT64: {
        uint64_t u;
        int rc = parse_uint64(v->text, &u);
        if (rc == -1) return bad_value(err, shown, "a non-negative integer", v);
        if (rc == -2) return error_set(err, "%s: %.80s is out of range", shown, v->text);
        *(uint64_t *)p = u;
        return 0;
    }
    case K_BOOL: {
        int b;
        if (parse_bool(v->text, &b)) return bad_value(err, shown, "true or false", v);
        *(int *)p = b;
        return 0;
    }
    case K_ENUM: {
        int i = parse_choice(v->text, k->choices);
        if (i < 0) {
            choices_text(k->choices, ", ", " or ", choices, sizeof choices);
            return bad_value(err, shown, choices, v);
        }
        *(int *)p = i;
        return 0;
    }
    case K_STRING: {
        if (v->shape != V_SCALAR) return bad_value(err, shown, "a string", v);
        const char *s = v->is_null ? "" : v->text;
        if (strlen(s) >= k->aux)
            return error_set(err, "%s: longer than %zu bytes", shown, k->aux - 1);
        if (!valid_utf8(s)) return error_set(err, "%s: not valid UTF-8", shown);
        memcpy(p, s, strlen(s) + 1);
        return 0;
    }
    case K_INT_LIST: {
        if (v->shape != V_SEQUENCE) return bad_value(err, shown, "a list of integers like [256, 256]", v);
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
        if (v->shape != V_SEQUENCE) return bad_value(err, shown, "a list like [policy, value, q]", v);
        int flags[LR_GROUP_COUNT] = {0};
        for (int i = 0; i < v->n_items; i++) {
            int g = parse_choice(v->items[i], k->choices);
            if (g < 0) {
                choices_text(k->choices, ", ", " or ", choices, sizeof choices);
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

/* "unknown config key 'X'", with a hint when X is one of CORL's names. */
static int unknown_key(Error *err, const char *name) {
    const CorlKey *c = find_corl_key(name);
    if (c && c->action == CORL_TO_OURS && strcmp(c->ours, name))
        return error_set(err, "unknown config key '%s' (CORL's name for '%s')", name, c->ours);
    if (c && !find_key(name)) {
        char marks[256] = "";
        const char *names[N_CORL_KEYS + 1];
        int n = 0;
        for (size_t i = 0; i < N_CORL_KEYS; i++)
            if (corl_keys[i].marks_corl) names[n++] = corl_keys[i].name;
        names[n] = NULL;
        choices_text(names, ", ", " or ", marks, sizeof marks);
        return error_set(err, "unknown config key '%s' (a CORL key, accepted in CORL files: those with %s)",
                         name, marks);
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

/* Turns --set text into a Value, splitting "[a, b]" or "a,b" for list keys. buf holds the
 * pieces the Value points into. */
static int value_from_text(const KeyDef *k, const char *text, char *buf, size_t bufsize, Value *v,
                           Error *err) {
    if (strlen(text) >= bufsize) return error_set(err, "%s: value is too long", k->name);
    strcpy(buf, text);
    char *s = trim(buf);
    memset(v, 0, sizeof *v);
    if (k->kind != K_INT_LIST && k->kind != K_GROUP_LIST) {
        int quoted = unquote(&s);
        v->shape = V_SCALAR;
        v->text = s;
        v->is_null = !quoted && is_null_text(s);
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
    const KeyDef *k = find_key(key);
    if (!k) return unknown_key(err, key);
    char buf[CONFIG_PATH_MAX + 64];
    Value v;
    if (value_from_text(k, value, buf, sizeof buf, &v, err)) return -1;
    return apply_value(cfg, k, k->name, &v, err);
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

/* ---- YAML files ----------------------------------------------------------------------------- */

#define CONFIG_FILE_MAX (16 << 20)

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
        v->is_null = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && is_null_text(v->text);
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

/* The name of the Config setting a file key decides, or NULL (ignored or unknown keys). */
static const char *target_of(int corl, const char *name) {
    const CorlKey *c = corl ? find_corl_key(name) : NULL;
    if (!c) {
        const KeyDef *k = find_key(name);
        return k ? k->name : NULL;
    }
    switch (c->action) {
    case CORL_TO_OURS: return c->ours;
    case CORL_NORMALIZE_REWARD: return "reward_transform";
    case CORL_DETERMINISTIC: return "policy";
    default: return NULL;
    }
}

/* One key: value pair of a file, resolved to what it means. */
static int apply_pair(Config *cfg, int corl, const char *name, const Value *v, int *normalize_reward,
                      const char **corl_env, Error *err) {
    const CorlKey *c = corl ? find_corl_key(name) : NULL;
    if (!c) {
        const KeyDef *k = find_key(name);
        if (!k) return unknown_key(err, name);
        return apply_value(cfg, k, name, v, err);
    }
    switch (c->action) {
    case CORL_TO_OURS:
        return apply_value(cfg, find_key(c->ours), name, v, err);
    case CORL_NORMALIZE_REWARD:
    case CORL_DETERMINISTIC: {
        int b;
        if (v->shape != V_SCALAR || v->is_null || parse_bool(v->text, &b))
            return bad_value(err, name, "true or false", v);
        if (c->action == CORL_NORMALIZE_REWARD) *normalize_reward = b;
        else cfg->policy = b ? POLICY_DETERMINISTIC : POLICY_GAUSSIAN;
        return 0;
    }
    case CORL_ENV:
        if (v->shape != V_SCALAR || v->is_null) return bad_value(err, name, "a D4RL task name", v);
        *corl_env = v->text;
        return 0;
    case CORL_IGNORED:
        return 0;
    case CORL_IGNORED_IF_UNSET: {
        double d;
        if (v->shape == V_SCALAR && (v->is_null || !*v->text || (!parse_double(v->text, &d) && d == 0)))
            return 0;
        return error_set(err, "%s: cuiql does not support %s; set it to null", name, c->why);
    }
    }
    return error_set(err, "%s: internal error: unknown CORL action", name);
}

/* Applies the document's mapping to cfg (a scratch copy: the caller commits on success). */
static int apply_document(Config *cfg, const char *path, yaml_document_t *doc, Error *err) {
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root) return 0; /* empty file or only comments: nothing to set */
    if (root->type != YAML_MAPPING_NODE)
        return error_set(err, "%s:%zu: the top level must be a mapping of key: value, got a %s", path,
                         node_line(root), root->type == YAML_SEQUENCE_NODE ? "sequence" : "scalar");

    yaml_node_pair_t *pairs = root->data.mapping.pairs.start, *end = root->data.mapping.pairs.top;
    int corl = 0;
    for (yaml_node_pair_t *p = pairs; p < end; p++) {
        yaml_node_t *key = yaml_document_get_node(doc, p->key);
        if (!key || key->type != YAML_SCALAR_NODE)
            return error_set(err, "%s:%zu: keys must be names, got a %s", path, key ? node_line(key) : 0,
                             key && key->type == YAML_MAPPING_NODE ? "mapping" : "sequence");
        for (yaml_node_pair_t *q = pairs; q < p; q++) {
            yaml_node_t *earlier = yaml_document_get_node(doc, q->key);
            if (!strcmp(node_text(earlier), node_text(key)))
                return error_set(err, "%s:%zu: duplicate key '%s' (first at line %zu)", path,
                                 node_line(key), node_text(key), node_line(earlier));
        }
        const CorlKey *c = find_corl_key(node_text(key));
        if (c && c->marks_corl) corl = 1;
    }

    /* Two names for one setting (steps and max_timesteps, policy and iql_deterministic) would
     * otherwise be decided silently by their order in the file. */
    for (yaml_node_pair_t *p = pairs; p < end; p++) {
        const char *name = node_text(yaml_document_get_node(doc, p->key));
        const char *target = target_of(corl, name);
        for (yaml_node_pair_t *q = pairs; q < p && target; q++) {
            yaml_node_t *earlier = yaml_document_get_node(doc, q->key);
            const char *other = target_of(corl, node_text(earlier));
            if (other && !strcmp(other, target))
                return error_set(err, "%s:%zu: '%s' and '%s' (line %zu) both set %s", path,
                                 node_line(yaml_document_get_node(doc, p->key)), name,
                                 node_text(earlier), node_line(earlier), target);
        }
    }
    if (corl) corl_implied(cfg);

    int normalize_reward = -1; /* absent */
    const char *corl_env = NULL;
    for (yaml_node_pair_t *p = pairs; p < end; p++) {
        yaml_node_t *key = yaml_document_get_node(doc, p->key);
        yaml_node_t *val = yaml_document_get_node(doc, p->value);
        const char *name = node_text(key);
        Value v;
        if (!val || value_from_node(doc, val, name, &v, err) ||
            apply_pair(cfg, corl, name, &v, &normalize_reward, &corl_env, err)) {
            if (!val) error_set(err, "%s: missing value", name);
            return error_prefix(err, "%s:%zu", path, node_line(key));
        }
    }
    if (normalize_reward >= 0) cfg->reward_transform = corl_reward(normalize_reward, corl_env);
    return 0;
}

int config_load_file(Config *cfg, const char *path, Error *err) {
    size_t len;
    char *text = read_file(path, &len, err);
    if (!text) return -1;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        free(text);
        return error_set(err, "%s: out of memory", path);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yaml_document_t doc, extra;
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = yaml_error(path, &parser, err);
    } else {
        /* A second document would be silently ignored otherwise. */
        if (!yaml_parser_load(&parser, &extra)) {
            rc = yaml_error(path, &parser, err);
        } else {
            yaml_node_t *second = yaml_document_get_root_node(&extra);
            if (second) {
                rc = error_set(err, "%s:%zu: more than one YAML document; a config is one mapping",
                               path, node_line(second));
            } else {
                Config scratch = *cfg; /* so that a failed load leaves cfg as it was */
                rc = apply_document(&scratch, path, &doc, err);
                if (rc == 0) *cfg = scratch;
            }
            yaml_document_delete(&extra);
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    free(text);
    return rc;
}

/* ---- defaults and validation ---------------------------------------------------------------- */

void config_defaults(Config *c) {
    memset(c, 0, sizeof *c);
    c->dataset[0] = '\0';
    c->normalize_states = 0;
    c->reward_transform = REWARD_NONE;
    c->reward_scale = 1.0;
    c->reward_shift = 0.0;

    c->steps = 100000;
    c->batch_size = 256;
    c->discount = 0.97;
    c->tau = 0.7;
    c->beta = 2.0;
    c->adv_clip = 100.0;
    c->value_target = VALUE_TARGET_TD;
    c->target_update_rate = 1.0;
    c->q_loss = Q_LOSS_MEAN;

    c->policy = POLICY_GAUSSIAN;
    c->n_hidden = 2;
    c->hidden[0] = c->hidden[1] = 256;
    c->max_action = 1.0;
    c->log_std_min = -20.0;
    c->log_std_max = 2.0;

    c->lr[LR_GROUP_POLICY] = 1e-4;
    c->lr[LR_GROUP_VALUE] = 1e-3;
    c->lr[LR_GROUP_Q] = 1e-3;
    c->lr_min = 0.0;
    c->weight_decay = 0.0;
    c->adam_beta1 = 0.9;
    c->adam_beta2 = 0.999;
    c->adam_eps = 1e-8;
    c->lr_schedule = LR_SCHEDULE_COSINE;
    for (int g = 0; g < LR_GROUP_COUNT; g++) c->lr_schedule_groups[g] = 1;
    c->lr_t_max = 100;
    c->steps_per_epoch = 1000;

    c->sampling = SAMPLING_UNIFORM;
    c->seed = 0;
    c->batch_seed = -1;

    c->log_every = 1000;
    c->checkpoint_every = 0;

    c->env[0] = '\0';
    c->eval_every = 0;
    c->eval_episodes = 10;

    c->device = DEVICE_AUTO;
    c->replay = REPLAY_AUTO;
    c->precision = PRECISION_FP32;
}

/* Shortest "%.Ng" that reads back as the same double. */
static void format_double(double v, char *buf, size_t n) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* "in (0, 1)", ">= 0", "> 0". */
static void range_text(const KeyDef *k, char *buf, size_t n) {
    char lo[32], hi[32];
    format_double(k->range.lo, lo, sizeof lo);
    format_double(k->range.hi, hi, sizeof hi);
    if (isinf(k->range.hi)) snprintf(buf, n, "%s %s", k->range.lo_open ? ">" : ">=", lo);
    else snprintf(buf, n, "in %c%s, %s%c", k->range.lo_open ? '(' : '[', lo, hi, k->range.hi_open ? ')' : ']');
}

static int in_range(const KeyDef *k, double v) {
    return (k->range.lo_open ? v > k->range.lo : v >= k->range.lo) && (k->range.hi_open ? v < k->range.hi : v <= k->range.hi);
}

static int out_of_range(Error *err, const KeyDef *k, const char *shown) {
    char range[96];
    range_text(k, range, sizeof range);
    return error_set(err, "%s: must be %s, got %s", k->name, range, shown);
}

static int count_choices(const char *const *choices) {
    int n = 0;
    while (choices[n]) n++;
    return n;
}

int config_validate(const Config *cfg, Error *err) {
    char num[64];
    for (size_t i = 0; i < N_KEYS; i++) {
        const KeyDef *k = &config_keys[i];
        const void *p = cfield(cfg, k);
        switch (k->kind) {
        case K_DOUBLE: {
            double v = *(const double *)p;
            format_double(v, num, sizeof num);
            if (!isfinite(v)) return error_set(err, "%s: must be a finite number, got %s", k->name, num);
            if (!in_range(k, v)) return out_of_range(err, k, num);
            break;
        }
        case K_INT:
        case K_INT64: {
            int64_t v = k->kind == K_INT ? *(const int *)p : *(const int64_t *)p;
            snprintf(num, sizeof num, "%" PRId64, v);
            if (!in_range(k, (double)v)) return out_of_range(err, k, num);
            break;
        }
        case K_UINT64:
            break;
        case K_BOOL: {
            int v = *(const int *)p;
            if (v != 0 && v != 1) return error_set(err, "%s: must be true or false, got %d", k->name, v);
            break;
        }
        case K_ENUM: {
            int v = *(const int *)p;
            if (v < 0 || v >= count_choices(k->choices))
                return error_set(err, "%s: invalid value %d", k->name, v);
            break;
        }
        case K_STRING:
            if (!memchr(p, '\0', k->aux)) return error_set(err, "%s: not terminated", k->name);
            break;
        case K_INT_LIST: {
            int n = *(const int *)((const char *)cfg + k->aux);
            if (n < 1 || n > CONFIG_MAX_HIDDEN)
                return error_set(err, "%s: must have 1 to %d layers, got %d", k->name, CONFIG_MAX_HIDDEN, n);
            for (int j = 0; j < n; j++) {
                int v = ((const int *)p)[j];
                if (!in_range(k, v)) {
                    snprintf(num, sizeof num, "%d (layer %d)", v, j + 1);
                    return out_of_range(err, k, num);
                }
            }
            break;
        }
        case K_GROUP_LIST:
            for (int g = 0; g < LR_GROUP_COUNT; g++) {
                int v = ((const int *)p)[g];
                if (v != 0 && v != 1)
                    return error_set(err, "%s: flag of group %s must be 0 or 1, got %d", k->name,
                                     k->choices[g], v);
            }
            break;
        }
    }
    if (!(cfg->log_std_min < cfg->log_std_max)) {
        char lo[32], hi[32];
        format_double(cfg->log_std_min, lo, sizeof lo);
        format_double(cfg->log_std_max, hi, sizeof hi);
        return error_set(err, "log_std_min: must be below log_std_max, got %s >= %s", lo, hi);
    }
    return 0;
}

/* ---- writing -------------------------------------------------------------------------------- */

/* A double that every YAML reader takes for a float: our own reader accepts any number, but
 * YAML 1.1 readers such as PyYAML want a '.' in the mantissa ("1.0e-08", "100.0"). */
static void yaml_double(double v, char *buf, size_t n) {
    format_double(v, buf, n);
    if (strpbrk(buf, ".n")) return; /* has a point, or is nan/inf (not reachable after parsing) */
    char *e = strchr(buf, 'e');
    char tail[32] = "";
    if (e) {
        snprintf(tail, sizeof tail, "%s", e);
        *e = '\0';
    }
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, ".0%s", tail);
}

/* A double-quoted YAML scalar. Characters libyaml would refuse or fold (controls, NEL, line
 * and paragraph separators, BOM) are escaped; strings are valid UTF-8 (checked when set). */
static int write_string(FILE *out, const char *s) {
    size_t n = strlen(s);
    fputc('"', out);
    for (size_t i = 0, len; i < n; i += len) {
        uint32_t cp;
        len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!len) return -1;
        if (cp == '"' || cp == '\\') fprintf(out, "\\%c", (int)cp);
        else if (cp == '\n') fputs("\\n", out);
        else if (cp == '\t') fputs("\\t", out);
        else if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) fprintf(out, "\\x%02X", (unsigned)cp);
        else if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF)
            fprintf(out, "\\u%04X", (unsigned)cp);
        else fwrite(s + i, 1, len, out);
    }
    fputc('"', out);
    return 0;
}

static int write_value(const Config *cfg, const KeyDef *k, FILE *out) {
    const void *p = cfield(cfg, k);
    char buf[64];
    switch (k->kind) {
    case K_DOUBLE:
        yaml_double(*(const double *)p, buf, sizeof buf);
        fputs(buf, out);
        return 0;
    case K_INT: fprintf(out, "%d", *(const int *)p); return 0;
    case K_INT64: fprintf(out, "%" PRId64, *(const int64_t *)p); return 0;
    case K_UINT64: fprintf(out, "%" PRIu64, *(const uint64_t *)p); return 0;
    case K_BOOL: fputs(*(const int *)p ? "true" : "false", out); return 0;
    case K_ENUM: {
        int v = *(const int *)p;
        if (v < 0 || v >= count_choices(k->choices)) return -1;
        fputs(k->choices[v], out);
        return 0;
    }
    case K_STRING:
        if (!memchr(p, '\0', k->aux)) return -1;
        return write_string(out, p);
    case K_INT_LIST: {
        int n = *(const int *)((const char *)cfg + k->aux);
        if (n < 0 || n > CONFIG_MAX_HIDDEN) return -1;
        fputc('[', out);
        for (int i = 0; i < n; i++) fprintf(out, "%s%d", i ? ", " : "", ((const int *)p)[i]);
        fputc(']', out);
        return 0;
    }
    case K_GROUP_LIST: {
        fputc('[', out);
        for (int g = 0, first = 1; g < LR_GROUP_COUNT; g++)
            if (((const int *)p)[g]) fprintf(out, "%s%s", first ? "" : ", ", k->choices[g]), first = 0;
        fputc(']', out);
        return 0;
    }
    }
    return -1;
}

int config_write_yaml(const Config *cfg, FILE *out) {
    fputs("# cuiql config: every key under its canonical name (SPEC.md, configs/seed.yaml)\n", out);
    const char *group = NULL;
    for (size_t i = 0; i < N_KEYS; i++) {
        const KeyDef *k = &config_keys[i];
        if (k->group != group) fprintf(out, "\n# %s\n", group = k->group);
        fprintf(out, "%s: ", k->name);
        if (write_value(cfg, k, out)) return -1;
        fputc('\n', out);
    }
    return ferror(out) ? -1 : 0;
}

char *config_to_yaml_string(const Config *cfg) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    int rc = config_write_yaml(cfg, f);
    if (fclose(f) != 0) rc = -1;
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

void config_print_help(FILE *out) {
    Config d;
    config_defaults(&d);
    fputs("config keys (YAML file or --set key=value), with their defaults:\n", out);
    const char *group = NULL;
    for (size_t i = 0; i < N_KEYS; i++) {
        const KeyDef *k = &config_keys[i];
        if (k->group != group) fprintf(out, "\n  # %s\n", group = k->group);
        char type[160];
        switch (k->kind) {
        case K_DOUBLE:
        case K_INT:
        case K_INT64:
        case K_INT_LIST: {
            char range[96] = "";
            if (!isinf(k->range.lo) || !isinf(k->range.hi)) range_text(k, range, sizeof range);
            snprintf(type, sizeof type, "%s%s%s",
                     k->kind == K_DOUBLE ? "number" : k->kind == K_INT_LIST ? "list of integers" : "integer",
                     *range ? " " : "", range);
            break;
        }
        case K_UINT64: snprintf(type, sizeof type, "integer >= 0"); break;
        case K_BOOL: snprintf(type, sizeof type, "true|false"); break;
        case K_ENUM: choices_text(k->choices, "|", "|", type, sizeof type); break;
        case K_STRING: snprintf(type, sizeof type, "string"); break;
        case K_GROUP_LIST:
            choices_text(k->choices, "|", "|", type, sizeof type);
            snprintf(type + strlen(type), sizeof type - strlen(type), " list");
            break;
        }
        fprintf(out, "  %-20s %-34s default ", k->name, type);
        write_value(&d, k, out);
        fprintf(out, "\n  %-20s %s\n", "", k->help);
    }
}

const char *config_device_name(DeviceKind d) {
    int i = (int)d;
    return i >= 0 && i < count_choices(device_names) ? device_names[i] : "unknown";
}
