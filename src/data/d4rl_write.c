/* d4rl_write.c — writes transitions as a D4RL flat HDF5 file (the layout d4rl.c reads), as
 * h5py would write numpy arrays: float32 arrays, and flags as 8-bit enum bools. No object
 * timestamps, so equal data gives byte-identical files. */
#include "data/d4rl_write.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/files.h"
#include "base/h5.h"

/* Every identifier the writer opens, closed in one place. */
typedef struct {
    hid_t file, fcpl, dcpl, space, dset, attr, type, booltype;
} H5Handles;

static void close_all(H5Handles *h) {
    if (h->attr >= 0) H5Aclose(h->attr);
    if (h->dset >= 0) H5Dclose(h->dset);
    if (h->space >= 0) H5Sclose(h->space);
    if (h->type >= 0) H5Tclose(h->type);
    if (h->booltype >= 0) H5Tclose(h->booltype);
    if (h->dcpl >= 0) H5Pclose(h->dcpl);
    if (h->fcpl >= 0) H5Pclose(h->fcpl);
    if (h->file >= 0) H5Fclose(h->file);
    h->file = h->fcpl = h->dcpl = h->space = h->dset = h->attr = h->type = h->booltype = -1;
}

/* One dataset of `rank` (1 or 2) with element type `type` (file and memory alike). */
static int write_dataset(H5Handles *h, const char *path, const char *name, hid_t type, int rank, int64_t rows,
                         int cols, const void *data, Error *err) {
    hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
    h->space = H5Screate_simple(rank, dims, NULL);
    if (h->space < 0) return error_set(err, "%s: dataset '%s': cannot create its dataspace", path, name);
    h->dset = H5Dcreate2(h->file, name, type, h->space, H5P_DEFAULT, h->dcpl, H5P_DEFAULT);
    if (h->dset < 0) return error_set(err, "%s: dataset '%s': cannot create it", path, name);
    if (H5Dwrite(h->dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        return error_set(err, "%s: dataset '%s': write failed", path, name);
    if (H5Dclose(h->dset) < 0) return error_set(err, "%s: dataset '%s': close failed", path, name);
    h->dset = -1;
    if (H5Sclose(h->space) < 0) return error_set(err, "%s: dataset '%s': close failed", path, name);
    h->space = -1;
    return 0;
}

/* A scalar root attribute of a native type. */
static int write_attr(H5Handles *h, const char *path, const char *name, hid_t type, const void *value, Error *err) {
    h->space = H5Screate(H5S_SCALAR);
    if (h->space < 0) return error_set(err, "%s: attribute '%s': cannot create its dataspace", path, name);
    h->attr = H5Acreate2(h->file, name, type, h->space, H5P_DEFAULT, H5P_DEFAULT);
    if (h->attr < 0) return error_set(err, "%s: attribute '%s': cannot create it", path, name);
    if (H5Awrite(h->attr, type, value) < 0) return error_set(err, "%s: attribute '%s': write failed", path, name);
    if (H5Aclose(h->attr) < 0) return error_set(err, "%s: attribute '%s': close failed", path, name);
    h->attr = -1;
    if (H5Sclose(h->space) < 0) return error_set(err, "%s: attribute '%s': close failed", path, name);
    h->space = -1;
    return 0;
}

/* A string attribute as h5py writes a Python str: variable-length UTF-8. */
static int write_attr_string(H5Handles *h, const char *path, const char *name, const char *value, Error *err) {
    h->type = H5Tcopy(H5T_C_S1);
    if (h->type < 0 || H5Tset_size(h->type, H5T_VARIABLE) < 0 || H5Tset_cset(h->type, H5T_CSET_UTF8) < 0)
        return error_set(err, "%s: attribute '%s': cannot make a string type", path, name);
    if (write_attr(h, path, name, h->type, &value, err) != 0) return -1;
    if (H5Tclose(h->type) < 0) return error_set(err, "%s: attribute '%s': close failed", path, name);
    h->type = -1;
    return 0;
}

static int write_all(H5Handles *h, const char *tmp, const char *path, const D4rlArrays *d, Error *err) {
    /* no object timestamps: the same data must give the same bytes */
    h->fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (h->fcpl < 0 || H5Pset_obj_track_times(h->fcpl, 0) < 0)
        return error_set(err, "%s: cannot set up file creation properties", path);
    h->dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (h->dcpl < 0 || H5Pset_obj_track_times(h->dcpl, 0) < 0)
        return error_set(err, "%s: cannot set up dataset creation properties", path);
    /* Built in memory and written out at the end (h5_create_in_memory says why). */
    h->file = h5_create_in_memory(tmp, h->fcpl);
    if (h->file < 0) return error_set(err, "%s: cannot create the file in memory", tmp);

    /* numpy bool as h5py stores it: an 8-bit enum FALSE = 0, TRUE = 1 */
    h->booltype = H5Tenum_create(H5T_NATIVE_INT8);
    if (h->booltype < 0) return error_set(err, "%s: cannot make the bool type", path);
    int8_t f = 0, t = 1;
    if (H5Tenum_insert(h->booltype, "FALSE", &f) < 0 || H5Tenum_insert(h->booltype, "TRUE", &t) < 0)
        return error_set(err, "%s: cannot make the bool type", path);

    if (write_dataset(h, path, "observations", H5T_NATIVE_FLOAT, 2, d->n, d->obs_dim, d->observations, err) ||
        write_dataset(h, path, "actions", H5T_NATIVE_FLOAT, 2, d->n, d->act_dim, d->actions, err) ||
        write_dataset(h, path, "rewards", H5T_NATIVE_FLOAT, 1, d->n, 1, d->rewards, err) ||
        write_dataset(h, path, "next_observations", H5T_NATIVE_FLOAT, 2, d->n, d->obs_dim, d->next_observations,
                      err) ||
        write_dataset(h, path, "terminals", h->booltype, 1, d->n, 1, d->terminals, err) ||
        write_dataset(h, path, "timeouts", h->booltype, 1, d->n, 1, d->timeouts, err))
        return -1;

    for (int i = 0; i < d->n_attrs; i++) {
        const D4rlAttr *a = &d->attrs[i];
        if (a->text ? write_attr_string(h, path, a->name, a->text, err)
                    : write_attr(h, path, a->name, H5T_NATIVE_INT64, &a->number, err))
            return -1;
    }

    return h5_save_image(&h->file, tmp, path, err);
}

typedef struct {
    const char *path;
    const D4rlArrays *data;
} WriteJob;

static int write_file(const char *tmp, void *arg, Error *err) {
    const WriteJob *job = arg;
    H5Handles h = {-1, -1, -1, -1, -1, -1, -1, -1};
    int rc = write_all(&h, tmp, job->path, job->data, err);
    close_all(&h);
    return rc;
}

int d4rl_write(const char *path, const D4rlArrays *d, Error *err) {
    if (d->n < 1) return error_set(err, "%s: no transitions to write", path);
    h5_silence();  /* our messages replace HDF5's stack dumps */
    WriteJob job = {path, d};
    return file_write_atomic(path, write_file, &job, err);
}
