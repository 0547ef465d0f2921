/* iql_parallel.c — one rank's part of a data-parallel step (docs/algorithm.md, "Data
 * parallel"). Each of R ranks holds every member and B = G/R rows of the global batch G:
 *
 *   sampling   rank r draws global slots r·B + i of the batch one process would draw
 *              (sampling.h), so the ranks' rows together are exactly that batch;
 *   heads      divide by G, not B: the per-row gradients are the single process's own;
 *   reduce     the step sums the gradient buffer over the ranks (iql.c's reduce phase), which
 *              gives the gradient of the mean over G: no scaling pass after it, and the only
 *              difference from one process is the order in which the rows are added;
 *   logging    the statistics' sums are added over the ranks, then divided by G.
 *
 * AdamW then sees the same gradient on every rank and keeps the replicas identical. */
#include "algo/iql_state.h"

int iql_parallel_init(IqlState *s, Comm *comm, Error *err) {
    s->comm = comm;
    s->global_batch = s->cfg.batch_size;
    if (!comm) return 0;
    if (comm->size < 1 || comm->rank < 0 || comm->rank >= comm->size)
        return error_set(err, "data parallel: rank %d of %d is not a rank", comm->rank, comm->size);
    if (iql_parallel_check_batch(s->global_batch, comm->size, err)) return -1;
    s->B = s->global_batch / comm->size;
    return 0;
}

int iql_parallel_check_batch(int batch, int ranks, Error *err) {
    if (ranks > 0 && batch % ranks == 0) return 0;
    return error_set(err, "batch_size: %d rows do not split evenly over %d data-parallel ranks (give a multiple of %d)",
                     batch, ranks, ranks);
}

void iql_parallel_calls(IqlState *s) {
    if (!s->comm) return;
    s->heads.mean_rows = s->global_batch;
    s->policy.mean_rows = s->global_batch;
    s->sampling.slot_offset = s->comm->rank * s->B;
    s->sampling.global_rows = s->global_batch;
}

int iql_parallel_sum_stats(IqlState *s, double *sums, int n, Error *err) {
    if (!s->comm) return 0;
    if (s->comm->ops->allreduce_sum(s->comm, sums, n, COMM_DOUBLE, err))
        return error_prefix(err, "data parallel: summing the logged statistics over the ranks");
    return 0;
}
