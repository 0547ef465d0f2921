/* read.c — reading a checkpoint (format: docs/checkpoint.md): the attributes and
 * normalisation (checkpoint_read_meta), the model's sizes from the tensors' own shapes, and the
 * tensors of the table (tensors.h), each checked for shape, type and finite values. Each
 * function that opens HDF5 handles keeps them in locals initialised to H5I_INVALID_HID and
 * closes them all at its one exit (h5_close), on every path. */
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>

#include "base/h5.h"
#include "base/sandbox.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/read_hid.h"
#include "checkpoint/tensors.h"

/* Opens a root attribute if present. Returns 1 (open, *attr set, *n values, its class in
 * *cls), 0 (absent) or -1. Only scalars and 1-D arrays are accepted. */
static int attr_open(hid_t file, const char *name, hid_t *attr, hsize_t *n, H5T_class_t *cls, const char *path,
                     Error *err) {
    int rc = -1;
    hid_t space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    *attr = H5I_INVALID_HID;
    htri_t e = H5Aexists(file, name);
    if (e < 0) return h5_fail(err, path, "attribute %s: cannot look it up", name);
    if (e == 0) return 0;
    *attr = H5Aopen(file, name, H5P_DEFAULT);
    if (*attr < 0) {
        h5_fail(err, path, "attribute %s: cannot open it", name);
        goto done;
    }
    space = H5Aget_space(*attr);
    type = H5Aget_type(*attr);
    if (space < 0 || type < 0) {
        h5_fail(err, path, "attribute %s: cannot get its type and shape", name);
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(space);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    *cls = H5Tget_class(type);
    if (rank < 0 || count < 0 || *cls == H5T_NO_CLASS) {
        h5_fail(err, path, "attribute %s: cannot get its type and shape", name);
        goto done;
    }
    if (rank > 1) {
        error_set(err, "%s: attribute %s has rank %d, expected a scalar or a list", path, name, rank);
        goto done;
    }
    char why[256];
    if ((*cls == H5T_INTEGER || *cls == H5T_FLOAT) && !h5_number_type_sane(type, why, sizeof why)) {
        error_set(err, "%s: attribute %s is %s", path, name, why);
        goto done;
    }
    /* A string attribute's bytes are read whole: no config or name is near this size. */
    if (*cls == H5T_STRING && H5Tget_size(type) > ((size_t)16 << 20)) {
        error_set(err, "%s: attribute %s is a %zu-byte string", path, name, H5Tget_size(type));
        goto done;
    }
    *n = (hsize_t)count;
    rc = 1;
done:
    h5_close(&type);
    h5_close(&space);
    if (rc != 1) h5_close(attr);
    return rc;
}

/* Reads a numeric root attribute of 1..max_n values: as int64 (is_float = 0: integer class
 * only) or as double (is_float = 1: integer or float class, HDF5 converts). Returns 1 (read,
 * *n_read values), 0 (absent) or -1. */
static int read_attr_numbers(hid_t file, const char *name, int is_float, void *out, hsize_t max_n, hsize_t *n_read,
                             const char *path, Error *err) {
    hid_t attr;
    hsize_t n = 0;
    H5T_class_t cls = H5T_NO_CLASS;
    int found = attr_open(file, name, &attr, &n, &cls, path, err);
    if (found <= 0) return found;
    int rc = -1;
    if (!(cls == H5T_INTEGER || (is_float && cls == H5T_FLOAT))) {
        error_set(err, "%s: attribute %s is %s, expected %s", path, name, h5_class_name(cls),
                  is_float ? "a number" : "an integer");
        goto done;
    }
    if (n < 1 || n > max_n) {
        if (max_n == 1)
            error_set(err, "%s: attribute %s holds %llu values, expected one", path, name, (unsigned long long)n);
        else
            error_set(err, "%s: attribute %s holds %llu values, expected 1 to %llu", path, name, (unsigned long long)n,
                      (unsigned long long)max_n);
        goto done;
    }
    if (H5Aread(attr, is_float ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, out) < 0) {
        h5_fail(err, path, "attribute %s: read failed", name);
        goto done;
    }
    if (n_read) *n_read = n;
    rc = 1;
done:
    h5_close(&attr);
    return rc;
}

static int read_attr_i64(hid_t file, const char *name, int64_t *out, const char *path, Error *err) {
    return read_attr_numbers(file, name, 0, out, 1, NULL, path, err);
}

static int read_attr_f64(hid_t file, const char *name, double *out, const char *path, Error *err) {
    return read_attr_numbers(file, name, 1, out, 1, NULL, path, err);
}

/* Reads a string root attribute, variable-length (what we and h5py write for a str) or
 * fixed-length (numpy bytes), into a malloc'd string. Returns 1, 0 (absent) or -1. */
static int read_attr_string(hid_t file, const char *name, char **out, const char *path, Error *err) {
    hid_t attr, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    hsize_t n = 0;
    H5T_class_t cls = H5T_NO_CLASS;
    *out = NULL;
    int found = attr_open(file, name, &attr, &n, &cls, path, err);
    if (found <= 0) return found;
    int rc = -1;
    if (cls != H5T_STRING || n != 1) {
        error_set(err, "%s: attribute %s is %s with %llu values, expected one string", path, name, h5_class_name(cls),
                  (unsigned long long)n);
        goto done;
    }
    ftype = H5Aget_type(attr);
    htri_t vlen = ftype < 0 ? -1 : H5Tis_variable_str(ftype);
    if (vlen < 0) {
        h5_fail(err, path, "attribute %s: cannot get its string type", name);
        goto done;
    }
    if (vlen) {
        /* The memory type must carry the file's character set: HDF5 does not convert between
         * ASCII and UTF-8 strings. */
        H5T_cset_t cset = H5Tget_cset(ftype);
        mtype = H5Tcopy(H5T_C_S1);
        if (cset < 0 || mtype < 0 || H5Tset_size(mtype, H5T_VARIABLE) < 0 || H5Tset_cset(mtype, cset) < 0) {
            h5_fail(err, path, "attribute %s: cannot make a string type", name);
            goto done;
        }
        char *s = NULL;
        if (H5Aread(attr, mtype, &s) < 0) {
            h5_fail(err, path, "attribute %s: read failed", name);
            goto done;
        }
        *out = strdup(s ? s : "");
        H5free_memory(s);
    } else {
        size_t size = H5Tget_size(ftype);
        H5T_str_t pad = H5Tget_strpad(ftype);
        if (size == 0 || pad < 0) {
            h5_fail(err, path, "attribute %s: cannot get its string type", name);
            goto done;
        }
        char *s = calloc(size + 1, 1);
        if (!s) {
            error_set(err, "%s: out of memory", path);
            goto done;
        }
        /* Read the bytes as stored (the file type as memory type) and terminate them here. */
        if (H5Aread(attr, ftype, s) < 0) {
            free(s);
            h5_fail(err, path, "attribute %s: read failed", name);
            goto done;
        }
        if (pad == H5T_STR_SPACEPAD)
            for (size_t i = strlen(s); i > 0 && s[i - 1] == ' '; i--) s[i - 1] = '\0';
        *out = s;
    }
    if (!*out) {
        error_set(err, "%s: out of memory", path);
        goto done;
    }
    rc = 1;
done:
    h5_close(&mtype);
    h5_close(&ftype);
    h5_close(&attr);
    return rc;
}

/* Opens dataset `name` and checks it is a float tensor of rank `rank`. The dims found go to
 * found_dims (at least `rank` entries). Returns the open dataset, or H5I_INVALID_HID with the
 * error set (a missing dataset: "tensor /name is missing"). */
static hid_t open_tensor(hid_t file, const char *name, int rank, hsize_t *found_dims, const char *path,
                         Error *err) {
    hid_t dset = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    int ok = 0;
    if (!h5_exists(file, name)) {
        error_set(err, "%s: tensor /%s is missing", path, name);
        return H5I_INVALID_HID;
    }
    dset = H5Dopen2(file, name, H5P_DEFAULT);
    if (dset < 0) {
        h5_fail(err, path, "/%s: cannot open it as a dataset", name);
        goto done;
    }
    type = H5Dget_type(dset);
    space = H5Dget_space(dset);
    if (type < 0 || space < 0) {
        h5_fail(err, path, "/%s: cannot get its type and shape", name);
        goto done;
    }
    H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_FLOAT) {
        error_set(err, "%s: /%s is stored as %s, expected floating point (float32)", path, name, h5_class_name(cls));
        goto done;
    }
    char why[256];
    if (!h5_number_type_sane(type, why, sizeof why)) {
        error_set(err, "%s: /%s is stored as %s", path, name, why);
        goto done;
    }
    int found_rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK];
    if (found_rank < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        h5_fail(err, path, "/%s: cannot get its shape", name);
        goto done;
    }
    if (found_rank != rank) {
        char got[96];
        format_shape(got, sizeof got, found_rank, dims);
        error_set(err, "%s: /%s has shape %s, expected a tensor of rank %d", path, name, got, rank);
        goto done;
    }
    memcpy(found_dims, dims, sizeof(hsize_t) * (size_t)rank);
    ok = 1;
done:
    h5_close(&space);
    h5_close(&type);
    if (!ok) h5_close(&dset);
    return dset;
}

/* Checks one tensor of the table in the file (float class, exact shape) and, when dest is not
 * NULL, reads it into dest + t->offset and refuses NaN/Inf (and negative values when
 * nonnegative is set: a second moment). */
static int read_tensor(hid_t file, const char *prefix, const Tensor *t, float *dest, int nonnegative,
                       const char *path, Error *err) {
    char name[NAME_CAP];
    join_name(name, prefix, t->name);
    hsize_t dims[2] = {0, 0};
    hid_t dset = open_tensor(file, name, t->rank, dims, path, err);
    if (dset < 0) return -1;
    int rc = -1;
    if (dims[0] != t->dims[0] || (t->rank == 2 && dims[1] != t->dims[1])) {
        char got[64], want[64];
        format_shape(got, sizeof got, t->rank, dims);
        format_shape(want, sizeof want, t->rank, t->dims);
        error_set(err, "%s: /%s has shape %s in the file, expected %s", path, name, got, want);
        goto done;
    }
    if (dest) {
        float *x = dest + t->offset;
        size_t count = tensor_count(t);
        /* HDF5 converts float64 (what numpy makes by default) to float32 on the way. */
        if (H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0) {
            h5_fail(err, path, "/%s: read failed", name);
            goto done;
        }
        size_t bad = first_nonfinite(x, count);
        if (bad < count) {
            char where[96];
            format_element(where, sizeof where, t, bad, x[bad]);
            error_set(err, "%s: /%s: %s (the run that wrote it had diverged?)", path, name, where);
            goto done;
        }
        for (size_t i = 0; nonnegative && i < count; i++)
            if (x[i] < 0) {
                error_set(err, "%s: /%s: element %zu is %g, but a second moment cannot be negative", path, name, i,
                          x[i]);
                goto done;
            }
    }
    rc = 0;
done:
    h5_close(&dset);
    return rc;
}

/* "layer<i>" with i in canonical decimal → i; -1 for any other name. */
static int layer_index(const char *name) {
    if (strncmp(name, "layer", 5) != 0) return -1;
    const char *d = name + 5;
    if (!*d || (d[0] == '0' && d[1]) || strlen(d) > 6) return -1;
    int i = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9') return -1;
        i = i * 10 + (*d - '0');
    }
    return i;
}

/* The name of link idx of group g (in name order) into buf; -1 when it cannot be read. A name
 * longer than buf is cut (it is unexpected either way). */
static int link_name(hid_t g, hsize_t idx, char *buf, size_t size) {
    ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, idx, buf, size, H5P_DEFAULT);
    if (len < 0) return -1;
    buf[size - 1] = '\0';
    return 0;
}

/* Every member of group `name` must be one of `allowed` (NULL-terminated) or, when n_layers > 0,
 * layer<i> with i < n_layers; *extra_layer is set to an unexpected layer index (or -1). A group
 * that cannot be opened is left to the tensor reads to report. */
static int check_members(hid_t file, const char *name, const char *const *allowed, int n_layers, const char *path,
                         Error *err) {
    if (!h5_exists(file, name)) return 0;
    hid_t g = H5Oopen(file, name, H5P_DEFAULT);
    if (g < 0) {
        char ignored[8];
        h5_error_detail(ignored, sizeof ignored);
        return 0;
    }
    int rc = 0;
    H5G_info_t info;
    if (H5Iget_type(g) != H5I_GROUP) goto done; /* a dataset in a group's place: the reads say so */
    if (H5Gget_info(g, &info) < 0) {
        rc = h5_fail(err, path, "/%s: cannot list it", name);
        goto done;
    }
    for (hsize_t i = 0; i < info.nlinks && rc == 0; i++) {
        char member[64];
        if (link_name(g, i, member, sizeof member) < 0) {
            rc = h5_fail(err, path, "/%s: cannot list it", name);
            break;
        }
        int known = 0;
        for (const char *const *a = allowed; *a && !known; a++) known = !strcmp(member, *a);
        int layer = n_layers > 0 ? layer_index(member) : -1;
        if (known || (layer >= 0 && layer < n_layers)) continue;
        if (layer == n_layers)
            rc = error_set(err, "%s: /%s/%s is one layer more than expected (%d hidden layers)", path, name, member,
                           n_layers - 1);
        else if (layer > n_layers)
            rc = error_set(err, "%s: /%s/%s is beyond the expected layers (layer0..layer%d for %d hidden layers)",
                           path, name, member, n_layers - 1, n_layers - 1);
        else
            rc = error_set(err, "%s: /%s/%s is not part of a cuiql checkpoint (docs/checkpoint.md: a network's "
                           "group holds its layers, a layer's group its weight and bias)", path, name, member);
    }
done:
    h5_close(&g);
    return rc;
}

/* Refuses anything in a network's tree beyond the expected layers and tensors: a file with more
 * layers than the layout could otherwise match it tensor by tensor and be read silently wrong,
 * and a layer9 after a gap would not even be noticed by looking at the next one. */
static int check_no_extra_layer(hid_t file, const char *prefix, const TreeNet *nets, int n_nets, const ModelLayout *s,
                                const char *path, Error *err) {
    static const char *const net_members[] = {"log_std", NULL}, *const no_members[] = {NULL};
    static const char *const layer_members[] = {"weight", "bias", NULL};
    for (int i = 0; i < n_nets; i++) {
        char name[NAME_CAP];
        int layers = s->net[nets[i].net].n_layers;
        join_name(name, prefix, nets[i].name);
        int is_policy = !strcmp(nets[i].name, "policy");
        if (check_members(file, name, is_policy ? net_members : no_members, layers, path, err)) return -1;
        for (int l = 0; l < layers; l++) {
            char layer[NAME_CAP + 24];
            snprintf(layer, sizeof layer, "%s/layer%d", name, l);
            if (check_members(file, layer, layer_members, 0, path, err)) return -1;
        }
    }
    return 0;
}

/* Reads (or with buf = NULL only checks) one table under prefix. The policy's log_std may be
 * absent from the parameters (a hand-written file): then it is set to 0, PyTorch's usual
 * initial value and what a deterministic policy carries. */
static int read_tree(hid_t file, const char *prefix, const Tensor *t, int n, float *buf, int nonnegative,
                     int log_std_optional, const char *path, Error *err) {
    for (int i = 0; i < n; i++) {
        if (log_std_optional && !strcmp(t[i].name, "policy/log_std") && !h5_exists(file, t[i].name)) {
            if (buf) memset(buf + t[i].offset, 0, sizeof(float) * tensor_count(&t[i]));
            continue;
        }
        if (read_tensor(file, prefix, &t[i], buf, nonnegative, path, err) != 0) return -1;
    }
    return 0;
}

/* Refuses a file from a newer format; a file without format_version (hand-written) is read as
 * format 1. */
static int check_version(hid_t file, const char *path, Error *err) {
    int64_t version = CHECKPOINT_FORMAT_VERSION;
    if (read_attr_i64(file, "format_version", &version, path, err) < 0) return -1;
    if (version > CHECKPOINT_FORMAT_VERSION)
        return error_set(err, "%s: written by a newer cuiql (format %lld); this build reads format %d", path,
                         (long long)version, CHECKPOINT_FORMAT_VERSION);
    if (version < 1) return error_set(err, "%s: format_version %lld is not a valid version", path, (long long)version);
    return 0;
}

/* Opens a checkpoint for reading, with clear messages for the usual mistakes (no such file,
 * not HDF5, newer format). */
static int open_checkpoint(const char *path, hid_t *file, Error *err) {
    *file = H5I_INVALID_HID;
    h5_silence();
    if (!path || !path[0]) return error_set(err, "checkpoint: empty path");
    struct stat st;
    if (stat(path, &st) != 0) return error_set(err, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return error_set(err, "%s: not a regular file", path);
    htri_t is_h5 = H5Fis_hdf5(path);
    if (is_h5 < 0) return h5_fail(err, path, "cannot read it");
    if (is_h5 == 0) return error_set(err, "%s: not an HDF5 file", path);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI) < 0) {
        h5_fail(err, path, "cannot make a file access property list");
        h5_close(&fapl);
        return -1;
    }
    *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (*file < 0) h5_fail(err, path, "cannot open it as HDF5");
    h5_close(&fapl);
    if (*file < 0) return -1;
    if (check_version(*file, path, err) != 0) {
        h5_close(file);
        return -1;
    }
    return 0;
}

/* Closes a file opened for reading; with H5F_CLOSE_SEMI this fails if a handle leaked. */
static int close_checkpoint(hid_t *file, int rc, const char *path, Error *err) {
    herr_t closed = H5Fclose(*file);
    *file = H5I_INVALID_HID;
    if (closed < 0 && rc == 0) return h5_fail(err, path, "closing failed");
    return rc;
}

static int to_int(hsize_t v, int *out) {
    if (v > INT_MAX) return -1;
    *out = (int)v;
    return 0;
}

/* Sizes from the policy's weight shapes: obs_dim from layer 0's input, act_dim from the last
 * layer's output, hidden from the others' outputs. */
static int infer_sizes(hid_t file, int *obs_dim, int *act_dim, int *hidden, int *n_hidden, const char *path,
                       Error *err) {
    hsize_t dims[MODEL_MAX_LAYERS][2];
    int n_layers = 0;
    for (;; n_layers++) {
        char name[NAME_CAP];
        snprintf(name, sizeof name, "policy/layer%d/weight", n_layers);
        if (!h5_exists(file, name)) break;
        if (n_layers == MODEL_MAX_LAYERS)
            return error_set(err, "%s: the policy has more than %d layers (at most %d hidden)", path, MODEL_MAX_LAYERS,
                             MODEL_MAX_LAYERS - 1);
        hid_t dset = open_tensor(file, name, 2, dims[n_layers], path, err);
        if (dset < 0) return -1;
        h5_close(&dset);
    }
    if (n_layers == 0) return error_set(err, "%s: tensor /policy/layer0/weight is missing (not a cuiql checkpoint?)", path);
    if (n_layers == 1)
        return error_set(err, "%s: the policy has a single layer; cuiql's networks have at least one hidden layer", path);
    *n_hidden = n_layers - 1;
    int bad = to_int(dims[0][1], obs_dim) || to_int(dims[n_layers - 1][0], act_dim);
    for (int l = 0; l < *n_hidden; l++) bad |= to_int(dims[l][0], &hidden[l]);
    if (bad) return error_set(err, "%s: the policy's layer sizes are out of range", path);
    return 0;
}

/* Reads an optional int attribute that must agree with a size taken from the shapes. */
static int check_size_attr(hid_t file, const char *name, int inferred, const char *shape_source, const char *path,
                           Error *err) {
    int64_t v;
    int found = read_attr_i64(file, name, &v, path, err);
    if (found < 0) return -1;
    if (found && v != inferred)
        return error_set(err, "%s: attribute %s = %lld, but %s says %d", path, name, (long long)v, shape_source,
                         inferred);
    return 0;
}

static void format_ints(char *buf, size_t cap, const int *v, int n) {
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n && len < cap; i++) len += (size_t)snprintf(buf + len, cap - len, "%s%d", i ? ", " : "", v[i]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

/* Reads normalisation vector `name` of [obs_dim] into a malloc'd array, or fills `fill` when
 * the file has none. */
static int read_norm(hid_t file, const char *name, int obs_dim, float fill, float **out, const char *path, Error *err) {
    *out = malloc(sizeof(float) * (size_t)obs_dim);
    if (!*out) return error_set(err, "%s: out of memory", path);
    if (!h5_exists(file, name)) {
        for (int i = 0; i < obs_dim; i++) (*out)[i] = fill;
        return 0;
    }
    Tensor t = {.rank = 1, .dims = {(hsize_t)obs_dim, 0}, .offset = 0};
    snprintf(t.name, sizeof t.name, "%s", name);
    return read_tensor(file, "", &t, *out, 0, path, err);
}

static int read_meta_file(hid_t file, const char *path, CheckpointMeta *meta, Error *err) {
    /* Sizes come from the tensors' shapes; the attributes, when present, must agree. So a file
     * of bare weight tensors (written by a few lines of h5py) describes itself. */
    if (infer_sizes(file, &meta->obs_dim, &meta->act_dim, meta->hidden, &meta->n_hidden, path, err) != 0) return -1;
    if (check_size_attr(file, "obs_dim", meta->obs_dim, "/policy/layer0/weight's input size", path, err) ||
        check_size_attr(file, "act_dim", meta->act_dim, "the policy's last layer's output size", path, err))
        return -1;
    int64_t hidden_attr[MODEL_MAX_LAYERS];
    hsize_t n_attr = 0;
    int found = read_attr_numbers(file, "hidden", 0, hidden_attr, MODEL_MAX_LAYERS, &n_attr, path, err);
    if (found < 0) return -1;
    if (found) {
        int same = (int)n_attr == meta->n_hidden;
        for (int i = 0; same && i < meta->n_hidden; i++) same = hidden_attr[i] == meta->hidden[i];
        if (!same) {
            char shapes[128], attr[160];
            format_ints(shapes, sizeof shapes, meta->hidden, meta->n_hidden);
            size_t len = (size_t)snprintf(attr, sizeof attr, "[");
            for (hsize_t i = 0; i < n_attr && len < sizeof attr; i++)
                len += (size_t)snprintf(attr + len, sizeof attr - len, "%s%lld", i ? ", " : "", (long long)hidden_attr[i]);
            if (len < sizeof attr) snprintf(attr + len, sizeof attr - len, "]");
            return error_set(err, "%s: attribute hidden = %s, but the policy's layers say %s", path, attr, shapes);
        }
    }

    /* Every network must match the layout those sizes give (value and critics included). */
    ModelLayout single;
    if (model_layout_init(&single, 1, meta->obs_dim, meta->act_dim, meta->hidden, meta->n_hidden, err) != 0)
        return error_prefix(err, "%s", path);
    Tensor t[MAX_TENSORS];
    int n = tensor_list(&single, 0, t);
    if (check_no_extra_layer(file, "", checkpoint_param_nets, 4, &single, path, err) ||
        read_tree(file, "", t, n, NULL, 0, 1, path, err))
        return -1;

    char *policy = NULL;
    found = read_attr_string(file, "policy", &policy, path, err);
    if (found < 0) return -1;
    if (found) {
        int known = !strcmp(policy, "gaussian") || !strcmp(policy, "deterministic");
        meta->deterministic = !strcmp(policy, "deterministic");
        if (!known) {
            error_set(err, "%s: attribute policy = '%s', expected 'gaussian' or 'deterministic'", path, policy);
            free(policy);
            return -1;
        }
        free(policy);
    } else {
        /* A hand-written file: a log_std means a Gaussian policy. */
        meta->deterministic = !h5_exists(file, "policy/log_std");
    }

    /* Defaults for a hand-written file (docs/checkpoint.md): tau and beta NaN = "not recorded",
     * the trainer takes them from its config. */
    meta->step = 0;
    meta->max_action = 1.0;
    meta->tau = NAN;
    meta->beta = NAN;
    meta->seed = 0;
    meta->batch_seed = -1;
    meta->reward_scale = 1.0;
    meta->reward_shift = 0.0;
    if (read_attr_i64(file, "step", &meta->step, path, err) < 0 ||
        read_attr_f64(file, "max_action", &meta->max_action, path, err) < 0 ||
        read_attr_f64(file, "tau", &meta->tau, path, err) < 0 ||
        read_attr_f64(file, "beta", &meta->beta, path, err) < 0 ||
        read_attr_i64(file, "seed", &meta->seed, path, err) < 0 ||
        read_attr_i64(file, "batch_seed", &meta->batch_seed, path, err) < 0 ||
        read_attr_f64(file, "reward_scale", &meta->reward_scale, path, err) < 0 ||
        read_attr_f64(file, "reward_shift", &meta->reward_shift, path, err) < 0)
        return -1;
    if (meta->step < 0) return error_set(err, "%s: attribute step = %lld is negative", path, (long long)meta->step);
    if (!isfinite(meta->max_action) || meta->max_action <= 0)
        return error_set(err, "%s: attribute max_action = %g, expected a positive number", path, meta->max_action);

    if (read_norm(file, "normalization/state_mean", meta->obs_dim, 0.0f, &meta->state_mean, path, err) ||
        read_norm(file, "normalization/state_std", meta->obs_dim, 1.0f, &meta->state_std, path, err))
        return -1;
    for (int i = 0; i < meta->obs_dim; i++)
        if (!(meta->state_std[i] > 0))
            return error_set(err, "%s: /normalization/state_std: element [%d] is %g, expected > 0", path, i,
                             meta->state_std[i]);
    return read_attr_string(file, "config", &meta->config_yaml, path, err) < 0 ? -1 : 0;
}

static int read_meta_direct(const char *path, CheckpointMeta *meta, Error *err) {
    memset(meta, 0, sizeof *meta);
    hid_t file;
    if (open_checkpoint(path, &file, err) != 0) return -1;
    int rc = read_meta_file(file, path, meta, err);
    rc = close_checkpoint(&file, rc, path, err);
    if (rc != 0) checkpoint_meta_free(meta);
    return rc;
}

int checkpoint_read_meta_hid(hid_t file, const char *name, CheckpointMeta *meta, Error *err) {
    memset(meta, 0, sizeof *meta);
    h5_silence();
    int rc = check_version(file, name, err) || read_meta_file(file, name, meta, err) ? -1 : 0;
    if (rc != 0) checkpoint_meta_free(meta);
    return rc;
}

void checkpoint_meta_free(CheckpointMeta *meta) {
    if (!meta) return;
    free(meta->state_mean);
    free(meta->state_std);
    free(meta->config_yaml);
    meta->state_mean = meta->state_std = NULL;
    meta->config_yaml = NULL;
}

static int read_file(hid_t file, const char *path, const ModelLayout *s, float *params, float *target,
                     float *adam_m, float *adam_v, int *has_target, int *has_optimizer, Error *err) {
    Tensor pt[MAX_TENSORS], tt[MAX_TENSORS];
    int np = tensor_list(s, 0, pt), nt = tensor_list(s, 1, tt);
    if (check_no_extra_layer(file, "", checkpoint_param_nets, 4, s, path, err) ||
        read_tree(file, "", pt, np, params, 0, 1, path, err))
        return -1;

    int t1 = h5_exists(file, "q1_target"), t2 = h5_exists(file, "q2_target");
    if (t1 != t2)
        return error_set(err, "%s: /%s is present but /%s is missing (both target critics or neither)", path,
                         t1 ? "q1_target" : "q2_target", t1 ? "q2_target" : "q1_target");
    /* Checked even when the caller does not want them, so has_target = 1 means usable. */
    if (t1 && (check_no_extra_layer(file, "", checkpoint_target_nets, 2, s, path, err) ||
               read_tree(file, "", tt, nt, target, 0, 0, path, err)))
        return -1;

    int opt = h5_exists(file, "optimizer");
    if (opt && (check_no_extra_layer(file, "optimizer/exp_avg/", checkpoint_param_nets, 4, s, path, err) ||
                check_no_extra_layer(file, "optimizer/exp_avg_sq/", checkpoint_param_nets, 4, s, path, err) ||
                read_tree(file, "optimizer/exp_avg/", pt, np, adam_m, 0, 0, path, err) ||
                read_tree(file, "optimizer/exp_avg_sq/", pt, np, adam_v, 1, 0, path, err)))
        return -1;
    if (has_target) *has_target = t1;
    if (has_optimizer) *has_optimizer = opt;
    return 0;
}

static int read_direct(const char *path, const ModelLayout *single, float *params, float *target, float *adam_m,
                       float *adam_v, int *has_target, int *has_optimizer, Error *err) {
    if (!single || single->members != 1)
        return error_set(err, "%s: checkpoint_read takes a member view (P = 1 layout)", path ? path : "checkpoint");
    if (!params) return error_set(err, "%s: checkpoint_read needs a parameter buffer", path ? path : "checkpoint");
    hid_t file;
    if (open_checkpoint(path, &file, err) != 0) return -1;
    int rc = read_file(file, path, single, params, target, adam_m, adam_v, has_target, has_optimizer, err);
    return close_checkpoint(&file, rc, path, err);
}

int checkpoint_read_hid(hid_t file, const char *name, const ModelLayout *single, float *params, float *target,
                        float *adam_m, float *adam_v, int *has_target, int *has_optimizer, Error *err) {
    if (!single || single->members != 1 || !params)
        return error_set(err, "%s: checkpoint_read_hid takes a member view and a parameter buffer", name);
    h5_silence();
    if (check_version(file, name, err)) return -1;
    return read_file(file, name, single, params, target, adam_m, adam_v, has_target, has_optimizer, err);
}

/* A checkpoint is read twice: first in a child process that only checks that the read
 * succeeds (base/sandbox.h: HDF5 1.10 can crash on a crafted file, and then only the child
 * dies), then here. Checkpoints are small beside the time a run takes to use them. */
typedef struct {
    const char *path;
    const ModelLayout *single;
    float *params, *target, *adam_m, *adam_v;
} CheckJob;

static int check_child(void *ctx, int out, Error *err) {
    (void)out;
    const CheckJob *job = ctx;
    /* A minute, and what the file's size allows (base/sandbox.h: HDF5 can loop forever). */
    struct stat st;
    sandbox_deadline(sandbox_seconds_for(60, job->path && stat(job->path, &st) == 0 ? (uint64_t)st.st_size : 0, 0));
    int has_target, has_optimizer;
    if (!job->single) {
        CheckpointMeta meta;
        int rc = read_meta_direct(job->path, &meta, err);
        checkpoint_meta_free(&meta);
        return rc;
    }
    /* The child writes into its own copy of the buffers (fork copies on write). */
    return read_direct(job->path, job->single, job->params, job->target, job->adam_m, job->adam_v, &has_target,
                       &has_optimizer, err);
}

static int check_isolated(const CheckJob *job, Error *err) {
    return sandbox_run(job->path ? job->path : "checkpoint", check_child, NULL, (void *)job, NULL, err);
}

int checkpoint_read_meta(const char *path, CheckpointMeta *meta, Error *err) {
    memset(meta, 0, sizeof *meta);
    CheckJob job = {path, NULL, NULL, NULL, NULL, NULL};
    if (check_isolated(&job, err)) return -1;
    return read_meta_direct(path, meta, err);
}

int checkpoint_read(const char *path, const ModelLayout *single, float *params, float *target, float *adam_m,
                    float *adam_v, int *has_target, int *has_optimizer, Error *err) {
    if (!single || !params) return read_direct(path, single, params, target, adam_m, adam_v, has_target, has_optimizer, err);
    CheckJob job = {path, single, params, target, adam_m, adam_v};
    if (check_isolated(&job, err)) return -1;
    return read_direct(path, single, params, target, adam_m, adam_v, has_target, has_optimizer, err);
}

int checkpoint_layout_from_file(const char *path, ModelLayout *single, CheckpointMeta *meta, Error *err) {
    CheckpointMeta local;
    CheckpointMeta *m = meta ? meta : &local;
    if (checkpoint_read_meta(path, m, err) != 0) return -1;
    int rc = model_layout_init(single, 1, m->obs_dim, m->act_dim, m->hidden, m->n_hidden, err);
    if (rc != 0) error_prefix(err, "%s", path);
    if (rc != 0 || !meta) checkpoint_meta_free(m);
    return rc;
}
