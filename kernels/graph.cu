/* graph.cu — run_step: a step function's calls launched eagerly, or captured once as a CUDA
 * graph and replayed (one launch per step instead of dozens). The first call of each step
 * function runs eagerly, so one-time work (each cuBLAS handle's first call, cuBLASLt's plans,
 * lazy loading of kernel images) never happens inside a capture, where it may synchronise; the
 * second is captured; later calls replay it. */
#include "cuda_backend.h"  /* defines: CudaBackend, StepGraph, CUDA_RECORD */

void cuda_drop_graphs(CudaBackend *cb) {
    for (int i = 0; i < CUDA_GRAPH_SLOTS; i++) {
        if (cb->graphs[i].exec) CUDA_RECORD(cb, cudaGraphExecDestroy(cb->graphs[i].exec));
        cb->graphs[i] = StepGraph{NULL, NULL, NULL};
    }
    cb->next_graph_slot = 0;
}

/* Captures issue(arg) on the step stream into a new graph slot. Host-replay copy streams fork
 * from the step stream inside sample_batch and are joined before the capture ends, so the
 * graph holds the whole step, copies included. NULL (and the error recorded) on failure. */
static StepGraph *capture_step(CudaBackend *cb, void (*issue)(void *), void *arg) {
    StepGraph *slot = &cb->graphs[cb->next_graph_slot];
    cb->next_graph_slot = (cb->next_graph_slot + 1) % CUDA_GRAPH_SLOTS;
    if (slot->exec) CUDA_RECORD(cb, cudaGraphExecDestroy(slot->exec));
    *slot = StepGraph{NULL, NULL, NULL};

    /* Thread-local mode: other threads of the process may use CUDA meanwhile, and a stray
     * synchronising call from this thread still fails the capture instead of being recorded. */
    CUDA_RECORD(cb, cudaStreamBeginCapture(cb->stream, cudaStreamCaptureModeThreadLocal));
    if (cb->failed) return NULL;
    issue(arg);
    cuda_replays_join(cb);
    cudaGraph_t graph = NULL;
    CUDA_RECORD(cb, cudaStreamEndCapture(cb->stream, &graph));  /* always: leaves capture mode */
    if (cb->failed) {
        if (graph) cudaGraphDestroy(graph);
        return NULL;
    }
    cudaGraphExec_t exec = NULL;
    CUDA_RECORD(cb, cudaGraphInstantiate(&exec, graph, 0));
    CUDA_RECORD(cb, cudaGraphDestroy(graph));
    if (cb->failed) {
        if (exec) cudaGraphExecDestroy(exec);
        return NULL;
    }
    *slot = StepGraph{issue, arg, exec};
    return slot;
}

void cuda_run_step(Backend *b, void (*issue)(void *), void *arg) {
    CudaBackend *cb = (CudaBackend *)b;
    if (cb->failed) return;  /* nothing more after a failure; status() says what went wrong */
    /* Copies left in flight by a sample_batch outside run_step: joined here, eagerly, since a
     * capture may not wait on work recorded before it began. */
    cuda_replays_join(cb);
    if (!cb->use_graphs) {
        issue(arg);
        cuda_replays_join(cb);
        return;
    }
    StepGraph *g = NULL;
    for (int i = 0; i < CUDA_GRAPH_SLOTS && !g; i++)
        if (cb->graphs[i].exec && cb->graphs[i].issue == issue && cb->graphs[i].arg == arg) g = &cb->graphs[i];
    if (!g) {
        /* The first call of a step function runs eagerly: one-time work (each cuBLAS handle's
         * first call, cuBLASLt's plans, lazy loading of kernel images) then happens outside
         * any capture, where it may synchronise. The second call is captured. */
        int warmed = 0;
        for (int i = 0; i < CUDA_GRAPH_SLOTS; i++) warmed |= cb->warmed[i].issue == issue && cb->warmed[i].arg == arg;
        if (!warmed) {
            cb->warmed[cb->next_warmed] = StepGraph{issue, arg, NULL};
            cb->next_warmed = (cb->next_warmed + 1) % CUDA_GRAPH_SLOTS;
            issue(arg);
            cuda_replays_join(cb);
            return;
        }
        g = capture_step(cb, issue, arg);
    }
    if (g) CUDA_RECORD(cb, cudaGraphLaunch(g->exec, cb->stream));
}

