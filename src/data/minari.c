/* minari.c — the Minari layout (data/main_data.hdf5): one root group per episode, named
 * episode_<id>, holding observations [T+1,S], actions [T,A], rewards [T], terminations [T] and
 * truncations [T]. Other root links and any extra members of an episode (infos/) are ignored.
 *
 * Episodes are taken in numeric id order (episode_2 before episode_10). Every step is a
 * transition: s = observations[t], s' = observations[t+1], d = terminations[t]; a truncation
 * counts as a timeout and never sets d. The state table is every episode's observations, one
 * after another (sum of T+1 rows), so each state is stored once. An episode with T = 0 adds
 * nothing. Dict and tuple spaces (subgroups in place of arrays) are refused. */
#include "data/reader.h"

#include <stdlib.h>
#include <string.h>

#include "base/sandbox.h"
#include "base/sizes.h"

typedef struct {
    long long id;
    char name[64];
} EpisodeName;

typedef struct {
    hid_t group;
    Column obs, act, rew, term, trunc;
} EpisodeColumns;

/* "episode_<digits>" → the id; -1 for any other name. */
static long long episode_id(const char *name) {
    static const char prefix[] = "episode_";
    size_t plen = sizeof prefix - 1, len = strlen(name);
    if (len <= plen || len > plen + 18 || strncmp(name, prefix, plen) != 0) return -1;
    long long id = 0;
    for (const char *p = name + plen; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        id = id * 10 + (*p - '0');
    }
    return id;
}

static int compare_episodes(const void *a, const void *b) {
    const EpisodeName *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The root's episode groups, sorted by id. *names is malloc'd (NULL when there are none). */
static int list_episodes(hid_t file, const char *path, EpisodeName **names, size_t *count, Error *err) {
    *names = NULL;
    *count = 0;
    H5G_info_t info;
    if (H5Gget_info(file, &info) < 0) {
        char detail[256];
        h5_error_detail(detail, sizeof detail);
        return error_set(err, "%s: cannot list the root group (%s)", path, detail);
    }
    EpisodeName *list = malloc((info.nlinks ? info.nlinks : 1) * sizeof *list);
    if (!list) return error_set(err, "%s: out of memory listing %llu root links", path, (unsigned long long)info.nlinks);
    size_t n = 0;
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char name[64];
        ssize_t len = H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
        if (len < 0) {
            free(list);
            char detail[256];
            h5_error_detail(detail, sizeof detail);
            return error_set(err, "%s: cannot list the root group (%s)", path, detail);
        }
        if ((size_t)len >= sizeof name) continue; /* too long to be an episode name */
        long long id = episode_id(name);
        if (id < 0) continue;
        list[n].id = id;
        memcpy(list[n].name, name, sizeof name);
        n++;
    }
    if (n == 0) {
        free(list);
        return 0;
    }
    qsort(list, n, sizeof *list, compare_episodes);
    *names = list;
    *count = n;
    return 0;
}

int minari_detect(hid_t file, const char *path, Error *err) {
    EpisodeName *names;
    size_t count;
    if (list_episodes(file, path, &names, &count, err) < 0) return -1;
    free(names);
    return count > 0;
}

static void close_episode(EpisodeColumns *ep) {
    column_close(&ep->obs);
    column_close(&ep->act);
    column_close(&ep->rew);
    column_close(&ep->term);
    column_close(&ep->trunc);
    if (ep->group >= 0) H5Gclose(ep->group);
    ep->group = H5I_INVALID_HID;
}

/* Opens one episode's group and columns and checks their lengths; *steps = T. */
static int open_episode(hid_t file, const char *path, const char *name, EpisodeColumns *ep, int64_t *steps,
                        Error *err) {
    ep->group = H5I_INVALID_HID;
    ep->obs = ep->act = ep->rew = ep->term = ep->trunc = column_none();

    hid_t obj = H5Oopen(file, name, H5P_DEFAULT);
    if (obj < 0) {
        char detail[256];
        h5_error_detail(detail, sizeof detail);
        return error_set(err, "%s: cannot open '%s' (%s)", path, name, detail);
    }
    if (H5Iget_type(obj) != H5I_GROUP) {
        H5Oclose(obj);
        return error_set(err, "%s: '%s' is not a group; a Minari episode is a group of datasets", path, name);
    }
    ep->group = obj;

    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s/", name);
    hid_t g = ep->group;
    if (column_open(g, path, prefix, "observations", COLUMN_MATRIX, COLUMN_FLOAT, 0, &ep->obs, err) < 0 ||
        column_open(g, path, prefix, "actions", COLUMN_MATRIX, COLUMN_FLOAT, 0, &ep->act, err) < 0 ||
        column_open(g, path, prefix, "rewards", COLUMN_VECTOR, COLUMN_FLOAT, 0, &ep->rew, err) < 0 ||
        column_open(g, path, prefix, "terminations", COLUMN_VECTOR, COLUMN_FLAG, 0, &ep->term, err) < 0 ||
        column_open(g, path, prefix, "truncations", COLUMN_VECTOR, COLUMN_FLAG, 0, &ep->trunc, err) < 0)
        return -1;

    int64_t T = ep->act.rows, T1;
    if (count_add(T, 1, &T1)) return column_error(err, path, &ep->act, "has too many rows (%lld)", (long long)T);
    char why[128];
    snprintf(why, sizeof why, "one more than the %lld rows of '%sactions'", (long long)T, prefix);
    if (column_expect_rows(path, &ep->obs, T1, why, err) < 0) return -1;
    snprintf(why, sizeof why, "the rows of '%sactions'", prefix);
    if (column_expect_rows(path, &ep->rew, T, why, err) < 0 || column_expect_rows(path, &ep->term, T, why, err) < 0 ||
        column_expect_rows(path, &ep->trunc, T, why, err) < 0)
        return -1;
    *steps = T;
    return 0;
}

/* Dimensions must agree across episodes; `first` names the first episode with steps. */
static int check_dims(const char *path, const EpisodeColumns *ep, int64_t obs_dim, int64_t act_dim,
                      const char *first, Error *err) {
    if (ep->obs.cols != obs_dim)
        return column_error(err, path, &ep->obs, "has %lld columns, '%s/observations' has %lld",
                            (long long)ep->obs.cols, first, (long long)obs_dim);
    if (ep->act.cols != act_dim)
        return column_error(err, path, &ep->act, "has %lld columns, '%s/actions' has %lld",
                            (long long)ep->act.cols, first, (long long)act_dim);
    return 0;
}

/* Pass 1: checks every episode and sizes the whole dataset; steps[e] = T of episode e. */
static int survey(hid_t file, const char *path, const EpisodeName *names, size_t count, int64_t *steps,
                  Dataset *d, int64_t *max_steps, Error *err) {
    int64_t obs_dim = 0, act_dim = 0;
    const char *first = NULL;
    *max_steps = 0;
    for (size_t e = 0; e < count; e++) {
        EpisodeColumns ep;
        int rc = open_episode(file, path, names[e].name, &ep, &steps[e], err);
        if (rc == 0 && steps[e] > 0) {
            if (!first) {
                first = names[e].name;
                obs_dim = ep.obs.cols;
                act_dim = ep.act.cols;
            }
            rc = check_dims(path, &ep, obs_dim, act_dim, first, err);
        }
        close_episode(&ep);
        if (rc < 0) return -1;
        if (steps[e] == 0) continue;
        /* Checked sums: each episode's row count is the file's word; the state index is 32-bit. */
        if (count_add(d->n, steps[e], &d->n) || count_add(d->n_states, steps[e] + 1, &d->n_states) ||
            d->n_states > (int64_t)UINT32_MAX)
            return error_set(err, "%s: more than %llu states up to '%s': they do not fit the 32-bit state index",
                             path, (unsigned long long)UINT32_MAX, names[e].name);
        d->n_episodes++;
        if (steps[e] > *max_steps) *max_steps = steps[e];
    }
    if (d->n == 0) return error_set(err, "%s: no transitions: all %zu episodes have 0 steps", path, count);
    if (obs_dim > 0x7fffffff || act_dim > 0x7fffffff)
        return error_set(err, "%s: observation or action dimension too large", path);
    if (d->n_states > (int64_t)UINT32_MAX)
        return error_set(err, "%s: %lld states do not fit the 32-bit state index", path, (long long)d->n_states);
    d->obs_dim = (int)obs_dim;
    d->act_dim = (int)act_dim;
    return 0;
}

static int allocate(const char *path, Dataset *d, int64_t max_steps, Error *err) {
    size_t n = (size_t)d->n, S = (size_t)d->obs_dim, A = (size_t)d->act_dim;
    size_t states_bytes, actions_bytes, row_bytes, episode_bytes, total;
    /* per transition: reward, terminal, two state indices; flags: two bytes per step of the
     * longest episode */
    if (size_mul3((uint64_t)d->n_states, S, sizeof(float), &states_bytes) ||
        size_mul3(n, A, sizeof(float), &actions_bytes) || size_mul(n, 4 * sizeof(float), &row_bytes) ||
        size_mul((uint64_t)d->n_episodes + 1, sizeof(int64_t), &episode_bytes) ||
        size_add(states_bytes, actions_bytes, &total) || size_add(total, row_bytes, &total) ||
        size_add(total, episode_bytes, &total) || size_add(total, 2 * (size_t)max_steps, &total))
        return error_set(err, "%s: %lld transitions of %d state and %d action columns are too large to address in "
                         "memory", path, (long long)d->n, d->obs_dim, d->act_dim);
    if (size_check_memory(total, err))
        return error_prefix(err, "%s: %lld transitions of %d state and %d action columns", path, (long long)d->n,
                            d->obs_dim, d->act_dim);
    sandbox_deadline(sandbox_seconds_for(SANDBOX_METADATA_SECONDS, total, d->n_episodes));
    d->states = malloc(states_bytes ? states_bytes : 1);
    d->actions = malloc(actions_bytes ? actions_bytes : 1);
    d->rewards = malloc(n * sizeof(float));
    d->terminals = malloc(n * sizeof(float));
    d->state_row = malloc(n * sizeof(uint32_t));
    d->next_row = malloc(n * sizeof(uint32_t));
    d->episode_start = malloc(episode_bytes);
    if (!d->states || !d->actions || !d->rewards || !d->terminals || !d->state_row || !d->next_row ||
        !d->episode_start)
        return error_set(err, "%s: out of memory for %lld transitions", path, (long long)d->n);
    return 0;
}

/* Pass 2: reads episode by episode straight into the dataset's arrays. */
static int read_episodes(hid_t file, const char *path, const EpisodeName *names, size_t count,
                         const int64_t *steps, uint8_t *term, uint8_t *trunc, Dataset *d, Error *err) {
    int64_t n = 0, s = 0, e = 0;
    size_t S = (size_t)d->obs_dim, A = (size_t)d->act_dim;
    for (size_t k = 0; k < count; k++) {
        if (steps[k] == 0) continue;
        EpisodeColumns ep;
        int64_t T;
        int rc = open_episode(file, path, names[k].name, &ep, &T, err);
        /* The file is open read-only, so the shapes seen in pass 1 still hold; checked anyway,
         * since the buffers were sized from them. */
        if (rc == 0 && (T != steps[k] || ep.obs.cols != (int64_t)S || ep.act.cols != (int64_t)A))
            rc = error_set(err, "%s: '%s' changed shape while being read", path, names[k].name);
        if (rc == 0) rc = column_read_float(path, &ep.obs, d->states + (size_t)s * S, err);
        if (rc == 0) rc = column_read_float(path, &ep.act, d->actions + (size_t)n * A, err);
        if (rc == 0) rc = column_read_float(path, &ep.rew, d->rewards + n, err);
        if (rc == 0) rc = column_read_flag(path, &ep.term, term, err);
        if (rc == 0) rc = column_read_flag(path, &ep.trunc, trunc, err);
        close_episode(&ep);
        if (rc < 0) return -1;

        d->episode_start[e++] = n;
        for (int64_t t = 0; t < T; t++) {
            d->state_row[n + t] = (uint32_t)(s + t);
            d->next_row[n + t] = (uint32_t)(s + t + 1);
            d->terminals[n + t] = term[t] ? 1.0f : 0.0f;
            d->n_terminals += term[t];
            d->n_timeouts += trunc[t];
        }
        n += T;
        s += T + 1;
    }
    d->episode_start[e] = n;
    return 0;
}

int minari_load(hid_t file, const char *path, Dataset *d, Error *err) {
    EpisodeName *names;
    size_t count;
    if (list_episodes(file, path, &names, &count, err) < 0) return -1;
    if (count == 0) return error_set(err, "%s: no 'episode_<id>' groups at the root", path);
    sandbox_deadline(sandbox_seconds_for(SANDBOX_METADATA_SECONDS, 0, (int64_t)count)); /* opening every episode's datasets */

    d->format = DATASET_MINARI;
    int64_t *steps = malloc(count * sizeof *steps);
    uint8_t *flags = NULL;
    int64_t max_steps = 0;
    int rc = steps ? 0 : error_set(err, "%s: out of memory for %zu episodes", path, count);
    if (rc == 0) rc = survey(file, path, names, count, steps, d, &max_steps, err);
    if (rc == 0) rc = allocate(path, d, max_steps, err);
    if (rc == 0 && !(flags = malloc(2 * (size_t)max_steps)))
        rc = error_set(err, "%s: out of memory for episode flags", path);
    if (rc == 0) rc = read_episodes(file, path, names, count, steps, flags, flags + max_steps, d, err);
    free(flags);
    free(steps);
    free(names);
    if (rc < 0) return -1;
    d->rows_in_file = d->n;
    d->dropped = 0;
    d->had_next_observations = 0;
    return 0;
}
