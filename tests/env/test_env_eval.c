/* test_env_eval.c — evaluation through the public path: a policy we construct (so its actions
 * are known) is written with checkpoint_write, read back as `cuiql eval` does, and scored by
 * env_evaluate; the returns must equal a rollout that applies the same actions directly. Also
 * `cuiql eval`'s errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "checkpoint/checkpoint.h"
#include "algo/model.h"
#include "env/env.h"
#include "env/evaluate.h"
#include "run/policy.h"
#include "test_util.h"

/* A one-hidden-layer policy (width 2) whose mean action is
 *   max_action · tanh(gain · (s[j0] − mean[j0]) / std[j0] + bias)   on every action dimension,
 * built from ReLU(z) − ReLU(−z) = z. */
static void build_policy(const ModelLayout *L, float *params, int j0, float gain, float bias) {
    memset(params, 0, sizeof(float) * L->n_params);
    const NetLayout *p = &L->net[NET_POLICY];
    int S = L->obs_dim, A = L->act_dim;
    float *w0 = params + p->weight[0], *w1 = params + p->weight[1], *b1 = params + p->bias[1];
    w0[0 * S + j0] = 1.0f;   /* h0 = relu(z) */
    w0[1 * S + j0] = -1.0f;  /* h1 = relu(−z) */
    for (int a = 0; a < A; a++) {
        w1[a * 2 + 0] = gain;
        w1[a * 2 + 1] = -gain;
        b1[a] = bias;
    }
}

/* The same policy's action, computed directly (same float operations as the network). */
static float direct_action(const float *obs, const float *mean, const float *std, int j0, float gain, float bias,
                           float max_action) {
    float z = (obs[j0] - mean[j0]) / std[j0];
    double acc = (double)bias + (double)gain * (z > 0 ? z : 0.0f) + (double)(-gain) * (-z > 0 ? -z : 0.0f);
    return max_action * tanhf((float)acc);
}

/* A member of a model as a Policy (run/policy.h), evaluated as training and `cuiql eval` do. */
static int evaluate_model(const char *env, const ModelLayout *L, const float *params, int member, const float *mean,
                          const float *std, float max_action, int episodes, uint64_t seed, EvalResult *res,
                          Error *err) {
    ModelPolicy mp = {.layout = L, .params = params, .member = member, .state_mean = mean, .state_std = std,
                      .max_action = max_action};
    Policy policy;
    if (model_policy(&mp, &policy, err)) return -1;
    return env_evaluate(env, &policy, episodes, seed, res, err);
}

/* Mean return of the direct rollout over the evaluation's episodes. */
static double direct_mean_return(const Env *env, int episodes, uint64_t seed, const float *mean, const float *std,
                                 int j0, float gain, float bias, float max_action, double *success_rate) {
    double total = 0;
    int successes = 0;
    for (int e = 0; e < episodes; e++) {
        EnvRng rng;
        env_rng_init(&rng, seed, ENV_STREAM_EVAL, e);
        EnvState st;
        env->reset(&st, &rng);
        EnvStep r;
        int success = 0;
        do {
            float obs[ENV_MAX_DIM], a[ENV_MAX_DIM];
            env->observe(&st, obs);
            for (int j = 0; j < env->act_dim; j++) {
                a[j] = direct_action(obs, mean, std, j0, gain, bias, max_action);
                a[j] = fminf(fmaxf(a[j], -env->max_action), env->max_action);
            }
            env_step(env, &st, a, &r);
            total += r.reward;
            success |= r.success;
        } while (!r.terminated && !r.truncated);
        successes += success;
    }
    *success_rate = (double)successes / episodes;
    return total / episodes;
}

static void test_direct(void) {
    /* pendulum, torque = 2·tanh(−3·(θ̇ − 0.2)/1.5): a damping controller through normalisation */
    const Env *env = env_lookup("pendulum");
    ModelLayout L;
    Error err;
    int hidden[1] = {2};
    CHECK(model_layout_init(&L, 1, 3, 1, hidden, 1, &err) == 0, "%s", err.msg);
    float *params = malloc(sizeof(float) * L.n_params);
    float mean[3] = {0.1f, -0.2f, 0.2f}, std[3] = {1.0f, 2.0f, 1.5f};
    build_policy(&L, params, 2, -3.0f, 0.0f);
    EvalResult res;
    CHECK(evaluate_model("pendulum", &L, params, 0, mean, std, 2.0f, 7, 11, &res, &err) == 0, "%s", err.msg);
    double sr;
    double want = direct_mean_return(env, 7, 11, mean, std, 2, -3.0f, 0.0f, 2.0f, &sr);
    CHECK(fabs(res.mean_return - want) <= 1e-9 * fabs(want), "pendulum: evaluate %.9f, direct %.9f", res.mean_return,
          want);
    CHECK(res.episodes == 7 && res.mean_length == 200.0 && !res.has_success, "episodes %d length %g", res.episodes,
          res.mean_length);
    CHECK(res.std_return > 0, "std %g", res.std_return);
    double score = 100.0 * (res.mean_return - env->random_return) / (env->expert_return - env->random_return);
    CHECK(fabs(res.normalized_score - score) < 1e-9 && res.expert_return == env->expert_return, "score %g vs %g",
          res.normalized_score, score);
    /* the same seed repeats; another seed starts elsewhere */
    EvalResult again, other;
    CHECK(evaluate_model("pendulum", &L, params, 0, mean, std, 2.0f, 7, 11, &again, &err) == 0, "%s", err.msg);
    CHECK(evaluate_model("pendulum", &L, params, 0, mean, std, 2.0f, 7, 12, &other, &err) == 0, "%s", err.msg);
    CHECK(again.mean_return == res.mean_return && other.mean_return != res.mean_return, "seeding");
    /* normalisation is applied: without it the actions differ, and so does the return */
    CHECK(evaluate_model("pendulum", &L, params, 0, NULL, NULL, 2.0f, 7, 11, &other, &err) == 0, "%s", err.msg);
    CHECK(other.mean_return != res.mean_return, "state normalisation had no effect");
    /* mismatched sizes and bad arguments */
    CHECK(evaluate_model("mountaincar", &L, params, 0, mean, std, 1.0f, 2, 0, &other, &err) != 0 &&
          strstr(err.msg, "3-dimensional states"), "size mismatch: '%s'", err.msg);
    CHECK(evaluate_model("nowhere", &L, params, 0, mean, std, 1.0f, 2, 0, &other, &err) != 0 &&
          strstr(err.msg, "known: pendulum, mountaincar, pointmaze"), "unknown env: '%s'", err.msg);
    CHECK(evaluate_model("pendulum", &L, params, 1, mean, std, 1.0f, 2, 0, &other, &err) != 0, "member out of range");
    float bad_std[3] = {1.0f, 0.0f, 1.0f};
    CHECK(evaluate_model("pendulum", &L, params, 0, mean, bad_std, 1.0f, 2, 0, &other, &err) != 0, "zero std accepted");
    free(params);

    /* pointmaze: a constant push right (towards the first corner) never reaches the goal; an
     * unclipped max_action of 3 is clipped to the box */
    CHECK(model_layout_init(&L, 1, 2, 2, hidden, 1, &err) == 0, "%s", err.msg);
    params = malloc(sizeof(float) * L.n_params);
    build_policy(&L, params, 0, 0.0f, 2.0f);
    float m2[2] = {0, 0}, s2[2] = {1, 1};
    CHECK(evaluate_model("pointmaze", &L, params, 0, m2, s2, 3.0f, 3, 0, &res, &err) == 0, "%s", err.msg);
    CHECK(res.has_success && res.success_rate == 0.0 && res.mean_return == 0.0 && res.mean_length == 300.0,
          "pointmaze constant policy: success %g return %g length %g", res.success_rate, res.mean_return,
          res.mean_length);
    CHECK(fabs(res.normalized_score) < 1e-12, "score %g", res.normalized_score);
    free(params);

    /* mountaincar, action = tanh(50 · v / 0.01): the bang-bang expert, through the network */
    CHECK(model_layout_init(&L, 1, 2, 1, hidden, 1, &err) == 0, "%s", err.msg);
    params = malloc(sizeof(float) * L.n_params);
    build_policy(&L, params, 1, 50.0f, 0.0f);
    float m3[2] = {0, 0}, s3[2] = {1, 0.01f};
    CHECK(evaluate_model("mountaincar", &L, params, 0, m3, s3, 1.0f, 5, 0, &res, &err) == 0, "%s", err.msg);
    want = direct_mean_return(env_lookup("mountaincar"), 5, 0, m3, s3, 1, 50.0f, 0.0f, 1.0f, &sr);
    CHECK(fabs(res.mean_return - want) <= 1e-9 * fabs(want) && res.success_rate == sr && sr == 1.0,
          "mountaincar: evaluate %.9f (success %g), direct %.9f (success %g)", res.mean_return, res.success_rate, want, sr);
    CHECK(res.normalized_score > 90.0, "a near-expert policy scores %g", res.normalized_score);
    free(params);
}

static int run_eval(int argc, const char **argv) { return cmd_eval(argc, (char **)argv); }

static void test_checkpoint_path(void) {
    const char *path = "env_eval_policy.h5";
    ModelLayout L;
    Error err;
    int hidden[1] = {2};
    CHECK(model_layout_init(&L, 1, 3, 1, hidden, 1, &err) == 0, "%s", err.msg);
    float *params = malloc(sizeof(float) * L.n_params);
    build_policy(&L, params, 2, -3.0f, 0.25f);
    float mean[3] = {0.1f, -0.2f, 0.2f}, std[3] = {1.0f, 2.0f, 1.5f};
    CheckpointMeta meta;
    memset(&meta, 0, sizeof meta);
    meta.obs_dim = 3;
    meta.act_dim = 1;
    meta.n_hidden = 1;
    meta.hidden[0] = 2;
    meta.deterministic = 1;
    meta.max_action = 2.0;
    meta.tau = 0.7;
    meta.beta = 3.0;
    meta.batch_seed = -1;
    meta.reward_scale = 1.0;
    meta.state_mean = mean;
    meta.state_std = std;
    int rc = checkpoint_write(path, &L, &meta, params, NULL, NULL, NULL, &err);
    CHECK(rc == 0, "checkpoint_write: %s", err.msg);
    if (rc != 0) {
        free(params);
        return;
    }

    /* what `cuiql eval` does */
    ModelLayout single;
    CheckpointMeta got;
    rc = checkpoint_layout_from_file(path, &single, &got, &err);
    CHECK(rc == 0, "checkpoint_layout_from_file: %s", err.msg);
    if (rc == 0) {
        float *loaded = malloc(sizeof(float) * single.n_params);
        CHECK(checkpoint_read(path, &single, loaded, NULL, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
        EvalResult res;
        CHECK(evaluate_model("pendulum", &single, loaded, 0, got.state_mean, got.state_std, (float)got.max_action, 5, 3,
                           &res, &err) == 0, "%s", err.msg);
        double sr;
        double want = direct_mean_return(env_lookup("pendulum"), 5, 3, mean, std, 2, -3.0f, 0.25f, 2.0f, &sr);
        CHECK(fabs(res.mean_return - want) <= 1e-9 * fabs(want), "through the checkpoint: %.9f, direct %.9f",
              res.mean_return, want);
        free(loaded);
        checkpoint_meta_free(&got);
    }

    const char *ok[] = {"eval", "--checkpoint", path, "--env", "pendulum", "--episodes", "3", "--seed", "1"};
    CHECK(run_eval(9, ok) == 0, "cuiql eval failed");
    const char *wrong_env[] = {"eval", "--checkpoint", path, "--env", "pointmaze"};
    const char *unknown_env[] = {"eval", "--checkpoint", path, "--env", "cartpole"};
    const char *missing[] = {"eval", "--checkpoint", "no_such_checkpoint.h5", "--env", "pendulum"};
    const char *no_env[] = {"eval", "--checkpoint", path};
    const char *bad_episodes[] = {"eval", "--checkpoint", path, "--env", "pendulum", "--episodes", "0"};
    const char *unknown_opt[] = {"eval", "--checkpoint", path, "--env", "pendulum", "--fast"};
    CHECK(run_eval(5, wrong_env) == 1, "a 3-dimensional policy ran in pointmaze");
    CHECK(run_eval(5, unknown_env) == 1, "unknown env accepted");
    CHECK(run_eval(5, missing) == 1, "missing checkpoint accepted");
    CHECK(run_eval(3, no_env) == 1, "missing --env accepted");
    CHECK(run_eval(7, bad_episodes) == 1, "0 episodes accepted");
    CHECK(run_eval(6, unknown_opt) == 1, "unknown option accepted");
    const char *help[] = {"eval", "--help"};
    CHECK(run_eval(2, help) == 0, "--help");
    remove(path);
    free(params);
}

int main(void) {
    test_direct();
    test_checkpoint_path();
    return test_finish("test_env_eval", 0);
}
