/* fuzz_dataset.h — what the dataset harnesses do with a file that loaded: what trainer.c does
 * with it (the fingerprint, state normalisation, the locomotion reward scale, episode returns),
 * so that sizes the reader accepted are exercised too. */
#ifndef CUIQL_FUZZ_DATASET_H
#define CUIQL_FUZZ_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "base/h5.h"
#include "cuiql/error.h"
#include "data/dataset.h"

void fuzz_use_dataset(Dataset *d);

/* A dataset reader's entry, as the D4RL and Minari readers have it (data/reader.h). */
typedef int (*FuzzLoad)(hid_t file, const char *path, Dataset *d, Error *err);

/* One input as a dataset file: opened as an HDF5 image in memory (fuzz_h5.h), loaded by `load`,
 * used as a run would (fuzz_use_dataset), and closed with every object checked closed. 0, or
 * -1 for a refusal. */
int fuzz_read_dataset(const uint8_t *data, size_t size, FuzzLoad load, Error *err);

#endif
