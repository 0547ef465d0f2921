/* test_data_parallel_run.c — the run layer's collectives of a data-parallel run
 * (run/data_parallel.c) against a second rank played in process by a fake Comm, for what
 * mpirun cannot provoke: replicas whose parameters have come apart are caught at a checkpoint,
 * a signal on the other rank alone stops this one too, and rank 0 is the only writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/data_parallel.h"
#include "test_util.h"

/* The other rank: its contribution to every max-reduction is what `other` makes of ours. */
typedef enum { SAME, DIFFERENT, SIGNALLED } OtherRank;

typedef struct {
    Comm base;
    OtherRank other;
} FakeComm;

static int fake_sum(Comm *c, void *buf, int64_t n, CommType t, Error *e) { (void)c, (void)buf, (void)n, (void)t, (void)e; return 0; }
static int fake_bcast(Comm *c, void *buf, size_t n, int root, Error *e) { (void)c, (void)buf, (void)n, (void)root, (void)e; return 0; }
static void fake_abort(Comm *c, int status) { (void)c; exit(status); }

static int fake_max(Comm *c, int *buf, int count, Error *err) {
    (void)err;
    FakeComm *f = (FakeComm *)c;
    if (f->other == SIGNALLED) {  /* the stop flag: the other rank got SIGTERM */
        for (int i = 0; i < count; i++) buf[i] = buf[i] > 15 ? buf[i] : 15;
        return 0;
    }
    if (f->other == SAME) return 0;  /* max(v, v) = v */
    /* the replica check's eight ints: 16-bit pieces v and 65535 − v; the other rank's digest
     * differs in its lowest bit */
    for (int k = 0; k < count / 2; k++) {
        int v = buf[k], w = v ^ 1;
        buf[k] = v > w ? v : w;
        buf[count / 2 + k] = 0xffff - (v < w ? v : w);
    }
    return 0;
}

static const CommOps fake_ops = {fake_sum, fake_max, fake_bcast, fake_abort};

int main(void) {
    Error err = {{0}};
    int S = 3, A = 2, N = 64;
    float *states = calloc((size_t)N * S, 4), *actions = calloc((size_t)N * A, 4), *rewards = calloc(N, 4);
    float *terms = calloc(N, 4);
    uint32_t rows[64];
    for (int i = 0; i < N; i++) rows[i] = (uint32_t)i, states[i * S] = (float)i / N;
    ReplaySource src = {.n = N, .n_states = N, .obs_dim = S, .act_dim = A, .states = states, .state_row = rows,
                        .next_row = rows, .actions = actions, .rewards = rewards, .terminals = terms};

    FakeComm fc = {.base = {.ops = &fake_ops, .rank = 1, .size = 2, .local_rank = 1, .host = "here"}};
    TrainOptions *opt = calloc(1, sizeof *opt);
    config_defaults(&opt->cfg);
    opt->cfg.batch_size = 16;
    opt->cfg.hidden[0] = opt->cfg.hidden[1] = 8;
    opt->comm = &fc.base;
    BackendOptions bopt = {.threads = 1, .comm = &fc.base};
    Backend *b = cpu_backend_create(&bopt, &err);
    MemberSpec m = {.tau = 0.7, .beta = 1.0, .seed = 3};
    Run run = {.opt = opt, .cfg = &opt->cfg, .backend = b, .P = 1};
    run.iql = iql_create_parallel(b, &opt->cfg, &m, 1, &src, &fc.base, &err);
    CHECK(run.iql != NULL, "state: %s", err.msg);
    if (!run.iql) return test_finish("data_parallel_run", 0);
    run.pop_params = malloc(sizeof(float) * iql_layout(run.iql)->n_params);

    CHECK(!dp_is_writer(&run), "rank 1 does not write");
    CHECK(dp_device_index(&run) == 0, "no GPU here: device 0");

    fc.other = SAME;
    CHECK(dp_check_replicas(&run, 10, &err) == 0 && !run.agreed, "equal replicas pass: %s", err.msg);
    fc.other = DIFFERENT;
    CHECK(dp_check_replicas(&run, 20, &err) != 0 && run.agreed && strstr(err.msg, "step 20") &&
              strstr(err.msg, "no longer the same"),
          "replicas one bit apart are caught, on every rank alike: '%s'", err.msg);

    int stop = 0;
    fc.other = SAME;
    CHECK(dp_agree_stop(&run, &stop, &err) == 0 && stop == 0, "no signal anywhere: no stop");
    fc.other = SIGNALLED;
    CHECK(dp_agree_stop(&run, &stop, &err) == 0 && stop == 15, "a SIGTERM on the other rank stops this one (%d)", stop);

    fc.base.rank = 0;
    CHECK(dp_is_writer(&run), "rank 0 writes");
    opt->comm = NULL;
    CHECK(dp_is_writer(&run) && dp_check_replicas(&run, 30, &err) == 0, "a single process writes and has one replica");

    iql_destroy(run.iql);
    b->ops->destroy(b);
    free(run.pop_params), free(opt), free(states), free(actions), free(rewards), free(terms);
    return test_finish("data_parallel_run", 0);
}
