/* config.h — a training run's settings: defaults, YAML files (libyaml), --set overrides.
 *
 * One Config holds every key a user can set; it lives with the algorithm, whose keys are most
 * of them, and the layers beside it (data, evaluation, the backends) are handed narrow structs
 * cut from it by the run layer. config_defaults() gives the seed's settings
 * (docs/algorithm.md, "Defaults"); config_load_file() applies a YAML file on top (our keys, or CORL's IQL
 * keys mapped onto ours); config_set() applies one "key=value" override; config_validate()
 * checks ranges and cross-key rules. Unknown keys and bad values are errors naming the key.
 * Loading and overriding are all-or-nothing: on error the Config is left as it was.
 *
 *   Config cfg; Error err;
 *   config_defaults(&cfg);
 *   if (config_load_file(&cfg, "configs/paper-locomotion.yaml", &err) ||
 *       config_set_assignment(&cfg, "hidden=[512, 512]", &err) || config_validate(&cfg, &err))
 *       fprintf(stderr, "cuiql train: %s\n", err.msg);
 *
 * CORL files: a file holding any of iql_tau, actor_lr, qf_lr, vf_lr, max_timesteps,
 * normalize_reward or iql_deterministic is read with CORL's meanings (its `tau` is the target
 * update rate) on top of what CORL's iql.py implies (see corl_implied in config_corl.c).
 *
 * The code by job: config_keys.c (the table of keys, with each key's default; validation,
 * writing, help), config_value.c (a value given to a key, from YAML or --set), config_corl.c
 * (CORL's names), config_yaml.c (reading a file). */
#ifndef CUIQL_CONFIG_H
#define CUIQL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cuiql/error.h"
#include "cuiql/settings.h"

#define CONFIG_MAX_HIDDEN 8
#define CONFIG_PATH_MAX 4096

typedef enum { VALUE_TARGET_TD, VALUE_TARGET_Q } ValueTarget;          /* seed's rule | paper's rule */
typedef enum { POLICY_GAUSSIAN, POLICY_DETERMINISTIC } PolicyKind;
typedef enum { LR_SCHEDULE_COSINE, LR_SCHEDULE_CONSTANT } LrScheduleKind;
typedef enum { SAMPLING_UNIFORM, SAMPLING_SEQUENTIAL } SamplingKind;
typedef enum { DEVICE_AUTO, DEVICE_CPU, DEVICE_CUDA } DeviceKind;
typedef enum { Q_LOSS_MEAN, Q_LOSS_SUM } QLossKind;  /* ½(MSE1+MSE2) (seed, CORL) | MSE1+MSE2 (official) */
typedef enum { LR_SCALING_NONE, LR_SCALING_SQRT, LR_SCALING_LINEAR } LrScalingKind; /* lr × (B/base)^0, ^½, ^1 */
/* ReplayKind, PrecisionKind, RewardTransform and the learning-rate groups are in
 * cuiql/settings.h: layers beside this one read them too. */

typedef struct {
    /* data */
    char dataset[CONFIG_PATH_MAX];
    int normalize_states;              /* bool */
    RewardTransform reward_transform;
    double reward_scale, reward_shift; /* used by REWARD_SCALE_SHIFT: r' = r·scale + shift */

    /* the update */
    int64_t steps;
    int batch_size;
    double discount;                   /* γ */
    double tau;                        /* expectile τ */
    double beta;                       /* temperature β */
    double adv_clip;                   /* clip of exp(β·adv), 100 */
    ValueTarget value_target;
    double target_update_rate;         /* ρ; 1 = no target network */
    QLossKind q_loss;

    /* networks */
    PolicyKind policy;
    int hidden[CONFIG_MAX_HIDDEN];
    int n_hidden;
    double max_action;
    double log_std_min, log_std_max;   /* clamp of log σ, [−20, 2] */

    /* optimiser and schedule */
    double lr[LR_GROUP_COUNT];         /* lr_policy, lr_value, lr_q */
    double lr_min;                     /* CosineAnnealingLR eta_min */
    double weight_decay;
    double adam_beta1, adam_beta2, adam_eps;
    LrScheduleKind lr_schedule;
    int lr_schedule_groups[LR_GROUP_COUNT]; /* bool per group: does the schedule apply to it */
    int64_t lr_t_max;                  /* in epochs; 0 = the whole run */
    int64_t steps_per_epoch;           /* gradient steps per schedule epoch; 1 = counted in steps */
    LrScalingKind lr_scaling;          /* large batches: lr (and lr_min) × (batch_size/lr_base_batch)^k */
    int lr_base_batch;                 /* the batch the learning rates above were tuned at */
    int64_t lr_warmup_steps;           /* linear warm-up over the first steps; 0 = none */

    /* sampling and randomness */
    SamplingKind sampling;
    uint64_t seed;                     /* initialisation seed (per member in a sweep) */
    int64_t batch_seed;                /* seed of batch indices; −1 = same as seed */

    /* bookkeeping */
    int64_t log_every;
    int64_t checkpoint_every;          /* 0 = only the final checkpoint (and on interrupt) */

    /* evaluation in a built-in environment, or in gymnasium (docs/gym-bridge.md) */
    char env[64];                      /* "" = no evaluation */
    int64_t eval_every;                /* 0 = only at the end */
    int eval_episodes;
    char eval_env[256];                /* "" = env alone; gym:<id>, or a built-in name like env */
    char eval_ref_scores[128];         /* D4RL/Minari task whose reference returns score gym:<id>; "" = from the id */

    /* hardware */
    DeviceKind device;
    ReplayKind replay;
    PrecisionKind precision;
} Config;

/* The seed's settings: each key's default from the key table (configs/seed.yaml gives the
 * same values explicitly). */
void config_defaults(Config *cfg);

/* The seed of the batch stream: batch_seed, or seed when batch_seed is -1. The one place that
 * rule is written. */
uint64_t config_batch_seed(const Config *cfg);

/* Applies a YAML mapping file on top of cfg. Accepts our keys and CORL's IQL keys. */
int config_load_file(Config *cfg, const char *path, Error *err);

/* What a file said that is not an error but would otherwise pass unseen: a key read and not
 * used, and what to use instead ("FILE:LINE: env 'hopper-medium-v2' ..."). The algo layer prints
 * nothing; the command that loaded the file shows them. */
#define CONFIG_MAX_NOTES 16
typedef struct {
    int n;
    char text[CONFIG_MAX_NOTES][400];
} ConfigNotes;

/* config_load_file, with the file's notes in *notes (filled only when the load succeeds;
 * notes may be NULL). */
int config_load_file_notes(Config *cfg, const char *path, ConfigNotes *notes, Error *err);

/* The same from YAML text in memory (a checkpoint's `config` attribute); `name` stands for the
 * file in messages; notes may be NULL. */
int config_load_string(Config *cfg, const char *text, size_t len, const char *name, ConfigNotes *notes, Error *err);

/* Applies one override; value is YAML scalar text ("0.9", "[256, 256]", "true", "q"): surrounding
 * whitespace and one pair of outer quotes are removed, and for string keys an unquoted "", "~" or
 * "null" means empty. List keys also take "256,256". Integers accept "1e6". */
int config_set(Config *cfg, const char *key, const char *value, Error *err);

/* Applies "key=value" (the --set argument form). */
int config_set_assignment(Config *cfg, const char *assignment, Error *err);

/* Range and consistency checks ("tau: must be in (0, 1), got 1.5"). */
int config_validate(const Config *cfg, Error *err);

/* The resolved config as YAML (every key, our names), loadable by config_load_file; reading it
 * back gives the identical Config (doubles are written with enough digits). -1 on a write error
 * or a value that cannot be written (an out-of-range enum, a string that is not UTF-8). */
int config_write_yaml(const Config *cfg, FILE *out);

/* The same YAML into a malloc'd string (for the checkpoint's `config` attribute). */
char *config_to_yaml_string(const Config *cfg);

/* Every key with its type, valid range, default and a line of help (for `cuiql train --help`). */
void config_print_help(FILE *out);

/* Canonical names, for logs and errors. */
const char *config_device_name(DeviceKind d);

#endif
