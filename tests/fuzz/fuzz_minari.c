/* fuzz_minari.c — libFuzzer harness: any bytes as a Minari file (an HDF5 image in memory)
 * through the Minari reader (data/minari.c, column.c), then what a run does with the data
 * (fuzz_dataset.h). HDF5's own crashes are refusals (fuzz_isolate.h). Seeds: tests/data's
 * Minari fixtures. */
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

/* A file the Minari reader does not recognise is refused here, as the reader dispatch would. */
static int load_minari(hid_t file, const char *path, Dataset *d, Error *err) {
    return minari_detect(file, path, err) > 0 ? minari_load(file, path, d, err) : -1;
}

static int read_minari(const uint8_t *data, size_t size, Error *err) {
    return fuzz_read_dataset(data, size, load_minari, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Error err;
    if (!fuzz_crashes_hdf5(read_minari, data, size)) (void)read_minari(data, size, &err);
    return 0;
}
