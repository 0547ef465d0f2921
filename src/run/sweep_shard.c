/* sweep_shard.c — a process's shard of a sweep and its GPU (see sweep_shard.h). */
#include "run/sweep_shard.h"

#include <stdio.h>
#include <string.h>

#include "base/parse.h"

int sweep_shard_parse(const char *text, SweepShard *out, Error *err) {
    const char *slash = strchr(text, '/');
    char left[32];
    uint64_t i, n;
    if (!slash || (size_t)(slash - text) >= sizeof left)
        return error_set(err, "--shard '%s': expected I/N (shard I of N, counted from 0)", text);
    memcpy(left, text, (size_t)(slash - text));
    left[slash - text] = '\0';
    if (parse_uint64(left, &i) || parse_uint64(slash + 1, &n) || n < 1 || n > 1000000)
        return error_set(err, "--shard '%s': expected I/N with whole numbers, N >= 1", text);
    if (i >= n) return error_set(err, "--shard %s: I counts from 0, so it must be below N = %llu", text, (unsigned long long)n);
    *out = (SweepShard){.index = (int)i, .count = (int)n};
    snprintf(out->source, sizeof out->source, "--shard");
    return 0;
}

void sweep_shard_from_launch(const Launch *launch, SweepShard *out) {
    *out = (SweepShard){.index = launch->array_index * launch->size + launch->rank,
                        .count = launch->array_count * launch->size};
    if (launch->array_count > 1 && launch->size > 1)
        snprintf(out->source, sizeof out->source, "SLURM_ARRAY_TASK_ID and %s", launch->rank_source);
    else if (launch->array_count > 1) snprintf(out->source, sizeof out->source, "SLURM_ARRAY_TASK_ID");
    else if (launch->size > 1) snprintf(out->source, sizeof out->source, "%s", launch->rank_source);
    else snprintf(out->source, sizeof out->source, "no launcher");
}

int sweep_shard_members(const SweepShard *shard, int n_members, int *members) {
    int n = 0;
    for (int m = shard->index; m < n_members; m += shard->count) members[n++] = m;
    return n;
}

int sweep_shard_device(const Launch *launch, const SweepShard *shard, int n_devices) {
    if (n_devices < 1) return 0;
    int which = launch->size > 1 ? launch->local_rank : shard->index;
    return which % n_devices;
}
