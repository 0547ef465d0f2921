/* files.h — files the program writes, written so that a crash never leaves a half-written one
 * under the real name, and the directories they go in.
 *
 * Every file cuiql writes whole (checkpoints, config.yaml, sweep files, a metrics.csv or event
 * file cut back on resume, generated datasets) goes through file_write_atomic: the content is
 * written to PATH.tmp, which is synced, renamed over PATH, and the directory synced, so PATH
 * is always either the old file or the new one, also after a power cut. Files that only grow
 * (metrics.csv rows, events) are appended and flushed by their own modules instead. */
#ifndef CUIQL_BASE_FILES_H
#define CUIQL_BASE_FILES_H

#include <stddef.h>
#include <stdio.h>

#include "cuiql/error.h"

/* Writes the whole content to tmp_path (which does not exist yet); 0 or -1 with err set. */
typedef int (*FileWriteFn)(const char *tmp_path, void *ctx, Error *err);

/* Writes PATH through write(PATH.tmp, ctx), then fsyncs the temporary file, renames it over
 * PATH and fsyncs the directory. On failure PATH.tmp is removed and PATH is untouched, except
 * when only the final directory sync fails: then PATH is the new file and the message says
 * "written but not yet durable". Errors name the path and the system's reason. */
int file_write_atomic(const char *path, FileWriteFn write, void *ctx, Error *err);

/* The same for a text file produced through a FILE *: write(out, ctx, err) returns 0 or -1;
 * a failed write or close of the stream is reported with the system's reason. */
typedef int (*StreamWriteFn)(FILE *out, void *ctx, Error *err);
int file_write_atomic_stream(const char *path, StreamWriteFn write, void *ctx, Error *err);

/* mkdir -p: creates path and its missing parents. */
int file_make_dirs(const char *path, Error *err);

/* The directory holding path ("." when it has none), malloc'd; NULL when out of memory. */
char *file_dir_of(const char *path);

/* Whether path exists (any kind of file). */
int file_exists(const char *path);

/* "DIR/NAME", malloc'ed (the caller frees it); NULL when out of memory. */
char *file_join(const char *dir, const char *name);

/* The whole of n bytes written to, or read from, a descriptor (a pipe, a socket, a file),
 * retried on EINTR and short counts: 0, or -1 with errno set (EIO for a write that wrote
 * nothing; a read: 0 when it ended before n bytes). */
int file_write_all(int fd, const void *data, size_t n);
int file_read_all(int fd, void *data, size_t n);

#endif
