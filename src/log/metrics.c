/* metrics.c — the run's scalar log: metrics.csv plus a TensorBoard event file (see metrics.h).
 *
 * The CSV is for scripts and the event file for TensorBoard; both get the same step, the same
 * wall_time and the same values, so either can be trusted alone. On resume the CSV is cut back to
 * the checkpoint's step, since the rows after it describe a trajectory the resumed run does not
 * continue; so are the event files, and the new event file also starts with a session-start
 * event, TensorBoard's own signal to drop the later steps of earlier files. */
#include "log/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/files.h"     // defines: file_write_atomic_stream
#include "log/tfevents.h"  // defines: tfevents_open, tfevents_scalars, tfevents_session_start, tfevents_truncate

struct MetricsLog {
    FILE *csv;
    char *csv_path;
    TfEventWriter *tb;
    int n;
    char **columns;      // n tags, owned
    const char **tags;   // n slots: this row's measured tags, handed to tfevents_scalars
    float *values;       // n slots: their values
};

static const char CSV_NAME[] = "metrics.csv";

/* ---- header ------------------------------------------------------------------------------- */

static int check_columns(const char *dir, int n, const char *const *columns, Error *err) {
    if (n < 1 || !columns) return error_set(err, "%s/%s: no columns to log", dir, CSV_NAME);
    for (int i = 0; i < n; i++) {
        const char *c = columns[i];
        if (!c || !*c) return error_set(err, "%s/%s: column %d has no name", dir, CSV_NAME, i + 1);
        // Kept out so the header splits on commas without a CSV parser, here and in scripts.
        if (strpbrk(c, ",\"\r\n"))
            return error_set(err, "%s/%s: column name '%s' contains a comma, quote or line break", dir, CSV_NAME, c);
        if (!strcmp(c, "step") || !strcmp(c, "wall_time"))
            return error_set(err, "%s/%s: column name '%s' is reserved", dir, CSV_NAME, c);
        for (int j = 0; j < i; j++)
            if (!strcmp(c, columns[j]))
                return error_set(err, "%s/%s: column '%s' appears twice", dir, CSV_NAME, c);
    }
    return 0;
}

/* "step,wall_time,<columns...>" without a line break; NULL when out of memory. */
static char *make_header(int n, const char *const *columns) {
    static const char lead[] = "step,wall_time";
    size_t len = sizeof lead;
    for (int i = 0; i < n; i++) len += 1 + strlen(columns[i]);
    char *h = malloc(len);
    if (!h) return NULL;
    char *p = h;
    memcpy(p, lead, sizeof lead - 1);
    p += sizeof lead - 1;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(columns[i]);
        *p++ = ',';
        memcpy(p, columns[i], k);
        p += k;
    }
    *p = '\0';
    return h;
}

/* Explains how the header found in the file differs from the expected one, column by column. */
static int header_mismatch(const char *path, const char *found, const char *expected, Error *err) {
    const char *a = found, *b = expected;
    for (int col = 1;; col++) {
        size_t la = strcspn(a, ","), lb = strcspn(b, ",");
        if (la != lb || memcmp(a, b, la) != 0)
            return error_set(err, "%s: header differs from this run's columns: column %d is '%.*s' in the file but "
                             "'%.*s' now; the logged scalars changed since the run started: resume into a new directory",
                             path, col, (int)la, a, (int)lb, b);
        if (!a[la] || !b[lb]) {
            if (!a[la] && !b[lb]) break;  // identical: not a mismatch after all
            const char *extra = a[la] ? a + la + 1 : b + lb + 1;
            return error_set(err, "%s: header has %s columns than this run logs (column %d is '%.*s' %s); the logged "
                             "scalars changed since the run started: resume into a new directory",
                             path, a[la] ? "more" : "fewer", col + 1, (int)strcspn(extra, ","), extra,
                             a[la] ? "in the file only" : "in this run only");
        }
        a += la + 1;
        b += lb + 1;
    }
    return error_set(err, "%s: header differs from this run's columns", path);
}

/* ---- resume: keep the rows up to resume_step ------------------------------------------------ */

typedef struct {
    FILE *in;              /* positioned after the header */
    const char *path;
    int64_t resume_step;
    const char *header;
} CutJob;

/* Writes the header and the complete rows of job->in with step <= resume_step. */
static int write_kept_rows(FILE *out, void *arg, Error *err) {
    const CutJob *job = arg;
    char *line = NULL;
    size_t cap = 0;
    int rc = fprintf(out, "%s\n", job->header) < 0 ? -1 : 0;
    for (long lineno = 2; rc == 0; lineno++) {
        errno = 0;
        ssize_t len = getline(&line, &cap, job->in);
        if (len < 0) {
            if (ferror(job->in)) rc = error_set(err, "%s: cannot read: %s", job->path, strerror(errno));
            break;
        }
        // A row is written and flushed whole, newline last: a line without one is the torn end
        // of a crashed run, after the last checkpoint by definition.
        if (line[len - 1] != '\n') break;
        char *end;
        errno = 0;
        long long step = strtoll(line, &end, 10);
        if (end == line || *end != ',' || errno == ERANGE) {
            line[len - 1] = '\0';  // the message is one line
            rc = error_set(err, "%s: line %ld: cannot read the step of '%.40s'", job->path, lineno, line);
            break;
        }
        if (step <= job->resume_step && fwrite(line, 1, (size_t)len, out) != (size_t)len) rc = -1;
    }
    free(line);
    return rc;
}

/* Rewrites path to hold header and the complete rows with step <= resume_step, atomically
 * (base/files.h), so a crash leaves either the old file or the new one. Sets *fresh when there
 * is no file (or no complete line in it) to keep rows from; then nothing is written. */
static int cut_csv(const char *path, const char *header, int64_t resume_step, int *fresh, Error *err) {
    *fresh = 0;
    FILE *in = fopen(path, "rb");
    if (!in) {
        if (errno == ENOENT) {
            *fresh = 1;
            return 0;
        }
        return error_set(err, "%s: cannot open: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t line_cap = 0;
    int rc = -1;
    errno = 0;
    ssize_t len = getline(&line, &line_cap, in);
    if (len < 0 && ferror(in)) {
        error_set(err, "%s: cannot read: %s", path, strerror(errno));
    } else if (len <= 0 || line[len - 1] != '\n') {  // empty, or only a torn header: no rows to keep
        *fresh = 1;
        rc = 0;
    } else {
        line[--len] = '\0';
        if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
        if (strcmp(line, header) != 0) {
            header_mismatch(path, line, header, err);
        } else {
            CutJob job = {in, path, resume_step, header};
            rc = file_write_atomic_stream(path, write_kept_rows, &job, err);
        }
    }
    free(line);
    fclose(in);  // read-only: nothing to lose
    return rc;
}

/* Cuts every event file of the directory back to resume_step (tfevents_truncate). */
static int cut_event_files(const char *dir, int64_t resume_step, Error *err) {
    DIR *d = opendir(dir);
    if (!d) return error_set(err, "%s: cannot list: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strstr(e->d_name, "tfevents") || strstr(e->d_name, ".tmp")) continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(n);
        if (!path) {
            rc = error_set(err, "%s: out of memory", dir);
            break;
        }
        snprintf(path, n, "%s/%s", dir, e->d_name);
        rc = tfevents_truncate(path, resume_step, err);
        free(path);
    }
    closedir(d);
    return rc;
}

/* ---- the log ------------------------------------------------------------------------------ */

static void free_log(MetricsLog *m) {
    if (m->columns)
        for (int i = 0; i < m->n; i++) free(m->columns[i]);
    free(m->columns);
    free(m->tags);
    free(m->values);
    free(m->csv_path);
    free(m);
}

MetricsLog *metrics_open(const char *dir, int n_columns, const char *const *columns, int64_t resume_step,
                         Error *err) {
    if (check_columns(dir, n_columns, columns, err)) return NULL;
    MetricsLog *m = calloc(1, sizeof *m);
    char *header = NULL;
    if (!m) goto oom;
    m->n = n_columns;
    m->columns = calloc((size_t)n_columns, sizeof *m->columns);
    m->tags = calloc((size_t)n_columns, sizeof *m->tags);
    m->values = calloc((size_t)n_columns, sizeof *m->values);
    m->csv_path = malloc(strlen(dir) + sizeof CSV_NAME + 1);
    header = make_header(n_columns, columns);
    if (!m->columns || !m->tags || !m->values || !m->csv_path || !header) goto oom;
    for (int i = 0; i < n_columns; i++)
        if (!(m->columns[i] = strdup(columns[i]))) goto oom;
    sprintf(m->csv_path, "%s/%s", dir, CSV_NAME);

    int fresh = 1;
    if (resume_step >= 0 &&
        (cut_csv(m->csv_path, header, resume_step, &fresh, err) || cut_event_files(dir, resume_step, err)))
        goto fail;
    m->csv = fopen(m->csv_path, fresh ? "wb" : "ab");
    if (!m->csv) {
        error_set(err, "%s: cannot open for writing: %s", m->csv_path, strerror(errno));
        goto fail;
    }
    if (fresh && (fprintf(m->csv, "%s\n", header) < 0 || fflush(m->csv) != 0)) {
        error_set(err, "%s: cannot write: %s", m->csv_path, strerror(errno));
        goto fail;
    }

    if (!(m->tb = tfevents_open(dir, err))) goto fail;
    if (resume_step >= 0 && resume_step < INT64_MAX &&
        tfevents_session_start(m->tb, resume_step + 1, tfevents_wall_time(), err))
        goto fail;
    free(header);
    return m;

oom:
    error_set(err, "%s: out of memory opening the metrics log", dir);
fail:
    free(header);
    if (m) {
        Error ignored;  // the first error is the one to report
        if (m->csv) fclose(m->csv);
        tfevents_close(m->tb, &ignored);
        free_log(m);
    }
    return NULL;
}

int metrics_log(MetricsLog *m, int64_t step, const double *values, Error *err) {
    double now = tfevents_wall_time();
    errno = 0;
    // Milliseconds, not %.9g: a Unix time has ten integer digits.
    int ok = fprintf(m->csv, "%lld,%.3f", (long long)step, now) >= 0;
    int k = 0;
    for (int i = 0; i < m->n; i++) {
        if (isnan(values[i])) {
            ok &= fputc(',', m->csv) != EOF;
            continue;
        }
        ok &= fprintf(m->csv, ",%.9g", values[i]) >= 0;
        m->tags[k] = m->columns[i];
        m->values[k++] = (float)values[i];
    }
    ok &= fputc('\n', m->csv) != EOF;
    if (!ok || fflush(m->csv) != 0)
        return error_set(err, "%s: cannot write: %s", m->csv_path, errno ? strerror(errno) : "write error");
    if (k == 0) return 0;  // nothing measured: an empty summary would only add a point-less event
    return tfevents_scalars(m->tb, step, now, k, m->tags, m->values, err);
}

const char *metrics_csv_path(const MetricsLog *m) { return m->csv_path; }
const char *metrics_event_path(const MetricsLog *m) { return tfevents_path(m->tb); }

int metrics_close(MetricsLog *m, Error *err) {
    if (!m) return 0;
    int rc = 0;
    if (fclose(m->csv) != 0) rc = error_set(err, "%s: cannot close: %s", m->csv_path, strerror(errno));
    if (rc == 0) {
        rc = tfevents_close(m->tb, err);
    } else {
        Error ignored;
        tfevents_close(m->tb, &ignored);
    }
    free_log(m);
    return rc;
}
