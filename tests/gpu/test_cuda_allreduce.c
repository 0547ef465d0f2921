/* test_cuda_allreduce.c — the CUDA backend's allreduce_sum over NCCL, in one process: a Comm of
 * one rank (whose broadcast has nothing to send) makes a one-rank NCCL communicator, so the
 * sum is the buffer itself. Checked eagerly and inside a captured step (NCCL in a graph), on
 * an unaligned length; a backend without a Comm leaves the buffer alone too. In a build
 * without NCCL (and on the emulated device, tests/kernel_emu, which never has it) creating a
 * backend with a Comm must be refused with how to build it. Several ranks are
 * tests/gpu_train/test_cuda_data_parallel.py's, under mpirun. Exits 77 without a device, or
 * when the build has NCCL's header but this machine no libnccl to load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_test_util.h"
#include "test_util.h"

static int one_sum(Comm *c, void *buf, int64_t count, CommType type, Error *err) {
    (void)c, (void)buf, (void)count, (void)type, (void)err;
    return 0;  /* one rank: the sum is what it holds */
}
static int one_max(Comm *c, int *buf, int count, Error *err) { (void)c, (void)buf, (void)count, (void)err; return 0; }
static int one_bcast(Comm *c, void *buf, size_t bytes, int root, Error *err) {
    (void)c, (void)buf, (void)bytes, (void)root, (void)err;
    return 0;  /* rank 0 is the root: its bytes are already here */
}
static void one_abort(Comm *c, int status) { (void)c; exit(status); }
static const CommOps one_ops = {one_sum, one_max, one_bcast, one_abort};

typedef struct {
    Backend *b;
    float *buf;
    int64_t n;
} Step;

static void issue(void *arg) {
    Step *s = arg;
    s->b->ops->allreduce_sum(s->b, s->buf, s->n);
}

int main(void) {
    char nccl[128];
    cuda_backend_nccl_version(nccl, sizeof nccl);
    Comm one = {.ops = &one_ops, .rank = 0, .size = 1, .local_rank = 0, .host = "here"};
    Error err = {{0}};
    if (strstr(nccl, "without NCCL")) {
        /* the refusal needs no device: it comes before any CUDA call that needs one */
        if (!gpu_available("cuda_allreduce")) return TEST_SKIP;
        BackendOptions opt = {.device_index = 0, .use_graphs = 1, .comm = &one};
        Backend *g = cuda_backend_create(&opt, &err);
        CHECK(!g && strstr(err.msg, "-DCUIQL_NCCL=ON"), "without NCCL a Comm is refused, saying how to build: '%s'",
              err.msg);
        if (g) g->ops->destroy(g);
        return test_finish("cuda_allreduce (built without NCCL)", 0);
    }
    if (!gpu_available("cuda_allreduce")) return TEST_SKIP;
    if (strstr(nccl, "unavailable")) {  /* built with nccl.h, but no libnccl to load here */
        printf("cuda_allreduce: skipped: %s\n", nccl);
        return TEST_SKIP;
    }
    printf("cuda_allreduce: %s\n", nccl);
    int64_t n = 1000003;  /* not a multiple of anything NCCL chunks by */
    float *host = malloc(sizeof(float) * n), *back = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) host[i] = test_rand(-3, 3);
    for (int graphs = 0; graphs < 2; graphs++)
        for (int with_comm = 0; with_comm < 2; with_comm++) {
            BackendOptions opt = {.device_index = 0, .use_graphs = graphs, .comm = with_comm ? &one : NULL};
            Backend *g = cuda_backend_create(&opt, &err);
            CHECK(g != NULL, "cuda_backend_create (comm %d): %s", with_comm, err.msg);
            if (!g) continue;
            Step s = {.b = g, .buf = g->ops->alloc(g, sizeof(float) * n, &err), .n = n};
            CHECK(s.buf && g->ops->upload(g, s.buf, host, sizeof(float) * n, &err) == 0, "upload: %s", err.msg);
            for (int k = 0; k < 4 && s.buf; k++) g->ops->run_step(g, issue, &s);  /* eager, captured, replays */
            int rc = s.buf ? g->ops->synchronize(g, &err) : -1;
            if (!rc) rc = g->ops->download(g, back, s.buf, sizeof(float) * n, &err);
            CHECK(rc == 0, "graphs %d comm %d: %s", graphs, with_comm, err.msg);
            CHECK(rc == 0 && !memcmp(back, host, sizeof(float) * n),
                  "graphs %d comm %d: 4 all-reduces over one rank leave the buffer bit for bit", graphs, with_comm);
            if (s.buf) g->ops->release(g, s.buf);
            g->ops->destroy(g);
        }
    free(host), free(back);
    return test_finish("cuda_allreduce", 0);
}
