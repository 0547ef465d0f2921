/* fuzz_d4rl.c — libFuzzer harness: any bytes as a D4RL file (an HDF5 image in memory) through
 * the D4RL reader (data/d4rl.c, column.c), then, when it is read, the fingerprint and the
 * preprocessing a run applies. Must never crash, leak, read out of bounds or leave an HDF5
 * object open; a refusal is fine. HDF5's own crashes are refusals too (fuzz_isolate.h). Seeds:
 * tests/data's fixtures. */
#include <stdint.h>

#include "data/reader.h"
#include "fuzz_dataset.h"
#include "fuzz_h5.h"
#include "fuzz_isolate.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_init();
    return 0;
}

static int read_d4rl(const uint8_t *data, size_t size, Error *err) {
    hid_t file = fuzz_open_image(data, size);
    if (file < 0) return error_set(err, "not an HDF5 image");
    Dataset d = {0};
    int rc = d4rl_load(file, "fuzz", &d, err);
    if (rc == 0) fuzz_use_dataset(&d);
    dataset_free(&d);
    fuzz_close_image(file);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Error err;
    if (!fuzz_crashes_hdf5(read_d4rl, data, size)) (void)read_d4rl(data, size, &err);
    return 0;
}
