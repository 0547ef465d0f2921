/* lanes.cu — fork/lane/lane_wait/join (backend.h): the lanes of one step. Without parallel_nets
 * every lane is the step stream and these only check their arguments; with it, lane i > 0 is
 * a stream of its own, forked from the step stream by an event and joined back into it, with
 * its own cuBLAS handle and workspace (concurrent GEMMs must not share a workspace). A
 * captured graph keeps the lanes as parallel branches. Experimental until measured on a GPU
 * (--parallel-nets; bench/RESULTS.md §3). */
#include "cuda_backend.h"  /* defines: CudaBackend, CUDA_RECORD, CUDA_RETURN_IF_ERROR */

/* Without parallel_nets every lane is the step stream and these only check their arguments. */
void cuda_fork(Backend *b, int lanes) {
    CudaBackend *cb = (CudaBackend *)b;
    if (cb->lanes_open) {
        cuda_record_error(cb, "fork", __func__, __FILE__, __LINE__, "invalid argument", "fork inside an open fork");
        return;
    }
    if (!cb->parallel_nets || lanes < 2) return;
    cb->lanes_open = lanes < BACKEND_MAX_LANES ? lanes : BACKEND_MAX_LANES;
    /* Inside a capture this event is what pulls the lane streams into the graph. */
    CUDA_RECORD(cb, cudaEventRecord(cb->fork_event, cb->stream));
    for (int i = 1; i < cb->lanes_open; i++) CUDA_RECORD(cb, cudaStreamWaitEvent(cb->lane_stream[i], cb->fork_event, 0));
}

void cuda_lane(Backend *b, int index) {
    CudaBackend *cb = (CudaBackend *)b;
    if (!cb->lanes_open) return;
    if (index < 0) {
        cuda_record_error(cb, "lane", __func__, __FILE__, __LINE__, "invalid argument", "negative lane index");
        return;
    }
    int i = index % cb->lanes_open;  /* more lanes asked for than there are: they share */
    cb->op_stream = cb->lane_stream[i];
    cb->op_blas = cb->lane_blas[i];
    cb->op_workspace = cb->lane_workspace[i];
    cb->op_reduce = cb->lane_reduce[i];
}

void cuda_lane_wait(Backend *b, int waiter, int source) {
    CudaBackend *cb = (CudaBackend *)b;
    if (!cb->lanes_open) return;
    if (waiter < 0 || source < 0) {
        cuda_record_error(cb, "lane_wait", __func__, __FILE__, __LINE__, "invalid argument", "negative lane index");
        return;
    }
    int w = waiter % cb->lanes_open, src = source % cb->lanes_open;
    if (w == src) return;  /* one stream: already in order */
    /* One event per source lane is enough: a wait takes the event's latest record, which the
     * host made just before it (in a capture too). */
    CUDA_RECORD(cb, cudaEventRecord(cb->lane_mark[src], cb->lane_stream[src]));
    CUDA_RECORD(cb, cudaStreamWaitEvent(cb->lane_stream[w], cb->lane_mark[src], 0));
}

void cuda_join(Backend *b) {
    CudaBackend *cb = (CudaBackend *)b;
    if (cb->lanes_open) {
        for (int i = 1; i < cb->lanes_open; i++) {
            CUDA_RECORD(cb, cudaEventRecord(cb->lane_done[i], cb->lane_stream[i]));
            CUDA_RECORD(cb, cudaStreamWaitEvent(cb->stream, cb->lane_done[i], 0));
        }
        cb->lanes_open = 0;
    }
    cb->op_stream = cb->stream;
    cb->op_blas = cb->blas;
    cb->op_workspace = cb->blas_workspace;
    cb->op_reduce = cb->reduce_workspace;
}

int cuda_lanes_create(CudaBackend *cb, Error *err) {
    cb->lane_stream[0] = cb->stream;
    cb->lane_blas[0] = cb->blas;
    cb->lane_workspace[0] = cb->blas_workspace;
    cb->lane_reduce[0] = cb->reduce_workspace;
    if (!cb->parallel_nets) return 0;
    CUDA_RETURN_IF_ERROR(err, cudaEventCreateWithFlags(&cb->fork_event, cudaEventDisableTiming));
    for (int i = 0; i < BACKEND_MAX_LANES; i++)
        CUDA_RETURN_IF_ERROR(err, cudaEventCreateWithFlags(&cb->lane_mark[i], cudaEventDisableTiming));
    for (int i = 1; i < BACKEND_MAX_LANES; i++) {
        CUDA_RETURN_IF_ERROR(err, cudaStreamCreateWithFlags(&cb->lane_stream[i], cudaStreamNonBlocking));
        CUDA_RETURN_IF_ERROR(err, cudaEventCreateWithFlags(&cb->lane_done[i], cudaEventDisableTiming));
        CUBLAS_RETURN_IF_ERROR(err, cublasCreate(&cb->lane_blas[i]));
        CUBLAS_RETURN_IF_ERROR(err, cublasSetStream(cb->lane_blas[i], cb->lane_stream[i]));
        CUDA_RETURN_IF_ERROR(err, cudaMalloc(&cb->lane_workspace[i], CUDA_BLAS_WORKSPACE_BYTES));
        CUDA_RETURN_IF_ERROR(err, cudaMalloc(&cb->lane_reduce[i], CUDA_REDUCE_WORKSPACE_BYTES));
        CUBLAS_RETURN_IF_ERROR(err, cublasSetWorkspace(cb->lane_blas[i], cb->lane_workspace[i], CUDA_BLAS_WORKSPACE_BYTES));
        CUBLAS_RETURN_IF_ERROR(err, cublasSetPointerMode(cb->lane_blas[i], CUBLAS_POINTER_MODE_HOST));
        CUBLAS_RETURN_IF_ERROR(err, cublasSetMathMode(cb->lane_blas[i], CUBLAS_DEFAULT_MATH));
    }
    return 0;
}

void cuda_lanes_destroy(CudaBackend *cb) {
    for (int i = 1; i < BACKEND_MAX_LANES; i++) {
        if (cb->lane_stream[i]) cudaStreamSynchronize(cb->lane_stream[i]);
        if (cb->lane_blas[i]) cublasDestroy(cb->lane_blas[i]);
        if (cb->lane_workspace[i]) cudaFree(cb->lane_workspace[i]);
        if (cb->lane_reduce[i]) cudaFree(cb->lane_reduce[i]);
        if (cb->lane_done[i]) cudaEventDestroy(cb->lane_done[i]);
        if (cb->lane_stream[i]) cudaStreamDestroy(cb->lane_stream[i]);
    }
    for (int i = 0; i < BACKEND_MAX_LANES; i++)
        if (cb->lane_mark[i]) cudaEventDestroy(cb->lane_mark[i]);
    if (cb->fork_event) cudaEventDestroy(cb->fork_event);
}

