/* run_explain.c — what the trainer says when a signal stops it or memory runs out: the names
 * and settings a user can act on. */
#include <signal.h>
#include <stdio.h>

#include "run/run_state.h"

const char *run_signal_name(int sig) {
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP (the terminal was closed)";
    case SIGPIPE: return "SIGPIPE (the reader of stdout went away)";
    default: return "a signal";
    }
}

void run_explain_memory(const Run *run, Error *err) {
    const Config *c = run->cfg;
    char hidden[96];
    size_t len = 0;
    hidden[0] = '\0';
    for (int i = 0; i < c->n_hidden && len < sizeof hidden; i++)
        len += (size_t)snprintf(hidden + len, sizeof hidden - len, "%s%d", i ? "," : "", c->hidden[i]);
    error_prefix(err, "batch_size %d x %d member%s, hidden [%s], %lld transitions (lower batch_size, hidden or the "
                 "sweep's size)", c->batch_size, run->P, run->P == 1 ? "" : "s", hidden, (long long)run->data.n);
}
