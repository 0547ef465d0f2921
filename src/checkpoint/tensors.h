/* tensors.h — the table of a checkpoint's tensors, shared by write.c and read.c (internal to
 * src/checkpoint/). Every tensor goes through one table (tensor_list) that maps a dataset name
 * to its shape and its offset in the member-view buffer, so writing, reading and shape
 * checking walk the same list. */
#ifndef CUIQL_CHECKPOINT_TENSORS_H
#define CUIQL_CHECKPOINT_TENSORS_H

#include <hdf5.h>
#include <stddef.h>

#include "algo/model.h"
#include "cuiql/error.h"

/* One dataset: name relative to the root ("policy/layer0/weight"), shape in PyTorch's
 * nn.Linear convention ([out, in] or [out]) and offset (floats) into its buffer. */
typedef struct {
    char name[48];
    int rank;
    hsize_t dims[2];
    size_t offset;
} Tensor;

/* policy, value, q1, q2: a weight and a bias per layer each, plus the policy's log_std. */
#define MAX_TENSORS (4 * 2 * MODEL_MAX_LAYERS + 1)
#define NAME_CAP 128  /* a full dataset name: "optimizer/exp_avg_sq/" + a Tensor name */

/* The networks a file holds, and the layout each is checked against. */
typedef struct {
    const char *name;
    NetId net;
} TreeNet;

extern const TreeNet checkpoint_param_nets[4];   /* policy, value, q1, q2 */
extern const TreeNet checkpoint_target_nets[2];  /* q1_target, q2_target */

/* The tensors of the parameter buffer (targets = 0: policy, policy/log_std, value, q1, q2) or
 * of the target buffer (targets = 1: q1_target, q2_target). Returns how many. */
int tensor_list(const ModelLayout *s, int targets, Tensor *t);

/* prefix + name into out[NAME_CAP]. */
void join_name(char *out, const char *prefix, const char *name);
size_t tensor_count(const Tensor *t);
void format_shape(char *buf, size_t cap, int rank, const hsize_t *dims);
/* Index of the first NaN/Inf in x, or n when all are finite. */
size_t first_nonfinite(const float *x, size_t n);
/* "element [r, c] is nan" for a tensor of the table. */
void format_element(char *buf, size_t cap, const Tensor *t, size_t i, float v);

/* Sets "PATH: <message>: <HDF5's innermost reason>" and returns -1. Must be called right after
 * the failing HDF5 call, before any other HDF5 call clears the error stack. */
int h5_fail(Error *err, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
