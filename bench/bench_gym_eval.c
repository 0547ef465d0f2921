/* bench_gym_eval.c — what evaluation through the gym bridge costs the trainer
 * (docs/gym-bridge.md, "Cost to training").
 *
 *   build/bench_gym_eval [ENV_ID [OBS ACT [HIDDEN [EPISODES]]]]     (Hopper-v5 11 3 256 10)
 *
 * 1. The weights-only policy file written per member and evaluation (checkpoint_write, params
 *    only, atomic): best and median of 50 writes, with the model's size.
 * 2. Starting the bridge up to its hello line.
 * 3. A request's round trip: send, reply received, against the bridge's own "seconds" (the
 *    difference is the protocol's cost: JSON, the socket, loading the file in Python).
 * 4. Looking for a reply that has not come (what the trainer does after each step while a
 *    request is outstanding): best and median of 10,000 calls of gym_bridge_receive(b, 0).
 * Needs gymnasium[mujoco] for the default environment (tools/gym_bridge.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "algo/model.h"
#include "checkpoint/checkpoint.h"
#include "env/gym_bridge.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void summary(const char *what, double *t, int n, double scale, const char *unit) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    printf("%s: best %.3f %s, median %.3f %s (%d runs)\n", what, t[0] * scale, unit, t[n / 2] * scale, unit, n);
}

int main(int argc, char **argv) {
    const char *env_id = argc > 1 ? argv[1] : "Hopper-v5";
    int obs = argc > 3 ? atoi(argv[2]) : 11, act = argc > 3 ? atoi(argv[3]) : 3;
    int width = argc > 4 ? atoi(argv[4]) : 256, episodes = argc > 5 ? atoi(argv[5]) : 10;
    int hidden[2] = {width, width};
    Error err;
    ModelLayout L;
    if (model_layout_init(&L, 1, obs, act, hidden, 2, &err)) {
        fprintf(stderr, "bench_gym_eval: %s\n", err.msg);
        return 1;
    }
    float *params = malloc(L.n_params * sizeof(float));
    uint64_t seed = 1;
    if (!params) return 1;
    model_init_host(&L, params, &seed);
    CheckpointMeta meta = {.step = 1, .obs_dim = obs, .act_dim = act, .n_hidden = 2, .max_action = 1.0, .batch_seed = -1,
                           .reward_scale = 1.0};
    memcpy(meta.hidden, hidden, sizeof hidden);
    char path[64];
    snprintf(path, sizeof path, "/tmp/bench_gym_eval.%ld.h5", (long)getpid());

    enum { WRITES = 50, POLLS = 10000 };
    double t[POLLS];
    for (int i = 0; i < WRITES; i++) {
        double t0 = now_s();
        if (checkpoint_write(path, &L, &meta, params, NULL, NULL, NULL, &err)) {
            fprintf(stderr, "bench_gym_eval: %s\n", err.msg);
            return 1;
        }
        t[i] = now_s() - t0;
    }
    printf("policy file: %zu parameters (%.2f MB of float32), obs %d, act %d, hidden [%d, %d]\n", L.n_params,
           L.n_params * 4e-6, obs, act, width, width);
    summary("policy file write (checkpoint_write, params only)", t, WRITES, 1e3, "ms");

    GymHello *hello = malloc(sizeof *hello);
    if (!hello) return 1;
    double t0 = now_s();
    GymBridge *b = gym_bridge_start(env_id, "", 120, hello, &err);
    if (!b) {
        fprintf(stderr, "bench_gym_eval: %s\n", err.msg);
        return 1;
    }
    printf("bridge start up to its hello: %.3f s (%s %s %s)\n", now_s() - t0, gym_bridge_python(), gym_bridge_script(),
           env_id);
    if (hello->obs_dim != obs || hello->act_dim != act) {
        fprintf(stderr, "bench_gym_eval: %s has obs %d act %d; give them\n", env_id, hello->obs_dim, hello->act_dim);
        return 1;
    }
    for (int i = 0; i < 5; i++) {
        GymReply r;
        t0 = now_s();
        if (gym_bridge_send(b, i, path, episodes, 1000003, &err) || gym_bridge_receive(b, 600, &r, &err) != 1) {
            fprintf(stderr, "bench_gym_eval: %s\n", err.msg);
            return 1;
        }
        double rt = now_s() - t0;
        printf("request %d: round trip %.3f s, bridge's own %.3f s, protocol %.1f ms; %d episodes of mean length %.0f\n",
               i, rt, r.seconds, (rt - r.seconds) * 1e3, r.episodes, r.mean_length);
    }
    if (gym_bridge_send(b, 99, path, episodes, 1000003, &err)) {
        fprintf(stderr, "bench_gym_eval: %s\n", err.msg);
        return 1;
    }
    int early = 0;
    for (int i = 0; i < POLLS; i++) {
        GymReply r;
        double p0 = now_s();
        int got = gym_bridge_receive(b, 0, &r, &err);
        t[i] = now_s() - p0;
        if (got < 0) {
            fprintf(stderr, "bench_gym_eval: %s\n", err.msg);
            return 1;
        }
        if (got == 1) {  /* the reply came before the polls were done: count what was measured */
            early = i + 1;
            break;
        }
    }
    summary("looking for a reply that has not come (gym_bridge_receive, no wait)", t, early ? early : POLLS, 1e6, "µs");
    gym_bridge_stop(b, 1);
    unlink(path);
    free(hello);
    free(params);
    return 0;
}
