/* config_corl.c — reading CORL's IQL config files (corl-team/CORL, algorithms/offline/iql.py and
 * configs/offline/iql/...): their key names mapped onto ours, and what CORL's code implies that
 * its files do not say. config_yaml.c calls in here for a file it recognises as CORL's. */
#include "algo/config_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/parse.h"

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
    /* why: what the key was for, then what to use instead (shown when a file sets it) */
    {"project", CORL_IGNORED, NULL, 0, "a wandb project; cuiql logs to the run directory (--out DIR: metrics.csv, TensorBoard event files)"},
    {"group", CORL_IGNORED, NULL, 0, "a wandb group; cuiql logs to the run directory (--out DIR)"},
    {"name", CORL_IGNORED, NULL, 0, "a wandb run name; name the run directory with --out DIR"},
    {"device", CORL_IGNORED, NULL, 0, "a torch device; use --device auto|cpu|cuda"},
    {"buffer_size", CORL_IGNORED, NULL, 0, "a replay capacity; cuiql holds the whole dataset, nothing to set"},
    {"checkpoints_path", CORL_IGNORED, NULL, 0, "where CORL saves; cuiql writes checkpoints into --out DIR"},
    {"deterministic_torch", CORL_IGNORED, NULL, 0, "a PyTorch switch; nothing to set"},
    {"load_model", CORL_IGNORED_IF_UNSET, NULL, 0, "resuming from a CORL checkpoint"},
    {"actor_dropout", CORL_IGNORED_IF_UNSET, NULL, 0, "policy dropout"},
};
#define N_CORL_KEYS (sizeof corl_keys / sizeof corl_keys[0])

/* One note for the loader's caller to show; beyond CONFIG_MAX_NOTES the last one says so. */
static void corl_note(const CorlFileState *st, size_t line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void corl_note(const CorlFileState *st, size_t line, const char *fmt, ...) {
    ConfigNotes *notes = st->notes;
    if (notes->n == CONFIG_MAX_NOTES) {
        snprintf(notes->text[CONFIG_MAX_NOTES - 1], sizeof notes->text[0], "%s: more keys are read but not used",
                 st->path);
        return;
    }
    char *out = notes->text[notes->n++];
    size_t cap = sizeof notes->text[0];
    int k = snprintf(out, cap, "%s:%zu: ", st->path, line);
    if (k < 0 || (size_t)k >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + k, cap - (size_t)k, fmt, ap);
    va_end(ap);
}

static const CorlKey *find_corl_key(const char *name) {
    for (size_t i = 0; i < N_CORL_KEYS; i++)
        if (!strcmp(corl_keys[i].name, name)) return &corl_keys[i];
    return NULL;
}

/* What a CORL run does that its file does not say: TrainConfig's defaults (for keys the file
 * leaves out) and what iql.py hard-codes — Adam without weight decay, the value loss against the
 * target critics, CosineAnnealingLR(actor_optimizer, max_timesteps) stepped every step on the
 * actor only, exp(beta*adv) clamped at 100, log sigma clamped to [-20, 2], two layers of 256. */
void corl_implied(Config *c) {
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

int corl_marks_file(const char *name) {
    const CorlKey *c = find_corl_key(name);
    return c && c->marks_corl;
}

int corl_key_info(const char *name, const char **ours) {
    const CorlKey *c = find_corl_key(name);
    *ours = c && c->action == CORL_TO_OURS ? c->ours : NULL;
    return c != NULL;
}

void corl_marker_names(char *buf, size_t n) {
    const char *names[N_CORL_KEYS + 1];
    int count = 0;
    for (size_t i = 0; i < N_CORL_KEYS; i++)
        if (corl_keys[i].marks_corl) names[count++] = corl_keys[i].name;
    names[count] = NULL;
    config_choices_text(names, ", ", " or ", buf, n);
}

const char *corl_target_of(int corl, const char *name) {
    const CorlKey *c = corl ? find_corl_key(name) : NULL;
    if (!c) {
        const KeyDef *k = config_find_key(name);
        return k ? k->name : NULL;
    }
    switch (c->action) {
    case CORL_TO_OURS: return c->ours;
    case CORL_NORMALIZE_REWARD: return "reward_transform";
    case CORL_DETERMINISTIC: return "policy";
    default: return NULL;
    }
}

int corl_apply_pair(Config *cfg, const char *name, const Value *v, CorlFileState *state, Error *err) {
    const CorlKey *c = find_corl_key(name);
    if (!c) {
        const KeyDef *k = config_find_key(name);
        if (!k) return config_unknown_key(err, name);
        return config_apply_value(cfg, k, name, v, err);
    }
    switch (c->action) {
    case CORL_TO_OURS:
        return config_apply_value(cfg, config_find_key(c->ours), name, v, err);
    case CORL_NORMALIZE_REWARD:
    case CORL_DETERMINISTIC: {
        int b;
        if (v->shape != V_SCALAR || v->is_null || parse_bool(v->text, &b))
            return config_bad_value(err, name, "true or false", v);
        if (c->action == CORL_NORMALIZE_REWARD) state->normalize_reward = b;
        else cfg->policy = b ? POLICY_DETERMINISTIC : POLICY_GAUSSIAN;
        return 0;
    }
    case CORL_ENV:
        if (v->shape != V_SCALAR || v->is_null) return config_bad_value(err, name, "a D4RL task name", v);
        state->env = v->text;
        state->env_line = state->line;
        return 0;
    case CORL_IGNORED:
        corl_note(state, state->line, "%s is read but not used: %s", name, c->why);
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

void corl_finish(Config *cfg, const CorlFileState *state) {
    if (state->normalize_reward >= 0) cfg->reward_transform = corl_reward(state->normalize_reward, state->env);
    if (!state->env) return;
    /* CORL's env names a D4RL task; ours names an evaluation environment. Said once, so a user
     * does not expect hopper to be evaluated. */
    char used[160];
    if (state->normalize_reward > 0)
        snprintf(used, sizeof used, "it only picked the reward transform (%s, for normalize_reward)",
                 config_find_key("reward_transform")->choices[cfg->reward_transform]);
    else
        snprintf(used, sizeof used, "it is not used (normalize_reward is not set)");
    corl_note(state, state->env_line,
              "env '%s' is CORL's D4RL task: %s; evaluation needs our env, a built-in environment "
              "(--set env=pendulum|mountaincar|pointmaze), or run tools/gym_eval.py CHECKPOINT %s",
              state->env, used, state->env);
}
