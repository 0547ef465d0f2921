/* data_parallel.c — the ranks of a data-parallel run in the run layer (see data_parallel.h). */
#include "run/data_parallel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "comm/comm.h"
#include "run/backend_select.h"

static Comm *comm_of(const Run *run) { return run->opt->comm; }

int dp_is_writer(const Run *run) { return !comm_of(run) || comm_of(run)->rank == 0; }

int dp_device_index(const Run *run) {
    Comm *c = comm_of(run);
    int count = backend_device_count();
    return c && count > 0 ? c->local_rank % count : 0;
}

/* ---- the settings every rank must share --------------------------------------------------- */

/* What decides the update, one "name: value" line each: the resolved config (its dataset path
 * aside: ranks on different nodes may read the same data from different places, and the
 * fingerprint of the data as read compares the data itself; the preprocessing that follows
 * is the config's), the members, resume/--init-from, the backend, the data. */
static char *settings_text(const Run *run, Error *err) {
    char *yaml = config_to_yaml_string(run->cfg), *buf = NULL;
    size_t len = 0;
    FILE *f = yaml ? open_memstream(&buf, &len) : NULL;
    if (!f) {
        free(yaml);
        error_set(err, "out of host memory");
        return NULL;
    }
    for (char *line = strtok(yaml, "\n"); line; line = strtok(NULL, "\n"))
        if (line[0] != '#' && strncmp(line, "dataset:", 8)) fprintf(f, "%s\n", line);
    fprintf(f, "members:");
    for (int p = 0; p < run->n_all; p++) fprintf(f, " %s", run->all[p].name);
    fprintf(f, "\n--resume: %s\n--init-from: %s\n", run->opt->resume ? "yes" : "no", run->opt->init_from);
    fprintf(f, "backend: %s\n", backend_resolve(run->cfg->device, dp_device_index(run)));
    const Dataset *d = &run->data;
    fprintf(f, "dataset: %lld transitions, %lld states, state %d, action %d, fingerprint %016llx\n", (long long)d->n,
            (long long)d->n_states, d->obs_dim, d->act_dim, (unsigned long long)run->data_fingerprint);
    free(yaml);
    if (fclose(f) != 0) {
        free(buf);
        error_set(err, "out of host memory");
        return NULL;
    }
    return buf;
}

/* The first line where mine differs from rank 0's, as an error. */
static int compare_settings(const char *mine, const char *theirs, Error *err) {
    while (*mine || *theirs) {
        size_t a = strcspn(mine, "\n"), b = strcspn(theirs, "\n");
        if (a != b || memcmp(mine, theirs, a))
            return error_set(err, "its settings differ from rank 0's (every rank must run the same configuration "
                                  "on the same data): '%.*s' here, '%.*s' on rank 0",
                             (int)(a < 200 ? a : 200), mine, (int)(b < 200 ? b : 200), theirs);
        mine += a + (mine[a] == '\n');
        theirs += b + (theirs[b] == '\n');
    }
    return 0;
}

int dp_check_setup(Run *run, int rc, Error *err) {
    Comm *c = comm_of(run);
    if (!c) return rc;
    if (comm_agree(c, rc, err)) return -1;
    char *mine = settings_text(run, err);
    /* rank 0's text, its length first */
    int64_t len = mine && c->rank == 0 ? (int64_t)strlen(mine) + 1 : 0;
    Error local;
    if (c->ops->broadcast(c, &len, sizeof len, 0, &local)) comm_fail(c, "cuiql train", &local);
    char *theirs = c->rank == 0 ? mine : malloc(len > 0 ? (size_t)len : 1);
    if (!theirs && len > 0) comm_fail(c, "cuiql train", &(Error){"out of host memory for rank 0's settings"});
    if (len > 0 && c->ops->broadcast(c, theirs, (size_t)len, 0, &local)) comm_fail(c, "cuiql train", &local);
    rc = !mine ? -1 : len == 0 ? error_set(err, "rank 0 could not describe its settings")
         : c->rank == 0 ? 0 : compare_settings(mine, theirs, err);
    if (theirs != mine) free(theirs);
    free(mine);
    return comm_agree(c, rc, err);
}

/* ---- during the run ---------------------------------------------------------------------------- */

int dp_agree(Run *run, int rc, Error *err) {
    Comm *c = comm_of(run);
    return c ? comm_agree(c, rc, err) : rc;
}

int dp_share_state(Run *run, int64_t *start, Error *err) {
    Comm *c = comm_of(run);
    if (!c) return 0;
    const ModelLayout *pop = iql_layout(run->iql);
    size_t np = pop->n_params * sizeof(float), nt = model_target_size(pop) * sizeof(float);
    if (c->rank == 0 && iql_get_population(run->iql, run->pop_params, run->pop_target, run->pop_m, run->pop_v, err))
        return error_prefix(err, "data parallel: reading the state to share");
    if (c->ops->broadcast(c, start, sizeof *start, 0, err) || c->ops->broadcast(c, run->pop_params, np, 0, err) ||
        c->ops->broadcast(c, run->pop_target, nt, 0, err) || c->ops->broadcast(c, run->pop_m, np, 0, err) ||
        c->ops->broadcast(c, run->pop_v, np, 0, err))
        return error_prefix(err, "data parallel: sharing rank 0's state");
    if (c->rank == 0) return 0;
    if (iql_set_population(run->iql, run->pop_params, run->pop_target, run->pop_m, run->pop_v, err) ||
        iql_set_step_count(run->iql, *start, err))
        return error_prefix(err, "data parallel: taking rank 0's state");
    return 0;
}

int dp_agree_stop(Run *run, int *stop, Error *err) {
    Comm *c = comm_of(run);
    return c ? c->ops->allreduce_max(c, stop, 1, err) : 0;
}

int dp_check_replicas(Run *run, int64_t step, Error *err) {
    Comm *c = comm_of(run);
    if (!c) return 0;
    const ModelLayout *pop = iql_layout(run->iql);
    if (iql_get_population(run->iql, run->pop_params, NULL, NULL, NULL, err)) return -1;
    uint64_t h = hash_finish(hash_bytes(HASH_SEED, run->pop_params, pop->n_params * sizeof(float)));
    /* Equal on every rank iff the max of each 16-bit piece v equals the min, i.e. 65535 − the max
     * of 65535 − v: one max-reduction of eight ints. */
    int v[8];
    for (int k = 0; k < 4; k++) {
        v[k] = (int)((h >> (16 * k)) & 0xffff);
        v[4 + k] = 0xffff - v[k];
    }
    if (c->ops->allreduce_max(c, v, 8, err)) return -1;
    for (int k = 0; k < 4; k++)
        if (v[k] != 0xffff - v[4 + k]) {
            run->agreed = 1;
            return error_set(err, "data parallel: at step %lld the ranks' parameters are no longer the same (the "
                                  "all-reduce gave the ranks different sums); the last checkpoint is kept",
                             (long long)step);
        }
    return 0;
}

void dp_fail_alone(Run *run, const Error *err) {
    Comm *c = comm_of(run);
    if (c) comm_fail(c, "cuiql train", err);
}
