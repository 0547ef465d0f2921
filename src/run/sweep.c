/* sweep.c — the axes of a sweep, its members and DIR/sweep.txt (see sweep.h). */
#include "run/sweep.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/files.h"

int sweep_add_axis(Sweep *sweep, const char *assignment, Error *err) {
    const char *eq = strchr(assignment, '=');
    if (!eq) return error_set(err, "--sweep '%s': expected KEY=V1,V2,...", assignment);
    size_t klen = (size_t)(eq - assignment);
    if (sweep->n_axes == SWEEP_MAX_AXES) return error_set(err, "--sweep: at most %d axes", SWEEP_MAX_AXES);
    SweepAxis *axis = &sweep->axes[sweep->n_axes];
    memset(axis, 0, sizeof *axis);
    if (klen >= sizeof axis->key || (strncmp(assignment, "tau", klen) && strncmp(assignment, "beta", klen) &&
                                     strncmp(assignment, "seed", klen)) || klen < 3)
        return error_set(err, "--sweep '%s': KEY must be tau, beta or seed", assignment);
    memcpy(axis->key, assignment, klen);
    for (int i = 0; i < sweep->n_axes; i++)
        if (!strcmp(sweep->axes[i].key, axis->key)) return error_set(err, "--sweep %s given twice", axis->key);
    const char *p = eq + 1;
    while (*p) {
        if (axis->n == SWEEP_MAX_VALUES) return error_set(err, "--sweep %s: at most %d values", axis->key, SWEEP_MAX_VALUES);
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v) || (*end && *end != ','))
            return error_set(err, "--sweep %s: '%s' is not a list of numbers", axis->key, eq + 1);
        if (!strcmp(axis->key, "seed") && (v < 0 || v != floor(v)))
            return error_set(err, "--sweep seed: %g is not a non-negative integer", v);
        /* Values are doubles: a larger seed would silently become its neighbour. */
        if (!strcmp(axis->key, "seed") && v > 9007199254740992.0)
            return error_set(err, "--sweep seed: %.17g is above 2^53; give larger seeds with --set seed=N", v);
        /* Two equal values would be two members with one name and one directory. */
        for (int j = 0; j < axis->n; j++)
            if (axis->values[j] == v)
                return error_set(err, "--sweep %s: the value %.17g is given twice", axis->key, v);
        axis->values[axis->n++] = v;
        p = *end ? end + 1 : end;
    }
    if (axis->n == 0) return error_set(err, "--sweep %s: no values", axis->key);
    sweep->n_axes++;
    return 0;
}

int sweep_member_count(const Sweep *sweep, Error *err) {
    int64_t n = 1;
    for (int i = 0; i < sweep->n_axes; i++) {
        n *= sweep->axes[i].n;
        if (n > SWEEP_MAX_MEMBERS) return error_set(err, "--sweep: more than %d members", SWEEP_MAX_MEMBERS);
    }
    return (int)n;
}

int sweep_member_config(const Sweep *sweep, const Config *base, int m, Config *out, Error *err) {
    Config c = *base;
    int rest = m;
    for (int i = sweep->n_axes - 1; i >= 0; i--) {
        const SweepAxis *axis = &sweep->axes[i];
        double v = axis->values[rest % axis->n];
        rest /= axis->n;
        if (!strcmp(axis->key, "tau")) c.tau = v;
        else if (!strcmp(axis->key, "beta")) c.beta = v;
        else c.seed = (uint64_t)v;
    }
    /* The population draws one batch stream, the base config's: a member's own seed must not
     * change it, so a sweep writes it into each member's config. A single run keeps its rule. */
    if (sweep->n_axes > 0) c.batch_seed = (int64_t)config_batch_seed(base);
    Error verr;
    if (config_validate(&c, &verr)) return error_set(err, "member %d: %s", m, verr.msg);
    *out = c;
    return 0;
}

/* %g when it reads back as the same double (0.7, 3, 1e-05: the names runs have always had),
 * else the fewest digits that do (0.5000001), so distinct values never share a name. */
static void exact_number(double v, char *buf, size_t len) {
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

void sweep_member_name(const Config *member, char *buf, size_t len) {
    char tau[32], beta[32];
    exact_number(member->tau, tau, sizeof tau);
    exact_number(member->beta, beta, sizeof beta);
    snprintf(buf, len, "tau%s-beta%s-seed%llu", tau, beta, (unsigned long long)member->seed);
}

typedef struct {
    const Sweep *sweep;
} SweepFile;

static int write_axes(FILE *out, void *arg, Error *err) { return sweep_write_axes(out, (void *)((const SweepFile *)arg)->sweep, err); }

int sweep_write_axes(FILE *out, void *arg, Error *err) {
    (void)err;
    const Sweep *sweep = arg;
    for (int i = 0; i < sweep->n_axes; i++) {
        fprintf(out, "%s=", sweep->axes[i].key);
        for (int j = 0; j < sweep->axes[i].n; j++) fprintf(out, "%s%.17g", j ? "," : "", sweep->axes[i].values[j]);
        fprintf(out, "\n");
    }
    return 0;
}

static char *sweep_path(const char *dir, Error *err) {
    size_t n = strlen(dir) + sizeof "/sweep.txt";
    char *path = malloc(n);
    if (!path) error_set(err, "%s: out of memory", dir);
    else snprintf(path, n, "%s/sweep.txt", dir);
    return path;
}

int sweep_write_file(const Sweep *sweep, const char *dir, Error *err) {
    if (sweep->n_axes == 0) return 0;
    char *path = sweep_path(dir, err);
    if (!path) return -1;
    SweepFile f = {sweep};
    int rc = file_write_atomic_stream(path, write_axes, &f, err);
    free(path);
    return rc;
}

int sweep_read_file(Sweep *sweep, const char *dir, Error *err) {
    char *path = sweep_path(dir, err);
    if (!path) return -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        int absent = errno == ENOENT;
        int rc = absent ? 0 : error_set(err, "%s: cannot read: %s", path, strerror(errno));
        free(path);
        return rc;  /* absent: not a sweep */
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (!rc && getline(&line, &cap, f) >= 0) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0]) rc = sweep_add_axis(sweep, line, err);
    }
    free(line);
    fclose(f);
    if (rc) error_prefix(err, "%s", path);
    free(path);
    return rc;
}
