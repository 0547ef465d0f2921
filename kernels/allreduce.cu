/* allreduce.cu — the data-parallel gradient all-reduce on the GPU (backend.h: allreduce_sum),
 * over NCCL: one communicator per backend, made at creation from the run's Comm (the NCCL id
 * goes from rank 0 to the others over the Comm's broadcast, i.e. MPI), and one ncclAllReduce
 * on the step stream per step. A captured step keeps it as a node of its graph: NCCL (≥ 2.9)
 * supports capture, provided every rank captures the same operations, which the ranks do by
 * running the same step the same way (graph.cu: eager first call, captured second, then
 * replays). One GPU per rank (NCCL's recommendation for capture).
 *
 * Built without NCCL (CUIQL_NCCL=OFF, or no nccl.h found, or the emulated device of
 * tests/kernel_emu), creating a backend with a Comm is refused with how to build it. */
#include <stdio.h>

#include "cuda_backend.h"  /* defines: CudaBackend, cuda_record_error */

#ifdef CUIQL_HAVE_NCCL
#include <dlfcn.h>
#include <nccl.h>

/* NCCL is loaded when a data-parallel backend is made, not linked: libnccl is 200+ MB, a
 * single-GPU run never needs it, and it lives in different places (the toolkit, /usr, a pip
 * wheel). First the library CMake found (CUIQL_NCCL_LIBRARY), then the dynamic loader's search
 * (LD_LIBRARY_PATH) by its soname. */
typedef struct {
    void *lib;
    char where[512];  /* the file loaded, or why none was */
    ncclResult_t (*GetVersion)(int *);
    ncclResult_t (*GetUniqueId)(ncclUniqueId *);
    ncclResult_t (*CommInitRank)(ncclComm_t *, int, ncclUniqueId, int);
    ncclResult_t (*CommDestroy)(ncclComm_t);
    ncclResult_t (*CommGetAsyncError)(ncclComm_t, ncclResult_t *);
    ncclResult_t (*AllReduce)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
    const char *(*GetErrorString)(ncclResult_t);
    const char *(*GetLastError)(ncclComm_t);  /* NCCL ≥ 2.13; NULL before */
} NcclApi;

static NcclApi nccl;  /* process-wide: the library is loaded once and never unloaded */

#ifndef CUIQL_NCCL_LIBRARY
#define CUIQL_NCCL_LIBRARY "libnccl.so.2"
#endif

static int nccl_load(Error *err) {
    if (nccl.lib) return 0;
    const char *tries[] = {CUIQL_NCCL_LIBRARY, "libnccl.so.2", "libnccl.so"};
    char why[384] = "";
    for (size_t i = 0; i < sizeof tries / sizeof tries[0] && !nccl.lib; i++) {
        nccl.lib = dlopen(tries[i], RTLD_NOW | RTLD_LOCAL);
        if (nccl.lib) snprintf(nccl.where, sizeof nccl.where, "%s", tries[i]);
        else if (i == 0) snprintf(why, sizeof why, "%s", dlerror());
    }
    if (!nccl.lib)
        return error_set(err, "--data-parallel on the CUDA backend needs NCCL: cannot load it (%s); put libnccl.so.2 "
                              "on LD_LIBRARY_PATH",
                         why);
    /* dlsym gives void *; each pointer's own type is the cast's target */
#define NCCL_SYM(field, name) nccl.field = reinterpret_cast<decltype(nccl.field)>(dlsym(nccl.lib, name))
    NCCL_SYM(GetVersion, "ncclGetVersion");
    NCCL_SYM(GetUniqueId, "ncclGetUniqueId");
    NCCL_SYM(CommInitRank, "ncclCommInitRank");
    NCCL_SYM(CommDestroy, "ncclCommDestroy");
    NCCL_SYM(CommGetAsyncError, "ncclCommGetAsyncError");
    NCCL_SYM(AllReduce, "ncclAllReduce");
    NCCL_SYM(GetErrorString, "ncclGetErrorString");
    NCCL_SYM(GetLastError, "ncclGetLastError");
#undef NCCL_SYM
    if (!nccl.GetVersion || !nccl.GetUniqueId || !nccl.CommInitRank || !nccl.CommDestroy || !nccl.CommGetAsyncError ||
        !nccl.AllReduce || !nccl.GetErrorString) {
        error_set(err, "%s: not an NCCL this build can use (a function is missing; NCCL 2.9 or later is needed)",
                  nccl.where);
        dlclose(nccl.lib);
        nccl.lib = NULL;
        return -1;
    }
    return 0;
}

static const char *nccl_last(ncclComm_t comm) {
    const char *last = nccl.GetLastError ? nccl.GetLastError(comm) : NULL;
    return last ? last : "";
}

/* "ncclUnhandledCudaError: unhandled cuda error (...): <NCCL's last message>" */
static int nccl_error_set(Error *err, const char *call, ncclResult_t r, ncclComm_t comm) {
    const char *last = nccl_last(comm);
    return error_set(err, "%s: %s%s%s", call, nccl.GetErrorString(r), *last ? ": " : "", last);
}

int cuda_comm_create(CudaBackend *cb, Comm *comm, Error *err) {
    if (!comm) return 0;
    /* Every rank takes part in the broadcast below whatever happened here, so that none waits on
     * another; the id travels with whether rank 0 could make it. */
    int loaded = nccl_load(err) == 0;
    struct {
        ncclUniqueId id;
        int ok;
    } shared = {};
    ncclResult_t r = ncclSuccess;
    if (comm->rank == 0 && loaded) {
        r = nccl.GetUniqueId(&shared.id);
        shared.ok = r == ncclSuccess;
    }
    Error bcast;
    if (comm->ops->broadcast(comm, &shared, sizeof shared, 0, &bcast)) {
        *err = bcast;
        return error_prefix(err, "sharing the NCCL id");
    }
    if (!loaded) return -1;
    if (r != ncclSuccess) return nccl_error_set(err, "ncclGetUniqueId", r, NULL);
    if (!shared.ok) return error_set(err, "rank 0 could not make the NCCL id (its own message says why)");
    ncclComm_t c = NULL;
    if ((r = nccl.CommInitRank(&c, comm->size, shared.id, comm->rank)) != ncclSuccess)
        return nccl_error_set(err, "ncclCommInitRank", r, NULL);
    cb->nccl = c;
    return 0;
}

void cuda_comm_destroy(CudaBackend *cb) {
    if (cb->nccl) nccl.CommDestroy(cb->nccl);  /* teardown: nobody is left to report to */
    cb->nccl = NULL;
}

/* A failure NCCL met in the background (a peer or the network gone), as the backend's error. */
void cuda_comm_status(CudaBackend *cb) {
    if (!cb->nccl || cb->failed) return;
    ncclResult_t async = ncclSuccess, r = nccl.CommGetAsyncError(cb->nccl, &async);
    if (r == ncclSuccess && async != ncclSuccess && async != ncclInProgress) r = async;
    if (r != ncclSuccess)
        cuda_record_error(cb, "ncclCommGetAsyncError", __func__, __FILE__, __LINE__, nccl.GetErrorString(r),
                          nccl_last(cb->nccl));
}

void cuda_allreduce_sum(Backend *b, float *buf, int64_t n) {
    CudaBackend *cb = (CudaBackend *)b;
    if (!cb->nccl || n <= 0) return;
    ncclResult_t r = nccl.AllReduce(buf, buf, (size_t)n, ncclFloat, ncclSum, cb->nccl, cb->op_stream);
    if (r != ncclSuccess)
        cuda_record_error(cb, "ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, nccl, op_stream)", __func__, __FILE__,
                          __LINE__, nccl.GetErrorString(r), nccl_last(cb->nccl));
}

extern "C" void cuda_backend_nccl_version(char *buf, size_t len) {
    Error err;
    int v = 0;
    if (nccl_load(&err)) {
        snprintf(buf, len, "NCCL unavailable (%s)", err.msg);
        return;
    }
    if (nccl.GetVersion(&v) != ncclSuccess) {
        snprintf(buf, len, "NCCL (version unknown) from %s", nccl.where);
        return;
    }
    /* NCCL ≥ 2.9 codes versions as major·10000 + minor·100 + patch */
    snprintf(buf, len, "NCCL %d.%d.%d from %s", v / 10000, (v % 10000) / 100, v % 100, nccl.where);
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
