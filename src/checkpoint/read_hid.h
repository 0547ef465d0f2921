/* read_hid.h — checkpoint_read_meta and checkpoint_read (checkpoint.h) on a file that is already
 * open, such as an in-memory image: the entry tests/fuzz/ feeds its inputs through, under the
 * functions that take a path (which add the checks of the path itself: exists, a regular file,
 * HDF5 at all). `name` stands for the file in messages. The caller opens and closes the file. */
#ifndef CUIQL_CHECKPOINT_READ_HID_H
#define CUIQL_CHECKPOINT_READ_HID_H

#include <hdf5.h>

#include "checkpoint/checkpoint.h"

int checkpoint_read_meta_hid(hid_t file, const char *name, CheckpointMeta *meta, Error *err);
int checkpoint_read_hid(hid_t file, const char *name, const ModelLayout *single, float *params, float *target,
                        float *adam_m, float *adam_v, int *has_target, int *has_optimizer, Error *err);

#endif
