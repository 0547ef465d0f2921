/* checkpoint.h — one run's state in an HDF5 file (layout: docs/checkpoint.md).
 *
 * Tensors are taken from and given back as "member view" buffers: the layout of the same
 * model with P = 1 (model.h), so a population writes one file per member after
 * model_member_gather(). Writes go to PATH.tmp and are renamed over PATH (base/files.h), so an
 * interrupted write leaves the previous file intact. Errors name the file and the HDF5 object.
 * Not thread-safe: the HDF5 library is a serial build; call from one thread at a time.
 *
 * The code: tensors.c (the table of tensors both directions walk), write.c, read.c. */
#ifndef CUIQL_CHECKPOINT_H
#define CUIQL_CHECKPOINT_H

#include <stdint.h>

#include "algo/model.h"
#include "cuiql/error.h"

#define CHECKPOINT_FORMAT_VERSION 1

typedef struct {
    int64_t step;                      /* gradient steps completed */
    int obs_dim, act_dim;
    int n_hidden;
    int hidden[MODEL_MAX_LAYERS];
    int deterministic;                 /* policy: 0 gaussian, 1 deterministic */
    double max_action;
    double tau, beta;
    int64_t seed, batch_seed;
    double reward_scale, reward_shift;
    float *state_mean, *state_std;     /* [obs_dim]; caller's on write, malloc'd by read_meta */
    char *config_yaml;                 /* caller's on write, malloc'd by read_meta */
} CheckpointMeta;

/* Writes a checkpoint. params: member view [n_params]; target: q span [model_target_size]
 * (NULL: not written); adam_m / adam_v: member view, both or neither (NULL: a weights-only
 * file). meta's sizes must match `single`; state_mean / state_std NULL are written as 0 / 1 and
 * config_yaml NULL leaves the attribute out. NaN/Inf in any tensor is refused before anything is
 * written. Errors name the path and the HDF5 object; on any failure PATH.tmp is removed and
 * PATH is untouched (except a failed fsync of the directory after the rename: then PATH is the
 * new file and the error says "written but not yet durable"). */
int checkpoint_write(const char *path, const ModelLayout *single, const CheckpointMeta *meta,
                     const float *params, const float *target, const float *adam_m, const float *adam_v,
                     Error *err);

/* Reads the root attributes and normalisation (allocating state_mean, state_std, config_yaml).
 * Sizes (obs_dim, act_dim, hidden) come from the policy's weight shapes and must agree with the
 * attributes where those exist; every network's shapes are checked against them. A file
 * without attributes (hand-written: docs/checkpoint.md, "A minimal hand-written file") gets: step 0, policy
 * gaussian if it has /policy/log_std else deterministic, max_action 1, tau and beta NaN (not
 * recorded), seed 0, batch_seed -1, reward_scale 1, reward_shift 0, config_yaml NULL, and
 * mean 0 / std 1 when /normalization is absent. On failure nothing is left allocated. */
int checkpoint_read_meta(const char *path, CheckpointMeta *meta, Error *err);
void checkpoint_meta_free(CheckpointMeta *meta);  /* frees what read_meta allocated; NULL-safe */

/* Reads tensors into member-view buffers laid out as `single` (which must match the file's
 * shapes; a mismatch names the tensor and both shapes). target / adam_m / adam_v may be NULL to
 * skip them; *has_target and *has_optimizer (may be NULL) say whether the file had them: when
 * absent the corresponding buffers are left untouched. A missing /policy/log_std reads as
 * zeros. On failure the buffers may have been partly overwritten. */
int checkpoint_read(const char *path, const ModelLayout *single, float *params, float *target,
                    float *adam_m, float *adam_v, int *has_target, int *has_optimizer, Error *err);

/* checkpoint_read_meta, then the P = 1 layout of the file's model (for `cuiql eval` and
 * --init-from). meta may be NULL when only the layout is wanted; otherwise the caller frees it
 * with checkpoint_meta_free (on failure nothing is left allocated). */
int checkpoint_layout_from_file(const char *path, ModelLayout *single, CheckpointMeta *meta, Error *err);

#endif
