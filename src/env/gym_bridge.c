/* gym_bridge.c — the client of tools/gym_bridge.py (gym_bridge.h): the child process, its
 * socket, and the JSON lines of docs/gym-bridge.md. */
#define _GNU_SOURCE  /* posix_spawn_file_actions_addclosefrom_np */
#include "env/gym_bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/json.h"

extern char **environ;

#ifndef CUIQL_GYM_BRIDGE_DEFAULT
#define CUIQL_GYM_BRIDGE_DEFAULT "tools/gym_bridge.py"
#endif

/* A reply is a few hundred bytes and the hello grows with the action size (≈ 40 bytes per
 * dimension); a line longer than this is not the bridge talking. */
#define MAX_LINE (1 << 20)
/* How long a request may wait for room in the socket before the bridge counts as hung. */
#define SEND_TIMEOUT_S 600

struct GymBridge {
    pid_t pid;
    int fd;               /* our end of the socket (its stdin and stdout); -1 once closed */
    int err_fd;           /* the read end of its stderr; -1 once at its end */
    char tail[1024];      /* the end of what it wrote to stderr, for the message when it fails */
    size_t tail_len;
    int reaped, status;   /* waitpid's status once reaped (-1: reaped by someone else) */
    char what[256];       /* "python3 tools/gym_bridge.py Hopper-v5" for messages */
    char *buf;            /* bytes read and not yet consumed */
    size_t len, cap;
    size_t used;          /* the line handed out last, newline included (consume_line drops it) */
};

const char *gym_bridge_python(void) {
    const char *p = getenv("CUIQL_PYTHON");
    return p && *p ? p : "python3";
}

const char *gym_bridge_script(void) {
    const char *s = getenv("CUIQL_GYM_BRIDGE");
    return s && *s ? s : CUIQL_GYM_BRIDGE_DEFAULT;
}

pid_t gym_bridge_pid(const GymBridge *b) { return b->pid; }

/* Reaps the child if it has ended, waiting up to timeout_s; 1 once reaped. */
static int reap(GymBridge *b, double timeout_s) {
    double deadline = clock_seconds() + timeout_s;
    while (!b->reaped) {
        int status;
        pid_t r = waitpid(b->pid, &status, WNOHANG);
        if (r == b->pid) {
            b->reaped = 1;
            b->status = status;
        } else if (r < 0 && errno != EINTR) {
            b->reaped = 1;  /* ECHILD: nothing left to wait for */
            b->status = -1;
        } else if (r == 0) {
            if (clock_seconds() >= deadline) return 0;
            struct timespec pause = {0, 5000000};
            nanosleep(&pause, NULL);  /* an early wake-up by a signal only shortens the pause */
        }
    }
    return 1;
}

/* "exited with status 1", "was killed by signal 9 (Killed)", or that it is still running. */
static void describe_end(GymBridge *b, char *out, size_t n) {
    if (!reap(b, 2.0)) snprintf(out, n, "closed its output but is still running");
    else if (b->status == -1) snprintf(out, n, "ended (its status was collected elsewhere)");
    else if (WIFEXITED(b->status)) snprintf(out, n, "exited with status %d", WEXITSTATUS(b->status));
    else if (WIFSIGNALED(b->status))
        snprintf(out, n, "was killed by signal %d (%s)", WTERMSIG(b->status), strsignal(WTERMSIG(b->status)));
    else snprintf(out, n, "ended with wait status %d", b->status);
}

/* Reads what the bridge wrote to stderr, keeping the last sizeof tail bytes. Its stderr is
 * kept from the terminal (a failure is reported in one line, with its last words) but must be
 * read, or a bridge that writes much would block on a full pipe. */
static void drain_stderr(GymBridge *b) {
    char chunk[4096];
    while (b->err_fd >= 0) {
        ssize_t got = read(b->err_fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                close(b->err_fd);  /* at its end (or unreadable): nothing more to keep */
                b->err_fd = -1;
            }
            return;
        }
        size_t n = (size_t)got, cap = sizeof b->tail;
        if (n >= cap) {
            memcpy(b->tail, chunk + n - cap, cap);
            b->tail_len = cap;
        } else {
            size_t keep = b->tail_len + n > cap ? cap - n : b->tail_len;
            memmove(b->tail, b->tail + b->tail_len - keep, keep);
            memcpy(b->tail + keep, chunk, n);
            b->tail_len = keep + n;
        }
    }
}

/* The last non-blank line the bridge wrote to stderr ("" if none), control characters blanked. */
static void last_words(GymBridge *b, char *out, size_t n) {
    size_t end = b->tail_len;
    while (end > 0 && (unsigned char)b->tail[end - 1] <= ' ') end--;
    size_t start = end;
    while (start > 0 && b->tail[start - 1] != '\n') start--;
    size_t len = end - start < n - 1 ? end - start : n - 1;
    for (size_t i = 0; i < len; i++) out[i] = (unsigned char)b->tail[start + i] < ' ' ? ' ' : b->tail[start + i];
    out[len] = '\0';
}

static int ended(GymBridge *b, const char *when, Error *err) {
    char how[128], words[300];
    describe_end(b, how, sizeof how);
    /* Once it has ended its stderr reaches its end too: read all of it (bounded, if a
     * grandchild still holds the pipe). */
    for (double t_end = clock_seconds() + 1.0; b->err_fd >= 0 && clock_seconds() < t_end;) {
        struct pollfd pfd = {.fd = b->err_fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) < 0 && errno != EINTR) break;
        drain_stderr(b);
    }
    last_words(b, words, sizeof words);
    return error_set(err, "the gym bridge (%s, pid %ld) %s %s%s%s", b->what, (long)b->pid, how, when,
                     words[0] ? "; its last words: " : "", words);
}

/* The next complete line (without its newline) into *line, which stays valid until the next
 * call. 1: a line; 0: none within timeout_s; -1: end of output or an error. */
static int read_line(GymBridge *b, double timeout_s, char **line, const char *when, Error *err) {
    double deadline = clock_seconds() + timeout_s;
    for (;;) {
        char *nl = b->len ? memchr(b->buf, '\n', b->len) : NULL;
        if (nl) {
            /* The line is handed out in place; consume_line drops it. */
            *nl = '\0';
            *line = b->buf;
            b->used = (size_t)(nl - b->buf) + 1;
            return 1;
        }
        if (b->len >= MAX_LINE)
            return error_set(err, "the gym bridge (%s) wrote a line of more than %d bytes %s", b->what, MAX_LINE, when);
        if (b->cap - b->len < 4096) {
            size_t cap = b->cap ? 2 * b->cap : 8192;
            char *nb = realloc(b->buf, cap);
            if (!nb) return error_set(err, "out of memory reading the gym bridge");
            b->buf = nb;
            b->cap = cap;
        }
        ssize_t got = read(b->fd, b->buf + b->len, b->cap - b->len);
        if (got > 0) {
            b->len += (size_t)got;
            continue;
        }
        if (got == 0 || (got < 0 && errno == ECONNRESET)) return ended(b, when, err);
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return error_set(err, "reading from the gym bridge (%s) %s: %s", b->what, when, strerror(errno));
        drain_stderr(b);
        double left = deadline - clock_seconds();
        if (left <= 0) return 0;
        struct pollfd pfd[2] = {{.fd = b->fd, .events = POLLIN}, {.fd = b->err_fd, .events = POLLIN}};
        int ms = left > 1e6 ? 1000000000 : (int)ceil(left * 1000);
        int r = poll(pfd, b->err_fd >= 0 ? 2 : 1, ms);
        /* A signal cuts the wait short: the caller's loop looks at why (an interrupt) and calls again. */
        if (r < 0 && errno == EINTR) return 0;
        if (r < 0) return error_set(err, "waiting for the gym bridge (%s) %s: %s", b->what, when, strerror(errno));
    }
}

/* Drops the line handed out by the last read_line. */
static void consume_line(GymBridge *b) {
    memmove(b->buf, b->buf + b->used, b->len - b->used);
    b->len -= b->used;
    b->used = 0;
}

/* ---- the hello -------------------------------------------------------------------------------- */

static int get_int(const JsonValue *v, const char *key, int64_t lo, int64_t hi, int64_t *out) {
    const JsonValue *x = json_get(v, key);
    if (!x || x->type != JSON_NUMBER || x->number != floor(x->number) || x->number < (double)lo || x->number > (double)hi)
        return -1;
    *out = (int64_t)x->number;
    return 0;
}

static int get_number(const JsonValue *v, const char *key, double *out) {
    const JsonValue *x = json_get(v, key);
    if (!x || x->type != JSON_NUMBER) return -1;
    *out = x->number;
    return 0;
}

static int bounds(const JsonValue *v, const char *key, int n, double *out, double if_null) {
    const JsonValue *a = json_get(v, key);
    if (!a || a->type != JSON_ARRAY || a->count != (size_t)n) return -1;
    for (int j = 0; j < n; j++) {
        const JsonValue *x = &a->items[j];
        if (x->type == JSON_NULL) out[j] = if_null;
        else if (x->type == JSON_NUMBER) out[j] = x->number;
        else return -1;
    }
    return 0;
}

static int parse_hello(GymBridge *b, const char *line, GymHello *h, Error *err) {
    Error perr;
    JsonValue *v = json_parse(line, b->used - 1, &perr);
    if (!v) return error_set(err, "the gym bridge (%s) began with a line that is not JSON (%s): %.120s", b->what, perr.msg, line);
    int rc = 0;
    const JsonValue *ok = json_get(v, "ok"), *msg = json_get(v, "error"), *ref = json_get(v, "ref");
    int64_t obs = 0, act = 0, mes = -1;
    memset(h, 0, sizeof *h);
    if (!ok || ok->type != JSON_BOOL) {
        rc = error_set(err, "the gym bridge (%s) began with a line that is not a hello: %.120s", b->what, line);
    } else if (!ok->boolean) {
        rc = error_set(err, "%s", msg && msg->type == JSON_STRING ? msg->string : "the gym bridge said ok: false");
    } else if (get_int(v, "obs_dim", 1, GYM_MAX_DIM, &obs) || get_int(v, "act_dim", 1, GYM_MAX_DIM, &act)) {
        rc = error_set(err, "the gym bridge's hello has no obs_dim and act_dim from 1 to %d: %.200s", GYM_MAX_DIM, line);
    } else if (bounds(v, "action_low", (int)act, h->action_low, -INFINITY) ||
               bounds(v, "action_high", (int)act, h->action_high, INFINITY)) {
        rc = error_set(err, "the gym bridge's hello has no action_low and action_high of %d numbers: %.200s", (int)act, line);
    } else if (json_get(v, "max_episode_steps") && json_get(v, "max_episode_steps")->type != JSON_NULL &&
               get_int(v, "max_episode_steps", 1, INT64_MAX / 2, &mes)) {
        rc = error_set(err, "the gym bridge's hello has a max_episode_steps that is not a positive integer: %.200s", line);
    } else if (ref && ref->type == JSON_OBJECT) {
        const JsonValue *name = json_get(ref, "name");
        if (!name || name->type != JSON_STRING || get_number(ref, "random", &h->ref_random) ||
            get_number(ref, "expert", &h->ref_expert) || h->ref_expert == h->ref_random)
            rc = error_set(err, "the gym bridge's hello has a malformed ref: %.200s", line);
        else {
            h->has_ref = 1;
            snprintf(h->ref_name, sizeof h->ref_name, "%s", name->string);
        }
    }
    if (!rc) {
        h->obs_dim = (int)obs;
        h->act_dim = (int)act;
        h->max_episode_steps = mes;
    }
    json_free(v);
    return rc;
}

/* ---- the process ------------------------------------------------------------------------------ */

/* fd moved to a number of at least 3 (so that dup2 onto 0 and 1 in the child cannot meet it). */
static int above_stdio(int *fd, Error *err) {
    if (*fd > 2) return 0;
    int moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return error_set(err, "gym bridge: fcntl(F_DUPFD_CLOEXEC): %s", strerror(errno));
    if (close(*fd)) {
        close(moved);
        return error_set(err, "gym bridge: close: %s", strerror(errno));
    }
    *fd = moved;
    return 0;
}

static int nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) ? -1 : 0;
}

/* The child: argv on the socket (fd 0 and 1) and the stderr pipe (fd 2), nothing else open, in
 * a process group of its own, with the default action for the signals a parent may ignore. */
static int spawn_child(GymBridge *b, const char *const *argv, int child_io, int child_err, Error *err) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    /* Ignored signals stay ignored across exec. */
    for (const int *s = (const int[]){SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, 0}; *s; s++) sigaddset(&dfl, *s);
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc) return error_set(err, "gym bridge: posix_spawn_file_actions_init: %s", strerror(rc));
    if ((rc = posix_spawnattr_init(&at))) {
        posix_spawn_file_actions_destroy(&fa);
        return error_set(err, "gym bridge: posix_spawnattr_init: %s", strerror(rc));
    }
    const char *step = "posix_spawn_file_actions_adddup2";
    if (!(rc = posix_spawn_file_actions_adddup2(&fa, child_io, 0)) && !(rc = posix_spawn_file_actions_adddup2(&fa, child_io, 1)) &&
        !(rc = posix_spawn_file_actions_adddup2(&fa, child_err, 2))) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
        /* Descriptors opened without O_CLOEXEC (stdio's files) are none of the child's business. */
        step = "posix_spawn_file_actions_addclosefrom_np";
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    }
    if (!rc && (step = "posix_spawnattr_setflags",
                !(rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))) &&
        (step = "posix_spawnattr_setpgroup", !(rc = posix_spawnattr_setpgroup(&at, 0))) &&
        (step = "posix_spawnattr_setsigmask", !(rc = posix_spawnattr_setsigmask(&at, &none))) &&
        (step = "posix_spawnattr_setsigdefault", !(rc = posix_spawnattr_setsigdefault(&at, &dfl)))) {
        step = NULL;
        rc = posix_spawnp(&b->pid, argv[0], &fa, &at, (char *const *)argv, environ);
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc && step) return error_set(err, "gym bridge: %s: %s", step, strerror(rc));
    if (rc)
        return error_set(err, "cannot start the gym bridge '%s': %s (set CUIQL_PYTHON to a Python 3 with gymnasium)",
                         b->what, strerror(rc));
    b->reaped = 0;
    return 0;
}

static int spawn(GymBridge *b, const char *env_id, const char *ref_scores, Error *err) {
    const char *python = gym_bridge_python(), *script = gym_bridge_script();
    snprintf(b->what, sizeof b->what, "%s %s %s", python, script, env_id);
    if (access(script, R_OK))
        return error_set(err, "the gym bridge script %s: %s (set CUIQL_GYM_BRIDGE to tools/gym_bridge.py)", script,
                         strerror(errno));
    const char *argv[] = {python, script, env_id, ref_scores[0] ? "--ref-scores" : NULL, ref_scores, NULL};
    int sv[2] = {-1, -1}, ep[2] = {-1, -1}, rc = 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) rc = error_set(err, "gym bridge: socketpair: %s", strerror(errno));
    else if (pipe2(ep, O_CLOEXEC)) rc = error_set(err, "gym bridge: pipe2: %s", strerror(errno));
    else if (above_stdio(&sv[0], err) || above_stdio(&sv[1], err) || above_stdio(&ep[0], err) || above_stdio(&ep[1], err))
        rc = -1;
    else rc = spawn_child(b, argv, sv[1], ep[1], err);
    /* The child's ends are the child's alone now (or, on failure, nobody's). */
    for (int *fd = (int[]){sv[1], ep[1], -1}; *fd >= 0; fd++)
        if (close(*fd) && !rc) rc = error_set(err, "gym bridge: close: %s", strerror(errno));
    b->fd = sv[0];
    b->err_fd = ep[0];
    if (!rc && (nonblocking(b->fd) || nonblocking(b->err_fd)))
        rc = error_set(err, "gym bridge: fcntl(O_NONBLOCK): %s", strerror(errno));
    return rc;
}

GymBridge *gym_bridge_start(const char *env_id, const char *ref_scores, double timeout_s, GymHello *hello,
                            Error *err) {
    GymBridge *b = calloc(1, sizeof *b);
    if (!b) {
        error_set(err, "out of memory");
        return NULL;
    }
    b->fd = b->err_fd = -1;
    b->reaped = 1;  /* nothing to reap until spawn succeeds */
    if (spawn(b, env_id, ref_scores, err)) goto fail;
    char *line;
    int got = read_line(b, timeout_s, &line, "before its hello line", err);
    if (got == 0) {
        error_set(err, "the gym bridge (%s) did not say hello within %.0f s", b->what, timeout_s);
        goto fail;
    }
    if (got < 0 || parse_hello(b, line, hello, err)) goto fail;
    consume_line(b);
    return b;
fail:
    gym_bridge_stop(b, 0);
    return NULL;
}

/* ---- requests and replies --------------------------------------------------------------------- */

int gym_bridge_send(GymBridge *b, int64_t id, const char *checkpoint, int episodes, uint64_t seed, Error *err) {
    char path[8192], line[8400];
    if (json_write_string(path, sizeof path, checkpoint) < 0)
        return error_set(err, "%s: the path is too long or not UTF-8 for the gym bridge", checkpoint);
    int n = snprintf(line, sizeof line, "{\"id\": %lld, \"checkpoint\": %s, \"episodes\": %d, \"seed\": %llu}\n",
                     (long long)id, path, episodes, (unsigned long long)seed);
    if (n < 0 || (size_t)n >= sizeof line) return error_set(err, "gym bridge: request too long");
    double deadline = clock_seconds() + SEND_TIMEOUT_S;
    for (size_t off = 0; off < (size_t)n;) {
        /* MSG_NOSIGNAL: a bridge that has gone is EPIPE here, not a SIGPIPE for the trainer. */
        ssize_t w = send(b->fd, line + off, (size_t)n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* The bridge is not reading (busy with earlier requests); the socket's buffer holds
             * hundreds of requests, so this wait is bounded by the caller's backlog. */
            if (clock_seconds() > deadline)
                return error_set(err, "the gym bridge (%s) has read no request for %d s", b->what, SEND_TIMEOUT_S);
            struct pollfd pfd = {.fd = b->fd, .events = POLLOUT};
            if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
                return error_set(err, "sending to the gym bridge (%s): poll: %s", b->what, strerror(errno));
            continue;
        }
        if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) return ended(b, "(a request could not be sent)", err);
        return error_set(err, "sending to the gym bridge (%s): %s", b->what, w < 0 ? strerror(errno) : "nothing written");
    }
    return 0;
}

static int parse_reply(GymBridge *b, const char *line, GymReply *r, Error *err) {
    Error perr;
    JsonValue *v = json_parse(line, b->used - 1, &perr);
    if (!v) return error_set(err, "the gym bridge (%s) wrote a line that is not JSON (%s): %.120s", b->what, perr.msg, line);
    memset(r, 0, sizeof *r);
    r->id = -1;
    int rc = 0;
    const JsonValue *id = json_get(v, "id"), *msg = json_get(v, "error"), *score = json_get(v, "normalized_score");
    int64_t episodes;
    if (id && id->type == JSON_NUMBER) get_int(v, "id", INT64_MIN / 2, INT64_MAX / 2, &r->id);
    if (msg) {
        snprintf(r->error, sizeof r->error, "%s", msg->type == JSON_STRING && msg->string[0] ? msg->string : "(no message)");
    } else if (!id || id->type != JSON_NUMBER || get_number(v, "return", &r->mean_return) ||
               get_number(v, "std", &r->std_return) || get_number(v, "length", &r->mean_length) ||
               get_int(v, "episodes", 1, INT32_MAX, &episodes) ||
               (score && score->type != JSON_NULL && score->type != JSON_NUMBER)) {
        rc = error_set(err, "the gym bridge (%s) wrote a line that is not a reply: %.200s", b->what, line);
    } else {
        r->episodes = (int)episodes;
        r->normalized_score = score && score->type == JSON_NUMBER ? score->number : NAN;
        if (get_number(v, "seconds", &r->seconds)) r->seconds = NAN;
    }
    json_free(v);
    return rc;
}

int gym_bridge_receive(GymBridge *b, double timeout_s, GymReply *reply, Error *err) {
    char *line;
    int got;
    do {
        got = read_line(b, timeout_s, &line, "while evaluating", err);
        if (got == 1 && line[strspn(line, " \t\r")] == '\0') {
            consume_line(b);  /* blank lines carry nothing */
            got = 2;
        }
    } while (got == 2);
    if (got != 1) return got;
    int rc = parse_reply(b, line, reply, err);
    consume_line(b);
    return rc ? -1 : 1;
}

void gym_bridge_stop(GymBridge *b, int gracefully) {
    if (!b) return;
    if (b->fd >= 0) {
        close(b->fd);  /* its stdin ends: the bridge's cue to exit */
        b->fd = -1;
    }
    if (b->err_fd >= 0) close(b->err_fd);  /* a write to it now is an EPIPE for the bridge, which is ending */
    if (!b->reaped && !(gracefully && reap(b, 5.0))) {
        /* Errors of kill are not reported: the child may have just exited, and it is reaped below either way. */
        kill(b->pid, SIGTERM);
        if (!reap(b, 2.0)) {
            kill(b->pid, SIGKILL);
            reap(b, 1e9);
        }
    }
    free(b->buf);
    free(b);
}
