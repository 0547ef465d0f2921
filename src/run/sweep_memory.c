/* sweep_memory.c — the memory a population needs, and groups that fit (see sweep_memory.h). */
#include "run/sweep_memory.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cuiql/iql_math.h"
#include "base/parse.h"

/* Floats of one network's activations for `members` ensemble members: every layer's output. */
static size_t activation_floats(const NetLayout *net, int batch) {
    size_t n = 0;
    for (int l = 0; l < net->n_layers; l++) n += (size_t)net->members * batch * net->out[l];
    return n;
}

/* Floats of its hidden layers' gradients (one buffer per hidden layer, the backward pass's). */
static size_t hidden_grad_floats(const NetLayout *net, int batch) {
    size_t n = 0;
    for (int l = 0; l + 1 < net->n_layers; l++) n += (size_t)net->members * batch * net->out[l];
    return n;
}

size_t sweep_member_bytes(const ModelLayout *single, int batch, int use_target) {
    const NetLayout *pi = &single->net[NET_POLICY], *v = &single->net[NET_VALUE], *q = &single->net[NET_Q];
    size_t B = (size_t)batch, A = (size_t)single->act_dim;
    size_t floats = 4 * single->n_params                /* params, grads, adam_m, adam_v */
                    + model_target_size(single)         /* target critics */
                    + 2;                                /* its tau and beta */
    floats += 2 * activation_floats(v, batch)           /* V(s) and V(s') */
              + (use_target ? 2 : 1) * activation_floats(q, batch) + activation_floats(pi, batch);
    floats += hidden_grad_floats(pi, batch) + hidden_grad_floats(v, batch) + hidden_grad_floats(q, batch);
    floats += B                                         /* dv */
              + 2 * B                                   /* dq */
              + B                                       /* weight */
              + 2 * B * A                               /* dpre, dlog_std_elem */
              + (size_t)IQL_STAT_COUNT * B + IQL_STAT_COUNT; /* stats and their sums */
    return floats * sizeof(float);
}

size_t sweep_population_bytes(int obs_dim, int act_dim, int batch) {
    size_t B = (size_t)batch, S = (size_t)obs_dim, A = (size_t)act_dim;
    size_t floats = 2 * B * S      /* state, next_state */
                    + B * (S + A)  /* state_action */
                    + B * A        /* action */
                    + 3 * B        /* reward, terminal, index (4 bytes each) */
                    + B;           /* the ones vector of the bias gradients */
    return floats * sizeof(float) + sizeof(StepScalars);
}

size_t sweep_replay_bytes(long long transitions, long long states, int obs_dim, int act_dim) {
    size_t n = (size_t)transitions;
    return sizeof(float) * ((size_t)states * obs_dim + n * act_dim + 2 * n) + sizeof(uint32_t) * 2 * n;
}

int sweep_plan_memory(int members, size_t per_member, size_t fixed, size_t available, MemoryPlan *out, Error *err) {
    *out = (MemoryPlan){.members = members, .per_member = per_member, .fixed = fixed, .available = available};
    if (members < 1) return error_set(err, "internal: a population of %d members", members);
    if (per_member == 0 || fixed + per_member > available) {
        char one[32], have[32];
        sweep_format_bytes(one, sizeof one, (double)(fixed + per_member));
        sweep_format_bytes(have, sizeof have, (double)available);
        return error_set(err, "one member needs %s, %s is available", one, have);
    }
    size_t fit = (available - fixed) / per_member;
    int most = fit >= (size_t)members ? members : (int)fit;
    out->n_groups = (members + most - 1) / most;
    out->group_size = (members + out->n_groups - 1) / out->n_groups;
    return 0;
}

void sweep_format_bytes(char *buf, size_t len, double bytes) {
    if (bytes >= 1024.0 * 1024 * 1024) snprintf(buf, len, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
    else if (bytes >= 1024.0 * 1024) snprintf(buf, len, "%.1f MiB", bytes / (1024.0 * 1024));
    else if (bytes >= 1024.0) snprintf(buf, len, "%.1f KiB", bytes / 1024.0);
    else snprintf(buf, len, "%.0f bytes", bytes);
}

int sweep_parse_bytes(const char *text, size_t *out, Error *err) {
    static const struct {
        const char *suffix;
        double scale;
    } units[] = {{"", 1}, {"K", 1024.0}, {"KiB", 1024.0}, {"M", 1048576.0}, {"MiB", 1048576.0},
                 {"G", 1073741824.0}, {"GiB", 1073741824.0}, {"T", 1099511627776.0}, {"TiB", 1099511627776.0}};
    char number[64];
    size_t digits = strspn(text, "0123456789.eE+-");
    if (digits == 0 || digits >= sizeof number) goto bad;
    memcpy(number, text, digits);
    number[digits] = '\0';
    double v;
    if (parse_double(number, &v) || v <= 0) goto bad;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (!strcmp(text + digits, units[i].suffix)) {
            double bytes = v * units[i].scale;
            if (bytes < 1 || bytes > 9.0e18) goto bad;
            *out = (size_t)bytes;
            return 0;
        }
bad:
    return error_set(err, "'%s' is not a size (bytes, or a number with K, M, G or T: 512M, 8G)", text);
}
