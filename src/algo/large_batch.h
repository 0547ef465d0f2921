/* large_batch.h — the learning-rate rules of large-batch training (docs/algorithm.md, "Large
 * batches"): the rates of a config are for lr_base_batch; lr_scaling carries them to the
 * batch actually trained (the global batch of a data-parallel run), and lr_warmup_steps ramps
 * the first updates (iql_schedule_lr applies it). */
#ifndef CUIQL_ALGO_LARGE_BATCH_H
#define CUIQL_ALGO_LARGE_BATCH_H

#include "algo/config.h"

/* The factor on every learning rate and on lr_min: 1 (none), √(B/B0) (sqrt) or B/B0 (linear),
 * with B = batch_size and B0 = lr_base_batch. */
double large_batch_lr_factor(const Config *cfg);

#endif
