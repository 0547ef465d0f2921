/* comm.h — the communicator of a data-parallel run, as every layer sees it: which rank this
 * process is, how many there are, and the few host-side collectives the run needs.
 *
 * The implementation over MPI lives in src/comm/ (the ranks are started by mpirun or srun);
 * the backends and the algorithm get a Comm * and call its operations, so neither links MPI.
 * The CPU backend all-reduces its gradient buffer through allreduce_sum; the CUDA backend uses
 * broadcast once to share its NCCL id and then reduces on the device (docs/algorithm.md,
 * "Data parallel").
 *
 * Every operation is collective: all ranks call it, in the same order, with the same count
 * and root. Buffers are host memory. Operations return 0, or -1 with err naming the call. */
#ifndef CUIQL_COMM_H
#define CUIQL_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "cuiql/error.h"

typedef enum { COMM_FLOAT, COMM_DOUBLE, COMM_INT } CommType;

typedef struct Comm Comm;

typedef struct {
    /* buf[i] = Σ over ranks of buf[i], on every rank (in place). */
    int (*allreduce_sum)(Comm *, void *buf, int64_t count, CommType type, Error *err);
    /* buf[i] = max over ranks of buf[i], on every rank (in place). */
    int (*allreduce_max)(Comm *, int *buf, int count, Error *err);
    /* root's bytes into every rank's buf. */
    int (*broadcast)(Comm *, void *buf, size_t bytes, int root, Error *err);
    /* Ends every rank of the job at once with this exit status; does not return. */
    void (*abort)(Comm *, int status);
} CommOps;

struct Comm {
    const CommOps *ops;
    int rank, size;          /* this process, of size ranks */
    int local_rank;          /* this process among the ranks on its node (picks the GPU) */
    char host[64];           /* the node's name, for messages */
};

#endif
