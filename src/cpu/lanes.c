/* lanes.c — see lanes.h. Why: with two cores, OpenBLAS's second thread gave the step only
 * 1.24× (B = 256) because it splits each 256-wide product in two and leaves the thin layers and
 * elementwise passes on one thread; the networks' passes are independent, so giving each core
 * whole passes (one BLAS thread each) keeps both busy (bench/RESULTS.md §2b, §6). */
#include "cpu/lanes.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

void lanes_fork(Lanes *l) {
    l->recording = 1;
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
    int worker_of_group[BACKEND_MAX_LANES];
} Work;

static void run_worker(const Work *w, int worker) {
    const Lanes *l = w->l;
    for (int i = 0; i < l->n_calls; i++)
        if (w->worker_of_group[l->group[l->calls[i].lane]] == worker) w->run(w->b, &l->calls[i]);
}

/* Workers 1..started-1 wait for a new generation of work, run their share of it, and count
 * themselves done; worker 0 is the joining thread. */
struct LanePool {
    pthread_mutex_t mutex;
    pthread_cond_t work_ready, work_done;
    pthread_t threads[BACKEND_MAX_LANES];
    int started;          /* threads[1..started-1] run */
    unsigned generation;  /* bumped for each join's work */
    int busy;             /* workers still on this generation */
    int stop;
    LaneJob job;          /* this generation's: job(ctx, worker, job_workers) on each worker */
    void *job_ctx;
    int job_workers;
};

typedef struct {
    LanePool *pool;
    int worker;
    unsigned seen; /* the generation done before it was started: the next is its first */
} WorkerArg;

static void *worker_main(void *arg) {
    LanePool *p = ((WorkerArg *)arg)->pool;
    int worker = ((WorkerArg *)arg)->worker;
    unsigned seen = ((WorkerArg *)arg)->seen;
    free(arg);
    pthread_mutex_lock(&p->mutex);
    for (;;) {
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->work_ready, &p->mutex);
        if (p->stop) break;
        seen = p->generation;
        LaneJob job = p->job;
        void *ctx = p->job_ctx;
        int workers = p->job_workers;
        pthread_mutex_unlock(&p->mutex);
        if (worker < workers) job(ctx, worker, workers);
        pthread_mutex_lock(&p->mutex);
        if (--p->busy == 0) pthread_cond_signal(&p->work_done);
    }
    pthread_mutex_unlock(&p->mutex);
    return NULL;
}

static LanePool *pool_create(void) {
    LanePool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    int mutex = pthread_mutex_init(&p->mutex, NULL) == 0;
    int ready = pthread_cond_init(&p->work_ready, NULL) == 0;
    int done = pthread_cond_init(&p->work_done, NULL) == 0;
    if (mutex && ready && done) {
        p->started = 1;
        return p;
    }
    if (done) pthread_cond_destroy(&p->work_done);
    if (ready) pthread_cond_destroy(&p->work_ready);
    if (mutex) pthread_mutex_destroy(&p->mutex);
    free(p);
    return NULL;
}

/* A pool with at least `workers` workers if threads can be had (the joining thread is worker 0);
 * how many it has. */
static int pool_grow(Lanes *l, int workers) {
    if (!l->pool) l->pool = pool_create();
    LanePool *p = l->pool;
    if (!p) return 1;
    if (workers > BACKEND_MAX_LANES) workers = BACKEND_MAX_LANES; /* threads[]'s size */
    /* The workers start with every signal blocked (a thread inherits its creator's mask): SIGINT
     * and the other stop signals go to the training thread, whose waits they must interrupt. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    while (p->started < workers) {
        WorkerArg *a = malloc(sizeof *a);
        if (!a) break;
        *a = (WorkerArg){p, p->started, p->generation};
        if (pthread_create(&p->threads[p->started], NULL, worker_main, a) != 0) {
            free(a);
            break;
        }
        p->started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return p->started;
}

void lanes_destroy(Lanes *l) {
    LanePool *p = l->pool;
    if (!p) return;
    pthread_mutex_lock(&p->mutex);
    p->stop = 1;
    pthread_cond_broadcast(&p->work_ready);
    pthread_mutex_unlock(&p->mutex);
    for (int t = 1; t < p->started; t++) pthread_join(p->threads[t], NULL);
    pthread_cond_destroy(&p->work_done);
    pthread_cond_destroy(&p->work_ready);
    pthread_mutex_destroy(&p->mutex);
    free(p);
    l->pool = NULL;
}

/* job(ctx, w, workers) for w in 0..workers-1, worker 0 on this thread; `workers` ≤ started.
 * Every started worker wakes (those past `workers` have nothing to do). */
static void pool_run(LanePool *p, int workers, LaneJob job, void *ctx) {
    pthread_mutex_lock(&p->mutex);
    p->job = job;
    p->job_ctx = ctx;
    p->job_workers = workers;
    p->busy = p->started - 1;
    p->generation++;
    pthread_cond_broadcast(&p->work_ready);
    pthread_mutex_unlock(&p->mutex);
    job(ctx, 0, workers);
    pthread_mutex_lock(&p->mutex);
    while (p->busy > 0) pthread_cond_wait(&p->work_done, &p->mutex);
    pthread_mutex_unlock(&p->mutex);
}

void lanes_split(Lanes *l, int workers, LaneJob job, void *ctx) {
    if (workers >= 2) {
        int have = pool_grow(l, workers);
        if (have < workers) workers = have;
    }
    if (workers < 2) job(ctx, 0, 1);
    else pool_run(l->pool, workers, job, ctx);
}

static void join_job(void *ctx, int worker, int workers) {
    (void)workers;
    run_worker(ctx, worker);
}

/* Work of a call, to balance the groups: its multiply-adds (elementwise passes count their
 * elements, which is small beside the products). */
static double call_cost(const LaneCall *c) {
    if (c->kind == LANE_RELU_BACKWARD) return (double)c->n;
    return (double)c->g.m * c->g.n * c->g.k * c->g.batch;
}

/* The recorded calls' groups: which are used, the work of each, how many. */
static int count_groups(const Lanes *l, int used[BACKEND_MAX_LANES], double cost[BACKEND_MAX_LANES]) {
    int n_groups = 0;
    for (int i = 0; i < l->n_calls; i++) {
        int g = l->group[l->calls[i].lane];
        cost[g] += call_cost(&l->calls[i]);
        if (!used[g]) used[g] = 1, n_groups++;
    }
    return n_groups;
}

int lanes_group_count(const Lanes *l) {
    int used[BACKEND_MAX_LANES] = {0};
    double cost[BACKEND_MAX_LANES] = {0};
    return count_groups(l, used, cost);
}

void lanes_join(Lanes *l, Backend *b, LaneRun run, int workers) {
    l->recording = 0;
    double cost[BACKEND_MAX_LANES] = {0};
    int used[BACKEND_MAX_LANES] = {0};
    int n_groups = count_groups(l, used, cost);
    if (workers > n_groups) workers = n_groups;
    if (workers > BACKEND_MAX_LANES) workers = BACKEND_MAX_LANES;
    if (workers >= 2) { /* fewer when threads cannot be had */
        int have = pool_grow(l, workers);
        if (have < workers) workers = have;
    }
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
    pool_run(l->pool, workers, join_job, &w);
    l->n_calls = 0;
}
