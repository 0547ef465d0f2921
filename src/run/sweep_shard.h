/* sweep_shard.h — one process's share of a sweep. Shard I of N trains the members of the full
 * cross product whose index m satisfies m mod N = I, so shards are interleaved and of sizes
 * that differ by at most one, and every member belongs to exactly one shard whatever N is.
 * Since all members draw the same batch stream (sweep.h), a member's result does not depend
 * on which shard trained it, or with whom.
 *
 * The shard comes from --shard I/N, or else from the launch (run/launcher.h): a Slurm array
 * task a of A whose process is rank r of R (mpirun/srun inside each task, or R = 1) is shard
 * a·R + r of A·R. A single process outside any launcher is shard 0 of 1: the whole sweep. */
#ifndef CUIQL_RUN_SWEEP_SHARD_H
#define CUIQL_RUN_SWEEP_SHARD_H

#include "cuiql/error.h"
#include "run/launcher.h"

typedef struct {
    int index, count;       /* I and N; 0 and 1 for the whole sweep */
    char source[64];        /* where they came from, for the start line: "--shard", "SLURM_ARRAY_TASK_ID", ... */
} SweepShard;

/* "I/N" with 0 <= I < N. */
int sweep_shard_parse(const char *text, SweepShard *out, Error *err);

/* The shard a launch implies (see above). */
void sweep_shard_from_launch(const Launch *launch, SweepShard *out);

/* The members (indices into the cross product of n_members) that shard holds, ascending, into
 * members[] (room for n_members); returns how many. */
int sweep_shard_members(const SweepShard *shard, int n_members, int *members);

/* The GPU a process uses among n_devices visible ones (CUDA_VISIBLE_DEVICES applies before
 * this: indices count the visible devices): its local rank under a launcher that starts
 * several processes per node, else its shard index (shards started by hand or as array tasks
 * on one node spread over its GPUs), modulo n_devices. Where the launcher or Slurm gives each
 * process one GPU of its own, n_devices is 1 and the answer 0. */
int sweep_shard_device(const Launch *launch, const SweepShard *shard, int n_devices);

#endif
