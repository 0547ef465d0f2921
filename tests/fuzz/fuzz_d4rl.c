/* fuzz_d4rl.c — libFuzzer harness: any bytes as a D4RL file (an HDF5 image in memory) through
 * the D4RL reader (data/d4rl.c, column.c), then, when it is read, the fingerprint and the
 * preprocessing a run applies. Must never crash, leak, read out of bounds or leave an HDF5
 * object open; a refusal is fine. HDF5's own crashes are refusals too (fuzz_isolate.h). Seeds:
 * tests/data's fixtures. */
#include <stdint.h>

#include "data/reader.h"
#include "fuzz_dataset.h"
#include "fuzz_h5.h" /* fuzz_init */
#include "fuzz_isolate.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_init();
    return 0;
}

static int read_d4rl(const uint8_t *data, size_t size, Error *err) {
    return fuzz_read_dataset(data, size, d4rl_load, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Error err;
    if (!fuzz_crashes_hdf5(read_d4rl, data, size)) (void)read_d4rl(data, size, &err);
    return 0;
}
