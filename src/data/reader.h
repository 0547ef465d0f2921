/* reader.h — internals shared by the HDF5 readers (dataset.c, column.c, d4rl.c, minari.c);
 * not part of the public API. dataset.c calls the format readers; they call only column.c.
 *
 * A Column is one HDF5 dataset of the file, opened and checked (type class, rank, dims) before
 * any data is read, so a malformed file is refused before large buffers are allocated. Reads
 * are whole-column, one H5Dread each: real D4RL files are chunked and gzip-compressed, and
 * row-by-row reads would decompress the same chunks again and again.
 *
 * Every message has the shape "FILE: dataset 'NAME': PROBLEM". */
#ifndef CUIQL_DATA_READER_H
#define CUIQL_DATA_READER_H

#include <hdf5.h>
#include <stdint.h>

#include "base/h5.h"
#include "cuiql/error.h"
#include "data/dataset.h"

typedef enum {
    COLUMN_MATRIX, /* [rows, cols], cols >= 1 */
    COLUMN_VECTOR, /* [rows] or [rows, 1] */
} ColumnShape;

typedef enum {
    COLUMN_FLOAT,  /* float or integer class; read as float32 */
    COLUMN_FLAG,   /* enum (h5py's bool), integer or float class; values must be 0 or 1 */
} ColumnKind;

typedef struct {
    hid_t dset;         /* H5I_INVALID_HID when not open */
    hid_t type;         /* the file type, H5I_INVALID_HID when not open */
    H5T_class_t cls;
    ColumnKind kind;
    int64_t rows, cols; /* cols = 1 for a vector */
    char name[256];     /* as shown in messages: "rewards", "episode_3/rewards" */
} Column;

/* A Column that holds no handles (column_close on it does nothing). */
Column column_none(void);

/* Opens loc/key and checks its type class and rank against kind and shape. prefix is prepended
 * to the shown name ("episode_3/"), or NULL. Returns 1 when opened, 0 when key is absent and
 * optional is set, -1 with err set otherwise (absent and required, a group, wrong type, rank). */
int column_open(hid_t loc, const char *file, const char *prefix, const char *key, ColumnShape shape,
                ColumnKind kind, int optional, Column *c, Error *err);

/* Closes the handles; safe to call twice and on column_none(). */
void column_close(Column *c);

/* "FILE: dataset 'NAME': " + the formatted problem; returns -1. */
int column_error(Error *err, const char *file, const Column *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Refuses a column whose row count is not `rows`; `what` says where that count came from. */
int column_expect_rows(const char *file, const Column *c, int64_t rows, const char *what, Error *err);

/* Reads the whole column as float32 into dst [rows, cols] and refuses NaN/Inf, naming the
 * first bad row (0-based, as in the file). */
int column_read_float(const char *file, const Column *c, float *dst, Error *err);

/* Reads the whole flag column into dst [rows] as 0/1; any other value is refused. */
int column_read_flag(const char *file, const Column *c, uint8_t *dst, Error *err);

/* The format readers: the transitions, episodes and what the reader saw, nothing of the
 * preprocessing. On failure *out may hold partial allocations: the caller frees it. */
int d4rl_load(hid_t file, const char *path, Dataset *out, Error *err);
int minari_load(hid_t file, const char *path, Dataset *out, Error *err);

/* 1 when the root holds at least one episode_<id> link, 0 when none, -1 on error. */
int minari_detect(hid_t file, const char *path, Error *err);

/* The reading child's deadlines (base/sandbox.h): 20 s for opening the file and its
 * datasets, then what the data's size allows (sandbox_seconds_for, with this as the fixed part). */
#define SANDBOX_METADATA_SECONDS 20u
/* transfer.c: a loaded Dataset (before preprocessing) through a pipe, from the reading child
 * (base/sandbox.h) to the program. dataset_send frees each array once it is sent. */
int dataset_send(Dataset *d, int fd, Error *err);
int dataset_receive(Dataset *d, int fd, const char *path, Error *err);

#endif
