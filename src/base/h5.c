/* h5.c — HDF5 error capture, handle closing and lookups (see h5.h). */
#include "base/h5.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/files.h"

void h5_silence(void) {
    /* Can only fail on a bad stack id; then HDF5 may print its trace too, which is harmless. */
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct {
    char *buf;
    size_t cap;
} DetailSink;

/* Walking upward, n == 0 is where the error was first detected: the most specific reason.
 * When that entry quotes the system's message ("... error message = 'Is a directory' ..."),
 * only the quoted part is kept. */
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

void h5_error_detail(char *buf, size_t size) {
    if (!buf || size == 0) return;
    buf[0] = '\0';
    DetailSink sink = {buf, size};
    (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &sink);
    (void)H5Eclear2(H5E_DEFAULT);
}

void h5_close(hid_t *id) {
    if (*id < 0) return;
    switch (H5Iget_type(*id)) {
    case H5I_FILE: H5Fclose(*id); break;
    case H5I_GROUP: H5Gclose(*id); break;
    case H5I_DATASET: H5Dclose(*id); break;
    case H5I_DATASPACE: H5Sclose(*id); break;
    case H5I_DATATYPE: H5Tclose(*id); break;
    case H5I_ATTR: H5Aclose(*id); break;
    case H5I_GENPROP_LST: H5Pclose(*id); break;
    default: H5Oclose(*id); break;
    }
    *id = H5I_INVALID_HID;
}

int h5_exists(hid_t loc, const char *path) {
    size_t len = strlen(path);
    char *buf = malloc(len + 1);
    if (!buf) return 0;
    memcpy(buf, path, len + 1);
    int found = 0;
    for (char *p = buf;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        htri_t e = buf[0] ? H5Lexists(loc, buf, H5P_DEFAULT) : 1;
        *p = saved;
        if (e <= 0) break;
        if (saved == '\0') {
            found = 1;
            break;
        }
    }
    free(buf);
    return found;
}

const char *h5_class_name(H5T_class_t cls) {
    switch (cls) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "floating point";
    case H5T_TIME: return "time";
    case H5T_STRING: return "string";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM: return "enum";
    case H5T_VLEN: return "variable-length";
    case H5T_ARRAY: return "array";
    default: return "unknown";
    }
}

/* Filters users meet in D4RL-style files written by h5py or PyTables, by registered id. */
static const char *filter_known_name(H5Z_filter_t id) {
    switch (id) {
    case 307: return "bzip2";
    case 32000: return "LZF";
    case 32001: return "Blosc";
    case 32004: return "LZ4";
    case 32008: return "bitshuffle";
    case 32013: return "zfp";
    case 32015: return "Zstandard";
    default: return NULL;
    }
}

int h5_filters_available(hid_t dset, char *why, size_t size) {
    hid_t dcpl = H5Dget_create_plist(dset);
    if (dcpl < 0) return -1;
    int n = H5Pget_nfilters(dcpl), rc = n < 0 ? -1 : 1;
    for (int i = 0; i < n && rc == 1; i++) {
        unsigned flags = 0, config = 0;
        size_t n_values = 0;
        char stored[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &n_values, NULL, sizeof stored, stored, &config);
        if (id < 0) {
            rc = -1;
            break;
        }
        /* H5Zfilter_avail may try the plugin directory and leave that failure on the stack. */
        htri_t avail = H5Zfilter_avail(id);
        (void)H5Eclear2(H5E_DEFAULT);
        if (avail > 0) continue;
        const char *name = filter_known_name(id);
        stored[sizeof stored - 1] = '\0';
        snprintf(why, size,
                 "compressed with the %s filter (HDF5 filter %d), which this HDF5 library does not have; "
                 "re-save it with gzip compression (h5py: compression=\"gzip\")",
                 name ? name : stored[0] ? stored : "unknown", (int)id);
        rc = 0;
    }
    H5Pclose(dcpl);
    return rc;
}

hid_t h5_create_in_memory(const char *name, hid_t fcpl) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = H5I_INVALID_HID;
    /* 1 MiB growth steps: a checkpoint of the usual networks fits in a few. */
    if (fapl >= 0 && H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI) >= 0)
        file = H5Fcreate(name, H5F_ACC_TRUNC, fcpl, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    return file;
}

int h5_save_image(hid_t *file, const char *path, const char *shown, Error *err) {
    char detail[256];
    unsigned char *image = NULL;
    int rc = -1;
    ssize_t size = -1;
    if (H5Fflush(*file, H5F_SCOPE_GLOBAL) < 0 || (size = H5Fget_file_image(*file, NULL, 0)) < 0 ||
        !(image = malloc(size ? (size_t)size : 1)) || H5Fget_file_image(*file, image, (size_t)size) != size) {
        h5_error_detail(detail, sizeof detail);
        if (size >= 0 && !image) error_set(err, "%s: out of memory for the file's %zd bytes", shown, size);
        else error_set(err, "%s: cannot assemble the file in memory (%s)", shown, detail[0] ? detail : "HDF5 error");
        H5Fclose(*file); /* in memory: closing cannot fail for want of disk */
        *file = H5I_INVALID_HID;
        free(image);
        return -1;
    }
    herr_t closed = H5Fclose(*file);
    *file = H5I_INVALID_HID;
    if (closed < 0) {
        h5_error_detail(detail, sizeof detail);
        free(image);
        /* SEMI: an object of the file is still open, a bug of the writer. */
        return error_set(err, "%s: closing the file failed (%s)", shown, detail[0] ? detail : "HDF5 error");
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        error_set(err, "%s: cannot create %s: %s", shown, path, strerror(errno));
        free(image);
        return -1;
    }
    if (file_write_all(fd, image, (size_t)size) == 0) rc = 0;
    else error_set(err, "%s: cannot write %s: %s", shown, path, strerror(errno));
    if (close(fd) != 0 && rc == 0) rc = error_set(err, "%s: cannot write %s: %s", shown, path, strerror(errno));
    free(image);
    return rc;
}

int h5_number_type_sane(hid_t type, char *why, size_t size) {
    size_t bytes = H5Tget_size(type);
    size_t precision = H5Tget_precision(type); /* 0 on error, and for an enum: its base's */
    H5T_class_t cls = H5Tget_class(type);
    if (cls == H5T_ENUM) {
        hid_t base = H5Tget_super(type);
        precision = base >= 0 ? H5Tget_precision(base) : 0;
        if (base >= 0) H5Tclose(base);
    }
    if (bytes >= 1 && bytes <= 16 && precision >= 1 && precision <= 8 * bytes) return 1;
    (void)H5Eclear2(H5E_DEFAULT);
    snprintf(why, size, "a %zu-byte %s type with %zu bits of precision: not a number cuiql can read (a corrupted "
             "file?)", bytes, h5_class_name(cls), precision);
    return 0;
}
