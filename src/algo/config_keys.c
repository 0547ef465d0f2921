/* config_keys.c — the table of config keys and everything that walks it: defaults, lookup,
 * validation, the YAML a run writes, and the listing for --help-config.
 *
 * One row names a key, its type, where it lives in Config, its valid range, its default and a
 * line of help. Loading, overriding, defaults, validation, writing and help all walk this
 * table, so a new key is one row here and none of them can forget it. The default is the YAML
 * text a user would write, applied through the same parser as a user's value, so it is
 * written once. */
#include "algo/config_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"

/* Enum fields are read and written through an int pointer by the table-driven code. */
_Static_assert(sizeof(ValueTarget) == sizeof(int) && sizeof(PolicyKind) == sizeof(int) &&
                   sizeof(LrScheduleKind) == sizeof(int) && sizeof(SamplingKind) == sizeof(int) &&
                   sizeof(RewardTransform) == sizeof(int) && sizeof(DeviceKind) == sizeof(int) &&
                   sizeof(ReplayKind) == sizeof(int) && sizeof(PrecisionKind) == sizeof(int) &&
                   sizeof(QLossKind) == sizeof(int) && sizeof(LrScalingKind) == sizeof(int),
               "enum fields must be int-sized");

/* ---- the key table ------------------------------------------------------------------------ */

/* Names of each enum's values, index = value (so they follow the enums' order). */
static const char *const value_target_names[] = {"td", "q", NULL};
static const char *const q_loss_names[] = {"mean", "sum", NULL};
static const char *const policy_names[] = {"gaussian", "deterministic", NULL};
static const char *const lr_schedule_names[] = {"cosine", "constant", NULL};
static const char *const sampling_names[] = {"uniform", "sequential", NULL};
static const char *const reward_names[] = {"none", "iql-locomotion", "antmaze", "scale", NULL};
static const char *const device_names[] = {"auto", "cpu", "cuda", NULL};
static const char *const replay_names[] = {"auto", "device", "host", NULL};
static const char *const precision_names[] = {"fp32", "tf32", NULL};
static const char *const group_names[] = {"policy", "value", "q", NULL};
static const char *const lr_scaling_names[] = {"none", "sqrt", "linear", NULL};

_Static_assert(sizeof reward_names / sizeof *reward_names == REWARD_SCALE_SHIFT + 2, "a name per RewardTransform");
_Static_assert(sizeof replay_names / sizeof *replay_names == REPLAY_HOST + 2, "a name per ReplayKind");
_Static_assert(sizeof precision_names / sizeof *precision_names == PRECISION_TF32 + 2, "a name per PrecisionKind");
_Static_assert(sizeof group_names / sizeof *group_names == LR_GROUP_COUNT + 1, "a name per LrGroup");

#define OFF(field) offsetof(Config, field)
#define LR_OFF(group) (offsetof(Config, lr) + (group) * sizeof(double))
#define SIZE_OF(field) sizeof(((Config *)0)->field)
/* Numeric keys must state their range, so it cannot be left out by accident. */
#define NUM(kind_, name_, off_, range_, def_, group_, help_)                                       \
    {.name = name_, .kind = kind_, .offset = off_, .range = range_, .def = def_, .group = group_,  \
     .help = help_}
#define ENUM(name_, off_, choices_, def_, group_, help_)                                           \
    {.name = name_, .kind = K_ENUM, .offset = off_, .choices = choices_, .def = def_,              \
     .group = group_, .help = help_}
#define STRING(name_, field_, def_, group_, help_)                                                 \
    {.name = name_, .kind = K_STRING, .offset = OFF(field_), .aux = SIZE_OF(field_), .def = def_,  \
     .group = group_, .help = help_}
#define BOOL(name_, off_, def_, group_, help_)                                                     \
    {.name = name_, .kind = K_BOOL, .offset = off_, .def = def_, .group = group_, .help = help_}
#define ANY {-HUGE_VAL, HUGE_VAL, 0, 0}
#define GE(x) {(x), HUGE_VAL, 0, 0}
#define GT(x) {(x), HUGE_VAL, 1, 0}
#define IN(lo, lo_open, hi, hi_open) {(lo), (hi), (lo_open), (hi_open)}

static const char G_DATA[] = "data", G_UPDATE[] = "the update", G_NET[] = "networks",
                  G_OPT[] = "optimiser and schedule", G_SAMPLE[] = "sampling and randomness",
                  G_BOOK[] = "bookkeeping", G_EVAL[] = "evaluation in a built-in environment",
                  G_HW[] = "hardware";

/* In Config's order, which is also the order of written YAML. The defaults are the seed's
 * settings (docs/algorithm.md, "Defaults"). */
const KeyDef config_keys[] = {
    STRING("dataset", dataset, "", G_DATA, "HDF5 file of transitions (D4RL flat or Minari layout)"),
    BOOL("normalize_states", OFF(normalize_states), "false", G_DATA,
         "normalise states by the dataset's mean and std (+1e-3)"),
    ENUM("reward_transform", OFF(reward_transform), reward_names, "none", G_DATA,
         "iql-locomotion: r*1000/(max-min episode return); antmaze: r-1; scale: r*scale+shift"),
    NUM(K_DOUBLE, "reward_scale", OFF(reward_scale), ANY, "1.0", G_DATA, "used by reward_transform scale"),
    NUM(K_DOUBLE, "reward_shift", OFF(reward_shift), ANY, "0.0", G_DATA, "used by reward_transform scale"),

    NUM(K_INT64, "steps", OFF(steps), GE(0), "100000", G_UPDATE, "gradient steps to train"),
    NUM(K_INT, "batch_size", OFF(batch_size), GE(1), "256", G_UPDATE, "transitions per gradient step"),
    NUM(K_DOUBLE, "discount", OFF(discount), IN(0, 0, 1, 0), "0.97", G_UPDATE, "discount factor gamma"),
    NUM(K_DOUBLE, "tau", OFF(tau), IN(0, 1, 1, 1), "0.7", G_UPDATE, "expectile tau of the value loss"),
    NUM(K_DOUBLE, "beta", OFF(beta), GE(0), "2.0", G_UPDATE, "inverse temperature of the policy weights"),
    NUM(K_DOUBLE, "adv_clip", OFF(adv_clip), GT(0), "100.0", G_UPDATE, "upper clip of exp(beta*adv)"),
    ENUM("value_target", OFF(value_target), value_target_names, "td", G_UPDATE,
         "td: V regresses on r+gamma*V(s') (seed); q: on min of target Qs (paper)"),
    NUM(K_DOUBLE, "target_update_rate", OFF(target_update_rate), IN(0, 1, 1, 0), "1.0", G_UPDATE,
        "Polyak rate rho of the target critics; 1 = no target network"),
    ENUM("q_loss", OFF(q_loss), q_loss_names, "mean", G_UPDATE,
         "mean: (MSE1+MSE2)/2 (seed, CORL); sum: MSE1+MSE2 (official code)"),

    ENUM("policy", OFF(policy), policy_names, "gaussian", G_NET,
         "gaussian (weighted log-likelihood) or deterministic (weighted squared error)"),
    {.name = "hidden", .kind = K_INT_LIST, .offset = OFF(hidden), .aux = OFF(n_hidden), .range = GE(1),
     .def = "[256, 256]", .group = G_NET, .help = "hidden layer sizes of every MLP"},
    NUM(K_DOUBLE, "max_action", OFF(max_action), GT(0), "1.0", G_NET, "policy mean = max_action*tanh(.)"),
    NUM(K_DOUBLE, "log_std_min", OFF(log_std_min), ANY, "-20.0", G_NET, "lower clamp of log sigma"),
    NUM(K_DOUBLE, "log_std_max", OFF(log_std_max), ANY, "2.0", G_NET, "upper clamp of log sigma"),

    NUM(K_DOUBLE, "lr_policy", LR_OFF(LR_GROUP_POLICY), GE(0), "1e-4", G_OPT, "learning rate, policy"),
    NUM(K_DOUBLE, "lr_value", LR_OFF(LR_GROUP_VALUE), GE(0), "1e-3", G_OPT, "learning rate, value"),
    NUM(K_DOUBLE, "lr_q", LR_OFF(LR_GROUP_Q), GE(0), "1e-3", G_OPT, "learning rate, critics"),
    NUM(K_DOUBLE, "lr_min", OFF(lr_min), GE(0), "0.0", G_OPT, "cosine schedule floor (eta_min)"),
    NUM(K_DOUBLE, "weight_decay", OFF(weight_decay), GE(0), "0.0", G_OPT, "AdamW decoupled weight decay"),
    NUM(K_DOUBLE, "adam_beta1", OFF(adam_beta1), IN(0, 0, 1, 1), "0.9", G_OPT, "Adam beta1"),
    NUM(K_DOUBLE, "adam_beta2", OFF(adam_beta2), IN(0, 0, 1, 1), "0.999", G_OPT, "Adam beta2"),
    NUM(K_DOUBLE, "adam_eps", OFF(adam_eps), GT(0), "1e-8", G_OPT, "Adam epsilon"),
    ENUM("lr_schedule", OFF(lr_schedule), lr_schedule_names, "cosine", G_OPT,
         "cosine (CosineAnnealingLR) or constant"),
    {.name = "lr_schedule_groups", .kind = K_GROUP_LIST, .offset = OFF(lr_schedule_groups),
     .choices = group_names, .def = "[policy, value, q]", .group = G_OPT, .help = "groups the schedule applies to"},
    NUM(K_INT64, "lr_t_max", OFF(lr_t_max), GE(0), "100", G_OPT, "cosine period T_max in epochs; 0 = the whole run"),
    NUM(K_INT64, "steps_per_epoch", OFF(steps_per_epoch), GE(1), "1000", G_OPT,
        "gradient steps per schedule epoch; 1 = T_max counts steps"),
    ENUM("lr_scaling", OFF(lr_scaling), lr_scaling_names, "none", G_OPT,
         "large batches: every lr and lr_min times (batch_size/lr_base_batch)^0, ^0.5 or ^1"),
    NUM(K_INT, "lr_base_batch", OFF(lr_base_batch), GE(1), "256", G_OPT,
        "the batch size the learning rates are given for (lr_scaling)"),
    NUM(K_INT64, "lr_warmup_steps", OFF(lr_warmup_steps), GE(0), "0", G_OPT,
        "linear warm-up: update k uses (k+1)/lr_warmup_steps of its lr; 0 = none"),

    ENUM("sampling", OFF(sampling), sampling_names, "uniform", G_SAMPLE,
         "uniform: drawn with replacement; sequential: rows in order, wrapping"),
    NUM(K_UINT64, "seed", OFF(seed), ANY, "0", G_SAMPLE, "initialisation seed"),
    NUM(K_INT64, "batch_seed", OFF(batch_seed), GE(-1), "-1", G_SAMPLE, "seed of the batch indices; -1 = same as seed"),

    NUM(K_INT64, "log_every", OFF(log_every), GE(1), "1000", G_BOOK, "steps between log rows"),
    NUM(K_INT64, "checkpoint_every", OFF(checkpoint_every), GE(0), "0", G_BOOK,
        "steps between checkpoints; 0 = only the final one"),

    STRING("env", env, "", G_EVAL, "built-in environment to evaluate in; empty = no evaluation"),
    NUM(K_INT64, "eval_every", OFF(eval_every), GE(0), "0", G_EVAL, "steps between evaluations; 0 = only at the end"),
    NUM(K_INT, "eval_episodes", OFF(eval_episodes), IN(1, 0, 10000000, 0), "10", G_EVAL,
        "episodes per evaluation (at most cuiql eval --episodes' 10000000)"),
    STRING("eval_env", eval_env, "", G_EVAL,
           "gym:<id> evaluates in gymnasium (Hopper-v5, ...) through tools/gym_bridge.py; a built-in name = env"),
    STRING("eval_ref_scores", eval_ref_scores, "", G_EVAL,
           "gym: D4RL/Minari task whose reference returns give eval/normalized_score; empty = from the id"),

    ENUM("device", OFF(device), device_names, "auto", G_HW, "auto: CUDA when a device is present"),
    ENUM("replay", OFF(replay), replay_names, "auto", G_HW,
         "where the dataset lives during training; auto: on the device when it fits"),
    ENUM("precision", OFF(precision), precision_names, "fp32", G_HW, "fp32, or tf32 tensor-core GEMMs"),
};
const size_t config_key_count = sizeof config_keys / sizeof config_keys[0];

const KeyDef *config_find_key(const char *name) {
    for (size_t i = 0; i < config_key_count; i++)
        if (!strcmp(config_keys[i].name, name)) return &config_keys[i];
    return NULL;
}

static const void *cfield(const Config *cfg, const KeyDef *k) { return (const char *)cfg + k->offset; }

/* ---- defaults ------------------------------------------------------------------------------- */

void config_defaults(Config *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < config_key_count; i++) {
        const KeyDef *k = &config_keys[i];
        char buf[256];
        Value v;
        Error err;
        if (config_value_from_text(k, k->def, buf, sizeof buf, &v, &err) || config_apply_value(c, k, k->name, &v, &err)) {
            /* A default the parser refuses is a bug in the table above; tests/algo/test_config.c
             * applies every one, so it never reaches a user. */
            fprintf(stderr, "cuiql: internal error: the default of config key %s: %s\n", k->name, err.msg);
            abort();
        }
    }
}

uint64_t config_batch_seed(const Config *cfg) {
    return cfg->batch_seed >= 0 ? (uint64_t)cfg->batch_seed : cfg->seed;
}

/* ---- validation ----------------------------------------------------------------------------- */

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

static int validate_key(const Config *cfg, const KeyDef *k, Error *err) {
    char num[64];
    const void *p = cfield(cfg, k);
    switch (k->kind) {
    case K_DOUBLE: {
        double v = *(const double *)p;
        format_double(v, num, sizeof num);
        if (!isfinite(v)) return error_set(err, "%s: must be a finite number, got %s", k->name, num);
        return in_range(k, v) ? 0 : out_of_range(err, k, num);
    }
    case K_INT:
    case K_INT64: {
        int64_t v = k->kind == K_INT ? *(const int *)p : *(const int64_t *)p;
        snprintf(num, sizeof num, "%" PRId64, v);
        return in_range(k, (double)v) ? 0 : out_of_range(err, k, num);
    }
    case K_UINT64: return 0;
    case K_BOOL: {
        int v = *(const int *)p;
        return v == 0 || v == 1 ? 0 : error_set(err, "%s: must be true or false, got %d", k->name, v);
    }
    case K_ENUM: {
        int v = *(const int *)p;
        return v >= 0 && v < count_choices(k->choices) ? 0 : error_set(err, "%s: invalid value %d", k->name, v);
    }
    case K_STRING:
        if (!memchr(p, '\0', k->aux)) return error_set(err, "%s: not terminated", k->name);
        /* --dataset is taken verbatim (a path), but config.yaml and checkpoints record it as YAML,
         * which is UTF-8 text. */
        return utf8_valid(p) ? 0
                             : error_set(err, "%s: not valid UTF-8 text, which config.yaml (where the run records "
                                         "it) must be; rename the file or directory", k->name);
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
        return 0;
    }
    case K_GROUP_LIST:
        for (int g = 0; g < LR_GROUP_COUNT; g++) {
            int v = ((const int *)p)[g];
            if (v != 0 && v != 1)
                return error_set(err, "%s: flag of group %s must be 0 or 1, got %d", k->name, k->choices[g], v);
        }
        return 0;
    }
    return error_set(err, "%s: internal error: unknown key kind", k->name);
}

int config_validate(const Config *cfg, Error *err) {
    for (size_t i = 0; i < config_key_count; i++)
        if (validate_key(cfg, &config_keys[i], err)) return -1;
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
    fputs("# cuiql config: every key under its canonical name (docs/algorithm.md, configs/seed.yaml)\n", out);
    const char *group = NULL;
    for (size_t i = 0; i < config_key_count; i++) {
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

/* ---- help ----------------------------------------------------------------------------------- */

void config_print_help(FILE *out) {
    Config d;
    config_defaults(&d);
    fputs("config keys (YAML file or --set key=value), with their defaults:\n", out);
    const char *group = NULL;
    for (size_t i = 0; i < config_key_count; i++) {
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
        case K_ENUM: config_choices_text(k->choices, "|", "|", type, sizeof type); break;
        case K_STRING: snprintf(type, sizeof type, "string"); break;
        case K_GROUP_LIST:
            config_choices_text(k->choices, "|", "|", type, sizeof type);
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
