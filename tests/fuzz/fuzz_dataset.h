/* fuzz_dataset.h — what the dataset harnesses do with a file that loaded: what trainer.c does
 * with it (the fingerprint, state normalisation, the locomotion reward scale, episode returns),
 * so that sizes the reader accepted are exercised too. */
#ifndef CUIQL_FUZZ_DATASET_H
#define CUIQL_FUZZ_DATASET_H

#include "data/dataset.h"

void fuzz_use_dataset(Dataset *d);

#endif
