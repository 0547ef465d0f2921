/* comm_absent.c — a build without MPI (CUIQL_MPI=OFF, or none found): no ranks to start, and
 * --data-parallel says how to get them. Built instead of comm_mpi.c. */
#include <stdio.h>

#include "comm/comm.h"

int comm_compiled(void) { return 0; }

void comm_library(char *buf, size_t len) { snprintf(buf, len, "none (built without MPI)"); }

Comm *comm_world_create(Error *err) {
    error_set(err, "--data-parallel: this build of cuiql has no MPI; install OpenMPI (apt-get install "
                   "libopenmpi-dev openmpi-bin) and configure with -DCUIQL_MPI=ON");
    return NULL;
}

void comm_destroy(Comm *c) { (void)c; }
