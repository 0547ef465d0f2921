/* sandbox.h — parsing an untrusted file in a child process, so that a crash inside a library
 * ends the child and comes back as a one-line refusal, not as the end of the program.
 *
 * Why: cuiql reads users' HDF5 files through the system's HDF5 library, and HDF5 1.10 (Debian
 * 12's) overruns its own buffers on some crafted files: fuzzing found an H5Oopen that copies
 * 400 MB out of a 280-byte object header and dies with SIGSEGV. cuiql's own code refuses what it
 * can see is wrong (base/sizes.h), but a bug inside the library it cannot fix. So the readers of
 * datasets and checkpoints run their HDF5 calls in a forked child: the child does the whole read
 * and sends the result through a pipe; the parent receives it. If the child dies of a signal the
 * parent reports "reading it crashed the HDF5 library (SIGSEGV)" for that file; one that runs
 * past its deadline (sandbox_deadline) is killed and reported as stuck.
 *
 *   static int child(void *ctx, int out, Error *err)   { ... read ...; return file_write_all(out, ...); }
 *   static int receive(void *ctx, int in, Error *err)  { ... file_read_all(in, ...) ... }
 *   if (sandbox_run("data.h5", child, receive, &ctx, &err)) ...   // err: the child's refusal,
 *                                                                // or the crash, naming the file
 *
 * The child is a fork: it sees the parent's memory as it was (copy on write) and must not touch
 * anything shared with the parent (devices, locks, stdio): it runs its function and _exit()s.
 * When fork() itself fails, the function runs in the calling process instead (receive is then
 * not called: the results are already in place). Not for use from several threads at once. */
#ifndef CUIQL_BASE_SANDBOX_H
#define CUIQL_BASE_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "cuiql/error.h"

/* In the child: does the work and writes its results to out (a pipe); 0 or -1 with err set. */
typedef int (*SandboxChild)(void *ctx, int out, Error *err);
/* In the parent: reads the results from in, concurrently with the child; 0 or -1 with err set.
 * NULL: the child's verdict is all that is wanted (a check). */
typedef int (*SandboxReceive)(void *ctx, int in, Error *err);

/* Runs child in a forked process and receive here. 0 when both succeeded; -1 with err: the
 * child's own message when it refused, "WHAT: reading it crashed the HDF5 library (SIGSEGV)..."
 * when it died (of a signal, or exited non-zero without a message: a sanitizer's report), or
 * receive's message. `in_process`, when not NULL, is set to 1 when
 * fork() failed and child ran in this process (then receive was not called). */
int sandbox_run(const char *what, SandboxChild child, SandboxReceive receive, void *ctx, int *in_process,
                Error *err);

/* In the sandboxed child: the read must be done within `seconds` from now, or the child dies of
 * SIGALRM and the program refuses the file as one HDF5 got stuck on (fuzzing found local heaps
 * that make HDF5 1.10 loop forever). Each call replaces the previous deadline: a reader sets a
 * short one for the metadata, then one that its data's size allows. A no-op in the program
 * itself (no sandbox, or fork failed). */
void sandbox_deadline(unsigned seconds);

/* A deadline for reading `bytes` of data in `objects` objects after `fixed` seconds for the
 * rest: a pessimistic 20 MB/s (of decompression) and 50 objects/s, at most a day. */
unsigned sandbox_seconds_for(unsigned fixed, uint64_t bytes, int64_t objects);

/* For a test harness that plays the child in a process of its own (tests/fuzz/): deadlines apply
 * in this process from now on, each at most max_seconds. */
void sandbox_act_as_child(unsigned max_seconds);

#endif
