/* allreduce.cu — the data-parallel gradient all-reduce on the GPU (backend.h: allreduce_sum),
 * over NCCL: one communicator per backend, made at creation from the run's Comm (the NCCL id
 * goes from rank 0 to the others over the Comm's broadcast, i.e. MPI), and one ncclAllReduce
 * on the step stream per step. A captured step keeps it as a node of its graph: NCCL (≥ 2.9)
 * supports capture, provided every rank captures the same operations, which the ranks do by
 * running the same step the same way (graph.cu: eager first call, captured second, then
 * replays). One GPU per rank (NCCL's recommendation for capture).
 *
 * Built without NCCL (CUIQL_NCCL=OFF, or none found, or the emulated device of
 * tests/kernel_emu), creating a backend with a Comm is refused with how to build it. */
#include <stdio.h>

#include "cuda_backend.h"  /* defines: CudaBackend, cuda_record_error */

#ifdef CUIQL_HAVE_NCCL
#include <nccl.h>

/* "ncclUnhandledCudaError: unhandled cuda error (...): <NCCL's last message>" */
static int nccl_error_set(Error *err, const char *call, ncclResult_t r, ncclComm_t comm) {
    const char *last = ncclGetLastError(comm);
    return error_set(err, "%s: %s%s%s", call, ncclGetErrorString(r), last && *last ? ": " : "", last ? last : "");
}

int cuda_comm_create(CudaBackend *cb, Comm *comm, Error *err) {
    if (!comm) return 0;
    /* The id travels with whether rank 0 could make it, so that no rank waits on a failed one. */
    struct {
        ncclUniqueId id;
        int ok;
    } shared = {};
    ncclResult_t r = ncclSuccess;
    if (comm->rank == 0) {
        r = ncclGetUniqueId(&shared.id);
        shared.ok = r == ncclSuccess;
    }
    if (comm->ops->broadcast(comm, &shared, sizeof shared, 0, err)) return error_prefix(err, "sharing the NCCL id");
    if (r != ncclSuccess) return nccl_error_set(err, "ncclGetUniqueId", r, NULL);
    if (!shared.ok) return error_set(err, "rank 0 could not make the NCCL id (its own message says why)");
    ncclComm_t nccl = NULL;
    if ((r = ncclCommInitRank(&nccl, comm->size, shared.id, comm->rank)) != ncclSuccess)
        return nccl_error_set(err, "ncclCommInitRank", r, NULL);
    cb->nccl = nccl;
    return 0;
}

void cuda_comm_destroy(CudaBackend *cb) {
    if (cb->nccl) ncclCommDestroy(cb->nccl);  /* teardown: nobody is left to report to */
    cb->nccl = NULL;
}

/* A failure NCCL met in the background (a peer or the network gone), as the backend's error. */
void cuda_comm_status(CudaBackend *cb) {
    if (!cb->nccl || cb->failed) return;
    ncclResult_t async = ncclSuccess, r = ncclCommGetAsyncError(cb->nccl, &async);
    if (r == ncclSuccess && async != ncclSuccess && async != ncclInProgress) r = async;
    if (r != ncclSuccess)
        cuda_record_error(cb, "ncclCommGetAsyncError", __func__, __FILE__, __LINE__, ncclGetErrorString(r),
                          ncclGetLastError(cb->nccl));
}

void cuda_allreduce_sum(Backend *b, float *buf, int64_t n) {
    CudaBackend *cb = (CudaBackend *)b;
    if (!cb->nccl || n <= 0) return;
    ncclResult_t r = ncclAllReduce(buf, buf, (size_t)n, ncclFloat, ncclSum, cb->nccl, cb->op_stream);
    if (r != ncclSuccess)
        cuda_record_error(cb, "ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, nccl, op_stream)", __func__, __FILE__,
                          __LINE__, ncclGetErrorString(r), ncclGetLastError(cb->nccl));
}

extern "C" void cuda_backend_nccl_version(char *buf, size_t len) {
    int v = 0;
    if (ncclGetVersion(&v) != ncclSuccess) {
        snprintf(buf, len, "NCCL (its version unknown)");
        return;
    }
    /* NCCL ≥ 2.9 codes versions as major·10000 + minor·100 + patch */
    snprintf(buf, len, "NCCL %d.%d.%d", v / 10000, (v % 10000) / 100, v % 100);
}

#else  /* no NCCL in this build */

int cuda_comm_create(CudaBackend *cb, Comm *comm, Error *err) {
    (void)cb;
    if (!comm) return 0;
    return error_set(err, "--data-parallel on the CUDA backend needs NCCL, which this build has not: configure with "
                          "-DCUIQL_NCCL=ON (and NCCL_ROOT=DIR when nccl.h is not with the CUDA toolkit), or train "
                          "with --device cpu");
}

void cuda_comm_destroy(CudaBackend *cb) { (void)cb; }
void cuda_comm_status(CudaBackend *cb) { (void)cb; }

void cuda_allreduce_sum(Backend *b, float *buf, int64_t n) {
    (void)b, (void)buf, (void)n;  /* no communicator: a single process has nothing to add */
}

extern "C" void cuda_backend_nccl_version(char *buf, size_t len) { snprintf(buf, len, "none (built without NCCL)"); }

#endif
