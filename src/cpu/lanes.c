/* lanes.c — see lanes.h. Why: with two cores, OpenBLAS's second thread gave the step only
 * 1.24× (B = 256) because it splits each 256-wide product in two and leaves the thin layers and
 * elementwise passes on one thread; the networks' passes are independent, so giving each core
 * whole passes (one BLAS thread each) keeps both busy (bench/RESULTS.md §2b, §6). */
#include "cpu/lanes.h"

#include <pthread.h>

void lanes_fork(Lanes *l, int lanes) {
    l->recording = 1;
    l->lanes = lanes < BACKEND_MAX_LANES ? lanes : BACKEND_MAX_LANES;
    l->current = 0;
    l->n_calls = 0;
    for (int i = 0; i < BACKEND_MAX_LANES; i++) l->group[i] = i;
}

void lanes_select(Lanes *l, int lane) { l->current = lane >= 0 && lane < BACKEND_MAX_LANES ? lane : 0; }

/* The waiter's group and the source's become one: relabel every lane of one as the other. */
void lanes_wait(Lanes *l, int waiter, int source) {
    if (waiter < 0 || source < 0 || waiter >= BACKEND_MAX_LANES || source >= BACKEND_MAX_LANES) return;
    int from = l->group[waiter], to = l->group[source];
    for (int i = 0; i < BACKEND_MAX_LANES; i++)
        if (l->group[i] == from) l->group[i] = to;
}

LaneCall *lanes_record(Lanes *l) {
    if (l->n_calls == LANES_MAX_CALLS) return NULL;
    LaneCall *c = &l->calls[l->n_calls++];
    c->lane = l->current;
    return c;
}

void lanes_flush(Lanes *l, Backend *b, LaneRun run) {
    for (int i = 0; i < l->n_calls; i++) run(b, &l->calls[i]);
    l->n_calls = 0;
}

typedef struct {
    Lanes *l;
    Backend *b;
    LaneRun run;
    int worker;
    int worker_of_group[BACKEND_MAX_LANES];
} Work;

typedef struct {
    const Work *w;
    int worker;
} WorkerArg;

static void run_worker(const Work *w, int worker) {
    const Lanes *l = w->l;
    for (int i = 0; i < l->n_calls; i++)
        if (w->worker_of_group[l->group[l->calls[i].lane]] == worker) w->run(w->b, &l->calls[i]);
}

static void *worker_main(void *arg) {
    const WorkerArg *a = arg;
    run_worker(a->w, a->worker);
    return NULL;
}

/* Work of a call, to balance the groups: its multiply-adds (elementwise passes count their
 * elements, which is small beside the products). */
static double call_cost(const LaneCall *c) {
    if (c->kind == LANE_RELU_BACKWARD) return (double)c->n;
    return (double)c->g.m * c->g.n * c->g.k * c->g.batch;
}

void lanes_join(Lanes *l, Backend *b, LaneRun run, int workers) {
    l->recording = 0;
    double cost[BACKEND_MAX_LANES] = {0};
    int used[BACKEND_MAX_LANES] = {0}, n_groups = 0;
    for (int i = 0; i < l->n_calls; i++) {
        int g = l->group[l->calls[i].lane];
        cost[g] += call_cost(&l->calls[i]);
        if (!used[g]) used[g] = 1, n_groups++;
    }
    if (workers > n_groups) workers = n_groups;
    if (workers > BACKEND_MAX_LANES) workers = BACKEND_MAX_LANES;
    if (workers < 2) {
        lanes_flush(l, b, run);
        return;
    }
    /* Largest group first to the least loaded worker. */
    Work w = {.l = l, .b = b, .run = run};
    double load[BACKEND_MAX_LANES] = {0};
    int placed[BACKEND_MAX_LANES] = {0};
    for (int k = 0; k < n_groups; k++) {
        int best = -1;
        for (int g = 0; g < BACKEND_MAX_LANES; g++)
            if (used[g] && !placed[g] && (best < 0 || cost[g] > cost[best])) best = g;
        int least = 0;
        for (int t = 1; t < workers; t++)
            if (load[t] < load[least]) least = t;
        placed[best] = 1;
        w.worker_of_group[best] = least;
        load[least] += cost[best];
    }
    pthread_t threads[BACKEND_MAX_LANES];
    WorkerArg args[BACKEND_MAX_LANES];
    int started[BACKEND_MAX_LANES] = {0};
    for (int t = 1; t < workers; t++) {
        args[t] = (WorkerArg){&w, t};
        started[t] = pthread_create(&threads[t], NULL, worker_main, &args[t]) == 0;
        if (!started[t]) run_worker(&w, t);  /* no thread: run its share here, in order */
    }
    run_worker(&w, 0);
    for (int t = 1; t < workers; t++)
        if (started[t]) pthread_join(threads[t], NULL);
    l->n_calls = 0;
}
