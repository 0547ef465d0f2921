/* sweep_memory.c — the memory a population needs, and groups that fit (see sweep_memory.h). */
#include "run/sweep_memory.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "algo/iql.h"
#include "cuiql/iql_math.h"
#include "base/parse.h"

/* The population's backend bytes at `members` members: iql_memory_plan over the aligned layout
 * iql_create uses, so that what a sweep plans for and what it allocates follow one rule. */
static size_t plan_bytes(const ModelLayout *single, int members, int batch, int use_target) {
    ModelLayout L;
    if (model_layout_init_aligned(&L, members, single->obs_dim, single->act_dim, single->hidden, single->n_hidden,
                                  NULL))
        return SIZE_MAX;
    IqlMemory m;
    iql_memory_plan(&L, batch, use_target, &m);
    return m.total;
}

/* Members apart in the difference that gives one member's bytes: tensors start on 256-byte
 * boundaries, and over PLAN_SPAN members that rounding is spread thin. */
#define PLAN_SPAN 8

size_t sweep_member_bytes(const ModelLayout *single, int batch, int use_target) {
    size_t one = plan_bytes(single, 1, batch, use_target), many = plan_bytes(single, 1 + PLAN_SPAN, batch, use_target);
    if (one == SIZE_MAX || many == SIZE_MAX || many < one) return SIZE_MAX;
    return (many - one + PLAN_SPAN - 1) / PLAN_SPAN;
}

size_t sweep_population_bytes(const ModelLayout *single, int batch, int use_target) {
    /* The rest of a population of P: the most plan(P) - P x one member's bytes leaves over the
     * first 2 x PLAN_SPAN sizes (what the alignment rounding adds repeats beyond them). */
    size_t per = sweep_member_bytes(single, batch, use_target), fixed = 0;
    if (per == SIZE_MAX) return SIZE_MAX;
    for (int members = 1; members <= 2 * PLAN_SPAN; members++) {
        size_t all = plan_bytes(single, members, batch, use_target);
        if (all == SIZE_MAX) return SIZE_MAX;
        size_t rest = all > per * (size_t)members ? all - per * (size_t)members : 0;
        if (rest > fixed) fixed = rest;
    }
    return fixed;
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
