/* column.c — open, check and read one HDF5 dataset as a column of transitions (see reader.h). */
#include "data/reader.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sizes.h"

Column column_none(void) {
    Column c;
    memset(&c, 0, sizeof c);
    c.dset = H5I_INVALID_HID;
    c.type = H5I_INVALID_HID;
    c.cls = H5T_NO_CLASS;
    return c;
}

void column_close(Column *c) {
    if (c->type >= 0) H5Tclose(c->type);
    if (c->dset >= 0) H5Dclose(c->dset);
    c->type = H5I_INVALID_HID;
    c->dset = H5I_INVALID_HID;
}

int column_error(Error *err, const char *file, const Column *c, const char *fmt, ...) {
    char problem[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    return error_set(err, "%s: dataset '%s': %s", file, c->name, problem);
}

/* "HDF5 call failed (detail)" with whatever HDF5 recorded, for failures we did not foresee. */
static int column_h5_error(Error *err, const char *file, const Column *c, const char *what) {
    char detail[256];
    h5_error_detail(detail, sizeof detail);
    return column_error(err, file, c, "%s failed%s%s%s", what, detail[0] ? " (" : "", detail,
                        detail[0] ? ")" : "");
}

/* An enum is accepted as a flag when its base is an integer (h5py's bool: int8, FALSE=0, TRUE=1). */
static int enum_base_is_integer(hid_t type) {
    hid_t super = H5Tget_super(type);
    if (super < 0) return 0;
    int ok = H5Tget_class(super) == H5T_INTEGER;
    H5Tclose(super);
    return ok;
}

static int check_type(const char *file, Column *c, Error *err) {
    c->type = H5Dget_type(c->dset);
    if (c->type < 0) return column_h5_error(err, file, c, "reading its type");
    c->cls = H5Tget_class(c->type);
    if (c->cls == H5T_NO_CLASS) return column_h5_error(err, file, c, "reading its type class");
    int ok = c->cls == H5T_FLOAT || c->cls == H5T_INTEGER;
    if (c->kind == COLUMN_FLAG && c->cls == H5T_ENUM) ok = enum_base_is_integer(c->type);
    if (!ok)
        return column_error(err, file, c, "unsupported type (%s); expected %s", h5_class_name(c->cls),
                            c->kind == COLUMN_FLAG ? "bool, integer or floating point 0/1"
                                                   : "floating point or integer");
    char why[256];
    if (!h5_number_type_sane(c->type, why, sizeof why)) return column_error(err, file, c, "stored as %s", why);
    return 0;
}

static void format_dims(char *buf, size_t size, int rank, const hsize_t *dims) {
    size_t len = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < rank && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (len < size) snprintf(buf + len, size - len, ")");
}

static int check_shape(const char *file, Column *c, ColumnShape shape, Error *err) {
    hid_t space = H5Dget_space(c->dset);
    if (space < 0) return column_h5_error(err, file, c, "reading its shape");
    hsize_t dims[H5S_MAX_RANK];
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank >= 0 && H5Sget_simple_extent_dims(space, dims, NULL) < 0) rank = -1;
    H5Sclose(space);
    if (rank < 0) return column_h5_error(err, file, c, "reading its shape");

    char shown[128];
    format_dims(shown, sizeof shown, rank, dims);
    if (shape == COLUMN_MATRIX) {
        if (rank != 2)
            return column_error(err, file, c, "has rank %d, shape %s; expected rank 2 [N, dim]", rank, shown);
        if (dims[1] == 0) return column_error(err, file, c, "has shape %s: zero columns", shown);
    } else if (!(rank == 1 || (rank == 2 && dims[1] == 1))) {
        return column_error(err, file, c, "has rank %d, shape %s; expected [N] or [N, 1]", rank, shown);
    }
    /* A file declares its shape in a few bytes: refuse one whose element count (read as up to
     * 8 bytes each) cannot even be addressed, before any size is computed from it. */
    uint64_t cols = rank == 2 ? dims[1] : 1;
    size_t bytes;
    if (dims[0] > (hsize_t)INT64_MAX || cols > (hsize_t)INT64_MAX || size_mul3(dims[0], cols, 8, &bytes))
        return column_error(err, file, c, "has shape %s: too large to address in memory", shown);
    c->rows = (int64_t)dims[0];
    c->cols = (int64_t)cols;
    return 0;
}

/* A failed read. A compression filter this HDF5 library lacks (h5py's LZF) fails there with
 * HDF5's complaint about its plugin directory: name the filter instead. Only at the read: h5py
 * marks LZF optional and leaves chunks it could not shrink unfiltered, so such a file may well
 * read. */
static int read_failed(const char *file, const Column *c, Error *err) {
    char detail[256], why[384];
    h5_error_detail(detail, sizeof detail);
    if (h5_filters_available(c->dset, why, sizeof why) == 0) return column_error(err, file, c, "%s", why);
    return column_error(err, file, c, "reading it failed%s%s%s", detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
}

int column_open(hid_t loc, const char *file, const char *prefix, const char *key, ColumnShape shape,
                ColumnKind kind, int optional, Column *c, Error *err) {
    *c = column_none();
    c->kind = kind;
    snprintf(c->name, sizeof c->name, "%s%s", prefix ? prefix : "", key);

    htri_t exists = H5Lexists(loc, key, H5P_DEFAULT);
    if (exists < 0) return column_h5_error(err, file, c, "looking it up");
    if (exists == 0) {
        if (optional) return 0;
        return column_error(err, file, c, "missing (a required dataset)");
    }
    /* H5Oopen first so a group in the dataset's place gets its own message, not a bare failure. */
    hid_t obj = H5Oopen(loc, key, H5P_DEFAULT);
    if (obj < 0) return column_h5_error(err, file, c, "opening it");
    H5I_type_t what = H5Iget_type(obj);
    if (what != H5I_DATASET) {
        H5Oclose(obj);
        if (what == H5I_GROUP)
            return column_error(err, file, c,
                                "is a group, not an array (a dict or tuple space? cuiql reads flat Box "
                                "observations and actions only)");
        return column_error(err, file, c, "is not a dataset");
    }
    c->dset = obj;
    if (check_type(file, c, err) < 0 || check_shape(file, c, shape, err) < 0) {
        column_close(c);
        return -1;
    }
    return 1;
}

int column_expect_rows(const char *file, const Column *c, int64_t rows, const char *what, Error *err) {
    if (c->rows == rows) return 0;
    return column_error(err, file, c, "has %lld rows, expected %lld (%s)", (long long)c->rows,
                        (long long)rows, what);
}

/* The file's value of element k as a double (for a float64 column whose value became ±Inf in
 * float32); 0 when it could be read. */
static int read_element_double(const Column *c, size_t k, double *out) {
    hid_t fspace = H5Dget_space(c->dset), mspace = H5I_INVALID_HID;
    int rank = fspace < 0 ? -1 : H5Sget_simple_extent_ndims(fspace);
    hsize_t coord[2] = {k / (size_t)c->cols, k % (size_t)c->cols}, one = 1;
    int rc = -1;
    if (rank == 1) coord[0] = k;
    if (rank >= 1 && rank <= 2 && H5Sselect_elements(fspace, H5S_SELECT_SET, 1, coord) >= 0 &&
        (mspace = H5Screate_simple(1, &one, NULL)) >= 0 &&
        H5Dread(c->dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, out) >= 0)
        rc = 0;
    h5_close(&mspace);
    h5_close(&fspace);
    if (rc) {
        char ignored[8];
        h5_error_detail(ignored, sizeof ignored);
    }
    return rc;
}

int column_read_float(const char *file, const Column *c, float *dst, Error *err) {
    size_t count;
    if (size_mul((uint64_t)c->rows, (uint64_t)c->cols, &count))
        return column_error(err, file, c, "too large to address in memory");
    if (count == 0) return 0;
    if (H5Dread(c->dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
        return read_failed(file, c, err);
    for (size_t k = 0; k < count; k++) {
        if (isfinite(dst[k])) continue;
        char where[96];
        if (c->cols == 1) snprintf(where, sizeof where, "row %zu", k);
        else snprintf(where, sizeof where, "row %zu, column %zu", k / (size_t)c->cols, k % (size_t)c->cols);
        /* A finite float64 beyond float32's range arrives here as ±Inf: say so, with its value. */
        double v;
        if (isinf(dst[k]) && c->cls == H5T_FLOAT && H5Tget_size(c->type) > sizeof(float) &&
            read_element_double(c, k, &v) == 0 && isfinite(v))
            return column_error(err, file, c, "%s: %g overflows float32 (largest magnitude 3.4e+38), "
                                "which cuiql trains in; rescale the column", where, v);
        return column_error(err, file, c, "%s at %s", isnan(dst[k]) ? "NaN" : dst[k] > 0 ? "+Inf" : "-Inf", where);
    }
    return 0;
}

/* Value of a native integer of `size` bytes, sign-extended when is_signed. */
static long long native_int_at(const unsigned char *p, size_t size, int is_signed) {
    switch (size) {
    case 1: { uint8_t u; memcpy(&u, p, 1); return is_signed ? (long long)(int8_t)u : (long long)u; }
    case 2: { uint16_t u; memcpy(&u, p, 2); return is_signed ? (long long)(int16_t)u : (long long)u; }
    case 4: { uint32_t u; memcpy(&u, p, 4); return is_signed ? (long long)(int32_t)u : (long long)u; }
    default: { uint64_t u; memcpy(&u, p, 8); return is_signed ? (long long)(int64_t)u : (long long)u; }
    }
}

/* Enum and integer flags: read in the native form of the file's own type (no conversion, so no
 * value can be clamped into 0/1 by accident), then check and narrow each value to a byte. */
static int read_integer_flag(const char *file, const Column *c, uint8_t *dst, Error *err) {
    hid_t native = H5Tget_native_type(c->type, H5T_DIR_ASCEND);
    if (native < 0) return column_h5_error(err, file, c, "finding its native type");
    size_t size = H5Tget_size(native);
    hid_t base = c->cls == H5T_ENUM ? H5Tget_super(native) : H5Tcopy(native);
    H5T_sign_t sign = base >= 0 ? H5Tget_sign(base) : H5T_SGN_ERROR;
    if (base >= 0) H5Tclose(base);
    if (sign == H5T_SGN_ERROR || !(size == 1 || size == 2 || size == 4 || size == 8)) {
        H5Tclose(native);
        return column_error(err, file, c, "unsupported %zu-byte %s type", size, h5_class_name(c->cls));
    }
    size_t rows = (size_t)c->rows, bytes;
    unsigned char *buf = NULL;
    if (size_mul(rows, size, &bytes)) {
        H5Tclose(native);
        return column_error(err, file, c, "too large to address in memory");
    }
    buf = size == 1 ? dst : malloc(bytes);
    if (!buf) {
        H5Tclose(native);
        return column_error(err, file, c, "out of memory (%zu bytes)", bytes);
    }
    herr_t rc = H5Dread(c->dset, native, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Tclose(native);
    int result = rc < 0 ? read_failed(file, c, err) : 0;
    for (size_t i = 0; i < rows && result == 0; i++) {
        long long v = native_int_at(buf + i * size, size, sign == H5T_SGN_2);
        if (v != 0 && v != 1)
            result = column_error(err, file, c, "value %lld at row %zu; a flag must be 0 or 1", v, i);
        else
            dst[i] = (uint8_t)v;
    }
    if (buf != dst) free(buf);
    return result;
}

static int read_float_flag(const char *file, const Column *c, uint8_t *dst, Error *err) {
    size_t rows = (size_t)c->rows, bytes;
    if (size_mul(rows, sizeof(float), &bytes)) return column_error(err, file, c, "too large to address in memory");
    float *buf = malloc(bytes);
    if (!buf) return column_error(err, file, c, "out of memory (%zu bytes)", bytes);
    int result = 0;
    if (H5Dread(c->dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        result = read_failed(file, c, err);
    for (size_t i = 0; i < rows && result == 0; i++) {
        if (buf[i] != 0.0f && buf[i] != 1.0f)
            result = column_error(err, file, c, "value %g at row %zu; a flag must be 0 or 1", (double)buf[i], i);
        else
            dst[i] = buf[i] == 1.0f;
    }
    free(buf);
    return result;
}

int column_read_flag(const char *file, const Column *c, uint8_t *dst, Error *err) {
    if (c->rows == 0) return 0;
    if (c->cls == H5T_FLOAT) return read_float_flag(file, c, dst, err);
    return read_integer_flag(file, c, dst, err);
}
