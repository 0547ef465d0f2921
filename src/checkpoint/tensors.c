/* tensors.c — the checkpoint's tensor table and the small helpers write.c and read.c share. */
#include "checkpoint/tensors.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/h5.h"

const TreeNet checkpoint_param_nets[4] = {{"policy", NET_POLICY}, {"value", NET_VALUE}, {"q1", NET_Q}, {"q2", NET_Q}};
const TreeNet checkpoint_target_nets[2] = {{"q1_target", NET_Q}, {"q2_target", NET_Q}};

/* Appends one MLP's tensors. `member` picks the ensemble member inside each [E, out, in] block
 * (the critics: 0 = q1, 1 = q2); `base` is subtracted from the layout's offsets (the target
 * buffer holds only the q span, from offset 0). */
static int add_mlp(Tensor *t, int n, const char *name, const NetLayout *net, int member, size_t base) {
    for (int l = 0; l < net->n_layers; l++) {
        size_t out = (size_t)net->out[l], in = (size_t)net->in[l];
        Tensor *w = &t[n++], *b = &t[n++];
        snprintf(w->name, sizeof w->name, "%s/layer%d/weight", name, l);
        w->rank = 2;
        w->dims[0] = out;
        w->dims[1] = in;
        w->offset = net->weight[l] - base + (size_t)member * out * in;
        snprintf(b->name, sizeof b->name, "%s/layer%d/bias", name, l);
        b->rank = 1;
        b->dims[0] = out;
        b->dims[1] = 0;
        b->offset = net->bias[l] - base + (size_t)member * out;
    }
    return n;
}

int tensor_list(const ModelLayout *s, int targets, Tensor *t) {
    int n = 0;
    if (targets) {
        size_t base = s->net[NET_Q].begin;
        n = add_mlp(t, n, "q1_target", &s->net[NET_Q], 0, base);
        return add_mlp(t, n, "q2_target", &s->net[NET_Q], 1, base);
    }
    n = add_mlp(t, n, "policy", &s->net[NET_POLICY], 0, 0);
    Tensor *ls = &t[n++];
    snprintf(ls->name, sizeof ls->name, "policy/log_std");
    ls->rank = 1;
    ls->dims[0] = (hsize_t)s->act_dim;
    ls->dims[1] = 0;
    ls->offset = s->net[NET_POLICY].log_std;
    n = add_mlp(t, n, "value", &s->net[NET_VALUE], 0, 0);
    n = add_mlp(t, n, "q1", &s->net[NET_Q], 0, 0);
    return add_mlp(t, n, "q2", &s->net[NET_Q], 1, 0);
}

/* prefix + name into out[NAME_CAP]. The names are short by construction, so a cut would be a
 * bug surfacing as a "missing tensor", never an overflow. (Plain copies rather than snprintf's
 * "%s%s", which GCC's -Wformat-truncation cannot bound here.) */
void join_name(char *out, const char *prefix, const char *name) {
    size_t lp = strnlen(prefix, NAME_CAP - 1);
    size_t ln = strnlen(name, NAME_CAP - 1 - lp);
    memcpy(out, prefix, lp);
    memcpy(out + lp, name, ln);
    out[lp + ln] = '\0';
}

size_t tensor_count(const Tensor *t) {
    return t->rank == 2 ? (size_t)(t->dims[0] * t->dims[1]) : (size_t)t->dims[0];
}

void format_shape(char *buf, size_t cap, int rank, const hsize_t *dims) {
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

size_t first_nonfinite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return n;
}

void format_element(char *buf, size_t cap, const Tensor *t, size_t i, float v) {
    const char *what = isnan(v) ? "nan" : (v > 0 ? "+inf" : "-inf");
    if (t->rank == 2)
        snprintf(buf, cap, "element [%zu, %zu] is %s", i / (size_t)t->dims[1], i % (size_t)t->dims[1], what);
    else
        snprintf(buf, cap, "element [%zu] is %s", i, what);
}


int h5_fail(Error *err, const char *path, const char *fmt, ...) {
    char detail[256];
    h5_error_detail(detail, sizeof detail);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_set(err, "%s: %s%s%s", path, msg, detail[0] ? ": " : "", detail);
}
