/* write.c — writing a checkpoint (format: docs/checkpoint.md): every tensor of the table
 * (tensors.h), the normalisation and the root attributes, into PATH.tmp, then synced and
 * renamed over PATH (base/files.h), so an interrupted write leaves the previous file intact. */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/files.h"
#include "base/h5.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/tensors.h"

static int write_dataset(hid_t file, hid_t lcpl, const char *name, int rank, const hsize_t *dims,
                         const float *data, const char *path, Error *err) {
    int rc = -1;
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    space = H5Screate_simple(rank, dims, NULL);
    if (space < 0) {
        h5_fail(err, path, "/%s: cannot create its dataspace", name);
        goto done;
    }
    /* No timestamp: the same state gives the same bytes (see write_file). */
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0 || H5Pset_obj_track_times(dcpl, 0) < 0) {
        h5_fail(err, path, "/%s: cannot make a dataset creation property list", name);
        goto done;
    }
    /* Stored as little-endian float32 whatever the host, so files move between machines. */
    dset = H5Dcreate2(file, name, H5T_IEEE_F32LE, space, lcpl, dcpl, H5P_DEFAULT);
    if (dset < 0) {
        h5_fail(err, path, "/%s: cannot create the dataset", name);
        goto done;
    }
    if (H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        h5_fail(err, path, "/%s: write failed", name);
        goto done;
    }
    rc = 0;
done:
    h5_close(&dset);
    h5_close(&dcpl);
    h5_close(&space);
    return rc;
}

/* Writes the tensors of one table from buf under `prefix` ("" or "optimizer/exp_avg/"). */
static int write_tree(hid_t file, hid_t lcpl, const char *prefix, const Tensor *t, int n, const float *buf,
                      const char *path, Error *err) {
    for (int i = 0; i < n; i++) {
        char name[NAME_CAP];
        join_name(name, prefix, t[i].name);
        if (write_dataset(file, lcpl, name, t[i].rank, t[i].dims, buf + t[i].offset, path, err) != 0) return -1;
    }
    return 0;
}

/* Refuses non-finite values before anything is written: a reader refuses them, so writing them
 * would only replace a good checkpoint with one that cannot be loaded. */
static int check_tree_finite(const char *prefix, const Tensor *t, int n, const float *buf, const char *path,
                             Error *err) {
    for (int i = 0; i < n; i++) {
        size_t count = tensor_count(&t[i]);
        size_t bad = first_nonfinite(buf + t[i].offset, count);
        if (bad < count) {
            char where[96];
            format_element(where, sizeof where, &t[i], bad, buf[t[i].offset + bad]);
            return error_set(err, "%s: /%s%s: %s; not writing the checkpoint (the previous one is kept)", path,
                             prefix, t[i].name, where);
        }
    }
    return 0;
}

/* A root attribute: n = 0 for a scalar, else a 1-D array of n values. */
static int write_attr(hid_t file, const char *name, hid_t file_type, hid_t mem_type, hsize_t n, const void *data,
                      const char *path, Error *err) {
    int rc = -1;
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    space = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    if (space < 0) {
        h5_fail(err, path, "attribute %s: cannot create its dataspace", name);
        goto done;
    }
    attr = H5Acreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0) {
        h5_fail(err, path, "attribute %s: cannot create it", name);
        goto done;
    }
    if (H5Awrite(attr, mem_type, data) < 0) {
        h5_fail(err, path, "attribute %s: write failed", name);
        goto done;
    }
    rc = 0;
done:
    h5_close(&attr);
    h5_close(&space);
    return rc;
}

/* A variable-length UTF-8 string: what h5py itself writes for a str, and reads back as a str
 * (a fixed-length one would come back as bytes). */
static int write_attr_string(hid_t file, const char *name, const char *value, const char *path, Error *err) {
    int rc = -1;
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0) {
        h5_fail(err, path, "attribute %s: cannot make a string type", name);
        goto done;
    }
    rc = write_attr(file, name, type, type, 0, &value, path, err);
done:
    h5_close(&type);
    return rc;
}

static int write_attributes(hid_t file, const ModelLayout *s, const CheckpointMeta *meta, const char *path,
                            Error *err) {
    int32_t version = CHECKPOINT_FORMAT_VERSION, obs = s->obs_dim, act = s->act_dim;
    int32_t hidden[MODEL_MAX_LAYERS];
    for (int i = 0; i < s->n_hidden; i++) hidden[i] = s->hidden[i];
    int64_t step = meta->step, seed = meta->seed, batch_seed = meta->batch_seed;
    if (write_attr(file, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &version, path, err) ||
        write_attr(file, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &step, path, err) ||
        write_attr(file, "obs_dim", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &obs, path, err) ||
        write_attr(file, "act_dim", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &act, path, err) ||
        write_attr(file, "hidden", H5T_STD_I32LE, H5T_NATIVE_INT32, (hsize_t)s->n_hidden, hidden, path, err) ||
        write_attr_string(file, "policy", meta->deterministic ? "deterministic" : "gaussian", path, err) ||
        write_attr(file, "max_action", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &meta->max_action, path, err) ||
        write_attr(file, "tau", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &meta->tau, path, err) ||
        write_attr(file, "beta", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &meta->beta, path, err) ||
        write_attr(file, "seed", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &seed, path, err) ||
        write_attr(file, "batch_seed", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &batch_seed, path, err) ||
        write_attr(file, "reward_scale", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &meta->reward_scale, path, err) ||
        write_attr(file, "reward_shift", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &meta->reward_shift, path, err))
        return -1;
    if (meta->config_yaml && write_attr_string(file, "config", meta->config_yaml, path, err)) return -1;
    return 0;
}

/* The normalisation statistics; a NULL mean / std in meta is written as 0 / 1 (no
 * normalisation), so every file we write says explicitly what its policy expects. */
static int write_normalization(hid_t file, hid_t lcpl, const CheckpointMeta *meta, int obs_dim, const char *path,
                               Error *err) {
    float *fill = NULL;
    const float *mean = meta->state_mean, *std = meta->state_std;
    if (!mean || !std) {
        fill = malloc(sizeof(float) * 2 * (size_t)obs_dim);
        if (!fill) return error_set(err, "%s: out of memory", path);
        for (int i = 0; i < obs_dim; i++) {
            fill[i] = 0.0f;
            fill[obs_dim + i] = 1.0f;
        }
        if (!mean) mean = fill;
        if (!std) std = fill + obs_dim;
    }
    hsize_t dims[1] = {(hsize_t)obs_dim};
    int rc = write_dataset(file, lcpl, "normalization/state_mean", 1, dims, mean, path, err);
    if (rc == 0) rc = write_dataset(file, lcpl, "normalization/state_std", 1, dims, std, path, err);
    free(fill);
    return rc;
}

static int check_normalization(const CheckpointMeta *meta, int obs_dim, const char *path, Error *err) {
    for (int i = 0; i < obs_dim; i++) {
        float mean = meta->state_mean ? meta->state_mean[i] : 0.0f, std = meta->state_std ? meta->state_std[i] : 1.0f;
        if (!isfinite(mean) || !isfinite(std) || !(std > 0))
            return error_set(err, "%s: normalisation of state %d is mean %g, std %g (need finite values, std > 0); "
                             "not writing the checkpoint", path, i, mean, std);
    }
    return 0;
}

static int check_write_args(const ModelLayout *s, const CheckpointMeta *meta, const float *params,
                             const float *adam_m, const float *adam_v, const char *path, Error *err) {
    if (!path || !path[0]) return error_set(err, "checkpoint: empty path");
    if (!s || !meta || !params) return error_set(err, "%s: checkpoint_write needs a layout, meta and params", path);
    if (s->members != 1)
        return error_set(err, "%s: checkpoint_write takes a member view (P = 1 layout), got P = %d", path, s->members);
    if ((adam_m == NULL) != (adam_v == NULL))
        return error_set(err, "%s: both Adam moments or neither (a file with one cannot be resumed)", path);
    int same = meta->obs_dim == s->obs_dim && meta->act_dim == s->act_dim && meta->n_hidden == s->n_hidden;
    for (int i = 0; same && i < s->n_hidden; i++) same = meta->hidden[i] == s->hidden[i];
    if (!same)
        return error_set(err, "%s: meta (obs %d, act %d, %d hidden layers) disagrees with the layout (obs %d, act %d, "
                         "%d hidden layers)", path, meta->obs_dim, meta->act_dim, meta->n_hidden, s->obs_dim,
                         s->act_dim, s->n_hidden);
    return 0;
}

typedef struct {
    const char *path;
    const ModelLayout *single;
    const CheckpointMeta *meta;
    const float *params, *target, *adam_m, *adam_v;
} WriteJob;

/* Writes the whole file at tmp (file_write_atomic's temporary name). The file is built in
 * memory and its bytes written out at the end (h5_create_in_memory says why: a full disk must
 * not leave HDF5 holding a file it can neither flush nor close). */
static int write_file(const char *tmp, void *arg, Error *err) {
    const WriteJob *job = arg;
    const char *path = job->path;
    Tensor pt[MAX_TENSORS], tt[MAX_TENSORS];
    int np = tensor_list(job->single, 0, pt), nt = tensor_list(job->single, 1, tt);
    int rc = -1;
    hid_t fcpl = H5I_INVALID_HID, lcpl = H5I_INVALID_HID, file = H5I_INVALID_HID;
    /* No object timestamps: the same state gives the same bytes, so two checkpoints can be
     * compared with cmp. */
    fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fcpl < 0 || H5Pset_obj_track_times(fcpl, 0) < 0) {
        h5_fail(err, path, "cannot make a file creation property list");
        goto done;
    }
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        h5_fail(err, path, "cannot make a link creation property list");
        goto done;
    }
    file = h5_create_in_memory(tmp, fcpl);
    if (file < 0) {
        h5_fail(err, path, "cannot create %s in memory", tmp);
        goto done;
    }
    if (write_tree(file, lcpl, "", pt, np, job->params, path, err) ||
        (job->target && write_tree(file, lcpl, "", tt, nt, job->target, path, err)) ||
        write_normalization(file, lcpl, job->meta, job->single->obs_dim, path, err) ||
        (job->adam_m && write_tree(file, lcpl, "optimizer/exp_avg/", pt, np, job->adam_m, path, err)) ||
        (job->adam_v && write_tree(file, lcpl, "optimizer/exp_avg_sq/", pt, np, job->adam_v, path, err)) ||
        write_attributes(file, job->single, job->meta, path, err))
        goto done;
    rc = h5_save_image(&file, tmp, path, err);
done:
    h5_close(&file);
    h5_close(&lcpl);
    h5_close(&fcpl);
    return rc;
}

int checkpoint_write(const char *path, const ModelLayout *single, const CheckpointMeta *meta, const float *params,
                     const float *target, const float *adam_m, const float *adam_v, Error *err) {
    h5_silence();
    if (check_write_args(single, meta, params, adam_m, adam_v, path, err) != 0) return -1;
    Tensor pt[MAX_TENSORS], tt[MAX_TENSORS];
    int np = tensor_list(single, 0, pt), nt = tensor_list(single, 1, tt);
    /* Refused before anything is written: a reader refuses them, so writing them would only
     * replace a good checkpoint with one that cannot be loaded. */
    if (check_tree_finite("", pt, np, params, path, err) ||
        (target && check_tree_finite("", tt, nt, target, path, err)) ||
        (adam_m && check_tree_finite("optimizer/exp_avg/", pt, np, adam_m, path, err)) ||
        (adam_v && check_tree_finite("optimizer/exp_avg_sq/", pt, np, adam_v, path, err)) ||
        check_normalization(meta, single->obs_dim, path, err))
        return -1;
    WriteJob job = {path, single, meta, params, target, adam_m, adam_v};
    return file_write_atomic(path, write_file, &job, err);
}
