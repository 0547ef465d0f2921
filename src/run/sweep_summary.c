/* sweep_summary.c — a sweep's results per (τ, β), ranked (see sweep_summary.h). */
#include "run/sweep_summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/files.h"

/* One member's evaluations, reduced. */
typedef struct {
    int present, cell;
    double final_ret, final_score, best_ret;
    int64_t final_step;
    int evaluated;
} MemberStat;

/* Indexed by member: the sweep's count, or one past the largest index in the rows. */
typedef struct {
    MemberStat *m;
    int n;
} Members;

static int members_alloc(Members *ms, const SweepTable *t, int expected, Error *err) {
    int n = expected;
    for (size_t i = 0; i < t->n && !expected; i++)
        if (t->rows[i].member >= n) n = t->rows[i].member + 1;
    ms->n = n;
    ms->m = calloc((size_t)(n ? n : 1), sizeof *ms->m);
    if (!ms->m) return error_set(err, "out of host memory");
    for (int i = 0; i < n; i++) ms->m[i] = (MemberStat){.cell = -1, .final_ret = NAN, .final_score = NAN, .best_ret = NAN};
    return 0;
}

static int cell_of(SweepSummary *s, double tau, double beta, Error *err) {
    for (int i = 0; i < s->n_cells; i++)
        if (s->cells[i].tau == tau && s->cells[i].beta == beta) return i;
    SweepCell *grown = realloc(s->cells, (size_t)(s->n_cells + 1) * sizeof *grown);
    if (!grown) return error_set(err, "out of host memory");
    s->cells = grown;
    s->cells[s->n_cells] = (SweepCell){.tau = tau, .beta = beta};
    return s->n_cells++;
}

/* mean and sample standard deviation (NaN for fewer than two values) */
static void mean_std(const double *v, int n, double *mean, double *std) {
    double sum = 0;
    for (int i = 0; i < n; i++) sum += v[i];
    *mean = n ? sum / n : NAN;
    if (n < 2) {
        *std = NAN;
        return;
    }
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    *std = sqrt(ss / (n - 1));
}

static int by_rank(const void *a, const void *b) {
    const SweepCell *x = a, *y = b;
    if ((x->n > 0) != (y->n > 0)) return x->n > 0 ? -1 : 1;
    if (x->n == 0) return 0;
    if (x->final_mean != y->final_mean) return x->final_mean > y->final_mean ? -1 : 1;
    if (x->best_mean != y->best_mean) return x->best_mean > y->best_mean ? -1 : 1;
    return 0;
}

/* The cells' statistics from their members'. */
static int reduce_cells(SweepSummary *s, const Members *ms, Error *err) {
    double *v = malloc(3 * (size_t)(ms->n + 1) * sizeof *v);
    if (!v) return error_set(err, "out of host memory");
    double *best = v + ms->n + 1, *score = best + ms->n + 1;
    for (int c = 0; c < s->n_cells; c++) {
        SweepCell *cell = &s->cells[c];
        int k = 0, scored = 0;
        cell->step_min = INT64_MAX;
        cell->step_max = 0;
        for (int i = 0; i < ms->n; i++) {
            const MemberStat *m = &ms->m[i];
            if (m->cell != c || !m->evaluated) continue;
            v[k] = m->final_ret;
            best[k] = m->best_ret;
            if (isfinite(m->final_score)) score[scored++] = m->final_score;
            k++;
            if (m->final_step < cell->step_min) cell->step_min = m->final_step;
            if (m->final_step > cell->step_max) cell->step_max = m->final_step;
        }
        cell->n = k;
        if (k == 0) cell->step_min = 0;
        mean_std(v, k, &cell->final_mean, &cell->final_std);
        mean_std(best, k, &cell->best_mean, &cell->best_std);
        mean_std(score, scored, &cell->score_mean, &cell->score_std);
    }
    free(v);
    qsort(s->cells, (size_t)s->n_cells, sizeof *s->cells, by_rank);
    for (int c = 0; c < s->n_cells; c++) s->cells[c].rank = s->cells[c].n > 0 ? c + 1 : 0;
    return 0;
}

int sweep_summarize(const SweepTable *t, const Sweep *sweep, const Config *base, SweepSummary *out, Error *err) {
    SweepSummary s = {0};
    Members ms = {0};
    int rc = -1;
    int expected = 0;
    if (sweep && base && (expected = sweep_member_count(sweep, err)) < 0) return -1;
    if (members_alloc(&ms, t, expected, err)) return -1;
    if (expected) {
        /* every member of the cross product, in its order, so cells come in the axes' order */
        s.members_expected = expected;
        s.steps = base->steps;
        for (int m = 0; m < expected; m++) {
            Config c;
            int cell;
            if (sweep_member_config(sweep, base, m, &c, err) || (cell = cell_of(&s, c.tau, c.beta, err)) < 0) goto done;
            ms.m[m].present = 1;
            ms.m[m].cell = cell;
            s.cells[cell].expected++;
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        const SweepRow *r = &t->rows[i];
        if (r->member >= ms.n) {
            error_set(err, "a result for member %d (%s), but the sweep has %d members: the table belongs to "
                      "another sweep", r->member, r->name, ms.n);
            goto done;
        }
        MemberStat *st = &ms.m[r->member];
        if (st->present && expected) {
            const SweepCell *c = &s.cells[st->cell];
            /* the table prints τ and β with 15 digits: equal to that precision */
            if (fabs(r->tau - c->tau) > 1e-12 * fabs(c->tau) || fabs(r->beta - c->beta) > 1e-12 * fabs(c->beta)) {
                error_set(err, "member %d (%s) has tau %g, beta %g in the results but tau %g, beta %g in the sweep: "
                          "the table belongs to another sweep", r->member, r->name, r->tau, r->beta, c->tau, c->beta);
                goto done;
            }
        }
        if (!st->present) {
            int cell = cell_of(&s, r->tau, r->beta, err);
            if (cell < 0) goto done;
            st->present = 1;
            st->cell = cell;
        }
        if (!isfinite(r->ret)) continue;
        if (!st->evaluated || r->step > st->final_step) {
            st->final_step = r->step;
            st->final_ret = r->ret;
            st->final_score = r->score;
        }
        if (!st->evaluated || r->ret > st->best_ret) st->best_ret = r->ret;
        st->evaluated = 1;
    }
    for (int k = 0; k < ms.n; k++) {
        s.members_evaluated += ms.m[k].evaluated;
        s.members_at_end += ms.m[k].evaluated && s.steps > 0 && ms.m[k].final_step >= s.steps;
    }
    if (s.members_evaluated == 0) {
        error_set(err, "no member has an evaluation yet (a sweep is evaluated when the config sets 'env'; at "
                  "eval_every steps and at the end)");
        goto done;
    }
    if (reduce_cells(&s, &ms, err)) goto done;
    rc = 0;
done:
    free(ms.m);
    if (rc) sweep_summary_free(&s);
    else *out = s;
    return rc;
}

void sweep_summary_free(SweepSummary *s) {
    free(s->cells);
    *s = (SweepSummary){0};
}

/* ---- text ------------------------------------------------------------------------------------ */

static void fmt_mean_std(char *buf, size_t len, double mean, double std) {
    if (!isfinite(mean)) snprintf(buf, len, "-");
    else if (!isfinite(std)) snprintf(buf, len, "%.1f", mean);
    else snprintf(buf, len, "%.1f ± %.1f", mean, std);
}

static void fmt_cell_name(char *buf, size_t len, const SweepCell *c) {
    snprintf(buf, len, "tau %g, beta %g", c->tau, c->beta);
}

/* display width of a UTF-8 string (± is two bytes, one column) */
static int width(const char *s) {
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

#define N_COLS 8
static const char *const headings[N_COLS] = {"rank", "tau", "beta", "seeds", "final return", "best return",
                                              "final score", "step"};

static void table_row(const SweepSummary *s, const SweepCell *c, char cells[N_COLS][64]) {
    (void)s;
    if (c->rank) snprintf(cells[0], 64, "%d", c->rank);
    else snprintf(cells[0], 64, "-");
    snprintf(cells[1], 64, "%g", c->tau);
    snprintf(cells[2], 64, "%g", c->beta);
    if (c->expected && c->expected != c->n) snprintf(cells[3], 64, "%d of %d", c->n, c->expected);
    else snprintf(cells[3], 64, "%d", c->n);
    fmt_mean_std(cells[4], 64, c->final_mean, c->final_std);
    fmt_mean_std(cells[5], 64, c->best_mean, c->best_std);
    fmt_mean_std(cells[6], 64, c->score_mean, c->score_std);
    if (!c->n) snprintf(cells[7], 64, "-");
    else if (c->step_min == c->step_max) snprintf(cells[7], 64, "%lld", (long long)c->step_max);
    else snprintf(cells[7], 64, "%lld-%lld", (long long)c->step_min, (long long)c->step_max);
}

static void print_padded(FILE *out, const char *text, int w, int right) {
    int pad = w - width(text);
    if (right) fprintf(out, " %*s%s |", pad > 0 ? pad : 0, "", text);
    else fprintf(out, " %s%*s |", text, pad > 0 ? pad : 0, "");
}

static void print_headline(FILE *out, const SweepSummary *s) {
    if (s->members_expected)
        fprintf(out, "%d of %d members evaluated", s->members_evaluated, s->members_expected);
    else fprintf(out, "%d members evaluated", s->members_evaluated);
    if (s->steps > 0) {
        if (s->members_at_end == s->members_expected && s->members_expected)
            fprintf(out, ", all at the last step, %lld.", (long long)s->steps);
        else fprintf(out, "; %d at the last step, %lld (still running, or stopped early: \"final\" is each member's "
                     "latest evaluation).", s->members_at_end, (long long)s->steps);
    } else fprintf(out, ".");
    fprintf(out, "\n\n");
    const SweepCell *a = &s->cells[0], *b = s->n_cells > 1 && s->cells[1].n > 0 ? &s->cells[1] : NULL;
    char name[64], val[64];
    fmt_cell_name(name, sizeof name, a);
    fmt_mean_std(val, sizeof val, a->final_mean, a->final_std);
    fprintf(out, "**Best: %s** — final return %s over %d seed%s", name, val, a->n, a->n == 1 ? "" : "s");
    if (b) {
        char bname[64], bval[64];
        fmt_cell_name(bname, sizeof bname, b);
        fmt_mean_std(bval, sizeof bval, b->final_mean, b->final_std);
        fprintf(out, ", %.1f above the runner-up (%s: %s", a->final_mean - b->final_mean, bname, bval);
        /* the gap in standard errors of the difference of the two means: how clear the win is */
        if (a->n > 1 && b->n > 1) {
            double se = sqrt(a->final_std * a->final_std / a->n + b->final_std * b->final_std / b->n);
            if (se > 0) fprintf(out, "; %.1f standard errors apart", (a->final_mean - b->final_mean) / se);
        }
        fprintf(out, ")");
        const SweepCell *last = NULL;
        for (int i = 0; i < s->n_cells; i++)
            if (s->cells[i].n > 0) last = &s->cells[i];
        if (last && last != b) {
            fmt_cell_name(bname, sizeof bname, last);
            fprintf(out, ", %.1f above the worst (%s)", a->final_mean - last->final_mean, bname);
        }
    }
    fprintf(out, ".\n\n");
}

void sweep_summary_print(FILE *out, const SweepSummary *s, const char *title) {
    if (title) fprintf(out, "%s\n\n", title);
    print_headline(out, s);
    int w[N_COLS];
    char cells[N_COLS][64];
    for (int k = 0; k < N_COLS; k++) w[k] = width(headings[k]);
    for (int i = 0; i < s->n_cells; i++) {
        table_row(s, &s->cells[i], cells);
        for (int k = 0; k < N_COLS; k++)
            if (width(cells[k]) > w[k]) w[k] = width(cells[k]);
    }
    fprintf(out, "|");
    for (int k = 0; k < N_COLS; k++) print_padded(out, headings[k], w[k], 1);
    fprintf(out, "\n|");
    for (int k = 0; k < N_COLS; k++) {  /* every column right-aligned, as the cells are padded */
        for (int j = 0; j <= w[k]; j++) fputc('-', out);
        fputs(":|", out);
    }
    fprintf(out, "\n");
    for (int i = 0; i < s->n_cells; i++) {
        table_row(s, &s->cells[i], cells);
        fprintf(out, "|");
        for (int k = 0; k < N_COLS; k++) print_padded(out, cells[k], w[k], 1);
        fprintf(out, "\n");
    }
    fprintf(out, "\nfinal: each member's latest evaluation; best: its highest; mean ± sample std over seeds.\n");
}

typedef struct {
    const SweepSummary *s;
    const char *title;
} MdArgs;

static int write_md(FILE *out, void *arg, Error *err) {
    (void)err;
    const MdArgs *a = arg;
    sweep_summary_print(out, a->s, a->title);
    return 0;
}

int sweep_summary_write_md(const SweepSummary *s, const char *title, const char *path, Error *err) {
    MdArgs a = {s, title};
    return file_write_atomic_stream(path, write_md, &a, err);
}

static void csv_value(FILE *out, double v) {
    if (isfinite(v)) fprintf(out, ",%.9g", v);
    else fputs(",", out);
}

static int write_csv(FILE *out, void *arg, Error *err) {
    (void)err;
    const SweepSummary *s = arg;
    fprintf(out, "rank,tau,beta,seeds,seeds_expected,final_return_mean,final_return_std,best_return_mean,"
                 "best_return_std,final_score_mean,final_score_std,step_min,step_max\n");
    for (int i = 0; i < s->n_cells; i++) {
        const SweepCell *c = &s->cells[i];
        fprintf(out, "%d,%.15g,%.15g,%d,%d", c->rank, c->tau, c->beta, c->n, c->expected);
        csv_value(out, c->final_mean);
        csv_value(out, c->final_std);
        csv_value(out, c->best_mean);
        csv_value(out, c->best_std);
        csv_value(out, c->score_mean);
        csv_value(out, c->score_std);
        fprintf(out, ",%lld,%lld\n", (long long)c->step_min, (long long)c->step_max);
    }
    return 0;
}

int sweep_summary_write_csv(const SweepSummary *s, const char *path, Error *err) {
    return file_write_atomic_stream(path, write_csv, (void *)s, err);
}
