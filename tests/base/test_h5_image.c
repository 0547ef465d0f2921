/* test_h5_image.c — base/h5.h's in-memory files: a file built with h5_create_in_memory and
 * written by h5_save_image reads back; a write that fails (the target exists, its directory is
 * missing, a file size limit like a full disk) is an error with the system's reason, and leaves
 * HDF5 holding no file, so the process exits cleanly (before, a full disk left HDF5 a file it
 * crashed on at exit: SIGSEGV in H5F__close_cb). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/h5.h"
#include "test_util.h"

/* An in-memory file with one dataset of n floats. */
static hid_t make_file(const char *name, size_t n) {
    h5_silence();
    hid_t file = h5_create_in_memory(name, H5P_DEFAULT);
    if (file < 0) return file;
    hsize_t dims[1] = {n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dset = H5Dcreate2(file, "x", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    static float data[1 << 18];
    for (size_t i = 0; i < n && i < sizeof data / sizeof *data; i++) data[i] = (float)i;
    H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(dset);
    H5Sclose(space);
    return file;
}

static ssize_t open_files(void) { return H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE); }

int main(void) {
    const char *path = "image_ok.h5";
    unlink(path);
    Error err = {{0}};
    hid_t file = make_file("image_ok", 1000);
    CHECK(file >= 0, "in-memory file created");
    CHECK(access("image_ok", F_OK) != 0, "nothing created on disk by the in-memory file");
    CHECK(h5_save_image(&file, path, "shown.h5", &err) == 0, "saved: %s", err.msg);
    CHECK(file == H5I_INVALID_HID && open_files() == 0, "closed after saving (%zd files open)", open_files());
    hid_t back = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    float v[1000] = {0};
    hid_t dset = back >= 0 ? H5Dopen2(back, "x", H5P_DEFAULT) : H5I_INVALID_HID;
    CHECK(dset >= 0 && H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0 && v[999] == 999.0f,
          "the saved file reads back");
    if (dset >= 0) H5Dclose(dset);
    if (back >= 0) H5Fclose(back);

    /* The target exists: O_EXCL refuses, the message names the shown file and the reason. */
    file = make_file("image_exists", 10);
    CHECK(h5_save_image(&file, path, "shown.h5", &err) == -1 && strstr(err.msg, "shown.h5") &&
              strstr(err.msg, "File exists"), "existing target: %s", err.msg);
    CHECK(file == H5I_INVALID_HID && open_files() == 0, "closed after a failed save");

    /* A file size limit: writes fail as on a full disk (EFBIG here, ENOSPC there). */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 4096;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "set a 4 KB file size limit");
    unlink("image_big.h5");
    file = make_file("image_big", 1 << 18);
    CHECK(h5_save_image(&file, "image_big.h5", "big.h5", &err) == -1 && strstr(err.msg, "big.h5") &&
              strstr(err.msg, "too large"), "write past the limit: %s", err.msg);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK(file == H5I_INVALID_HID && open_files() == 0, "no file left open in HDF5 after a failed write");
    unlink("image_big.h5");
    unlink(path);
    /* Exiting now runs HDF5's cleanup: with a file left behind it used to crash here. */
    return test_finish("test_h5_image", 0);
}
