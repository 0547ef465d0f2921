/* iql.h — the IQL update of a population of P members, written once against backend.h.
 *
 * IqlState owns every buffer of a training run in backend memory: the parameters, their
 * gradients and AdamW moments (one contiguous buffer each, model.h layout), the target
 * critics, the activations of every network, the sampled batch and the per-element
 * statistics. iql_step() issues one gradient step exactly as docs/algorithm.md, "One gradient step",
 * defines it; nothing in it allocates, copies to or from the host, or synchronises. */
#ifndef CUIQL_IQL_H
#define CUIQL_IQL_H

#include <stdint.h>

#include "algo/config.h"
#include "cuiql/error.h"
#include "algo/model.h"
#include "cuiql/backend.h"

/* One member's own settings; everything else is shared by the population. */
typedef struct {
    double tau, beta;
    uint64_t seed;      /* initialisation seed */
} MemberSpec;

/* Scalars logged per member (means over the batch of the last step). */
typedef enum {
    LOG_LOSS_VALUE, LOG_LOSS_Q, LOG_LOSS_POLICY, LOG_VALUE_MEAN, LOG_Q_MEAN, LOG_ADV_MEAN, LOG_WEIGHT_MEAN,
    LOG_WEIGHT_CLIPPED, LOG_LR_POLICY, LOG_LR_VALUE, LOG_LR_Q, LOG_TRAIN_SCALAR_COUNT
} TrainScalar;
extern const char *const train_scalar_tags[LOG_TRAIN_SCALAR_COUNT];

typedef struct IqlState IqlState;

/* Creates the population's buffers and copies the dataset to the backend. The weights start
 * initialised from each member's seed (model_init_host's rule); the targets copy the critics. */
IqlState *iql_create(Backend *b, const Config *cfg, const MemberSpec *members, int n_members,
                     const ReplaySource *data, Error *err);
/* The same, as one rank of a data-parallel run over comm (NULL: a single process, as
 * iql_create). cfg->batch_size is the global batch G, which comm's ranks must divide: this rank
 * holds G/R rows, draws global slots [r·G/R, (r+1)·G/R) of each step's batch (sampling.h), and
 * the step sums the gradient over the ranks (allreduce_sum) before AdamW, so every rank makes
 * the update one process would make on the whole batch; the logged scalars are the global
 * batch's means. The backend must have been created with the same comm. */
IqlState *iql_create_parallel(Backend *b, const Config *cfg, const MemberSpec *members, int n_members,
                              const ReplaySource *data, Comm *comm, Error *err);
/* 0 when `ranks` data-parallel ranks split a global batch of `batch` rows evenly; else -1 and
 * err says so (the run layer checks it before the ranks build anything). */
int iql_parallel_check_batch(int batch, int ranks, Error *err);
void iql_destroy(IqlState *s);

/* The population's layout in backend memory: model_layout_init_aligned's packing. Member views
 * (checkpoints, iql_get_member) use the packed P = 1 layout. */
const ModelLayout *iql_layout(const IqlState *s);

/* Backend memory a training state takes, by kind, in bytes (what iql_create allocates, the
 * dataset's replay apart). */
typedef struct {
    size_t model;        /* parameters, gradients, both Adam moments, targets, τ, β, step scalars */
    size_t batch;        /* the sampled batch */
    size_t activations;  /* forward activations backward reads, and the outputs of V(s') and Q̄ */
    size_t gradients;    /* dL/d(hidden output) per network and layer (also V(s')'s and Q̄'s hidden
                            activations during the forward phase) */
    size_t heads;        /* loss-head outputs, per-element statistics, the ones vector */
    size_t total;
} IqlMemory;
void iql_memory_plan(const ModelLayout *layout, int batch_rows, int use_target, IqlMemory *out);
size_t iql_state_bytes(const IqlState *s);

/* One gradient step (asynchronous on the backend). */
void iql_step(IqlState *s);

/* The step's phases, for profiling. */
typedef enum { IQL_PHASE_SAMPLE, IQL_PHASE_FORWARD, IQL_PHASE_HEADS, IQL_PHASE_BACKWARD, IQL_PHASE_REDUCE,
               IQL_PHASE_OPTIMIZE, IQL_PHASE_COUNT } IqlPhase;
extern const char *const iql_phase_names[IQL_PHASE_COUNT];

/* One step run eagerly (no graph), with a backend time stamp between phases, adding each
 * phase's time in seconds to seconds[phase]. The same update as iql_step(). On CUDA the
 * stamps are events: device time, launch gaps included, nothing synchronised between phases.
 * For the breakdown, not for the rate (a graph runs the step faster). */
int iql_profile_step(IqlState *s, double seconds[IQL_PHASE_COUNT], Error *err);

/* Logged scalars of the last step, [n_members][LOG_TRAIN_SCALAR_COUNT]. Synchronises. */
int iql_read_scalars(IqlState *s, double *out, Error *err);

/* A member's state in member-view buffers (P = 1 layout; target: the q span). Any pointer may
 * be NULL to skip it. Setup, logging and checkpoint time only. */
int iql_get_member(IqlState *s, int member, float *params, float *target, float *adam_m, float *adam_v, Error *err);
int iql_set_member(IqlState *s, int member, const float *params, const float *target, const float *adam_m,
                   const float *adam_v, Error *err);

/* The whole population's state in population-layout host buffers (params, adam_m, adam_v:
 * n_params; target: the q span), one download per buffer; any pointer may be NULL. With ρ = 1
 * the targets are the critics. Take members out with model_member_gather(). */
int iql_get_population(IqlState *s, float *params, float *target, float *adam_m, float *adam_v, Error *err);

/* The reverse: uploads whole population buffers (one upload each; NULL ones are left as they
 * are). Fill them with model_member_scatter(). Setup time only. */
int iql_set_population(IqlState *s, const float *params, const float *target, const float *adam_m,
                       const float *adam_v, Error *err);

/* A member's targets when a file has none: copies of its critics, taken from the member-view
 * params `single` and scattered into the population's target buffer. */
void iql_targets_from_critics(const IqlState *s, int member, const float *single, float *pop_target);

/* The gradients of the last step (at its pre-step parameters), member view. For tests. */
int iql_get_gradients(IqlState *s, int member, float *grads, Error *err);

/* Sets the number of completed steps (resume). */
int iql_set_step_count(IqlState *s, int64_t step, Error *err);

#endif
