/* comm_mpi.c — the Comm of include/cuiql/comm.h over MPI (built when CMake finds MPI;
 * comm_absent.c otherwise). The ranks are whatever mpirun or srun started.
 *
 * The communicator is a duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN, so a failing call
 * becomes an Error naming it instead of MPI's own abort. MPI counts are int: larger buffers go
 * in chunks (a population's gradient can pass 2^31 floats). */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm.h"

typedef struct {
    Comm base;
    MPI_Comm world;
    int we_initialized;   /* MPI_Init was ours, so MPI_Finalize is too */
} MpiComm;

/* The largest count one MPI call gets: 2^30 elements (4 GiB of floats). */
#define CHUNK ((int64_t)1 << 30)

static int mpi_error(Error *err, const char *call, int code) {
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", code);
    return error_set(err, "%s: %s", call, text);
}

static MPI_Datatype mpi_type(CommType t, size_t *bytes) {
    switch (t) {
    case COMM_DOUBLE: *bytes = sizeof(double); return MPI_DOUBLE;
    case COMM_INT: *bytes = sizeof(int); return MPI_INT;
    case COMM_FLOAT: break;
    }
    *bytes = sizeof(float);
    return MPI_FLOAT;
}

static int reduce(Comm *c, void *buf, int64_t count, MPI_Datatype type, size_t elem, MPI_Op op, Error *err) {
    MpiComm *m = (MpiComm *)c;
    for (int64_t done = 0; done < count; done += CHUNK) {
        int n = (int)(count - done < CHUNK ? count - done : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + done * (int64_t)elem, n, type, op, m->world);
        if (rc != MPI_SUCCESS) return mpi_error(err, "MPI_Allreduce", rc);
    }
    return 0;
}

static int mpi_allreduce_sum(Comm *c, void *buf, int64_t count, CommType type, Error *err) {
    size_t elem;
    MPI_Datatype t = mpi_type(type, &elem);
    return reduce(c, buf, count, t, elem, MPI_SUM, err);
}

static int mpi_allreduce_max(Comm *c, int *buf, int count, Error *err) {
    return reduce(c, buf, count, MPI_INT, sizeof(int), MPI_MAX, err);
}

static int mpi_broadcast(Comm *c, void *buf, size_t bytes, int root, Error *err) {
    MpiComm *m = (MpiComm *)c;
    for (size_t done = 0; done < bytes; done += (size_t)CHUNK) {
        int n = (int)(bytes - done < (size_t)CHUNK ? bytes - done : (size_t)CHUNK);
        int rc = MPI_Bcast((char *)buf + done, n, MPI_BYTE, root, m->world);
        if (rc != MPI_SUCCESS) return mpi_error(err, "MPI_Bcast", rc);
    }
    return 0;
}

static void mpi_abort(Comm *c, int status) {
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(((MpiComm *)c)->world, status);
    exit(status);  /* MPI_Abort does not return; this is for the compiler and for broken MPIs */
}

static const CommOps mpi_ops = {
    .allreduce_sum = mpi_allreduce_sum,
    .allreduce_max = mpi_allreduce_max,
    .broadcast = mpi_broadcast,
    .abort = mpi_abort,
};

int comm_compiled(void) { return 1; }

void comm_library(char *buf, size_t len) {
    char version[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int n = 0;
    if (MPI_Get_library_version(version, &n) != MPI_SUCCESS) snprintf(version, sizeof version, "MPI");
    version[strcspn(version, ",\n")] = '\0';  /* "Open MPI v4.1.4, package: ..." → "Open MPI v4.1.4" */
    snprintf(buf, len, "%s", version);
}

/* A task that srun started without an MPI plugin: it has a Slurm step but neither PMIx's,
 * PMI's nor mpirun's variables. MPI_Init would abort it with a page about PMI support; Debian's
 * OpenMPI, for one, speaks to Slurm only through PMIx. */
static int srun_without_pmi(void) {
    return getenv("SLURM_STEP_ID") && !getenv("PMIX_RANK") && !getenv("PMI_RANK") && !getenv("OMPI_COMM_WORLD_RANK");
}

Comm *comm_world_create(Error *err) {
    if (srun_without_pmi()) {
        error_set(err, "--data-parallel: srun started this task without an MPI plugin; use srun --mpi=pmix (or "
                       "mpirun inside the allocation)");
        return NULL;
    }
    MpiComm *m = calloc(1, sizeof *m);
    if (!m) {
        error_set(err, "out of host memory");
        return NULL;
    }
    int initialized = 0, rc = MPI_Initialized(&initialized);
    if (rc == MPI_SUCCESS && !initialized) {
        /* One thread calls MPI: the training loop's. */
        int provided = 0;
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        m->we_initialized = rc == MPI_SUCCESS;
    }
    if (rc != MPI_SUCCESS) {
        mpi_error(err, "MPI_Init_thread", rc);
        free(m);
        return NULL;
    }
    MPI_Comm node = MPI_COMM_NULL;
    const char *call = "MPI_Comm_dup";
    rc = MPI_Comm_dup(MPI_COMM_WORLD, &m->world);
    if (rc == MPI_SUCCESS) call = "MPI_Comm_set_errhandler", rc = MPI_Comm_set_errhandler(m->world, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS) call = "MPI_Comm_rank", rc = MPI_Comm_rank(m->world, &m->base.rank);
    if (rc == MPI_SUCCESS) call = "MPI_Comm_size", rc = MPI_Comm_size(m->world, &m->base.size);
    /* The ranks sharing this node's memory: this rank's place among them picks its GPU. */
    if (rc == MPI_SUCCESS)
        call = "MPI_Comm_split_type",
        rc = MPI_Comm_split_type(m->world, MPI_COMM_TYPE_SHARED, m->base.rank, MPI_INFO_NULL, &node);
    if (rc == MPI_SUCCESS) call = "MPI_Comm_rank (node)", rc = MPI_Comm_rank(node, &m->base.local_rank);
    if (node != MPI_COMM_NULL) MPI_Comm_free(&node);
    if (rc != MPI_SUCCESS) {
        mpi_error(err, call, rc);
        if (m->we_initialized) MPI_Abort(MPI_COMM_WORLD, 1);
        free(m);
        return NULL;
    }
    if (gethostname(m->base.host, sizeof m->base.host) != 0) snprintf(m->base.host, sizeof m->base.host, "?");
    m->base.host[sizeof m->base.host - 1] = '\0';
    m->base.ops = &mpi_ops;
    return &m->base;
}

void comm_destroy(Comm *c) {
    MpiComm *m = (MpiComm *)c;
    if (!m) return;
    MPI_Comm_free(&m->world);
    if (m->we_initialized) MPI_Finalize();
    free(m);
}
