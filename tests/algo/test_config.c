/* test_config.c — config defaults, the shipped configs, CORL files, error messages, --set,
 * validation and the write → load round trip.
 *
 * usage: test_config CONFIGS_DIR   (the source tree's configs/; test YAML files are written to
 * the working directory). Configs are compared field by field, written out here independently
 * of config_keys.c's key table, so a key the table forgets to load or write shows up as a mismatch. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/config.h"
#include "test_util.h"

static const char *configs_dir;

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static int same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Field-by-field comparison (doubles bit for bit); prints each difference. */
static int config_diff(const Config *a, const Config *b, const char *what) {
    int d = 0;
#define DIFF(cond, name)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            fprintf(stderr, "  %s: field %s differs\n", what, name);                              \
            d++;                                                                                   \
        }                                                                                          \
    } while (0)
#define DBL(f) DIFF(!same_double(a->f, b->f), #f)
#define INT(f) DIFF(a->f != b->f, #f)
    DIFF(strcmp(a->dataset, b->dataset), "dataset");
    INT(normalize_states);
    INT(reward_transform);
    DBL(reward_scale);
    DBL(reward_shift);
    INT(steps);
    INT(batch_size);
    DBL(discount);
    DBL(tau);
    DBL(beta);
    DBL(adv_clip);
    INT(value_target);
    DBL(target_update_rate);
    INT(q_loss);
    INT(policy);
    INT(n_hidden);
    for (int i = 0; i < a->n_hidden && i < CONFIG_MAX_HIDDEN; i++) INT(hidden[i]);
    DBL(max_action);
    DBL(log_std_min);
    DBL(log_std_max);
    for (int g = 0; g < LR_GROUP_COUNT; g++) DBL(lr[g]);
    DBL(lr_min);
    DBL(weight_decay);
    DBL(adam_beta1);
    DBL(adam_beta2);
    DBL(adam_eps);
    INT(lr_schedule);
    for (int g = 0; g < LR_GROUP_COUNT; g++) INT(lr_schedule_groups[g]);
    INT(lr_t_max);
    INT(steps_per_epoch);
    INT(lr_scaling);
    INT(lr_base_batch);
    INT(lr_warmup_steps);
    INT(sampling);
    INT(seed);
    INT(batch_seed);
    INT(log_every);
    INT(checkpoint_every);
    DIFF(strcmp(a->env, b->env), "env");
    INT(eval_every);
    INT(eval_episodes);
    DIFF(strcmp(a->eval_env, b->eval_env), "eval_env");
    DIFF(strcmp(a->eval_ref_scores, b->eval_ref_scores), "eval_ref_scores");
    INT(device);
    INT(replay);
    INT(precision);
#undef DBL
#undef INT
#undef DIFF
    return d;
}

/* Every key set away from its default (the test of seed.yaml relies on that). */
static const char *const scramble_sets[] = {
    "dataset=/data/x y.hdf5", "normalize_states=true", "reward_transform=scale",
    "reward_scale=0.5", "reward_shift=-1", "steps=12345", "batch_size=64", "discount=0.9",
    "tau=0.8", "beta=1.5", "adv_clip=50", "value_target=q", "target_update_rate=0.01",
    "q_loss=sum", "policy=deterministic", "hidden=[64, 32, 16]", "max_action=2",
    "log_std_min=-5", "log_std_max=1", "lr_policy=2e-4", "lr_value=2e-3", "lr_q=3e-3",
    "lr_min=1e-6", "weight_decay=1e-4", "adam_beta1=0.8", "adam_beta2=0.99", "adam_eps=1e-6",
    "lr_schedule=constant", "lr_schedule_groups=[value]", "lr_t_max=7", "steps_per_epoch=10",
    "lr_scaling=sqrt", "lr_base_batch=128", "lr_warmup_steps=50",
    "sampling=sequential", "seed=42", "batch_seed=7", "log_every=10", "checkpoint_every=500",
    "env=pendulum", "eval_every=100", "eval_episodes=3", "eval_env=gym:Hopper-v5",
    "eval_ref_scores=hopper-medium-v2", "device=cpu", "replay=host",
    "precision=tf32",
};

static void scrambled(Config *c) {
    config_defaults(c);
    Error err;
    for (size_t i = 0; i < sizeof scramble_sets / sizeof *scramble_sets; i++)
        CHECK(config_set_assignment(c, scramble_sets[i], &err) == 0, "%s: %s", scramble_sets[i], err.msg);
}

/* Lines "key: value" of written YAML (not comments or blanks). */
static int yaml_key_lines(char *yaml, char **lines, int max) {
    int n = 0;
    for (char *line = strtok(yaml, "\n"); line; line = strtok(NULL, "\n"))
        if (line[0] != '#' && strchr(line, ':') && n < max) lines[n++] = line;
    return n;
}

static char *load_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", configs_dir, name);
    return buf;
}

/* ---- defaults -------------------------------------------------------------------------------- */

static void test_defaults(void) {
    Config c;
    Error err;
    config_defaults(&c);
    CHECK(config_validate(&c, &err) == 0, "defaults do not validate: %s", err.msg);
    CHECK(c.batch_size == 256 && c.discount == 0.97 && c.tau == 0.7 && c.beta == 2.0, "update");
    CHECK(c.adv_clip == 100 && c.value_target == VALUE_TARGET_TD && c.target_update_rate == 1.0 &&
              c.q_loss == Q_LOSS_MEAN,
          "update rules");
    CHECK(c.policy == POLICY_GAUSSIAN && c.n_hidden == 2 && c.hidden[0] == 256 && c.hidden[1] == 256,
          "networks");
    CHECK(c.max_action == 1 && c.log_std_min == -20 && c.log_std_max == 2, "policy clamp");
    CHECK(c.lr[LR_GROUP_POLICY] == 1e-4 && c.lr[LR_GROUP_VALUE] == 1e-3 && c.lr[LR_GROUP_Q] == 1e-3,
          "lrs");
    CHECK(c.lr_min == 0 && c.weight_decay == 0 && c.adam_beta1 == 0.9 && c.adam_beta2 == 0.999 &&
              c.adam_eps == 1e-8,
          "adam");
    CHECK(c.lr_schedule == LR_SCHEDULE_COSINE && c.lr_schedule_groups[0] && c.lr_schedule_groups[1] &&
              c.lr_schedule_groups[2] && c.lr_t_max == 100 && c.steps_per_epoch == 1000,
          "schedule");
    CHECK(!c.normalize_states && c.reward_transform == REWARD_NONE && c.reward_scale == 1 &&
              c.reward_shift == 0 && c.dataset[0] == '\0',
          "data");
    CHECK(c.sampling == SAMPLING_UNIFORM && c.seed == 0 && c.batch_seed == -1, "sampling");
    CHECK(c.steps == 100000 && c.log_every == 1000 && c.checkpoint_every == 0, "bookkeeping");
    CHECK(c.env[0] == '\0' && c.eval_every == 0 && c.eval_episodes == 10, "eval");
    CHECK(c.device == DEVICE_AUTO && c.replay == REPLAY_AUTO && c.precision == PRECISION_FP32, "hw");
    CHECK(!strcmp(config_device_name(DEVICE_AUTO), "auto") && !strcmp(config_device_name(DEVICE_CPU), "cpu") &&
              !strcmp(config_device_name(DEVICE_CUDA), "cuda") &&
              !strcmp(config_device_name((DeviceKind)7), "unknown"),
          "device names");
}

/* ---- shipped configs --------------------------------------------------------------------------- */

static void test_seed_yaml(void) {
    Config def, s, d;
    Error err;
    char path[4200];
    config_defaults(&def);
    scrambled(&s);

    /* The scrambled config must differ from the defaults in every key, or the check below
     * would not prove that seed.yaml writes every key. */
    char *ya = config_to_yaml_string(&def), *yb = config_to_yaml_string(&s);
    CHECK(ya && yb, "to_yaml_string");
    char *la[128], *lb[128];
    int na = yaml_key_lines(ya, la, 128), nb = yaml_key_lines(yb, lb, 128);
    CHECK(na == nb && na > 40, "key lines %d vs %d", na, nb);
    for (int i = 0; i < na && i < nb; i++) CHECK(strcmp(la[i], lb[i]), "scramble leaves '%s' at default", la[i]);
    free(ya);
    free(yb);

    CHECK(config_load_file(&s, load_path(path, sizeof path, "seed.yaml"), &err) == 0, "%s", err.msg);
    CHECK(config_diff(&s, &def, "seed.yaml over scrambled vs defaults") == 0, "seed.yaml != defaults");
    d = def;
    CHECK(config_load_file(&d, path, &err) == 0, "%s", err.msg);
    CHECK(config_diff(&d, &def, "seed.yaml over defaults") == 0, "seed.yaml changes defaults");
    CHECK(config_validate(&d, &err) == 0, "%s", err.msg);
}

/* The paper's training script evaluates every 5,000 steps over 10 episodes; with eval_env set
 * (gym:Hopper-v5) the curves come while it trains. */
static void test_paper_locomotion_eval(void) {
    Config c;
    Error err;
    char path[4200];
    config_defaults(&c);
    CHECK(config_load_file(&c, load_path(path, sizeof path, "paper-locomotion.yaml"), &err) == 0, "%s", err.msg);
    CHECK(c.eval_every == 5000 && c.eval_episodes == 10 && !c.env[0] && !c.eval_env[0],
          "paper-locomotion.yaml: eval_every %lld, eval_episodes %d", (long long)c.eval_every, c.eval_episodes);
    CHECK(config_set_assignment(&c, "eval_env=gym:Hopper-v5", &err) == 0 && !strcmp(c.eval_env, "gym:Hopper-v5"), "%s",
          err.msg);
}

static void check_paper(const char *file, double tau, double beta, RewardTransform rt) {
    Config c;
    Error err;
    char path[4200];
    config_defaults(&c);
    CHECK(config_load_file(&c, load_path(path, sizeof path, file), &err) == 0, "%s", err.msg);
    CHECK(config_validate(&c, &err) == 0, "%s: %s", file, err.msg);
    CHECK(c.discount == 0.99 && c.tau == tau && c.beta == beta, "%s: gamma %g tau %g beta %g", file,
          c.discount, c.tau, c.beta);
    for (int g = 0; g < LR_GROUP_COUNT; g++) CHECK(c.lr[g] == 3e-4, "%s: lr[%d] %g", file, g, c.lr[g]);
    CHECK(c.lr_schedule == LR_SCHEDULE_COSINE && c.lr_schedule_groups[LR_GROUP_POLICY] &&
              !c.lr_schedule_groups[LR_GROUP_VALUE] && !c.lr_schedule_groups[LR_GROUP_Q],
          "%s: cosine on the policy only", file);
    CHECK(c.steps_per_epoch == 1 && c.lr_t_max == 0, "%s: schedule over all steps", file);
    CHECK(c.value_target == VALUE_TARGET_Q && c.target_update_rate == 0.005, "%s: targets", file);
    CHECK(c.steps == 1000000 && c.normalize_states == 1 && c.reward_transform == rt, "%s: run/data", file);
    CHECK(c.batch_size == 256 && c.n_hidden == 2 && c.hidden[0] == 256 && c.q_loss == Q_LOSS_MEAN &&
              c.adv_clip == 100 && c.policy == POLICY_GAUSSIAN,
          "%s: rest", file);
}

static void test_corl_shipped(void) {
    Config c, def;
    Error err;
    char path[4200];
    config_defaults(&c);
    def = c;
    CHECK(config_load_file(&c, load_path(path, sizeof path, "corl-iql-hopper-medium-v2.yaml"), &err) == 0,
          "%s", err.msg);
    CHECK(config_validate(&c, &err) == 0, "%s", err.msg);
    CHECK(c.tau == 0.7, "iql_tau -> tau: %g", c.tau);
    CHECK(c.target_update_rate == 0.001, "CORL tau -> target_update_rate: %g", c.target_update_rate);
    CHECK(c.beta == 3.0 && c.discount == 0.99 && c.batch_size == 256 && c.steps == 1000000, "mapped");
    CHECK(c.lr[LR_GROUP_POLICY] == 3e-4 && c.lr[LR_GROUP_VALUE] == 3e-4 && c.lr[LR_GROUP_Q] == 3e-4, "lrs");
    CHECK(c.normalize_states == 1, "normalize");
    CHECK(c.reward_transform == REWARD_IQL_LOCOMOTION, "normalize_reward on hopper: %d", c.reward_transform);
    CHECK(c.policy == POLICY_DETERMINISTIC, "iql_deterministic: true");
    CHECK(c.eval_every == 5000 && c.eval_episodes == 10 && c.seed == 0, "eval_freq, n_episodes, seed");
    /* implied by CORL's iql.py */
    CHECK(c.value_target == VALUE_TARGET_Q && c.q_loss == Q_LOSS_MEAN && c.adv_clip == 100 &&
              c.log_std_min == -20 && c.log_std_max == 2,
          "implied update rules");
    CHECK(c.lr_schedule == LR_SCHEDULE_COSINE && c.lr_schedule_groups[LR_GROUP_POLICY] &&
              !c.lr_schedule_groups[LR_GROUP_VALUE] && !c.lr_schedule_groups[LR_GROUP_Q] &&
              c.steps_per_epoch == 1 && c.lr_t_max == 0,
          "implied schedule");
    /* CORL's env and device are not ours */
    CHECK(c.env[0] == '\0' && c.device == DEVICE_AUTO, "env '%s' device %d", c.env, c.device);
    CHECK(!strcmp(c.dataset, def.dataset), "dataset untouched");
}

/* Keys a CORL file sets that cuiql reads but does not use each get one note naming the file and
 * line, the key, and what to use instead; CORL's env says it only picked the reward transform. */
static void test_corl_notes(void) {
    Config c;
    Error err;
    char path[4200];
    ConfigNotes notes = {.n = -1};
    config_defaults(&c);
    load_path(path, sizeof path, "corl-iql-hopper-medium-v2.yaml");
    CHECK(config_load_file_notes(&c, path, &notes, &err) == 0, "%s", err.msg);
    const char *expect[] = {"buffer_size", "checkpoints_path", "device", "group", "name", "project", "env 'hopper-medium-v2'"};
    int n_expect = (int)(sizeof expect / sizeof expect[0]);
    CHECK(notes.n == n_expect, "one note per key read but not used: %d notes, expected %d", notes.n, n_expect);
    for (int i = 0; i < n_expect; i++) {
        int found = 0;
        for (int j = 0; j < notes.n && j < CONFIG_MAX_NOTES; j++)
            if (strstr(notes.text[j], expect[i]) && strstr(notes.text[j], path)) found++;
        CHECK(found == 1, "one note names '%s' (with the file): found %d", expect[i], found);
    }
    for (int j = 0; j < notes.n && j < CONFIG_MAX_NOTES; j++) {
        CHECK(strchr(notes.text[j], '\n') == NULL, "a note is one line: %s", notes.text[j]);
        if (strstr(notes.text[j], "env 'hopper"))
            CHECK(strstr(notes.text[j], "iql-locomotion") && strstr(notes.text[j], "--set env=") &&
                      strstr(notes.text[j], ":24:"),
                  "env note says what it chose, what to set, and its line: %s", notes.text[j]);
        if (strstr(notes.text[j], "device is read"))
            CHECK(strstr(notes.text[j], "--device") != NULL, "device note says what to use: %s", notes.text[j]);
    }

    /* Our own file has nothing to note; a failed load leaves the notes as they were. */
    load_path(path, sizeof path, "seed.yaml");
    notes.n = 0;
    CHECK(config_load_file_notes(&c, path, &notes, &err) == 0 && notes.n == 0, "seed.yaml: %d notes", notes.n);
    write_file("t.yaml", "iql_tau: 0.7\nproject: x\ntau: abc\n");
    notes.n = 5;
    CHECK(config_load_file_notes(&c, "t.yaml", &notes, &err) != 0 && notes.n == 5,
          "failed CORL load: %d notes (expected untouched 5)", notes.n);
    /* Unset env with normalize_reward off: env is read and not used at all. */
    write_file("t.yaml", "iql_tau: 0.7\nenv: walker2d-medium-v2\n");
    CHECK(config_load_file_notes(&c, "t.yaml", &notes, &err) == 0 && notes.n == 1 &&
              strstr(notes.text[0], "not used"),
          "env without normalize_reward: %d notes: %s", notes.n, notes.n ? notes.text[0] : "");
}

/* ---- CORL mapping ------------------------------------------------------------------------------ */

static void load_text(Config *c, const char *text, int expect_ok, const char *label) {
    Error err;
    write_file("t.yaml", text);
    int rc = config_load_file(c, "t.yaml", &err);
    CHECK((rc == 0) == expect_ok, "%s: rc %d: %s", label, rc, rc ? err.msg : "");
}

static void test_corl_mapping(void) {
    Config c;
    Error err;

    config_defaults(&c);
    load_text(&c, "iql_tau: 0.8\ntau: 0.01\n", 1, "minimal CORL");
    CHECK(c.tau == 0.8 && c.target_update_rate == 0.01, "tau %g rho %g", c.tau, c.target_update_rate);
    CHECK(c.discount == 0.99 && c.beta == 3.0 && c.steps == 1000000 && c.normalize_states == 1 &&
              c.lr[LR_GROUP_POLICY] == 3e-4 && c.lr[LR_GROUP_VALUE] == 3e-4 && c.lr[LR_GROUP_Q] == 3e-4,
          "CORL's TrainConfig defaults for absent keys");
    CHECK(c.reward_transform == REWARD_NONE && c.policy == POLICY_GAUSSIAN, "normalize_reward default false");
    CHECK(c.value_target == VALUE_TARGET_Q && c.lr_schedule_groups[0] && !c.lr_schedule_groups[1] &&
              !c.lr_schedule_groups[2] && c.steps_per_epoch == 1 && c.lr_t_max == 0,
          "implied");

    config_defaults(&c);
    load_text(&c, "actor_lr: 1e-4\n", 1, "CORL without tau");
    CHECK(c.target_update_rate == 0.005 && c.tau == 0.7 && c.lr[LR_GROUP_POLICY] == 1e-4, "CORL defaults");

    /* Not a CORL file: tau is the expectile and nothing else changes. */
    config_defaults(&c);
    load_text(&c, "tau: 0.8\n", 1, "our tau");
    CHECK(c.tau == 0.8 && c.target_update_rate == 1.0 && c.discount == 0.97 && c.value_target == VALUE_TARGET_TD,
          "our file untouched by CORL rules");

    /* normalize_reward follows modify_reward: by env, wherever env appears in the file */
    static const struct {
        const char *yaml;
        RewardTransform want;
    } rewards[] = {
        {"normalize_reward: true\nenv: antmaze-umaze-v2\n", REWARD_ANTMAZE},
        {"env: walker2d-medium-replay-v2\nnormalize_reward: true\n", REWARD_IQL_LOCOMOTION},
        {"normalize_reward: true\n", REWARD_IQL_LOCOMOTION}, /* CORL's default env is halfcheetah */
        {"normalize_reward: true\nenv: pen-human-v1\n", REWARD_NONE},
        {"normalize_reward: false\nenv: hopper-medium-v2\n", REWARD_NONE},
        {"iql_tau: 0.7\nenv: antmaze-large-play-v2\n", REWARD_NONE},
    };
    for (size_t i = 0; i < sizeof rewards / sizeof *rewards; i++) {
        config_defaults(&c);
        c.reward_transform = REWARD_SCALE_SHIFT;
        load_text(&c, rewards[i].yaml, 1, rewards[i].yaml);
        CHECK(c.reward_transform == rewards[i].want, "%s-> %d, want %d", rewards[i].yaml, c.reward_transform,
              rewards[i].want);
    }

    config_defaults(&c);
    load_text(&c, "iql_deterministic: false\n", 1, "iql_deterministic false");
    CHECK(c.policy == POLICY_GAUSSIAN, "gaussian");
    load_text(&c, "iql_deterministic: true\n", 1, "iql_deterministic true");
    CHECK(c.policy == POLICY_DETERMINISTIC, "deterministic");

    /* our keys still work in a CORL file; CORL's env/device do not touch ours */
    config_defaults(&c);
    load_text(&c,
              "iql_tau: 0.9\nhidden: [64]\ndevice: cpu\nenv: hopper-medium-v2\ndataset: d.hdf5\n"
              "actor_dropout: null\nload_model: ''\nbuffer_size: 2000000\nproject: CORL\n",
              1, "CORL with our keys");
    CHECK(c.n_hidden == 1 && c.hidden[0] == 64 && c.device == DEVICE_AUTO && c.env[0] == '\0' &&
              !strcmp(c.dataset, "d.hdf5"),
          "mixed CORL file");

    /* what cuiql cannot reproduce is refused, naming the key and line */
    config_defaults(&c);
    write_file("t.yaml", "iql_tau: 0.7\nactor_dropout: 0.1\n");
    CHECK(config_load_file(&c, "t.yaml", &err) == -1 && strstr(err.msg, "t.yaml:2") &&
              strstr(err.msg, "actor_dropout"),
          "dropout: %s", err.msg);
    write_file("t.yaml", "iql_tau: 0.7\nload_model: model.pt\n");
    CHECK(config_load_file(&c, "t.yaml", &err) == -1 && strstr(err.msg, "load_model"), "load_model: %s", err.msg);
    write_file("t.yaml", "iql_tau: abc\n");
    CHECK(config_load_file(&c, "t.yaml", &err) == -1 && strstr(err.msg, "iql_tau: expected a number, got 'abc'"),
          "CORL bad value: %s", err.msg);
    write_file("t.yaml", "iql_tau: 0.7\nnormalize_reward: perhaps\n");
    CHECK(config_load_file(&c, "t.yaml", &err) == -1 && strstr(err.msg, "t.yaml:2: normalize_reward"),
          "CORL bad bool: %s", err.msg);
    CHECK(c.tau == 0.7 && c.discount == 0.97, "failed CORL load changed the config");

    /* one setting named twice */
    write_file("t.yaml", "max_timesteps: 1000\nbeta: 1\nsteps: 5\n");
    CHECK(config_load_file(&c, "t.yaml", &err) == -1 && strstr(err.msg, "t.yaml:3: 'steps' and 'max_timesteps' (line 1) both set steps"),
          "steps twice: %s", err.msg);
    write_file("t.yaml", "iql_tau: 0.7\nnormalize_reward: true\nreward_transform: antmaze\n");
    CHECK(config_load_file(&c, "t.yaml", &err) == -1 && strstr(err.msg, "both set reward_transform"),
          "reward twice: %s", err.msg);
    config_defaults(&c);
    load_text(&c, "iql_tau: 0.7\nreward_transform: antmaze\nenv: hopper-medium-v2\n", 1, "our reward key in CORL");
    CHECK(c.reward_transform == REWARD_ANTMAZE, "our reward_transform kept without normalize_reward");
    config_defaults(&c);

    /* CORL-only names outside a CORL file, and through --set */
    write_file("t.yaml", "normalize: true\n");
    CHECK(config_load_file(&c, "t.yaml", &err) == -1 && strstr(err.msg, "unknown config key 'normalize'") &&
              strstr(err.msg, "normalize_states"),
          "normalize outside CORL: %s", err.msg);
    write_file("t.yaml", "project: CORL\n");
    CHECK(config_load_file(&c, "t.yaml", &err) == -1 && strstr(err.msg, "unknown config key 'project'") &&
              strstr(err.msg, "iql_tau"),
          "project outside CORL: %s", err.msg);
    CHECK(config_set_assignment(&c, "iql_tau=0.7", &err) == -1 && strstr(err.msg, "'tau'"), "%s", err.msg);
}

/* ---- file errors -------------------------------------------------------------------------------- */

static void test_file_errors(void) {
    static const struct {
        const char *yaml;
        const char *want[3]; /* substrings of the message */
    } cases[] = {
        {"tau: 0.5\nfoo: 1\n", {"err.yaml:2: ", "unknown config key 'foo'"}},
        {"\n\ntau: abc\n", {"err.yaml:3: ", "tau: expected a number, got 'abc'"}},
        {"value_target: x\n", {"err.yaml:1: ", "value_target: expected td or q, got 'x'"}},
        {"reward_transform: linear\n", {"reward_transform: expected none, iql-locomotion, antmaze or scale"}},
        {"policy: Gaussian\n", {"policy: expected gaussian or deterministic, got 'Gaussian'"}},
        {"tau: [1, 2]\n", {"err.yaml:1: ", "tau: expected a number, got a sequence"}},
        {"steps: {a: 1}\n", {"steps: expected an integer, got a mapping"}},
        {"hidden: {a: 1}\n", {"hidden: expected a list", "got a mapping"}},
        {"hidden: 256\n", {"hidden: expected a list", "got '256'"}},
        {"hidden: [[256]]\n", {"hidden: entry 1", "nested sequence"}},
        {"beta: 1\nhidden:\n  - 256\n  - x\n", {"err.yaml:2: ", "hidden: entry 2", "'x'"}},
        {"hidden: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n", {"hidden: expected 1 to 8 sizes, got 9"}},
        {"hidden: []\n", {"hidden: expected 1 to 8 sizes, got 0"}},
        {"tau: 0.5\nbeta: 1\ntau: 0.6\n", {"err.yaml:3: ", "duplicate key 'tau'", "line 1"}},
        {"- tau\n- beta\n", {"err.yaml:1: ", "top level must be a mapping", "sequence"}},
        {"just text\n", {"top level must be a mapping", "scalar"}},
        {"tau: [0.5\n", {"err.yaml:", "YAML syntax error"}},
        {"tau: 0.5\n  beta: 1\n", {"err.yaml:2:", "YAML syntax error"}},
        {"tau: nan\n", {"tau: expected a number, got 'nan'"}},
        {"tau: .nan\n", {"tau: expected a number"}},
        {"tau: inf\n", {"tau: expected a number"}},
        {"tau: 1e999\n", {"tau: expected a number"}},
        {"tau: 0.5x\n", {"tau: expected a number, got '0.5x'"}},
        {"tau:\n", {"err.yaml:1: ", "tau: expected a number, got null"}},
        {"steps: 1.5\n", {"steps: expected an integer, got '1.5'"}},
        {"batch_size: 99999999999\n", {"batch_size: ", "out of range"}},
        {"steps: 99999999999999999999\n", {"steps: ", "out of range"}},
        {"normalize_states: maybe\n", {"normalize_states: expected true or false, got 'maybe'"}},
        {"seed: -1\n", {"seed: expected a non-negative integer, got '-1'"}},
        {"seed: 18446744073709551616\n", {"seed: ", "out of range"}},
        {"lr_schedule_groups: [policy, actor]\n", {"lr_schedule_groups: entry 2: expected policy, value or q, got 'actor'"}},
        {"lr_schedule_groups: policy\n", {"lr_schedule_groups: expected a list"}},
        {"tau: 0.5\n---\nbeta: 1\n", {"err.yaml:3", "more than one YAML document"}},
        {"env: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", {"env: longer than 63 bytes"}},
        {"dataset: [a]\n", {"dataset: expected a string, got a sequence"}},
        {"[a]: 1\n", {"err.yaml:1: ", "keys must be names"}},
        {"env: \xff\xfe\n", {"err.yaml", "YAML error", "UTF-8"}},
        /* nesting is capped before libyaml gets slow on it (quadratic: 100k levels took 44 s) */
        {"tau: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
         {"err.yaml:1: ", "nested more than 32 levels"}},
        {"a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: "
         "{a: {a: {a: {a: {a: {a: {a: 1}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}\n",
         {"nested more than 32 levels"}},
    };
    Config c, before;
    Error err;
    config_defaults(&c);
    before = c;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_file("err.yaml", cases[i].yaml);
        strcpy(err.msg, "(no message)");
        int rc = config_load_file(&c, "err.yaml", &err);
        CHECK(rc == -1, "case %zu (%s) loaded", i, cases[i].yaml);
        for (int j = 0; j < 3 && cases[i].want[j]; j++)
            CHECK(strstr(err.msg, cases[i].want[j]) != NULL, "case %zu: '%s' not in '%s'", i, cases[i].want[j],
                  err.msg);
        CHECK(config_diff(&c, &before, "after a failed load") == 0, "case %zu changed the config", i);
    }

    /* all or nothing: earlier keys of a failing file are not applied */
    write_file("err.yaml", "tau: 0.5\nhidden: [64]\nbeta: x\n");
    CHECK(config_load_file(&c, "err.yaml", &err) == -1 && c.tau == 0.7 && c.n_hidden == 2, "partial load");

    CHECK(config_load_file(&c, "no-such-file.yaml", &err) == -1 && strstr(err.msg, "no-such-file.yaml: cannot open"),
          "missing file: %s", err.msg);
    CHECK(config_load_file(&c, ".", &err) == -1 && strstr(err.msg, "is a directory"), "directory: %s", err.msg);

    /* empty and comment-only files set nothing */
    load_text(&c, "", 1, "empty file");
    load_text(&c, "# only a comment\n\n", 1, "comment-only file");
    CHECK(config_diff(&c, &before, "after empty files") == 0, "empty files changed the config");

    /* accepted spellings */
    load_text(&c,
              "{tau: 0.75, steps: 1e6, value_target: 'q', normalize_states: Yes, hidden: [128, 64],\n"
              " lr_schedule_groups: [q, policy], dataset: \"a: b # c.hdf5\", env: ~, seed: 007}\n",
              1, "flow mapping");
    CHECK(c.tau == 0.75 && c.steps == 1000000 && c.value_target == VALUE_TARGET_Q && c.normalize_states == 1 &&
              c.n_hidden == 2 && c.hidden[0] == 128 && c.hidden[1] == 64 && c.lr_schedule_groups[LR_GROUP_Q] &&
              c.lr_schedule_groups[LR_GROUP_POLICY] && !c.lr_schedule_groups[LR_GROUP_VALUE] &&
              !strcmp(c.dataset, "a: b # c.hdf5") && c.env[0] == '\0' && c.seed == 7,
          "flow mapping values");
    load_text(&c, "base: &b 0.25\n", 0, "anchors do not make unknown keys known");
    load_text(&c, "tau: &t 0.6\nbeta: *t\n", 1, "alias");
    CHECK(c.tau == 0.6 && c.beta == 0.6, "alias value");
}

/* ---- --set -------------------------------------------------------------------------------------- */

static void test_set(void) {
    Config c;
    Error err;
    config_defaults(&c);
#define SET_OK(a) CHECK(config_set_assignment(&c, (a), &err) == 0, "%s: %s", (a), err.msg)
    SET_OK("hidden=[64, 32]");
    CHECK(c.n_hidden == 2 && c.hidden[0] == 64 && c.hidden[1] == 32, "hidden list");
    SET_OK("hidden=128,128,128");
    CHECK(c.n_hidden == 3 && c.hidden[2] == 128, "hidden comma list");
    SET_OK("hidden=512");
    CHECK(c.n_hidden == 1 && c.hidden[0] == 512, "hidden single");
    SET_OK("hidden= [ 1 ,2 ] ");
    CHECK(c.n_hidden == 2 && c.hidden[0] == 1 && c.hidden[1] == 2, "hidden spaced");
    static const struct {
        const char *text;
        int want;
    } bools[] = {{"yes", 1}, {"False", 0}, {"1", 1}, {"off", 0}, {"TRUE", 1}, {"no", 0}, {"on", 1}, {"0", 0}};
    for (size_t i = 0; i < sizeof bools / sizeof *bools; i++) {
        CHECK(config_set(&c, "normalize_states", bools[i].text, &err) == 0, "%s: %s", bools[i].text, err.msg);
        CHECK(c.normalize_states == bools[i].want, "bool %s", bools[i].text);
    }
    SET_OK("lr_schedule_groups=policy,q");
    CHECK(c.lr_schedule_groups[0] && !c.lr_schedule_groups[1] && c.lr_schedule_groups[2], "groups");
    SET_OK("lr_schedule_groups=[]");
    CHECK(!c.lr_schedule_groups[0] && !c.lr_schedule_groups[1] && !c.lr_schedule_groups[2], "no groups");
    SET_OK("lr_schedule_groups=['value']");
    CHECK(!c.lr_schedule_groups[0] && c.lr_schedule_groups[1] && !c.lr_schedule_groups[2], "quoted group");
    SET_OK(" tau = 0.9 ");
    CHECK(c.tau == 0.9, "spaced tau");
    SET_OK("dataset=/tmp/a b=c.hdf5");
    CHECK(!strcmp(c.dataset, "/tmp/a b=c.hdf5"), "dataset '%s'", c.dataset);
    SET_OK("env=pendulum");
    CHECK(!strcmp(c.env, "pendulum"), "env");
    SET_OK("env=''");
    CHECK(c.env[0] == '\0', "env cleared");
    SET_OK("steps=1e6");
    CHECK(c.steps == 1000000, "steps 1e6");
    SET_OK("steps=+5");
    CHECK(c.steps == 5, "steps +5");
    SET_OK("seed=18446744073709551615");
    CHECK(c.seed == UINT64_MAX, "seed max");
    SET_OK("batch_seed=-1");
    SET_OK("value_target=q");
    SET_OK("reward_transform=iql-locomotion");
    CHECK(c.value_target == VALUE_TARGET_Q && c.reward_transform == REWARD_IQL_LOCOMOTION, "enums");
    SET_OK("lr_policy=3e-4");
    CHECK(c.lr[LR_GROUP_POLICY] == 3e-4, "lr_policy");
    CHECK(config_set(&c, "beta", "\"2.5\"", &err) == 0 && c.beta == 2.5, "quoted number");
#undef SET_OK

    static const struct {
        const char *assignment, *want;
    } bad[] = {
        {"tau", "expected key=value"},
        {"=1", "expected key=value"},
        {"nokey=1", "unknown config key 'nokey'"},
        {"tau=", "tau: expected a number, got null"},
        {"tau=abc", "tau: expected a number, got 'abc'"},
        {"hidden=[1,", "hidden: unbalanced"},
        {"hidden=1,,2", "hidden: empty entry"},
        {"hidden=[1, x]", "hidden: entry 2"},
        {"hidden=", "hidden: empty entry"},
        {"steps=1.5", "steps: expected an integer"},
        {"seed=-1", "seed: expected a non-negative integer"},
        {"seed=18446744073709551616", "out of range"},
        {"normalize_states=2", "normalize_states: expected true or false, got '2'"},
        {"device=gpu", "device: expected auto, cpu or cuda, got 'gpu'"},
        {"lr_schedule_groups=actor", "lr_schedule_groups: entry 1"},
        {"dataset=\xff.hdf5", "dataset: not valid UTF-8"},
    };
    Config before = c;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        strcpy(err.msg, "(no message)");
        CHECK(config_set_assignment(&c, bad[i].assignment, &err) == -1, "'%s' accepted", bad[i].assignment);
        CHECK(strstr(err.msg, bad[i].want) != NULL, "'%s': '%s' not in '%s'", bad[i].assignment, bad[i].want,
              err.msg);
    }
    CHECK(config_diff(&c, &before, "after failed --set") == 0, "failed --set changed the config");
}

/* ---- validation --------------------------------------------------------------------------------- */

static void test_validate(void) {
    static const struct {
        const char *assignment, *want;
    } bad[] = {
        {"tau=0", "tau: must be in (0, 1), got 0"},
        {"tau=1", "tau: must be in (0, 1)"},
        {"discount=1.5", "discount: must be in [0, 1]"},
        {"discount=-0.1", "discount:"},
        {"beta=-1", "beta: must be >= 0"},
        {"adv_clip=0", "adv_clip: must be > 0"},
        {"target_update_rate=0", "target_update_rate: must be in (0, 1]"},
        {"target_update_rate=1.5", "target_update_rate:"},
        {"batch_size=0", "batch_size: must be >= 1, got 0"},
        {"steps=-1", "steps: must be >= 0"},
        {"hidden=[256, 0]", "hidden: must be >= 1, got 0 (layer 2)"},
        {"lr_policy=-1e-4", "lr_policy: must be >= 0"},
        {"lr_value=-1", "lr_value:"},
        {"lr_q=-1", "lr_q:"},
        {"lr_min=-1", "lr_min:"},
        {"weight_decay=-0.01", "weight_decay:"},
        {"adam_beta1=1", "adam_beta1: must be in [0, 1)"},
        {"adam_beta2=-0.5", "adam_beta2:"},
        {"adam_eps=0", "adam_eps: must be > 0"},
        {"log_std_min=3", "log_std_min: must be below log_std_max"},
        {"log_std_max=-20", "log_std_min: must be below log_std_max"},
        {"max_action=0", "max_action: must be > 0"},
        {"steps_per_epoch=0", "steps_per_epoch: must be >= 1"},
        {"lr_t_max=-1", "lr_t_max: must be >= 0"},
        {"log_every=0", "log_every: must be >= 1"},
        {"checkpoint_every=-5", "checkpoint_every: must be >= 0"},
        {"eval_every=-1", "eval_every: must be >= 0"},
        {"eval_episodes=0", "eval_episodes: must be in [1, 10000000]"},
        {"eval_episodes=100000000", "eval_episodes: must be in [1, 10000000], got 100000000"},
        {"batch_seed=-2", "batch_seed: must be >= -1"},
    };
    Error err;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        Config c;
        config_defaults(&c);
        CHECK(config_set_assignment(&c, bad[i].assignment, &err) == 0, "%s: %s", bad[i].assignment, err.msg);
        strcpy(err.msg, "(no message)");
        CHECK(config_validate(&c, &err) == -1, "'%s' validated", bad[i].assignment);
        CHECK(strstr(err.msg, bad[i].want) != NULL, "'%s': '%s' not in '%s'", bad[i].assignment, bad[i].want,
              err.msg);
    }
    /* --dataset copies a path in verbatim, past config_set's UTF-8 check: validation refuses it
     * before a run writes a config.yaml it could not read back */
    Config raw;
    config_defaults(&raw);
    strcpy(raw.dataset, "runs/\xff.h5");
    CHECK(config_validate(&raw, &err) == -1 && strstr(err.msg, "dataset: not valid UTF-8"), "non-UTF-8 dataset: %s",
          err.msg);
    static const char *const edges[] = {"discount=0", "discount=1", "target_update_rate=1", "beta=0",
                                        "steps=0", "lr_t_max=0", "adam_beta1=0", "checkpoint_every=0",
                                        "reward_transform=scale", "lr_schedule_groups=[]", "batch_seed=-1"};
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
        Config c;
        config_defaults(&c);
        CHECK(config_set_assignment(&c, edges[i], &err) == 0, "%s: %s", edges[i], err.msg);
        CHECK(config_validate(&c, &err) == 0, "edge '%s' refused: %s", edges[i], err.msg);
    }
    /* structs filled by code rather than parsed */
    Config c;
    config_defaults(&c);
    c.n_hidden = 0;
    CHECK(config_validate(&c, &err) == -1 && strstr(err.msg, "hidden"), "n_hidden 0: %s", err.msg);
    config_defaults(&c);
    c.n_hidden = CONFIG_MAX_HIDDEN + 1;
    CHECK(config_validate(&c, &err) == -1 && strstr(err.msg, "hidden"), "n_hidden 9: %s", err.msg);
    config_defaults(&c);
    c.value_target = (ValueTarget)5;
    CHECK(config_validate(&c, &err) == -1 && strstr(err.msg, "value_target"), "bad enum: %s", err.msg);
    config_defaults(&c);
    c.beta = NAN;
    CHECK(config_validate(&c, &err) == -1 && strstr(err.msg, "beta: must be a finite number"), "NaN: %s", err.msg);
    config_defaults(&c);
    c.normalize_states = 2;
    CHECK(config_validate(&c, &err) == -1 && strstr(err.msg, "normalize_states"), "bool 2: %s", err.msg);
}

/* ---- write → load round trip --------------------------------------------------------------------- */

static void round_trip(const Config *src, const char *label) {
    Error err;
    FILE *f = fopen("rt.yaml", "wb");
    CHECK(f && config_write_yaml(src, f) == 0, "%s: write", label);
    if (f) fclose(f);
    Config back;
    scrambled(&back); /* every field starts elsewhere */
    CHECK(config_load_file(&back, "rt.yaml", &err) == 0, "%s: load: %s", label, err.msg);
    CHECK(config_diff(&back, src, label) == 0, "%s: round trip differs", label);

    char *a = config_to_yaml_string(src), *b = config_to_yaml_string(&back);
    CHECK(a && b && !strcmp(a, b), "%s: re-serialised text differs", label);
    FILE *rf = fopen("rt.yaml", "rb");
    char file_text[16384];
    size_t n = rf ? fread(file_text, 1, sizeof file_text - 1, rf) : 0;
    file_text[n] = '\0';
    if (rf) fclose(rf);
    CHECK(a && !strcmp(a, file_text), "%s: to_yaml_string differs from write_yaml", label);
    free(a);
    free(b);
}

static void test_round_trip(void) {
    Config c;
    Error err;
    char path[4200];
    config_defaults(&c);
    round_trip(&c, "defaults");
    scrambled(&c);
    round_trip(&c, "scrambled");
    static const char *const files[] = {"seed.yaml", "paper-locomotion.yaml", "paper-antmaze.yaml",
                                        "corl-iql-hopper-medium-v2.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        config_defaults(&c);
        CHECK(config_load_file(&c, load_path(path, sizeof path, files[i]), &err) == 0, "%s", err.msg);
        round_trip(&c, files[i]);
    }

    /* awkward values: strings YAML would misread unquoted, controls, line separators, non-ASCII;
     * doubles that need all 17 digits, denormals, extremes, -0 */
    config_defaults(&c);
    strcpy(c.dataset, " lead \"q\" \\ back: # hash\n\ttab \x01\x7f \xc2\x85 \xe2\x80\xa8 \xc3\xa9 \xf0\x9f\x98\x80 ");
    strcpy(c.env, "null");
    c.reward_scale = 0.1;
    c.reward_shift = 1.0 / 3.0;
    c.discount = nextafter(1.0, 0.0);
    c.lr_min = 4.9406564584124654e-324;
    c.weight_decay = 1e300;
    c.max_action = DBL_MAX;
    c.log_std_min = -0.0;
    c.adam_eps = DBL_MIN;
    c.steps = INT64_MAX;
    c.batch_seed = INT64_MIN;
    c.seed = UINT64_MAX;
    c.n_hidden = CONFIG_MAX_HIDDEN;
    for (int i = 0; i < CONFIG_MAX_HIDDEN; i++) c.hidden[i] = 1 + i * 1000;
    for (int g = 0; g < LR_GROUP_COUNT; g++) c.lr_schedule_groups[g] = 0;
    round_trip(&c, "awkward values");
    c.env[0] = '\0';
    c.lr_schedule_groups[LR_GROUP_VALUE] = 1;
    c.dataset[0] = '\0';
    round_trip(&c, "empty strings");

    /* what cannot be written is reported, not written wrong */
    config_defaults(&c);
    strcpy(c.dataset, "bad \xff utf8");
    char *s = config_to_yaml_string(&c);
    CHECK(s == NULL, "invalid UTF-8 written");
    free(s);
}

/* ---- help ---------------------------------------------------------------------------------------- */

static void test_help(void) {
    char *help = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&help, &len);
    config_print_help(f);
    fclose(f);
    Config d;
    config_defaults(&d);
    char *yaml = config_to_yaml_string(&d);
    char *lines[128];
    int n = yaml_key_lines(yaml, lines, 128);
    for (int i = 0; i < n; i++) {
        char key[64], needle[80];
        snprintf(key, sizeof key, "%.*s", (int)(strchr(lines[i], ':') - lines[i]), lines[i]);
        snprintf(needle, sizeof needle, "  %s ", key);
        CHECK(strstr(help, needle) != NULL, "help lacks key %s", key);
    }
    CHECK(strstr(help, "td|q") && strstr(help, "in (0, 1)") && strstr(help, "default 0.7"), "help content");
    free(yaml);
    free(help);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_config CONFIGS_DIR\n");
        return 2;
    }
    configs_dir = argv[1];
    test_defaults();
    test_seed_yaml();
    check_paper("paper-locomotion.yaml", 0.7, 3.0, REWARD_IQL_LOCOMOTION);
    check_paper("paper-antmaze.yaml", 0.9, 10.0, REWARD_ANTMAZE);
    test_paper_locomotion_eval();
    test_corl_shipped();
    test_corl_notes();
    test_corl_mapping();
    test_file_errors();
    test_set();
    test_validate();
    test_round_trip();
    test_help();
    return test_finish("test_config", 0);
}
