/* sweep.h — a sweep: the cross product of values of tau, beta and seed, trained as the members
 * of one population, and the file that records it in the run directory.
 *
 * Members are numbered in the cross product's order, the first axis outermost and the last
 * innermost (tau, beta, seed in the usual order of --sweep flags). Every member shares the
 * population's batches, drawn from the base config's batch stream (config_batch_seed), so
 * member m equals a single run with its own tau, beta and seed and the sweep's batch_seed.
 *
 * DIR/sweep.txt holds one "KEY=V1,V2,..." line per axis; `cuiql train --resume` reads it back
 * to rebuild the same population. Both directions are here. */
#ifndef CUIQL_RUN_SWEEP_H
#define CUIQL_RUN_SWEEP_H

#include <stdio.h>

#include "algo/config.h"
#include "cuiql/error.h"

#define SWEEP_MAX_AXES 3
#define SWEEP_MAX_VALUES 256
#define SWEEP_MAX_MEMBERS 4096

typedef struct {
    char key[8];                     /* tau, beta or seed */
    int n;
    double values[SWEEP_MAX_VALUES];
} SweepAxis;

typedef struct {
    SweepAxis axes[SWEEP_MAX_AXES];
    int n_axes;                      /* 0: a single run */
} Sweep;

/* Parses "KEY=V1,V2,..." (KEY: tau, beta, seed) into a new axis. A value given twice is
 * refused, as is a seed above 2^53 (values are doubles). */
int sweep_add_axis(Sweep *sweep, const char *assignment, Error *err);

/* Members of the cross product (1 for a single run); -1 with err when over SWEEP_MAX_MEMBERS. */
int sweep_member_count(const Sweep *sweep, Error *err);

/* The config of member m: base with that member's tau, beta and seed, and for a sweep the
 * base's batch seed made explicit (so every member draws the population's batches). The
 * result is validated; an error names the member. */
int sweep_member_config(const Sweep *sweep, const Config *base, int m, Config *out, Error *err);

/* The member's directory name under the sweep's run directory, "tau0.7-beta3-seed0": each
 * number as %g when that reads back exactly, else with as many digits as it takes
 * ("tau0.5000001"), so two distinct members never share a directory. */
void sweep_member_name(const Config *member, char *buf, size_t len);

/* DIR/sweep.txt: written for a sweep (nothing for a single run); read back on resume (0 and
 * nothing added when the file does not exist: the run was not a sweep). */
int sweep_write_file(const Sweep *sweep, const char *dir, Error *err);
int sweep_read_file(Sweep *sweep, const char *dir, Error *err);
/* sweep.txt's content, for a writer of its own (a shard's, run/sweep_run.c); arg: the Sweep. */
int sweep_write_axes(FILE *out, void *sweep, Error *err);

#endif
