/* sweep_memory.h — how many members of a population fit in the memory the backend has, and the
 * plan that trains a larger one in consecutive groups that do fit.
 *
 * Members train independently of one another on a shared batch stream (sweep.h), so training
 * members 0..9, then 10..19, ... gives each the same result as training all at once; a group
 * only costs time (each group takes all the steps). */
#ifndef CUIQL_RUN_SWEEP_MEMORY_H
#define CUIQL_RUN_SWEEP_MEMORY_H

#include <stddef.h>

#include "algo/model.h"
#include "cuiql/error.h"

/* Backend bytes one member adds to a population at batch size `batch` (its parameters,
 * gradients, Adam moments, targets, activations and head buffers), and the bytes a population
 * needs whatever its size (the sampled batch, the step's scalars, the alignment of its
 * tensors). Both come from iql_memory_plan (src/algo/iql_setup.c), the
 * count of what iql_create allocates; `single` is the one-member layout. The dataset's replay
 * is counted apart (sweep_replay_bytes). */
size_t sweep_member_bytes(const ModelLayout *single, int batch, int use_target);
size_t sweep_population_bytes(const ModelLayout *single, int batch, int use_target);

/* Bytes of the dataset when a backend holds it in its own memory (the CUDA replay on the device). */
size_t sweep_replay_bytes(long long transitions, long long states, int obs_dim, int act_dim);

typedef struct {
    int members;            /* P */
    int group_size;         /* members trained at once (the last group may be smaller) */
    int n_groups;
    size_t per_member;      /* sweep_member_bytes (+ host copies where they share the memory) */
    size_t fixed;           /* what any population needs */
    size_t available;       /* what the plan may use */
} MemoryPlan;

/* Groups of at most floor((available − fixed) / per_member) members, as even as possible (27
 * members with room for 10 → 3 groups of 9). An error giving the numbers when not even one
 * member fits ("one member needs 2.0 MiB, 1.0 MiB is available"). */
int sweep_plan_memory(int members, size_t per_member, size_t fixed, size_t available, MemoryPlan *out, Error *err);

/* "1.5 GiB", "300.0 MiB": for messages. */
void sweep_format_bytes(char *buf, size_t len, double bytes);

/* A size a user types: "8G", "512M", "2.5GiB", "1000000" (bytes); 0 or -1 with err. */
int sweep_parse_bytes(const char *text, size_t *out, Error *err);

#endif
