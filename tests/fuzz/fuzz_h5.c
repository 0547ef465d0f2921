/* fuzz_h5.c — see fuzz_h5.h. */
#include "fuzz_h5.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/h5.h"
#include "base/sizes.h"

void fuzz_init(void) {
    h5_silence();
    size_set_memory_limit((size_t)256 << 20);
}

hid_t fuzz_open_image(const uint8_t *data, size_t size) {
    if (size == 0) return H5I_INVALID_HID;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = H5I_INVALID_HID;
    /* The image is copied into the driver's buffer: the input stays the fuzzer's. */
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 4096, 0) >= 0 && H5Pset_file_image(fapl, (void *)data, size) >= 0)
        file = H5Fopen("fuzz-input.h5", H5F_ACC_RDONLY, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    H5Eclear2(H5E_DEFAULT);
    return file;
}

void fuzz_close_image(hid_t file) {
    if (file >= 0) {
        ssize_t open_objects = H5Fget_obj_count(file, H5F_OBJ_ALL) - 1; /* less the file itself */
        if (open_objects != 0) {
            fprintf(stderr, "fuzz: the reader left %zd HDF5 objects of the file open\n", open_objects);
            abort();
        }
        H5Fclose(file);
    }
    ssize_t left = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (left != 0) {
        fprintf(stderr, "fuzz: %zd HDF5 objects still open after closing the input\n", left);
        abort();
    }
}
