/* fuzz_minari.c — libFuzzer harness: any bytes as a Minari file (an HDF5 image in memory)
 * through the Minari reader (data/minari.c, column.c), then what a run does with the data
 * (fuzz_dataset.h). HDF5's own crashes are refusals (fuzz_isolate.h). Seeds: tests/data's
 * Minari fixtures. */
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

static int read_minari(const uint8_t *data, size_t size, Error *err) {
    hid_t file = fuzz_open_image(data, size);
    if (file < 0) return error_set(err, "not an HDF5 image");
    Dataset d = {0};
    int rc = minari_detect(file, "fuzz", err) > 0 ? minari_load(file, "fuzz", &d, err) : -1;
    if (rc == 0) fuzz_use_dataset(&d);
    dataset_free(&d);
    fuzz_close_image(file);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Error err;
    if (!fuzz_crashes_hdf5(read_minari, data, size)) (void)read_minari(data, size, &err);
    return 0;
}
