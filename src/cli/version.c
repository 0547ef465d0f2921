/* version.c — `cuiql --version`: what this build contains and which libraries it runs on. */
#include <hdf5.h>
#include <stdio.h>
#include <yaml.h>

#include "cli/commands.h"
#include "comm/comm.h"
#include "cuiql/cpu_blas.h"
#include "run/backend_select.h"

#ifdef CUIQL_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

void print_version(void) {
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    printf("cuiql %s\n", CUIQL_VERSION);
    printf("backends: cpu%s\n", backend_cuda_compiled() ? ", cuda" : "");
    char blas[256];
    cpu_blas_describe(blas, sizeof blas);
    printf("HDF5 %u.%u.%u, libyaml %s\n", maj, min, rel, yaml_get_version_string());
    printf("CPU BLAS (-DCUIQL_BLAS=%s): %s\n", CUIQL_BLAS, blas);
#ifdef CUIQL_HAVE_CUDA
    int runtime = 0, driver = 0;
    cudaRuntimeGetVersion(&runtime);
    if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
    printf("CUDA runtime %d.%d, ", runtime / 1000, (runtime % 1000) / 10);
    if (driver) printf("driver %d.%d\n", driver / 1000, (driver % 1000) / 10);
    else printf("no NVIDIA driver (device auto trains on the CPU)\n");
#endif
    char mpi[128], nccl[128] = "";
    comm_library(mpi, sizeof mpi);
#ifdef CUIQL_HAVE_CUDA
    cuda_backend_nccl_version(nccl, sizeof nccl);
#endif
    printf("data parallel (--data-parallel): %s%s%s\n", mpi, nccl[0] ? "; GPUs: " : "", nccl);
}
