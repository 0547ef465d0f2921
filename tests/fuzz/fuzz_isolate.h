/* fuzz_isolate.h — the readers run HDF5 in a child process (base/sandbox.h), because HDF5 1.10
 * itself overruns buffers on some crafted files: the program then refuses the file. The
 * harnesses do the same first: each input is read in a helper process (forked once and fed
 * input after input: a fork per input made fuzzing 20x slower). If the helper dies inside
 * libhdf5 (its ASan report's first frame past the interceptors and libc is in the library), the input is
 * one cuiql refuses, and goes no further. A helper that died without sending its report is
 * judged by the report in its stderr (libFuzzer's or UBSan's), and said with its wait status. A death anywhere else is cuiql's: reported, and a
 * finding (abort). The same for a helper stuck past the readers' deadline (sandbox_deadline,
 * at most 5 s here): stuck in libhdf5 is refused, stuck elsewhere a finding. An input the
 * helper survives is read again in the fuzzer's own process, for coverage. */
#ifndef CUIQL_FUZZ_ISOLATE_H
#define CUIQL_FUZZ_ISOLATE_H

#include <stddef.h>
#include <stdint.h>

#include "cuiql/error.h"

/* The read of one input, as the helper and then the harness run it: 0 or -1 (a refusal). */
typedef int (*FuzzRead)(const uint8_t *data, size_t size, Error *err);

/* 1 when the input crashed HDF5 in the helper (skip it), 0 when the helper survived; aborts
 * when the helper died outside HDF5. The same `reader` every call. */
int fuzz_crashes_hdf5(FuzzRead reader, const uint8_t *data, size_t size);

#endif
