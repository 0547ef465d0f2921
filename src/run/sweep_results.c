/* sweep_results.c — the results table of a sweep, DIR/sweep*.csv (see sweep_results.h). */
#include "run/sweep_results.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/files.h"
#include "base/parse.h"

void sweep_results_file_name(int index, int count, char *buf, size_t len) {
    if (count <= 1) snprintf(buf, len, "sweep.csv");
    else snprintf(buf, len, "sweep-shard-%d-of-%d.csv", index, count);
}

int sweep_table_add(SweepTable *t, const SweepRow *row, Error *err) {
    if (row->name[strcspn(row->name, ",\"\r\n")])
        return error_set(err, "member name '%s' cannot go into a CSV cell", row->name);
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        SweepRow *rows = realloc(t->rows, cap * sizeof *rows);
        if (!rows) return error_set(err, "out of host memory for the sweep's results");
        t->rows = rows;
        t->cap = cap;
    }
    t->rows[t->n++] = *row;
    return 0;
}

void sweep_table_cut(SweepTable *t, int member, int64_t step) {
    size_t kept = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->rows[i].member != member || t->rows[i].step <= step) t->rows[kept++] = t->rows[i];
    t->n = kept;
}

void sweep_table_free(SweepTable *t) {
    free(t->rows);
    *t = (SweepTable){0};
}

/* A value cell: %.9g round-trips the float32 losses, and the returns to well below a unit. */
static void put_value(FILE *out, double v) {
    if (isfinite(v)) fprintf(out, ",%.9g", v);
    else fputs(",", out);
}

static int write_rows(FILE *out, void *arg, Error *err) {
    (void)err;
    const SweepTable *t = arg;
    fprintf(out, "%s\n", SWEEP_RESULTS_HEADER);
    for (size_t i = 0; i < t->n; i++) {
        const SweepRow *r = &t->rows[i];
        /* %.15g gives back the decimal a user typed for τ and β ("0.7", not 0.69999999999999996) */
        fprintf(out, "%d,%s,%.15g,%.15g,%llu,%lld", r->member, r->name, r->tau, r->beta, (unsigned long long)r->seed,
                (long long)r->step);
        put_value(out, r->ret);
        put_value(out, r->score);
        put_value(out, r->loss_value);
        put_value(out, r->loss_q);
        put_value(out, r->loss_policy);
        fputc('\n', out);
    }
    return 0;
}

int sweep_table_write(const SweepTable *t, const char *path, Error *err) {
    return file_write_atomic_stream(path, write_rows, (void *)t, err);
}

/* One cell: a number, or NaN for an empty cell when `may_be_empty`. */
static int cell_double(const char *cell, int may_be_empty, double *out) {
    if (!cell[0] && may_be_empty) {
        *out = NAN;
        return 0;
    }
    return parse_double(cell, out);
}

static int parse_row(char *line, SweepRow *r) {
    char *cells[11];
    int n = 0;
    for (char *p = line;; p++) {
        cells[n++] = p;
        p += strcspn(p, ",");
        if (!*p) break;
        *p = '\0';
        if (n == 11) return -1;
    }
    if (n != 11) return -1;
    int64_t member, step;
    uint64_t seed;
    if (parse_int64(cells[0], &member) || member < 0 || member > INT32_MAX || !cells[1][0] ||
        strlen(cells[1]) >= sizeof r->name || cell_double(cells[2], 0, &r->tau) || cell_double(cells[3], 0, &r->beta) ||
        parse_uint64(cells[4], &seed) || parse_int64(cells[5], &step) || cell_double(cells[6], 1, &r->ret) ||
        cell_double(cells[7], 1, &r->score) || cell_double(cells[8], 1, &r->loss_value) ||
        cell_double(cells[9], 1, &r->loss_q) || cell_double(cells[10], 1, &r->loss_policy))
        return -1;
    r->member = (int)member;
    snprintf(r->name, sizeof r->name, "%s", cells[1]);
    r->seed = seed;
    r->step = step;
    return 0;
}

int sweep_table_read(SweepTable *t, const char *path, Error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return error_set(err, "%s: cannot read: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0, line_no = 0;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        line_no++;
        int complete = len > 0 && line[len - 1] == '\n';
        line[strcspn(line, "\r\n")] = '\0';
        if (line_no == 1) {
            if (strcmp(line, SWEEP_RESULTS_HEADER))
                rc = error_set(err, "%s: not a cuiql sweep table (its header is not '%s')", path, SWEEP_RESULTS_HEADER);
            continue;
        }
        if (!line[0]) continue;
        SweepRow row;
        if (parse_row(line, &row)) {
            if (!complete) break;  /* torn last line */
            rc = error_set(err, "%s:%d: not a row of a sweep table", path, line_no);
        } else {
            rc = sweep_table_add(t, &row, err);
        }
    }
    if (!rc && ferror(f)) rc = error_set(err, "%s: read error: %s", path, strerror(errno));
    if (!rc && line_no == 0) rc = error_set(err, "%s: empty file (not a sweep table)", path);
    free(line);
    fclose(f);
    return rc;
}

typedef struct {
    char *path;
    struct timespec mtime;
} TableFile;

static int by_mtime(const void *a, const void *b) {
    const TableFile *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec) return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec) return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->path, y->path);
}

static int is_table_name(const char *name) {
    size_t n = strlen(name);
    if (!strcmp(name, "sweep.csv")) return 1;
    return n > strlen("sweep-shard-.csv") && !strncmp(name, "sweep-shard-", 12) && !strcmp(name + n - 4, ".csv");
}

/* Rows by member, then step, then the order read (so the newest file's copy comes last). */
typedef struct {
    SweepRow row;
    size_t order;
} Ordered;

static int by_member_step(const void *a, const void *b) {
    const Ordered *x = a, *y = b;
    if (x->row.member != y->row.member) return x->row.member < y->row.member ? -1 : 1;
    if (x->row.step != y->row.step) return x->row.step < y->row.step ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int merge_rows(SweepTable *t, Error *err) {
    if (t->n == 0) return 0;
    Ordered *o = malloc(t->n * sizeof *o);
    if (!o) return error_set(err, "out of host memory for the sweep's results");
    for (size_t i = 0; i < t->n; i++) o[i] = (Ordered){t->rows[i], i};
    qsort(o, t->n, sizeof *o, by_member_step);
    size_t kept = 0;
    for (size_t i = 0; i < t->n; i++) {
        int last_of_key = i + 1 == t->n || o[i + 1].row.member != o[i].row.member || o[i + 1].row.step != o[i].row.step;
        if (last_of_key) t->rows[kept++] = o[i].row;
    }
    t->n = kept;
    free(o);
    return 0;
}

int sweep_table_read_dir(SweepTable *t, const char *dir, int *n_files, Error *err) {
    *n_files = 0;
    DIR *d = opendir(dir);
    if (!d) return error_set(err, "%s: cannot open the directory: %s", dir, strerror(errno));
    TableFile *files = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (!is_table_name(e->d_name)) continue;
        if (n == cap) {
            TableFile *grown = realloc(files, (cap ? 2 * cap : 8) * sizeof *files);
            if (!grown) {
                rc = error_set(err, "out of host memory");
                break;
            }
            files = grown;
            cap = cap ? 2 * cap : 8;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        if (!path) {
            rc = error_set(err, "out of host memory");
            break;
        }
        snprintf(path, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st)) {
            rc = error_set(err, "%s: %s", path, strerror(errno));
            free(path);
            break;
        }
        files[n++] = (TableFile){path, st.st_mtim};
    }
    closedir(d);
    if (!rc) qsort(files, n, sizeof *files, by_mtime);
    for (size_t i = 0; i < n && !rc; i++) rc = sweep_table_read(t, files[i].path, err);
    for (size_t i = 0; i < n; i++) free(files[i].path);
    free(files);
    if (rc) return -1;
    *n_files = (int)n;
    return merge_rows(t, err);
}
