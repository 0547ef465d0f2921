/* agree.c — how the ranks of a run fail together (see comm.h): agreement before training,
 * and taking every rank down once it runs. Written over the Comm's operations only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"

void comm_describe_rank(const Comm *c, char *buf, size_t len) {
    snprintf(buf, len, "rank %d of %d (%s)", c->rank, c->size, c->host);
}

int comm_agree(Comm *c, int rc, Error *err) {
    /* How many failed (a sum), and the lowest failing rank (as the max of size − rank). */
    int failed = rc != 0, lowest = rc != 0 ? c->size - c->rank : 0;
    Error local;
    if (c->ops->allreduce_sum(c, &failed, 1, COMM_INT, &local) || c->ops->allreduce_max(c, &lowest, 1, &local))
        comm_fail(c, "cuiql", &local);
    if (!failed) return 0;
    int root = c->size - lowest;
    char text[sizeof err->msg];
    if (c->rank == root) {
        char who[128];
        comm_describe_rank(c, who, sizeof who);
        /* by hand, like error_prefix: cut an over-long message rather than fail */
        size_t n = 0;
        for (const char *part[] = {who, ": ", err->msg}, **p = part; p < part + 3; p++)
            for (const char *ch = *p; *ch && n + 1 < sizeof text; ch++) text[n++] = *ch;
        text[n] = '\0';
    }
    if (c->ops->broadcast(c, text, sizeof text, root, &local)) comm_fail(c, "cuiql", &local);
    text[sizeof text - 1] = '\0';
    error_set(err, "%s", text);
    if (failed > 1) {
        char more[64];
        snprintf(more, sizeof more, " [%d of %d ranks failed]", failed, c->size);
        strncat(err->msg, more, sizeof err->msg - strlen(err->msg) - 1);
    }
    return -1;
}

void comm_fail(Comm *c, const char *program, const Error *err) {
    char who[128];
    comm_describe_rank(c, who, sizeof who);
    fprintf(stderr, "%s: %s: %s\n", program, who, err->msg);
    c->ops->abort(c, 1);
    exit(1);  /* abort does not return */
}
