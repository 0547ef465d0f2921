/* gym_bridge.h — a gymnasium environment through tools/gym_bridge.py: the client side of the
 * protocol in docs/gym-bridge.md (a hello, then requests and replies as JSON lines).
 *
 * The bridge is a long-lived Python child process. It is started with posix_spawnp in a process
 * group of its own (a Ctrl-C or a SIGTERM to the trainer's group is the trainer's to handle; the
 * trainer then ends the bridge), and talks over one socketpair that is its stdin and stdout: a
 * socket lets requests be sent with MSG_NOSIGNAL, so a bridge that died is an EPIPE to report,
 * never a SIGPIPE that would kill the trainer. Its stderr is the trainer's.
 *
 *     GymHello h;
 *     GymBridge *b = gym_bridge_start("Hopper-v5", "", 120, &h, &err);
 *     gym_bridge_send(b, 1, "runs/x/eval-1000.h5", 10, 1000003, &err);
 *     GymReply r;
 *     int got = gym_bridge_receive(b, 0, &r, &err);   // 1: a reply, 0: none yet, -1: failure
 *     gym_bridge_stop(b, 0);
 *
 * The interpreter is $CUIQL_PYTHON, else `python3` on PATH; the script is $CUIQL_GYM_BRIDGE, else
 * the tools/gym_bridge.py of the source tree the binary was built from (CMake passes its path). */
#ifndef CUIQL_ENV_GYM_BRIDGE_H
#define CUIQL_ENV_GYM_BRIDGE_H

#include <stdint.h>
#include <sys/types.h>

#include "cuiql/error.h"

#define GYM_MAX_DIM 4096

typedef struct GymBridge GymBridge;

typedef struct {
    int obs_dim, act_dim;
    double action_low[GYM_MAX_DIM], action_high[GYM_MAX_DIM];  /* ±INFINITY where the hello says null */
    int64_t max_episode_steps;                                  /* -1: no time limit */
    int has_ref;                                                /* reference returns are known */
    char ref_name[64];
    double ref_random, ref_expert;
} GymHello;

typedef struct {
    int64_t id;
    char error[512];           /* "" unless the bridge answered with an error */
    double mean_return, std_return, mean_length;
    double normalized_score;   /* NAN when the hello had no reference returns */
    int episodes;
    double seconds;            /* the bridge's own time for the request */
} GymReply;

/* Starts the bridge for env_id (ref_scores "" = the family from env_id) and reads its hello,
 * waiting at most timeout_s. On failure (no interpreter, no script, a bridge that says ok:false,
 * exits or stays silent) the child is reaped and NULL returned with one line in err. */
GymBridge *gym_bridge_start(const char *env_id, const char *ref_scores, double timeout_s, GymHello *hello,
                            Error *err);

/* Sends one request. Fails when the bridge has gone (the message says how it ended). */
int gym_bridge_send(GymBridge *b, int64_t id, const char *checkpoint, int episodes, uint64_t seed, Error *err);

/* The next reply, waiting at most timeout_s (0: only what has already arrived). Returns 1 with
 * *reply (an error reply has reply->error set), 0 when none came in time, -1 when the bridge
 * ended or wrote something that is not a reply. */
int gym_bridge_receive(GymBridge *b, double timeout_s, GymReply *reply, Error *err);

/* Ends the bridge and reaps it; NULL is a no-op. gracefully: close its stdin and give it a few
 * seconds to exit on its own (it finishes the request at hand first); otherwise, or after that,
 * SIGTERM, then SIGKILL. */
void gym_bridge_stop(GymBridge *b, int gracefully);

pid_t gym_bridge_pid(const GymBridge *b);

/* The interpreter and script that gym_bridge_start uses (for messages and docs). */
const char *gym_bridge_python(void);
const char *gym_bridge_script(void);

#endif
