/* sweep_results.h — a sweep's results table: one row per member and evaluation, with the
 * member's settings and its last logged losses.
 *
 * The file is DIR/sweep.csv for a whole sweep, DIR/sweep-shard-I-of-N.csv for shard I of N
 * (shards write side by side, never to one file). The process training those members rewrites
 * its file atomically (base/files.h) after every evaluation, so a killed sweep keeps its table
 * up to its last evaluation; a resumed one first drops its members' rows after their
 * checkpoint's step. `cuiql sweep-report` reads every such file of DIR and merges them.
 *
 * Columns (docs/formats.md): member (index in the full cross product), name (the member's
 * directory under DIR), tau, beta, seed, step, return, normalized_score, loss_value, loss_q,
 * loss_policy. An empty cell is a value not measured (no evaluation environment). */
#ifndef CUIQL_RUN_SWEEP_RESULTS_H
#define CUIQL_RUN_SWEEP_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "cuiql/error.h"

#define SWEEP_RESULTS_HEADER "member,name,tau,beta,seed,step,return,normalized_score,loss_value,loss_q,loss_policy"

typedef struct {
    int member;
    char name[96];
    double tau, beta;
    uint64_t seed;
    int64_t step;
    double ret, score;                          /* NaN: not evaluated */
    double loss_value, loss_q, loss_policy;     /* the member's last logged losses (NaN: none) */
} SweepRow;

typedef struct {
    SweepRow *rows;
    size_t n, cap;
} SweepTable;

/* The table's name in DIR for shard index of count: "sweep.csv" when count is 1. */
void sweep_results_file_name(int index, int count, char *buf, size_t len);

/* Appends a row (a name with a comma, quote or line break is refused: it would break the CSV). */
int sweep_table_add(SweepTable *t, const SweepRow *row, Error *err);

/* Drops the rows of member `member` after step `step` (a resumed member's future). */
void sweep_table_cut(SweepTable *t, int member, int64_t step);

/* Writes the table to path atomically, rows in the order added. */
int sweep_table_write(const SweepTable *t, const char *path, Error *err);

/* Appends the rows of the file at path. A torn last line (a file cut by a crash outside cuiql's
 * atomic write) is ignored; any other malformed line is an error naming path:line. */
int sweep_table_read(SweepTable *t, const char *path, Error *err);

/* Reads every results table in dir (sweep.csv and sweep-shard-*.csv) and merges them: a row
 * for a (member, step) that several files hold is kept once, from the newest file. Rows end
 * sorted by member, then step. *n_files: how many files were read (0: none yet). */
int sweep_table_read_dir(SweepTable *t, const char *dir, int *n_files, Error *err);

void sweep_table_free(SweepTable *t);

#endif
