/* fuzz_checkpoint.c — libFuzzer harness: any bytes as a checkpoint (an HDF5 image in memory)
 * through the checkpoint reader (checkpoint/read.c): the metadata and sizes, then, for a model
 * of sane size, every tensor into buffers of the layout the file declares. HDF5's own crashes
 * are refusals (fuzz_isolate.h). Seeds: checkpoints as cuiql writes them and as a user writes
 * them with h5py (make_seeds.py). */
#include <stdint.h>
#include <stdlib.h>

#include "checkpoint/read_hid.h"
#include "fuzz_h5.h"
#include "fuzz_isolate.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_init();
    return 0;
}

static int read_checkpoint(const uint8_t *data, size_t size, Error *err) {
    hid_t file = fuzz_open_image(data, size);
    if (file < 0) return error_set(err, "not an HDF5 image");
    CheckpointMeta meta;
    ModelLayout single;
    int rc = checkpoint_read_meta_hid(file, "fuzz", &meta, err);
    if (rc == 0) rc = model_layout_init(&single, 1, meta.obs_dim, meta.act_dim, meta.hidden, meta.n_hidden, err);
    if (rc == 0 && single.n_params <= ((size_t)1 << 22)) {
        size_t np = single.n_params, nt = model_target_size(&single);
        float *params = malloc(np * sizeof(float)), *target = malloc((nt ? nt : 1) * sizeof(float));
        float *m = malloc(np * sizeof(float)), *v = malloc(np * sizeof(float));
        int has_target = 0, has_opt = 0;
        if (params && target && m && v)
            rc = checkpoint_read_hid(file, "fuzz", &single, params, target, m, v, &has_target, &has_opt, err);
        free(params);
        free(target);
        free(m);
        free(v);
    }
    checkpoint_meta_free(&meta);
    fuzz_close_image(file);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Error err;
    if (!fuzz_crashes_hdf5(read_checkpoint, data, size)) (void)read_checkpoint(data, size, &err);
    return 0;
}
