/* generate.c — datasets from the built-in environments (generate.h). */
#include "env/generate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/pointmaze.h"

static const char *const BEHAVIOR_NAMES[BEHAVIOR_COUNT] = {"random", "expert", "noisy-expert", "mixed"};

const char *behavior_name(Behavior b) {
    return b >= 0 && b < BEHAVIOR_COUNT ? BEHAVIOR_NAMES[b] : "?";
}

int behavior_from_name(const char *name, Behavior *out, Error *err) {
    for (int b = 0; b < BEHAVIOR_COUNT; b++)
        if (name && !strcmp(name, BEHAVIOR_NAMES[b])) {
            *out = (Behavior)b;
            return 0;
        }
    return error_set(err, "unknown behavior '%s' (known: random, expert, noisy-expert, mixed)", name ? name : "");
}

void gen_data_free(GenData *d) {
    free(d->observations);
    free(d->actions);
    free(d->rewards);
    free(d->next_observations);
    free(d->terminals);
    free(d->timeouts);
    free(d->episode_return);
    free(d->episode_length);
    free(d->episode_success);
    memset(d, 0, sizeof *d);
}

/* Makes room for one more row, doubling the arrays. */
static int reserve_row(GenData *d, Error *err) {
    if (d->n < d->capacity) return 0;
    int64_t cap = d->capacity ? 2 * d->capacity : 4096;
    float *o = realloc(d->observations, sizeof(float) * cap * d->obs_dim);
    if (o) d->observations = o;
    float *a = realloc(d->actions, sizeof(float) * cap * d->act_dim);
    if (a) d->actions = a;
    float *r = realloc(d->rewards, sizeof(float) * cap);
    if (r) d->rewards = r;
    float *no = realloc(d->next_observations, sizeof(float) * cap * d->obs_dim);
    if (no) d->next_observations = no;
    uint8_t *te = realloc(d->terminals, cap);
    if (te) d->terminals = te;
    uint8_t *to = realloc(d->timeouts, cap);
    if (to) d->timeouts = to;
    if (!o || !a || !r || !no || !te || !to)
        return error_set(err, "out of memory growing the dataset to %lld rows", (long long)cap);
    d->capacity = cap;
    return 0;
}

static void clip_to_box(const Env *env, float *action) {
    for (int j = 0; j < env->act_dim; j++) {
        if (action[j] > env->max_action) action[j] = env->max_action;
        if (action[j] < -env->max_action) action[j] = -env->max_action;
    }
}

/* How one episode picks its actions. */
typedef struct {
    int random;       /* uniform actions */
    double noise;     /* σ of Gaussian noise added to the expert (units of max_action) */
    int segment;      /* pointmaze segment: follow towards path cell `target`, cut on arrival */
    int target;
} EpisodePlan;

static void choose_action(const Env *env, const EpisodePlan *plan, const EnvState *st, EnvRng *rng,
                          float *action) {
    if (plan->random) {
        for (int j = 0; j < env->act_dim; j++)
            action[j] = (float)env_rng_uniform(rng, -env->max_action, env->max_action);
        return;
    }
    if (plan->segment)
        pointmaze_follow(st, plan->target, action);
    else
        env->expert(st, action);
    if (plan->noise > 0)
        for (int j = 0; j < env->act_dim; j++)
            action[j] += (float)(plan->noise * env->max_action * env_rng_normal(rng));
    clip_to_box(env, action);
}

/* Has a pointmaze segment arrived at its target cell's centre? */
static int segment_arrived(const EnvState *st, int target) {
    int row, col;
    pointmaze_path_cell(target, &row, &col);
    return hypot(st->x[0] - (col + 0.5), st->x[1] - (row + 0.5)) <= GEN_SEGMENT_ARRIVE;
}

/* Picks the episode's behaviour and, for a pointmaze segment, resets at its start cell. */
static void plan_episode(const Env *env, Behavior b, int e, EnvState *st, EnvRng *rng, EpisodePlan *plan) {
    memset(plan, 0, sizeof *plan);
    int is_maze = !strcmp(env->name, "pointmaze");
    if (b == BEHAVIOR_MIXED && is_maze) {
        /* a segment between corridor cells k and k ± L, never touching both ends of the route;
         * both directions, so that cloning the data averages to no progress */
        int last = POINTMAZE_PATH_LEN - 1;
        int k = (int)floor(env_rng_uniform(rng, 0.0, (double)last));  /* start: 0 .. last−1 */
        if (k >= last) k = last - 1;
        int span = GEN_SEGMENT_MIN + (int)floor(env_rng_uniform(rng, 0.0, GEN_SEGMENT_MAX - GEN_SEGMENT_MIN + 1));
        if (span > GEN_SEGMENT_MAX) span = GEN_SEGMENT_MAX;
        int forward = env_rng_uniform(rng, 0.0, 1.0) <= 0.5;
        if (!forward && k == 0) forward = 1;
        int target = forward ? k + span : k - span;
        if (target > last) target = last;
        if (target < 0) target = 0;
        plan->segment = 1;
        plan->target = target;
        plan->noise = GEN_NOISE_STD;
        pointmaze_reset_at(st, k, rng);
        return;
    }
    env->reset(st, rng);
    switch (b) {
    case BEHAVIOR_RANDOM: plan->random = 1; break;
    case BEHAVIOR_EXPERT: break;
    case BEHAVIOR_NOISY_EXPERT: plan->noise = GEN_NOISE_STD; break;
    case BEHAVIOR_MIXED:
        if (e % GEN_MIXED_PERIOD == GEN_MIXED_PERIOD - 1)
            plan->noise = GEN_NOISE_STD;
        else
            plan->random = 1;
        break;
    default: break;
    }
}

int env_generate(const Env *env, Behavior b, int episodes, uint64_t seed, GenData *out, Error *err) {
    memset(out, 0, sizeof *out);
    if (episodes < 1) return error_set(err, "--episodes must be at least 1, got %d", episodes);
    if (b < 0 || b >= BEHAVIOR_COUNT) return error_set(err, "unknown behavior %d", (int)b);
    out->obs_dim = env->obs_dim;
    out->act_dim = env->act_dim;
    out->episode_return = calloc((size_t)episodes, sizeof(double));
    out->episode_length = calloc((size_t)episodes, sizeof(int));
    out->episode_success = calloc((size_t)episodes, 1);
    if (!out->episode_return || !out->episode_length || !out->episode_success) {
        gen_data_free(out);
        return error_set(err, "out of memory for %d episodes", episodes);
    }
    out->episodes = episodes;

    for (int e = 0; e < episodes; e++) {
        EnvRng rng;
        env_rng_init(&rng, seed, ENV_STREAM_GEN, (uint64_t)e);
        EnvState st;
        EpisodePlan plan;
        plan_episode(env, b, e, &st, &rng, &plan);
        float obs[ENV_MAX_DIM], action[ENV_MAX_DIM];
        env->observe(&st, obs);
        for (;;) {
            if (reserve_row(out, err) != 0) {
                gen_data_free(out);
                return -1;
            }
            choose_action(env, &plan, &st, &rng, action);
            EnvStep r;
            env_step(env, &st, action, &r);
            if (plan.segment && !r.terminated && !r.truncated &&
                (segment_arrived(&st, plan.target) || st.t >= GEN_SEGMENT_STEPS))
                r.truncated = 1;  /* the segment's end is a cut, not an end of the task */
            int64_t i = out->n++;
            memcpy(out->observations + i * env->obs_dim, obs, sizeof(float) * env->obs_dim);
            memcpy(out->actions + i * env->act_dim, action, sizeof(float) * env->act_dim);
            out->rewards[i] = (float)r.reward;
            env->observe(&st, obs);
            memcpy(out->next_observations + i * env->obs_dim, obs, sizeof(float) * env->obs_dim);
            out->terminals[i] = (uint8_t)r.terminated;
            out->timeouts[i] = (uint8_t)r.truncated;
            out->episode_return[e] += r.reward;
            out->episode_length[e]++;
            if (r.success) out->episode_success[e] = 1;
            if (r.terminated || r.truncated) break;
        }
    }
    return 0;
}
