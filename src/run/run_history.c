/* run_history.c — DIR/history.log, and the checks of a resume against what the run recorded
 * (see run_history.h). */
#include "run/run_history.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/files.h"

const char *const run_resume_changeable[] = {"steps", "log_every", "checkpoint_every", "eval_every", "eval_episodes",
                                             "env", "eval_env", "eval_ref_scores", "device", "replay", NULL};

static int is_changeable(const char *key) {
    for (const char *const *k = run_resume_changeable; *k; k++)
        if (!strcmp(*k, key)) return 1;
    return 0;
}

/* ---- the file ---------------------------------------------------------------------------- */

/* A growing line, with escaping of values. */
typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} Line;

static void put(Line *l, const char *s, size_t n) {
    if (l->failed) return;
    if (l->len + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (l->len + n + 1 > cap) cap *= 2;
        char *grown = realloc(l->buf, cap);
        if (!grown) {
            l->failed = 1;
            return;
        }
        l->buf = grown;
        l->cap = cap;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    l->buf[l->len] = '\0';
}

static void field(Line *l, const char *key, const char *value) {
    put(l, "\t", 1);
    put(l, key, strlen(key));
    put(l, "=", 1);
    for (const char *c = value; *c; c++) {
        const char *esc = *c == '\t' ? "\\t" : *c == '\n' ? "\\n" : *c == '\r' ? "\\r" : *c == '\\' ? "\\\\" : NULL;
        if (esc) put(l, esc, 2);
        else put(l, c, 1);
    }
}

static void field_int(Line *l, const char *key, int64_t v) {
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, v);
    field(l, key, num);
}

/* The absolute form of a path for the record (the path itself when it cannot be resolved). */
static void absolute(const char *path, char *out, size_t n) {
    char *real = realpath(path, NULL);
    snprintf(out, n, "%s", real ? real : path);
    free(real);
}

int run_history_append(const char *dir, const RunHistoryEntry *e, Error *err) {
    char *path = file_join(dir, RUN_HISTORY_NAME);
    if (!path) return error_set(err, "%s: out of memory", dir);
    Line l = {0};
    char when[32] = "?", host[128] = "?", fp[24], data[4096];
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(fp, sizeof fp, "%016" PRIx64, e->fingerprint);
    absolute(e->dataset, data, sizeof data);

    put(&l, e->event, strlen(e->event));
    field(&l, "time", when);
    field_int(&l, "step", e->step);
    field_int(&l, "steps", e->steps);
    field_int(&l, "pid", (int64_t)getpid());
    field(&l, "host", host);
    if (e->replaced) field(&l, "replaced", e->replaced);
    if (e->changed) field(&l, "changed", e->changed);
    field_int(&l, "transitions", e->transitions);
    field(&l, "fingerprint", fp);
    field(&l, "dataset", data);
    put(&l, "\n", 1);
    int rc = 0;
    if (l.failed) rc = error_set(err, "%s: out of memory", path);

    int fd = rc ? -1 : open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (rc == 0 && fd < 0) rc = error_set(err, "%s: cannot open: %s", path, strerror(errno));
    /* One write, so a line is whole or (a crash, a full disk) a torn last line that readers skip. */
    if (rc == 0) {
        ssize_t w = write(fd, l.buf, l.len);
        if (w != (ssize_t)l.len) rc = error_set(err, "%s: cannot write: %s", path, w < 0 ? strerror(errno) : "short write");
        else if (fsync(fd) != 0) rc = error_set(err, "%s: cannot sync: %s", path, strerror(errno));
    }
    if (fd >= 0 && close(fd) != 0 && rc == 0) rc = error_set(err, "%s: cannot write: %s", path, strerror(errno));
    free(l.buf);
    free(path);
    return rc;
}

/* The value of `key` in a history line (unescaped into out[n]); 0 when found. */
static int line_value(const char *line, const char *key, char *out, size_t n) {
    size_t klen = strlen(key);
    for (const char *p = strchr(line, '\t'); p; p = strchr(p + 1, '\t')) {
        if (strncmp(p + 1, key, klen) != 0 || p[1 + klen] != '=') continue;
        size_t len = 0;
        for (const char *c = p + 2 + klen; *c && *c != '\t' && *c != '\n' && len + 1 < n; c++) {
            if (*c == '\\' && c[1]) {
                c++;
                out[len++] = *c == 't' ? '\t' : *c == 'n' ? '\n' : *c == 'r' ? '\r' : *c;
            } else {
                out[len++] = *c;
            }
        }
        out[len] = '\0';
        return 0;
    }
    return -1;
}

int run_history_data(const char *dir, RunDataRecord *rec, Error *err) {
    memset(rec, 0, sizeof *rec);
    char *path = file_join(dir, RUN_HISTORY_NAME);
    if (!path) return error_set(err, "%s: out of memory", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        int rc = errno == ENOENT ? 0 : error_set(err, "%s: cannot read: %s", path, strerror(errno));
        free(path);
        return rc;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len == 0 || line[len - 1] != '\n') break; /* a torn last line */
        char fp[32], n[32];
        RunDataRecord r = {0};
        if ((strncmp(line, "start\t", 6) && strncmp(line, "resume\t", 7)) || line_value(line, "fingerprint", fp, sizeof fp) ||
            line_value(line, "transitions", n, sizeof n) || line_value(line, "dataset", r.dataset, sizeof r.dataset))
            continue;
        char *end;
        r.fingerprint = strtoull(fp, &end, 16);
        if (*end) continue;
        r.transitions = strtoll(n, &end, 10);
        if (*end) continue;
        r.found = 1;
        *rec = r;
    }
    int rc = ferror(f) ? error_set(err, "%s: cannot read: %s", path, strerror(errno)) : 0;
    free(line);
    fclose(f);
    free(path);
    return rc;
}

/* ---- resume checks ----------------------------------------------------------------------- */

/* The value text of `key` in a config's YAML (config_write_yaml: one "key: value" line each). */
static const char *yaml_value(const char *yaml, const char *key, size_t *len) {
    size_t klen = strlen(key);
    for (const char *p = yaml; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ':' && p[klen + 1] == ' ') {
            const char *v = p + klen + 2;
            *len = strcspn(v, "\n");
            return v;
        }
    }
    return NULL;
}

int run_resume_compare_config(const char *dir, const Config *now, char *changes, size_t n, Error *err) {
    changes[0] = '\0';
    char *path = file_join(dir, "config.yaml");
    if (!path) return error_set(err, "%s: out of memory", dir);
    Config then;
    config_defaults(&then);
    if (config_load_file(&then, path, err)) {
        free(path);
        return error_prefix(err, "--resume: the run's own config");
    }
    /* Compared as the YAML a run writes: every key on its line, doubles with all their digits,
     * so equal text is an equal value. */
    char *a = config_to_yaml_string(&then), *b = config_to_yaml_string(now);
    int rc = 0;
    if (!a || !b) rc = error_set(err, "--resume: out of memory");
    size_t used = 0;
    for (const char *p = a; rc == 0 && p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (*p == '#' || *p == '\n') continue;
        size_t klen = strcspn(p, ":\n");
        if (p[klen] != ':') continue;
        char key[64];
        if (klen >= sizeof key) continue;
        memcpy(key, p, klen);
        key[klen] = '\0';
        size_t la, lb;
        const char *va = yaml_value(a, key, &la), *vb = yaml_value(b, key, &lb);
        if (!va || !vb || (la == lb && !memcmp(va, vb, la))) continue;
        if (!strcmp(key, "dataset")) continue; /* compared by content: the fingerprint */
        if (!is_changeable(key)) {
            char allowed[256] = "";
            for (const char *const *k = run_resume_changeable; *k; k++)
                snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s", k == run_resume_changeable ? "" : ", ", *k);
            rc = error_set(err, "--resume: %s is %.*s now but %.*s in %s; a resumed run keeps every setting that "
                           "shapes its trajectory (it may change %s): start a new run to change it, e.g. with "
                           "--init-from %s/checkpoint.h5", key, (int)lb, vb, (int)la, va, path, allowed, dir);
            break;
        }
        int w = snprintf(changes + used, n - used, "%s%s:%.*s->%.*s", used ? "," : "", key, (int)la, va, (int)lb, vb);
        if (w > 0 && (size_t)w < n - used) used += (size_t)w;
    }
    free(a);
    free(b);
    free(path);
    return rc;
}

static int same_sweep(const Sweep *a, const Sweep *b) {
    if (a->n_axes != b->n_axes) return 0;
    for (int i = 0; i < a->n_axes; i++) {
        const SweepAxis *x = &a->axes[i], *y = &b->axes[i];
        if (strcmp(x->key, y->key) || x->n != y->n) return 0;
        for (int j = 0; j < x->n; j++)
            if (x->values[j] != y->values[j]) return 0;
    }
    return 1;
}

int run_resume_compare_sweep(const char *dir, const Sweep *now, Error *err) {
    if (now->n_axes == 0) return 0; /* none given: the CLI read sweep.txt's */
    Sweep *then = calloc(1, sizeof *then);
    if (!then) return error_set(err, "--resume: out of memory");
    int rc = sweep_read_file(then, dir, err);
    if (rc == 0 && !same_sweep(then, now))
        rc = error_set(err, "--sweep: differs from the run's %s/sweep.txt; a resumed sweep continues the same "
                       "members: leave --sweep out to continue it", dir);
    free(then);
    return rc;
}

int run_resume_locate_dataset(const char *dir, int from_run_config, char *dataset, size_t n, Error *err) {
    if (!dataset[0] || !from_run_config || dataset[0] == '/' || file_exists(dataset)) return 0;
    RunDataRecord rec;
    if (run_history_data(dir, &rec, err)) return -1;
    if (rec.found && file_exists(rec.dataset)) {
        if (strlen(rec.dataset) >= n) return error_set(err, "%s/%s: recorded dataset path too long", dir, RUN_HISTORY_NAME);
        snprintf(dataset, n, "%s", rec.dataset);
        return 0;
    }
    if (rec.found)
        return error_set(err, "dataset '%s' (from %s/config.yaml) not found: it is relative to where the run started, "
                         "and the absolute path %s recorded for it (%s) is gone too; give --dataset FILE", dataset,
                         dir, RUN_HISTORY_NAME, rec.dataset);
    return error_set(err, "dataset '%s' (from %s/config.yaml) not found: a relative path there is relative to the "
                     "directory the run was started in; resume from there, or give --dataset FILE", dataset, dir);
}
