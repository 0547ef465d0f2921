/* d4rl.c — the D4RL flat layout: root datasets observations [N,S], actions [N,A], rewards [N] or
 * [N,1], terminals [N], optional timeouts [N] and next_observations [N,S]; anything else at the
 * root (infos/, metadata/, attributes) is ignored.
 *
 * Which rows become transitions:
 *  - with next_observations: every row; s' = next_observations[i]. The state table is
 *    observations followed by next_observations (2N rows).
 *  - without: s' = observations[i+1] and the table is observations (N rows). A row whose next
 *    state is unknown is dropped, as d4rl.qlearning_dataset does: a timeout row, and the file's
 *    last row. A terminal row is always kept, even when it is also a timeout or the last row
 *    (d = 1 makes s' irrelevant; d4rl would drop a terminal+timeout row, we keep the data); the
 *    last row's s' then points at itself.
 * Timeouts never set d: a time limit is not an environment termination.
 *
 * Episodes (in transition order) end after a terminal or timeout row, where a dropped row left
 * a gap, and, when next_observations is present, where next_observations[i] is not
 * observations[i+1] (the continuity test of the IQL authors' code). A trailing unfinished
 * episode counts as an episode. */
#include "data/reader.h"

#include <stdlib.h>
#include <string.h>

#include "base/sandbox.h"
#include "base/sizes.h"

typedef struct {
    Column obs, act, rew, term, tout, next;
} D4rlColumns;

static void close_columns(D4rlColumns *c) {
    column_close(&c->obs);
    column_close(&c->act);
    column_close(&c->rew);
    column_close(&c->term);
    column_close(&c->tout);
    column_close(&c->next);
}

/* Opens every column and checks that all lengths agree before anything large is read. */
static int open_columns(hid_t file, const char *path, D4rlColumns *c, Error *err) {
    if (column_open(file, path, NULL, "observations", COLUMN_MATRIX, COLUMN_FLOAT, 0, &c->obs, err) < 0 ||
        column_open(file, path, NULL, "actions", COLUMN_MATRIX, COLUMN_FLOAT, 0, &c->act, err) < 0 ||
        column_open(file, path, NULL, "rewards", COLUMN_VECTOR, COLUMN_FLOAT, 0, &c->rew, err) < 0 ||
        column_open(file, path, NULL, "terminals", COLUMN_VECTOR, COLUMN_FLAG, 0, &c->term, err) < 0 ||
        column_open(file, path, NULL, "timeouts", COLUMN_VECTOR, COLUMN_FLAG, 1, &c->tout, err) < 0 ||
        column_open(file, path, NULL, "next_observations", COLUMN_MATRIX, COLUMN_FLOAT, 1, &c->next, err) < 0)
        return -1;

    int64_t n = c->obs.rows;
    if (n == 0) return column_error(err, path, &c->obs, "has 0 rows: the dataset is empty");
    const char *why = "the rows of 'observations'";
    if (column_expect_rows(path, &c->act, n, why, err) < 0 || column_expect_rows(path, &c->rew, n, why, err) < 0 ||
        column_expect_rows(path, &c->term, n, why, err) < 0)
        return -1;
    if (c->tout.dset >= 0 && column_expect_rows(path, &c->tout, n, why, err) < 0) return -1;
    if (c->next.dset >= 0) {
        if (column_expect_rows(path, &c->next, n, why, err) < 0) return -1;
        if (c->next.cols != c->obs.cols)
            return column_error(err, path, &c->next, "has %lld columns, 'observations' has %lld",
                                (long long)c->next.cols, (long long)c->obs.cols);
    }
    if (c->obs.cols > 0x7fffffff || c->act.cols > 0x7fffffff)
        return error_set(err, "%s: observation or action dimension too large", path);
    return 0;
}

static void *alloc_or_fail(size_t bytes, const char *path, const char *what, Error *err) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) error_set(err, "%s: out of memory allocating %s (%zu bytes)", path, what, bytes);
    return p;
}

/* IQL's continuity test: consecutive rows belong to one episode when s'_{i-1} is s_i. */
static int same_state(const float *a, const float *b, int dim) {
    double d2 = 0;
    for (int j = 0; j < dim; j++) d2 += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    return d2 <= 1e-12;
}

/* Chooses the rows that become transitions (see the top of this file), compacting actions and
 * rewards in place, and marks the episodes. */
static void build_transitions(Dataset *d, const uint8_t *term, const uint8_t *tout, int has_next) {
    int64_t rows = d->rows_in_file, n = 0, e = 0, prev = -1;
    int S = d->obs_dim, A = d->act_dim;
    int prev_ended = 1;
    for (int64_t i = 0; i < rows; i++) {
        int t = term[i], to = tout ? tout[i] : 0;
        d->n_timeouts += to;
        int64_t next;
        if (has_next) {
            next = rows + i;
        } else {
            if (!t && (to || i == rows - 1)) {
                d->dropped++;
                prev_ended = 1;
                continue;
            }
            next = i + 1 < rows ? i + 1 : i;
        }
        int starts = prev_ended;
        if (!starts && has_next)
            starts = !same_state(d->states + (size_t)(rows + prev) * S, d->states + (size_t)i * S, S);
        if (starts) d->episode_start[e++] = n;

        d->state_row[n] = (uint32_t)i;
        d->next_row[n] = (uint32_t)next;
        if (n != i) {
            memmove(d->actions + (size_t)n * A, d->actions + (size_t)i * A, (size_t)A * sizeof(float));
            d->rewards[n] = d->rewards[i];
        }
        d->terminals[n] = t ? 1.0f : 0.0f;
        d->n_terminals += t;
        prev_ended = t || to;
        prev = i;
        n++;
    }
    d->n = n;
    d->n_episodes = e;
    d->episode_start[e] = n;
}

static int read_columns(const char *path, const D4rlColumns *c, Dataset *d, Error *err) {
    int64_t rows = c->obs.rows;
    int has_next = c->next.dset >= 0;
    d->format = DATASET_D4RL;
    d->rows_in_file = rows;
    d->obs_dim = (int)c->obs.cols;
    d->act_dim = (int)c->act.cols;
    d->had_next_observations = has_next;
    /* rows <= INT64_MAX (column.c), so twice it fits in 64 unsigned bits */
    uint64_t n_states = (uint64_t)rows * (has_next ? 2u : 1u);
    if (n_states > UINT32_MAX)
        return error_set(err, "%s: %llu states do not fit the 32-bit state index", path, (unsigned long long)n_states);
    d->n_states = (int64_t)n_states;

    /* Every size from the file's declared shapes, checked (base/sizes.h): a few bytes of HDF5
     * can declare dimensions whose byte counts wrap past 2^64. */
    size_t R = (size_t)rows, S = (size_t)d->obs_dim, A = (size_t)d->act_dim;
    size_t states_bytes, actions_bytes, row_bytes, total = 0;
    if (size_mul3((uint64_t)d->n_states, S, sizeof(float), &states_bytes) ||
        size_mul3(R, A, sizeof(float), &actions_bytes) ||
        /* per row: reward, terminal, two state indices, an episode start, two flag bytes */
        size_mul(R + 1, 3 * sizeof(float) + sizeof(int64_t) + 2, &row_bytes) ||
        size_add(states_bytes, actions_bytes, &total) || size_add(total, row_bytes, &total))
        return error_set(err, "%s: dataset 'observations': %lld rows of %lld + %lld columns are too large to address "
                         "in memory", path, (long long)rows, (long long)c->obs.cols, (long long)c->act.cols);
    if (size_check_memory(total, err))
        return error_prefix(err, "%s: %lld rows of %d state and %d action columns", path, (long long)rows,
                            d->obs_dim, d->act_dim);
    sandbox_deadline(sandbox_seconds_for(SANDBOX_METADATA_SECONDS, total, 0));
    if (!(d->states = alloc_or_fail(states_bytes, path, "states", err)) ||
        column_read_float(path, &c->obs, d->states, err) < 0 ||
        (has_next && column_read_float(path, &c->next, d->states + R * S, err) < 0))
        return -1;
    if (!(d->actions = alloc_or_fail(actions_bytes, path, "actions", err)) ||
        column_read_float(path, &c->act, d->actions, err) < 0)
        return -1;
    if (!(d->rewards = alloc_or_fail(R * sizeof(float), path, "rewards", err)) ||
        column_read_float(path, &c->rew, d->rewards, err) < 0)
        return -1;
    if (!(d->terminals = alloc_or_fail(R * sizeof(float), path, "terminals", err)) ||
        !(d->state_row = alloc_or_fail(R * sizeof(uint32_t), path, "state rows", err)) ||
        !(d->next_row = alloc_or_fail(R * sizeof(uint32_t), path, "next-state rows", err)) ||
        !(d->episode_start = alloc_or_fail((R + 1) * sizeof(int64_t), path, "episodes", err)))
        return -1;

    /* The flags fit in one allocation of 2 bytes a row, freed once the rows are chosen. */
    uint8_t *flags = alloc_or_fail(2 * R, path, "flags", err);
    if (!flags) return -1;
    uint8_t *term = flags, *tout = c->tout.dset >= 0 ? flags + R : NULL;
    int rc = column_read_flag(path, &c->term, term, err);
    if (rc == 0 && tout) rc = column_read_flag(path, &c->tout, tout, err);
    if (rc == 0) build_transitions(d, term, tout, has_next);
    free(flags);
    if (rc < 0) return -1;

    if (d->n == 0)
        return error_set(err, "%s: no usable transitions: each of the %lld rows ends by a timeout or is the "
                         "last row, so its next state is unknown", path, (long long)rows);
    int64_t *shrunk = realloc(d->episode_start, (size_t)(d->n_episodes + 1) * sizeof(int64_t));
    if (shrunk) d->episode_start = shrunk;
    return 0;
}

int d4rl_load(hid_t file, const char *path, Dataset *out, Error *err) {
    D4rlColumns c = {column_none(), column_none(), column_none(), column_none(), column_none(), column_none()};
    int rc = open_columns(file, path, &c, err);
    if (rc == 0) rc = read_columns(path, &c, out, err);
    close_columns(&c);
    return rc;
}
