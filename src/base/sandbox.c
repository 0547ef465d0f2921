/* sandbox.c — a parser in a child process (see sandbox.h). */
#define _GNU_SOURCE /* pipe2 */
#include "base/sandbox.h"

#include "base/files.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Set in the sandboxed child (and in a harness acting as one): deadlines apply there only. */
static int deadlines_apply = 0;
static unsigned deadline_cap = 0;

void sandbox_deadline(unsigned seconds) {
    if (!deadlines_apply) return;
    if (deadline_cap && seconds > deadline_cap) seconds = deadline_cap;
    alarm(seconds ? seconds : 1);
}

unsigned sandbox_seconds_for(unsigned fixed, uint64_t bytes, int64_t objects) {
    uint64_t s = fixed + bytes / (20u << 20) + (uint64_t)(objects > 0 ? objects : 0) / 50u;
    return s > 86400 ? 86400u : (unsigned)s;
}

void sandbox_act_as_child(unsigned max_seconds) {
    deadlines_apply = 1;
    deadline_cap = max_seconds;
}

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGABRT: return "SIGABRT";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL (out of memory?)";
    default: return "a signal";
    }
}

/* The child: runs the work, sends its message on failure, and leaves without running the
 * parent's exit handlers (HDF5's cleanup, stdio buffers that the parent will flush itself). */
static void run_child(SandboxChild child, void *ctx, int data_fd, int msg_fd) {
    Error err = {{0}};
    int rc = child(ctx, data_fd, &err);
    if (rc != 0) {
        /* never an empty message: that is how a death looks */
        if (!err.msg[0]) snprintf(err.msg, sizeof err.msg, "the reader failed without saying why");
        err.msg[sizeof err.msg - 1] = '\0';
        (void)file_write_all(msg_fd, err.msg, strlen(err.msg));
    }
    _exit(rc == 0 ? 0 : 1);
}

int sandbox_run(const char *what, SandboxChild child, SandboxReceive receive, void *ctx, int *in_process,
                Error *err) {
    if (in_process) *in_process = 0;
    int data[2] = {-1, -1}, msg[2] = {-1, -1};
    if (pipe2(data, O_CLOEXEC) != 0 || pipe2(msg, O_CLOEXEC) != 0) {
        for (int i = 0; i < 2; i++) {
            if (data[i] >= 0) close(data[i]);
            if (msg[i] >= 0) close(msg[i]);
        }
        if (in_process) *in_process = 1;
        return child(ctx, -1, err);
    }
    fflush(NULL); /* nothing buffered is written twice if the child flushed it */
    pid_t pid = fork();
    if (pid < 0) {
        /* No child to be had (a process limit): read here, as before there was a sandbox. */
        for (int i = 0; i < 2; i++) close(data[i]), close(msg[i]);
        if (in_process) *in_process = 1;
        return child(ctx, -1, err);
    }
    if (pid == 0) {
        close(data[0]);
        close(msg[0]);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGALRM, SIG_DFL); /* the deadline ends the child */
        deadlines_apply = 1;
        run_child(child, ctx, data[1], msg[1]);
    }
    close(data[1]);
    close(msg[1]);

    Error received = {{0}};
    int receive_rc = receive ? receive(ctx, data[0], &received) : 0;
    close(data[0]); /* a child still writing now gets SIGPIPE rather than blocking */
    char text[sizeof err->msg];
    size_t len = 0;
    for (ssize_t r; len + 1 < sizeof text && (r = read(msg[0], text + len, sizeof text - 1 - len)) != 0;) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        len += (size_t)r;
    }
    text[len] = '\0';
    close(msg[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }

    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (receive_rc == 0) return 0;
        return error_set(err, "%s", received.msg);
    }
    /* A refusal always comes with its message: an exit without one is a death (a sanitizer's
     * report ends the process that way). */
    if (WIFEXITED(status) && len) return error_set(err, "%s", text);
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (sig == SIGPIPE && receive_rc != 0) return error_set(err, "%s", received.msg); /* we stopped reading */
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT)
        return error_set(err, "%s: reading it was interrupted by %s", what,
                         sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "SIGQUIT");
    if (sig == SIGALRM)
        return error_set(err,
                         "%s: reading it did not finish in the time its size allows (the HDF5 library stuck on a "
                         "damaged file?); cuiql refuses it",
                         what);
    return error_set(err,
                     "%s: reading it crashed the HDF5 library (%s in the reading process); the file is damaged, or "
                     "made to crash readers: cuiql refuses it",
                     what, sig ? signal_name(sig) : "a sanitizer's report");
}
