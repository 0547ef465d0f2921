/* h5.h — the HDF5 plumbing every reader and writer of ours needs (datasets, checkpoints,
 * generated data), written once.
 *
 * HDF5 reports failures by printing its whole error stack to stderr and returning a negative
 * id or status. We turn the printing off (h5_silence) and make one line of our own from the
 * innermost entry of the stack, which says what went wrong at the bottom (h5_error_detail).
 * Handles are closed through h5_close, which knows every kind we open and is a no-op on
 * H5I_INVALID_HID, so a function can keep its handles in locals initialised to
 * H5I_INVALID_HID and close them all at its one exit. Not thread-safe: the HDF5 library is a
 * serial build, and the error-printing setting is process-wide. */
#ifndef CUIQL_BASE_H5_H
#define CUIQL_BASE_H5_H

#include <hdf5.h>
#include <stddef.h>

#include "cuiql/error.h"

/* Turns off HDF5's automatic printing of its error stack (for this thread's default stack). */
void h5_silence(void);

/* The innermost description on HDF5's error stack, why the last failing call failed: the
 * system's own message when HDF5 quotes one ("Is a directory"), else HDF5's text; "" when the
 * stack is empty. Clears the stack. Call right after the failing call. */
void h5_error_detail(char *buf, size_t size);

/* Closes a handle of any kind we open (file, group, dataset, dataspace, datatype, attribute,
 * property list, object) and sets it to H5I_INVALID_HID; a no-op on H5I_INVALID_HID. Close
 * errors are ignored: callers that must know (a file being written) close it themselves. */
void h5_close(hid_t *id);

/* 1 when the link `path` ("a/b/c", relative to loc) exists, 0 when it or a group on the way
 * does not (or cannot be looked up). H5Lexists alone fails on a missing intermediate group. */
int h5_exists(hid_t loc, const char *path);

/* Whether every filter of the dataset (its compression) is available in this HDF5 library: 1
 * when all are, 0 when one is not (why holds "compressed with the LZF filter (HDF5 filter
 * 32000), which this HDF5 library does not have; ..."), -1 when the properties cannot be read.
 * For a read that failed: HDF5's own message then is about its plugin directory. Clears
 * HDF5's error stack. */
int h5_filters_available(hid_t dset, char *why, size_t size);

/* 1 when a number type (integer, float or enum class) is one a reader can convert: 1 to 16
 * bytes, with no more bits of precision than it has. A crafted file can declare a 1.6 GB
 * "float", and HDF5 1.10 then allocates a conversion buffer of that size per element; newer
 * HDF5 refuses such types itself. 0 otherwise, with why[size] ("a 1601468517-byte floating
 * point type"). */
int h5_number_type_sane(hid_t type, char *why, size_t size);

/* Creates a file that lives only in memory (HDF5's core driver without a backing store), for a
 * writer to fill and h5_save_image to write out; H5I_INVALID_HID on failure (the error stack
 * holds why). `name` only identifies it; nothing is created on disk. A failed write or flush
 * of a file on disk leaves HDF5 holding a file it can neither flush nor close, and its
 * exit-time cleanup then crashes on it (SIGSEGV in H5F__close_cb, HDF5 1.10, on a full disk);
 * in memory nothing can fail that way, and the disk is written by h5_save_image, whose errors
 * carry the system's reason. Closing degree SEMI: closing fails if a handle is still open. */
hid_t h5_create_in_memory(const char *name, hid_t fcpl);

/* Flushes the in-memory file, takes its bytes, closes it (*file becomes H5I_INVALID_HID, on
 * every path) and writes the bytes to path, which must not exist (O_EXCL). Errors say which
 * step failed, with HDF5's or the system's reason, and name `shown` (the file the user asked
 * for). A file partly written at path is left for the caller to remove. */
int h5_save_image(hid_t *file, const char *path, const char *shown, Error *err);

/* "integer", "floating point", "enum", ... for messages. */
const char *h5_class_name(H5T_class_t cls);

#endif
