/* generate.c — datasets from the built-in environments (generate.h). */
#include "env/generate.h"

#include <hdf5.h>
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

/* ---- HDF5 ------------------------------------------------------------------------------------ */

/* Every identifier the writer opens, closed in one place. */
typedef struct {
    hid_t file, fcpl, dcpl, space, dset, attr, type, booltype;
} H5Handles;

static void h5_close_all(H5Handles *h) {
    if (h->attr >= 0) H5Aclose(h->attr);
    if (h->dset >= 0) H5Dclose(h->dset);
    if (h->space >= 0) H5Sclose(h->space);
    if (h->type >= 0) H5Tclose(h->type);
    if (h->booltype >= 0) H5Tclose(h->booltype);
    if (h->dcpl >= 0) H5Pclose(h->dcpl);
    if (h->fcpl >= 0) H5Pclose(h->fcpl);
    if (h->file >= 0) H5Fclose(h->file);
    h->file = h->fcpl = h->dcpl = h->space = h->dset = h->attr = h->type = h->booltype = -1;
}

/* One dataset of `rank` (1 or 2) with element type `type` (file and memory alike). */
static int write_dataset(H5Handles *h, const char *path, const char *name, hid_t type, int rank, int64_t rows,
                         int cols, const void *data, Error *err) {
    hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
    h->space = H5Screate_simple(rank, dims, NULL);
    if (h->space < 0) return error_set(err, "%s: dataset '%s': cannot create its dataspace", path, name);
    h->dset = H5Dcreate2(h->file, name, type, h->space, H5P_DEFAULT, h->dcpl, H5P_DEFAULT);
    if (h->dset < 0) return error_set(err, "%s: dataset '%s': cannot create it", path, name);
    if (H5Dwrite(h->dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        return error_set(err, "%s: dataset '%s': write failed", path, name);
    if (H5Dclose(h->dset) < 0) return error_set(err, "%s: dataset '%s': close failed", path, name);
    h->dset = -1;
    if (H5Sclose(h->space) < 0) return error_set(err, "%s: dataset '%s': close failed", path, name);
    h->space = -1;
    return 0;
}

/* A scalar root attribute of a native type. */
static int write_attr(H5Handles *h, const char *path, const char *name, hid_t type, const void *value, Error *err) {
    h->space = H5Screate(H5S_SCALAR);
    if (h->space < 0) return error_set(err, "%s: attribute '%s': cannot create its dataspace", path, name);
    h->attr = H5Acreate2(h->file, name, type, h->space, H5P_DEFAULT, H5P_DEFAULT);
    if (h->attr < 0) return error_set(err, "%s: attribute '%s': cannot create it", path, name);
    if (H5Awrite(h->attr, type, value) < 0) return error_set(err, "%s: attribute '%s': write failed", path, name);
    if (H5Aclose(h->attr) < 0) return error_set(err, "%s: attribute '%s': close failed", path, name);
    h->attr = -1;
    if (H5Sclose(h->space) < 0) return error_set(err, "%s: attribute '%s': close failed", path, name);
    h->space = -1;
    return 0;
}

/* A string attribute as h5py writes a Python str: variable-length UTF-8. */
static int write_attr_string(H5Handles *h, const char *path, const char *name, const char *value, Error *err) {
    h->type = H5Tcopy(H5T_C_S1);
    if (h->type < 0 || H5Tset_size(h->type, H5T_VARIABLE) < 0 || H5Tset_cset(h->type, H5T_CSET_UTF8) < 0)
        return error_set(err, "%s: attribute '%s': cannot make a string type", path, name);
    if (write_attr(h, path, name, h->type, &value, err) != 0) return -1;
    if (H5Tclose(h->type) < 0) return error_set(err, "%s: attribute '%s': close failed", path, name);
    h->type = -1;
    return 0;
}

static int write_all(H5Handles *h, const char *tmp, const char *path, const GenData *d, const char *env_name,
                     const char *behavior, uint64_t seed, Error *err) {
    /* no object timestamps: the same data must give the same bytes */
    h->fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (h->fcpl < 0 || H5Pset_obj_track_times(h->fcpl, 0) < 0)
        return error_set(err, "%s: cannot set up file creation properties", path);
    h->dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (h->dcpl < 0 || H5Pset_obj_track_times(h->dcpl, 0) < 0)
        return error_set(err, "%s: cannot set up dataset creation properties", path);
    h->file = H5Fcreate(tmp, H5F_ACC_TRUNC, h->fcpl, H5P_DEFAULT);
    if (h->file < 0) return error_set(err, "%s: cannot create the file", tmp);

    /* numpy bool as h5py stores it: an 8-bit enum FALSE = 0, TRUE = 1 */
    h->booltype = H5Tenum_create(H5T_NATIVE_INT8);
    if (h->booltype < 0) return error_set(err, "%s: cannot make the bool type", path);
    int8_t f = 0, t = 1;
    if (H5Tenum_insert(h->booltype, "FALSE", &f) < 0 || H5Tenum_insert(h->booltype, "TRUE", &t) < 0)
        return error_set(err, "%s: cannot make the bool type", path);

    if (write_dataset(h, path, "observations", H5T_NATIVE_FLOAT, 2, d->n, d->obs_dim, d->observations, err) ||
        write_dataset(h, path, "actions", H5T_NATIVE_FLOAT, 2, d->n, d->act_dim, d->actions, err) ||
        write_dataset(h, path, "rewards", H5T_NATIVE_FLOAT, 1, d->n, 1, d->rewards, err) ||
        write_dataset(h, path, "next_observations", H5T_NATIVE_FLOAT, 2, d->n, d->obs_dim, d->next_observations,
                      err) ||
        write_dataset(h, path, "terminals", h->booltype, 1, d->n, 1, d->terminals, err) ||
        write_dataset(h, path, "timeouts", h->booltype, 1, d->n, 1, d->timeouts, err))
        return -1;

    int64_t seed_attr = (int64_t)seed, episodes = d->episodes;
    if (write_attr_string(h, path, "env", env_name, err) || write_attr_string(h, path, "behavior", behavior, err) ||
        write_attr(h, path, "seed", H5T_NATIVE_INT64, &seed_attr, err) ||
        write_attr(h, path, "episodes", H5T_NATIVE_INT64, &episodes, err))
        return -1;

    herr_t closed = H5Fclose(h->file);
    h->file = -1;
    if (closed < 0) return error_set(err, "%s: closing the file failed (disk full?)", tmp);
    return 0;
}

int gen_data_write(const char *path, const GenData *d, const char *env_name, const char *behavior, uint64_t seed,
                   Error *err) {
    if (d->n < 1) return error_set(err, "%s: no transitions to write", path);
    size_t len = strlen(path);
    char *tmp = malloc(len + 5);
    if (!tmp) return error_set(err, "out of memory");
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", 5);

    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);  /* our messages replace HDF5's stack dumps */
    H5Handles h = {-1, -1, -1, -1, -1, -1, -1, -1};
    int rc = write_all(&h, tmp, path, d, env_name, behavior, seed, err);
    h5_close_all(&h);
    if (rc == 0 && rename(tmp, path) != 0) rc = error_set(err, "%s: cannot rename %s over it", path, tmp);
    if (rc != 0) remove(tmp);
    free(tmp);
    return rc;
}
