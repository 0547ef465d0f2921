/* comm.h — the ranks of a data-parallel run: starting the communicator (MPI), and the two rules
 * every rank follows when something fails (docs/algorithm.md, "Data parallel").
 *
 * The Comm itself (its operations) is include/cuiql/comm.h, which the backends and the
 * algorithm see; this layer makes one and adds what only the run and the command need.
 *
 *   Failure before training starts: every rank reaches comm_agree() with its own result, and
 *   every rank leaves with the first failing rank's message, so rank 0 alone prints one line.
 *   Failure once training runs (the others may wait in a collective of the step): comm_fail()
 *   prints the line and ends every rank at once; checkpoints already written stay intact. */
#ifndef CUIQL_COMM_COMM_H
#define CUIQL_COMM_COMM_H

#include <stddef.h>

#include "cuiql/comm.h"

/* 1 when this build can start ranks (it was built with MPI). */
int comm_compiled(void);

/* The MPI library, "Open MPI v4.1.4", or why there is none. */
void comm_library(char *buf, size_t len);

/* Starts MPI and returns the job's communicator (every rank calls it once). NULL, with a line
 * saying how to build it, when this build has no MPI; NULL with MPI's reason when it fails. */
Comm *comm_world_create(Error *err);

/* Ends MPI (collective: every rank, at the end of a run that did not fail). */
void comm_destroy(Comm *c);

/* Collective. Each rank gives its own result rc (0 or -1 with err). Returns 0 when every rank
 * succeeded; otherwise -1 on every rank, with err set to the lowest failing rank's message,
 * "rank R of N (HOST): MESSAGE", plus how many ranks failed when more than one did. */
int comm_agree(Comm *c, int rc, Error *err);

/* Prints "PROGRAM: rank R of N (HOST): MESSAGE" to stderr and ends every rank with status 1.
 * For a failure one rank meets alone while the others may be waiting on it. */
void comm_fail(Comm *c, const char *program, const Error *err)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;

/* "rank R of N (HOST)", for messages. */
void comm_describe_rank(const Comm *c, char *buf, size_t len);

#endif
