/* fuzz_h5.h — what the HDF5 harnesses share: the bytes of an input opened as an HDF5 file in
 * memory (HDF5's core driver with the input as its file image, so nothing touches the disk),
 * and the check that a reader left no HDF5 object open, whatever the input (a handle leaked on
 * an error path would pile up over a fuzzing run, and does in a long training job's resumes). */
#ifndef CUIQL_FUZZ_H5_H
#define CUIQL_FUZZ_H5_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* The input as a read-only HDF5 file, or H5I_INVALID_HID when HDF5 does not take it. */
hid_t fuzz_open_image(const uint8_t *data, size_t size);

/* Closes the file and aborts (a finding) when an object of it or any other file is still open. */
void fuzz_close_image(hid_t file);

/* Once per process: HDF5's error printing off, and a memory limit for the readers (so a
 * declared shape of terabytes is refused, as on a machine with 256 MB). */
void fuzz_init(void);

#endif
