/* checkpoint.c — one run's state in an HDF5 file (format: docs/checkpoint.md).
 *
 * Every tensor goes through one table (tensor_list) that maps a dataset name to its shape and
 * its offset in the member-view buffer, so writing, reading and shape checking walk the same
 * list. Each function that opens HDF5 handles keeps them in locals initialised to
 * H5I_INVALID_HID and closes them all at its one exit (h5_close), on every path. */
#include "core/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the tensor table ------------------------------------------------------------------- */

/* One dataset: name relative to the root ("policy/layer0/weight"), shape in PyTorch's
 * nn.Linear convention ([out, in] or [out]) and offset (floats) into its buffer. */
typedef struct {
    char name[48];
    int rank;
    hsize_t dims[2];
    size_t offset;
} Tensor;

/* policy, value, q1, q2: a weight and a bias per layer each, plus the policy's log_std. */
#define MAX_TENSORS (4 * 2 * MODEL_MAX_LAYERS + 1)
#define NAME_CAP 128  /* a full dataset name: "optimizer/exp_avg_sq/" + a Tensor name */

/* The networks a file holds, and the layout each is checked against. */
typedef struct {
    const char *name;
    NetId net;
} TreeNet;

static const TreeNet PARAM_NETS[] = {{"policy", NET_POLICY}, {"value", NET_VALUE}, {"q1", NET_Q}, {"q2", NET_Q}};
static const TreeNet TARGET_NETS[] = {{"q1_target", NET_Q}, {"q2_target", NET_Q}};

/* Appends one MLP's tensors. `member` picks the ensemble member inside each [E, out, in] block
 * (the critics: 0 = q1, 1 = q2); `base` is subtracted from the layout's offsets (the target
 * buffer holds only the q span, from offset 0). */
static int add_mlp(Tensor *t, int n, const char *name, const NetLayout *net, int member, size_t base) {
    for (int l = 0; l < net->n_layers; l++) {
        size_t out = (size_t)net->out[l], in = (size_t)net->in[l];
        Tensor *w = &t[n++], *b = &t[n++];
        snprintf(w->name, sizeof w->name, "%s/layer%d/weight", name, l);
        w->rank = 2;
        w->dims[0] = out;
        w->dims[1] = in;
        w->offset = net->weight[l] - base + (size_t)member * out * in;
        snprintf(b->name, sizeof b->name, "%s/layer%d/bias", name, l);
        b->rank = 1;
        b->dims[0] = out;
        b->dims[1] = 0;
        b->offset = net->bias[l] - base + (size_t)member * out;
    }
    return n;
}

/* The tensors of the parameter buffer (targets = 0: policy, policy/log_std, value, q1, q2) or
 * of the target buffer (targets = 1: q1_target, q2_target). Returns how many. */
static int tensor_list(const ModelLayout *s, int targets, Tensor *t) {
    int n = 0;
    if (targets) {
        size_t base = s->net[NET_Q].begin;
        n = add_mlp(t, n, "q1_target", &s->net[NET_Q], 0, base);
        return add_mlp(t, n, "q2_target", &s->net[NET_Q], 1, base);
    }
    n = add_mlp(t, n, "policy", &s->net[NET_POLICY], 0, 0);
    Tensor *ls = &t[n++];
    snprintf(ls->name, sizeof ls->name, "policy/log_std");
    ls->rank = 1;
    ls->dims[0] = (hsize_t)s->act_dim;
    ls->dims[1] = 0;
    ls->offset = s->net[NET_POLICY].log_std;
    n = add_mlp(t, n, "value", &s->net[NET_VALUE], 0, 0);
    n = add_mlp(t, n, "q1", &s->net[NET_Q], 0, 0);
    return add_mlp(t, n, "q2", &s->net[NET_Q], 1, 0);
}

/* prefix + name into out[NAME_CAP]. The names are short by construction, so a cut would be a
 * bug surfacing as a "missing tensor", never an overflow. (Plain copies rather than snprintf's
 * "%s%s", which GCC's -Wformat-truncation cannot bound here.) */
static void join_name(char *out, const char *prefix, const char *name) {
    size_t lp = strnlen(prefix, NAME_CAP - 1);
    size_t ln = strnlen(name, NAME_CAP - 1 - lp);
    memcpy(out, prefix, lp);
    memcpy(out + lp, name, ln);
    out[lp + ln] = '\0';
}

static size_t tensor_count(const Tensor *t) {
    return t->rank == 2 ? (size_t)(t->dims[0] * t->dims[1]) : (size_t)t->dims[0];
}

static void format_shape(char *buf, size_t cap, int rank, const hsize_t *dims) {
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

/* Index of the first NaN/Inf in x, or n when all are finite. */
static size_t first_nonfinite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return n;
}

/* "element [r, c] is nan" for a tensor of the table. */
static void format_element(char *buf, size_t cap, const Tensor *t, size_t i, float v) {
    const char *what = isnan(v) ? "nan" : (v > 0 ? "+inf" : "-inf");
    if (t->rank == 2)
        snprintf(buf, cap, "element [%zu, %zu] is %s", i / (size_t)t->dims[1], i % (size_t)t->dims[1], what);
    else
        snprintf(buf, cap, "element [%zu] is %s", i, what);
}

/* ---- HDF5 plumbing ------------------------------------------------------------------------ */

/* HDF5's own error trace goes to stderr unless turned off; we report our one-line message. A
 * failure here only means HDF5 may print its trace too, so it is not an error. */
static void h5_silence(void) {
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* Closes any kind of handle we open and marks it closed; a no-op on H5I_INVALID_HID. Close
 * errors of read-side handles change nothing for the caller, so they are not reported; the
 * one close that matters (the file being written) is checked where it happens. */
static void h5_close(hid_t *id) {
    if (*id < 0) return;
    switch (H5Iget_type(*id)) {
    case H5I_FILE: H5Fclose(*id); break;
    case H5I_GROUP: H5Gclose(*id); break;
    case H5I_DATASET: H5Dclose(*id); break;
    case H5I_DATASPACE: H5Sclose(*id); break;
    case H5I_DATATYPE: H5Tclose(*id); break;
    case H5I_ATTR: H5Aclose(*id); break;
    case H5I_GENPROP_LST: H5Pclose(*id); break;
    default: break;
    }
    *id = H5I_INVALID_HID;
}

typedef struct {
    char *buf;
    size_t cap;
} DetailSink;

/* Keeps the innermost entry of the error stack: the one that says what went wrong at the
 * bottom ("unable to open file: ... error message = 'Is a directory' ..."). When the entry
 * quotes the system's message, only that part is kept. */
static herr_t take_innermost(unsigned n, const H5E_error2_t *e, void *data) {
    DetailSink *sink = data;
    if (n != 0 || !e || !e->desc) return 0;
    const char *desc = e->desc;
    const char *sys = strstr(desc, "error message = '");
    if (sys) {
        sys += strlen("error message = '");
        const char *end = strchr(sys, '\'');
        size_t len = end ? (size_t)(end - sys) : strlen(sys);
        if (len >= sink->cap) len = sink->cap - 1;
        memcpy(sink->buf, sys, len);
        sink->buf[len] = '\0';
    } else {
        snprintf(sink->buf, sink->cap, "%s", desc);
    }
    return 0;
}

/* Sets "PATH: <message>: <HDF5's innermost reason>" and returns -1. Must be called right after
 * the failing HDF5 call, before any other HDF5 call clears the error stack. */
static int h5_fail(Error *err, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int h5_fail(Error *err, const char *path, const char *fmt, ...) {
    char detail[256] = "";
    DetailSink sink = {detail, sizeof detail};
    (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &sink);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_set(err, "%s: %s%s%s", path, msg, detail[0] ? ": " : "", detail);
}

/* Whether the link `name` ("a/b/c", relative to loc) exists. H5Lexists fails rather than
 * answering 0 when an intermediate group is missing, so each prefix is asked in turn.
 * Returns 1 or 0; a lookup that HDF5 cannot answer (e.g. an intermediate that is a dataset)
 * counts as absent, which the callers report as a missing tensor. */
static int h5_exists(hid_t loc, const char *name) {
    char buf[NAME_CAP];
    join_name(buf, "", name);
    for (char *p = buf;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        htri_t e = H5Lexists(loc, buf, H5P_DEFAULT);
        *p = saved;
        if (e <= 0) return 0;
        if (saved == '\0') return 1;
    }
}

static const char *class_name(H5T_class_t c) {
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "floating point";
    case H5T_STRING: return "string";
    case H5T_ENUM: return "enum (bool?)";
    case H5T_COMPOUND: return "compound";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length sequence";
    default: return "another HDF5 type";
    }
}

/* ---- writing ------------------------------------------------------------------------------ */

static int write_dataset(hid_t file, hid_t lcpl, const char *name, int rank, const hsize_t *dims,
                         const float *data, const char *path, Error *err) {
    int rc = -1;
    hid_t space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    space = H5Screate_simple(rank, dims, NULL);
    if (space < 0) {
        h5_fail(err, path, "/%s: cannot create its dataspace", name);
        goto done;
    }
    /* Stored as little-endian float32 whatever the host, so files move between machines. */
    dset = H5Dcreate2(file, name, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
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

/* fsync of a file or a directory by name. */
static int fsync_path(const char *p, int directory, const char *path, Error *err) {
    int fd = open(p, directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
    if (fd < 0) return error_set(err, "%s: cannot open %s to sync it: %s", path, p, strerror(errno));
    int rc = 0;
    /* Some file systems cannot sync a directory and say EINVAL; there is nothing more to do. */
    if (fsync(fd) != 0 && !(directory && errno == EINVAL))
        rc = error_set(err, "%s: fsync of %s failed: %s", path, p, strerror(errno));
    close(fd);
    return rc;
}

/* The directory holding path ("." when it has none). */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, path, len);
    d[len] = '\0';
    return d;
}

/* A reader refuses a std that is not > 0 (it divides by it), so a writer must not produce one. */
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

int checkpoint_write(const char *path, const ModelLayout *single, const CheckpointMeta *meta, const float *params,
                     const float *target, const float *adam_m, const float *adam_v, Error *err) {
    h5_silence();
    if (check_write_args(single, meta, params, adam_m, adam_v, path, err) != 0) return -1;
    Tensor pt[MAX_TENSORS], tt[MAX_TENSORS];
    int np = tensor_list(single, 0, pt), nt = tensor_list(single, 1, tt);
    if (check_tree_finite("", pt, np, params, path, err) ||
        (target && check_tree_finite("", tt, nt, target, path, err)) ||
        (adam_m && check_tree_finite("optimizer/exp_avg/", pt, np, adam_m, path, err)) ||
        (adam_v && check_tree_finite("optimizer/exp_avg_sq/", pt, np, adam_v, path, err)) ||
        check_normalization(meta, single->obs_dim, path, err))
        return -1;

    int rc = -1, created = 0;
    hid_t fapl = H5I_INVALID_HID, lcpl = H5I_INVALID_HID, file = H5I_INVALID_HID;
    char *dir = NULL;
    char *tmp = malloc(strlen(path) + 5);
    if (!tmp) return error_set(err, "%s: out of memory", path);
    sprintf(tmp, "%s.tmp", path);

    /* SEMI: closing the file fails if a handle into it is still open, instead of leaving the
     * file open behind our back; so a successful H5Fclose really means the file is complete. */
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI) < 0) {
        h5_fail(err, path, "cannot make a file access property list");
        goto done;
    }
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        h5_fail(err, path, "cannot make a link creation property list");
        goto done;
    }
    file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (file < 0) {
        h5_fail(err, path, "cannot create %s", tmp);
        goto done;
    }
    created = 1;
    if (write_tree(file, lcpl, "", pt, np, params, path, err) ||
        (target && write_tree(file, lcpl, "", tt, nt, target, path, err)) ||
        write_normalization(file, lcpl, meta, single->obs_dim, path, err) ||
        (adam_m && write_tree(file, lcpl, "optimizer/exp_avg/", pt, np, adam_m, path, err)) ||
        (adam_v && write_tree(file, lcpl, "optimizer/exp_avg_sq/", pt, np, adam_v, path, err)) ||
        write_attributes(file, single, meta, path, err))
        goto done;
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) {
        h5_fail(err, path, "flushing %s failed", tmp);
        goto done;
    }
    herr_t closed = H5Fclose(file);
    file = H5I_INVALID_HID;  /* after a failed H5Fclose the id is not usable either */
    if (closed < 0) {
        h5_fail(err, path, "closing %s failed", tmp);
        goto done;
    }
    /* H5Fclose leaves the data in the page cache: without this fsync a crash after the rename
     * could leave PATH naming a file whose blocks never reached the disk. */
    if (fsync_path(tmp, 0, path, err) != 0) goto done;
    if (rename(tmp, path) != 0) {
        error_set(err, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
        goto done;
    }
    created = 0;  /* the file is PATH now */
    /* The rename itself lives in the directory; sync it so the new name survives a crash. */
    dir = dir_of(path);
    if (!dir) {
        error_set(err, "%s: out of memory", path);
        goto done;
    }
    if (fsync_path(dir, 1, path, err) != 0) {
        error_prefix(err, "checkpoint written but not yet durable");
        goto done;
    }
    rc = 0;
done:
    h5_close(&file);
    h5_close(&lcpl);
    h5_close(&fapl);
    /* unlink, not remove: if PATH.tmp is somebody's directory (creation failed on it), it stays. */
    if (created) unlink(tmp);
    free(tmp);
    free(dir);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------ */

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
        error_set(err, "%s: attribute %s is %s, expected %s", path, name, class_name(cls),
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
        error_set(err, "%s: attribute %s is %s with %llu values, expected one string", path, name, class_name(cls),
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
        error_set(err, "%s: /%s is stored as %s, expected floating point (float32)", path, name, class_name(cls));
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

/* Refuses a layer beyond the expected ones: a file with more layers than the layout could
 * otherwise match it tensor by tensor and be read silently wrong. */
static int check_no_extra_layer(hid_t file, const char *prefix, const TreeNet *nets, int n_nets, const ModelLayout *s,
                                const char *path, Error *err) {
    for (int i = 0; i < n_nets; i++) {
        char name[NAME_CAP];
        int layers = s->net[nets[i].net].n_layers;
        join_name(name, prefix, nets[i].name);
        size_t len = strlen(name);
        snprintf(name + len, sizeof name - len, "/layer%d", layers);
        if (h5_exists(file, name))
            return error_set(err, "%s: /%s is one layer more than expected (%d hidden layers)", path, name,
                             s->n_hidden);
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
    if (check_no_extra_layer(file, "", PARAM_NETS, 4, &single, path, err) ||
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

int checkpoint_read_meta(const char *path, CheckpointMeta *meta, Error *err) {
    memset(meta, 0, sizeof *meta);
    hid_t file;
    if (open_checkpoint(path, &file, err) != 0) return -1;
    int rc = read_meta_file(file, path, meta, err);
    rc = close_checkpoint(&file, rc, path, err);
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
    if (check_no_extra_layer(file, "", PARAM_NETS, 4, s, path, err) ||
        read_tree(file, "", pt, np, params, 0, 1, path, err))
        return -1;

    int t1 = h5_exists(file, "q1_target"), t2 = h5_exists(file, "q2_target");
    if (t1 != t2)
        return error_set(err, "%s: /%s is present but /%s is missing (both target critics or neither)", path,
                         t1 ? "q1_target" : "q2_target", t1 ? "q2_target" : "q1_target");
    /* Checked even when the caller does not want them, so has_target = 1 means usable. */
    if (t1 && (check_no_extra_layer(file, "", TARGET_NETS, 2, s, path, err) ||
               read_tree(file, "", tt, nt, target, 0, 0, path, err)))
        return -1;

    int opt = h5_exists(file, "optimizer");
    if (opt && (check_no_extra_layer(file, "optimizer/exp_avg/", PARAM_NETS, 4, s, path, err) ||
                check_no_extra_layer(file, "optimizer/exp_avg_sq/", PARAM_NETS, 4, s, path, err) ||
                read_tree(file, "optimizer/exp_avg/", pt, np, adam_m, 0, 0, path, err) ||
                read_tree(file, "optimizer/exp_avg_sq/", pt, np, adam_v, 1, 0, path, err)))
        return -1;
    if (has_target) *has_target = t1;
    if (has_optimizer) *has_optimizer = opt;
    return 0;
}

int checkpoint_read(const char *path, const ModelLayout *single, float *params, float *target, float *adam_m,
                    float *adam_v, int *has_target, int *has_optimizer, Error *err) {
    if (!single || single->members != 1)
        return error_set(err, "%s: checkpoint_read takes a member view (P = 1 layout)", path ? path : "checkpoint");
    if (!params) return error_set(err, "%s: checkpoint_read needs a parameter buffer", path ? path : "checkpoint");
    hid_t file;
    if (open_checkpoint(path, &file, err) != 0) return -1;
    int rc = read_file(file, path, single, params, target, adam_m, adam_v, has_target, has_optimizer, err);
    return close_checkpoint(&file, rc, path, err);
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
