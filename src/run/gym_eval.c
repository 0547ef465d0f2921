/* gym_eval.c — evaluation in a gymnasium environment while training goes on, through
 * tools/gym_bridge.py (env/gym_bridge.h; the protocol is docs/gym-bridge.md).
 *
 * At an evaluation step each member's parameters go to a weights-only file, MEMBER_DIR/
 * eval-STEP.h5 (one per member and step, so a file the bridge has yet to read is never
 * overwritten), and one request per member goes to the bridge; training goes on. While any
 * request is outstanding the socket is looked at after every step (one poll, no wait); each
 * reply is logged as a row of its own at the step it evaluated (the training columns empty)
 * and its file removed. At most MAX_ROUNDS evaluation steps are outstanding: a bridge slower
 * than training holds the loop there instead of queueing without bound, and the time it held
 * is reported at the end. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "env/gym_bridge.h"
#include "run/run_state.h"

#define MAX_ROUNDS 2
/* Importing gymnasium and MuJoCo takes 0.3 s on an idle machine; a loaded one can be far slower. */
#define HELLO_TIMEOUT_S 120.0
/* A reply's deadline: a fixed allowance plus a per-step budget ~10x the slowest measured
 * (docs/gym-bridge.md: 75-250 µs per step); an episode without a time limit counts as
 * UNLIMITED_EPISODE_STEPS. */
#define REPLY_BASE_S 60.0
#define REPLY_PER_STEP_S 0.002
#define UNLIMITED_EPISODE_STEPS 10000
/* How long one receive waits before the loops below look at the signal flag again. */
#define WAIT_SLICE_S 0.25

typedef struct {
    int64_t id, step;
    int member;
    char path[TRAIN_PATH_MAX + 32];
} Pending;

struct GymEval {
    GymBridge *bridge;
    GymHello hello;
    Pending *pending;  /* in request order, which is also the bridge's reply order */
    int n_pending, cap_pending;
    int64_t next_id;
    double held_s;     /* training time spent waiting for the backlog */
};

static int stopping(const Run *run) { return run->stop && *run->stop; }

static double reply_timeout(const Run *run) {
    int64_t steps = run->gym->hello.max_episode_steps > 0 ? run->gym->hello.max_episode_steps : UNLIMITED_EPISODE_STEPS;
    return REPLY_BASE_S + REPLY_PER_STEP_S * (double)steps * run->cfg->eval_episodes;
}

/* Distinct steps among the outstanding requests (they are in step order). */
static int rounds_outstanding(const GymEval *g) {
    int rounds = 0;
    for (int i = 0; i < g->n_pending; i++) rounds += i == 0 || g->pending[i].step != g->pending[i - 1].step;
    return rounds;
}

int gym_eval_start(Run *run, const char *env_id, Error *err) {
    const Config *c = run->cfg;
    GymEval *g = calloc(1, sizeof *g);
    if (!g) return error_set(err, "out of host memory");
    run->gym = g;
    g->bridge = gym_bridge_start(env_id, c->eval_ref_scores, HELLO_TIMEOUT_S, &g->hello, err);
    if (!g->bridge) return error_prefix(err, "config 'eval_env' (%s)", c->eval_env);
    const GymHello *h = &g->hello;
    if (h->obs_dim != run->data.obs_dim || h->act_dim != run->data.act_dim)
        return error_set(err, "config 'eval_env': %s has %d-dimensional states and %d-dimensional actions, the dataset %d and %d",
                         c->eval_env, h->obs_dim, h->act_dim, run->data.obs_dim, run->data.act_dim);
    /* The policy acts in [-max_action, max_action] (max_action · tanh): that range should be the
     * box's reach, or the policy could not take the actions the data holds, or would be clipped. */
    double reach = 0;
    for (int j = 0; j < h->act_dim; j++) reach = fmax(reach, fmax(fabs(h->action_low[j]), fabs(h->action_high[j])));
    if (isfinite(reach) && fabs(reach - c->max_action) > 1e-6 * reach)
        return error_set(err, "config 'eval_env': %s's action box reaches %g but max_action is %g (set max_action=%g)",
                         c->eval_env, reach, c->max_action, reach);
    if (!run->opt->quiet) {
        printf("eval: %s through %s (pid %ld)", c->eval_env, gym_bridge_script(), (long)gym_bridge_pid(g->bridge));
        if (h->has_ref) printf("; normalized score from %s's reference returns (random %g, expert %g)", h->ref_name,
                               h->ref_random, h->ref_expert);
        printf("\n");
    }
    return 0;
}

/* A failure of the evaluation is not one of training: the weights are fine, so they are saved. */
static int fail_and_save(Run *run, int64_t step, Error *err) {
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    Error save;
    if (run_save_checkpoints(run, step, 0, &save))
        return error_set(err, "%s: %s; saving the checkpoint of step %lld failed too (%s); the last one written is intact",
                         run_eval_name(run), msg, (long long)step, save.msg);
    char where[TRAIN_PATH_MAX + 128];
    run_checkpoint_where(run, where, sizeof where);
    return error_set(err, "%s: %s; training stopped at step %lld, checkpoint written to %s", run_eval_name(run), msg,
                     (long long)step, where);
}

static int handle_reply(Run *run, const GymReply *r, Error *err) {
    GymEval *g = run->gym;
    int i = 0;
    while (i < g->n_pending && g->pending[i].id != r->id) i++;
    if (i == g->n_pending) {
        if (r->error[0]) return error_set(err, "the gym bridge: %s", r->error);
        return error_set(err, "the gym bridge answered request %lld, which was not asked", (long long)r->id);
    }
    Pending q = g->pending[i];
    Member *m = &run->members[q.member];
    if (r->error[0])
        return error_set(err, "the evaluation of step %lld%s%s: %s", (long long)q.step, run->P > 1 ? " for " : "",
                         run->P > 1 ? m->name : "", r->error);
    double row[COL_COUNT];
    for (int k = 0; k < COL_COUNT; k++) row[k] = NAN;
    row[COL_EVAL_RETURN] = r->mean_return;
    row[COL_EVAL_SCORE] = r->normalized_score;
    if (metrics_log(m->log, q.step, row, err)) return -1;
    if (unlink(q.path) && errno != ENOENT) return error_set(err, "%s: cannot remove: %s", q.path, strerror(errno));
    run->eval_returns[q.member] = r->mean_return;
    run->eval_scores[q.member] = r->normalized_score;
    memmove(&g->pending[i], &g->pending[i + 1], sizeof *g->pending * (size_t)(g->n_pending - i - 1));
    g->n_pending--;
    int rest = 0;
    for (int k = 0; k < g->n_pending; k++) rest |= g->pending[k].step == q.step;
    if (rest) return 0;
    run->eval_step = q.step;  /* every member's evaluation of q.step is in: the sweep's table too */
    return run_record_results(run, q.step, run->eval_returns, run->eval_scores, 0, err);
}

/* Handles what has arrived; waits up to timeout_s for the first reply. 1: something was
 * handled, 0: nothing came, -1: failure. */
static int receive(Run *run, double timeout_s, Error *err) {
    GymReply r;
    int got = gym_bridge_receive(run->gym->bridge, timeout_s, &r, err);
    if (got <= 0) return got;
    if (handle_reply(run, &r, err)) return -1;
    while ((got = gym_bridge_receive(run->gym->bridge, 0, &r, err)) == 1)
        if (handle_reply(run, &r, err)) return -1;
    return got < 0 ? -1 : 1;
}

int gym_eval_poll(Run *run, int64_t step, Error *err) {
    /* With nothing outstanding only a dead bridge could be found, and a log step is soon enough. */
    if (!run->gym->n_pending && step % run->cfg->log_every) return 0;
    return receive(run, 0, err) < 0 ? fail_and_save(run, step, err) : 0;
}

/* The steps still outstanding, for messages: "500, 1000". */
static void outstanding_steps(const GymEval *g, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < g->n_pending && len < n; i++)
        if (i == 0 || g->pending[i].step != g->pending[i - 1].step)
            len += (size_t)snprintf(buf + len, n - len, "%s%lld", len ? ", " : "", (long long)g->pending[i].step);
}

/* Waits until at most `rounds` evaluation steps are outstanding. 1 when a signal cut it short. */
static int wait_rounds(Run *run, int rounds, Error *err) {
    GymEval *g = run->gym;
    double limit = reply_timeout(run) * (g->n_pending ? g->n_pending : 1), deadline = clock_seconds() + limit;
    while (rounds_outstanding(g) > rounds) {
        if (stopping(run)) return 1;
        char steps[256];
        outstanding_steps(g, steps, sizeof steps);
        if (clock_seconds() > deadline)
            return error_set(err, "the gym bridge (pid %ld) did not answer in %.0f s (evaluations of steps %s outstanding)",
                             (long)gym_bridge_pid(g->bridge), limit, steps);
        if (receive(run, WAIT_SLICE_S, err) < 0) return -1;
    }
    return 0;
}

int gym_eval_submit(Run *run, int64_t step, Error *err) {
    GymEval *g = run->gym;
    double t0 = clock_seconds();
    int w = wait_rounds(run, MAX_ROUNDS - 1, err);
    g->held_s += clock_seconds() - t0;
    if (w < 0) return fail_and_save(run, step, err);
    if (w > 0) return 0;  /* a signal: the loop saves and stops at its next step */
    if (g->n_pending + run->P > g->cap_pending) {
        int cap = 2 * (g->n_pending + run->P);
        Pending *p = realloc(g->pending, sizeof *p * (size_t)cap);
        if (!p) return error_set(err, "out of host memory");
        g->pending = p;
        g->cap_pending = cap;
    }
    if (iql_get_population(run->iql, run->pop_params, NULL, NULL, NULL, err))
        return error_prefix(err, "evaluation at step %lld", (long long)step);
    for (int p = 0; p < run->P; p++) {
        Pending *q = &g->pending[g->n_pending];
        *q = (Pending){.id = g->next_id++, .step = step, .member = p};
        if ((size_t)snprintf(q->path, sizeof q->path, "%s/eval-%lld.h5", run->members[p].dir, (long long)step) >= sizeof q->path)
            return error_set(err, "%s: path too long", run->members[p].dir);
        model_member_gather(iql_layout(run->iql), p, run->pop_params, run->params, 0);
        if (run_write_policy_file(run, p, step, q->path, err)) return fail_and_save(run, step, err);
        g->n_pending++;  /* counted before sending, so that its file is removed whatever happens next */
        if (gym_bridge_send(g->bridge, q->id, q->path, run->cfg->eval_episodes, run_eval_seed(run), err))
            return fail_and_save(run, step, err);
    }
    return 0;
}

int gym_eval_finish(Run *run, Error *err) {
    GymEval *g = run->gym;
    if (!g || !g->n_pending) return 0;
    char steps[256];
    outstanding_steps(g, steps, sizeof steps);
    int w = wait_rounds(run, 0, err);
    if (w > 0) return error_set(err, "interrupted while waiting for the gym evaluations of steps %s; the final checkpoint is written", steps);
    if (w < 0) return error_prefix(err, "%s (the final checkpoint is written)", run_eval_name(run));
    return 0;
}

double gym_eval_held_seconds(const Run *run) { return run->gym ? run->gym->held_s : 0; }

void gym_eval_close(Run *run) {
    GymEval *g = run->gym;
    if (!g) return;
    /* With replies outstanding the run is ending on an error or a signal: no use waiting for them. */
    gym_bridge_stop(g->bridge, g->n_pending == 0);
    /* Best effort: an error that ends the run is already being reported, and a policy file left
     * behind is only a few hundred kilobytes beside the run's checkpoints. */
    for (int i = 0; i < g->n_pending; i++) unlink(g->pending[i].path);
    free(g->pending);
    free(g);
    run->gym = NULL;
}
