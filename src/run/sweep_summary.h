/* sweep_summary.h — the ranked summary of a sweep's results (`cuiql sweep-report`): per
 * (τ, β), over its seeds, the mean and standard deviation of each member's final evaluation
 * (its latest one) and of its best one, ranked by the final mean.
 *
 * The standard deviation is the sample one (n − 1), absent for one seed. A sweep still running
 * is summarised as it stands: "final" is each member's latest evaluation, and the summary says
 * how many members have reached the last step. */
#ifndef CUIQL_RUN_SWEEP_SUMMARY_H
#define CUIQL_RUN_SWEEP_SUMMARY_H

#include <stdio.h>

#include "algo/config.h"
#include "run/sweep.h"
#include "run/sweep_results.h"

typedef struct {
    double tau, beta;
    int expected;                   /* members (seeds) the sweep has for this (τ, β); 0: unknown */
    int n;                          /* members with an evaluation */
    double final_mean, final_std;   /* each member's latest evaluated return; std NaN for n < 2 */
    double best_mean, best_std;     /* each member's best evaluated return */
    double score_mean, score_std;   /* normalized score at the latest evaluation */
    int64_t step_min, step_max;     /* the steps of those latest evaluations */
    int rank;                       /* 1 = highest final mean; 0 = no evaluation yet */
} SweepCell;

typedef struct {
    SweepCell *cells;               /* ranked: rank 1 first, unevaluated cells last */
    int n_cells;
    int members_expected;           /* the sweep's members (0: unknown) */
    int members_evaluated;
    int members_at_end;             /* members whose latest evaluation is at `steps` */
    int64_t steps;                  /* the sweep's last step (0: unknown) */
} SweepSummary;

/* Summarises the rows of t. With sweep and base (the sweep's axes and base config) every
 * member of the cross product is expected, rows are matched to members by index, and cells
 * that no member has reported yet are listed too; without them cells come from the rows'
 * (τ, β). An error when no row has an evaluation. */
int sweep_summarize(const SweepTable *t, const Sweep *sweep, const Config *base, SweepSummary *out, Error *err);

/* The headline (which (τ, β) won, by how much) and the ranked table, as Markdown whose table
 * is aligned for a terminal too. title: the first line ("# sweep runs/x"), or NULL for none. */
void sweep_summary_print(FILE *out, const SweepSummary *s, const char *title);

/* DIR/summary.csv: rank,tau,beta,seeds,seeds_expected,final_return_mean,final_return_std,
 * best_return_mean,best_return_std,final_score_mean,final_score_std,step_min,step_max. */
int sweep_summary_write_csv(const SweepSummary *s, const char *path, Error *err);

/* DIR/summary.md: sweep_summary_print's text. */
int sweep_summary_write_md(const SweepSummary *s, const char *title, const char *path, Error *err);

void sweep_summary_free(SweepSummary *s);

#endif
