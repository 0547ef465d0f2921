/* tfevents.h — TensorBoard event files written natively (no TensorFlow, no protobuf library).
 *
 * An event file is a sequence of TFRecords, each holding one serialized `Event` protobuf; this
 * module encodes the handful of fields scalars need by hand (see docs/formats.md). Each event is
 * flushed when written, so a live TensorBoard sees it and a crash loses at most the event being
 * written (the reader tolerates a torn last record).
 *
 *     Error err;
 *     TfEventWriter *w = tfevents_open("runs/a", &err);       // runs/a/events.out.tfevents.…
 *     const char *tags[] = {"loss/q", "loss/value"};
 *     float vals[] = {0.5f, 0.25f};
 *     if (!w || tfevents_scalars(w, 100, 1.7e9, 2, tags, vals, &err) || tfevents_close(w, &err))
 *         fprintf(stderr, "%s\n", err.msg);
 *
 * A writer is not thread-safe; separate writers are independent. */
#ifndef CUIQL_LOG_TFEVENTS_H
#define CUIQL_LOG_TFEVENTS_H

#include <stdint.h>

#include "cuiql/error.h"

typedef struct TfEventWriter TfEventWriter;

/* Creates `events.out.tfevents.<10-digit unix time>.<hostname>.<pid>` in the existing directory
 * dir (a ".<n>" suffix is added if that name is taken, so a file is never overwritten) and writes
 * the first record, Event{wall_time, file_version = "brain.Event:2"}. NULL and err on failure. */
TfEventWriter *tfevents_open(const char *dir, Error *err);

/* The path of the file being written (valid until tfevents_close). */
const char *tfevents_path(const TfEventWriter *w);

/* Writes one Event{wall_time, step, summary} holding n scalar values (tags[i] = values[i]; NaN and
 * infinities are written as they are) and flushes it. n may be 0 (an event with an empty summary).
 * Tags may be any length. Returns 0, or -1 and err naming the file. */
int tfevents_scalars(TfEventWriter *w, int64_t step, double wall_time, int n, const char *const *tags,
                     const float *values, Error *err);

/* Writes Event{wall_time, step, session_log{status: START}}: TensorBoard's signal that a run
 * restarted at `step`, after which its event accumulator discards the events of earlier files
 * with step >= `step` (those a crashed run logged past its last checkpoint). */
int tfevents_session_start(TfEventWriter *w, int64_t step, double wall_time, Error *err);

/* Rewrites the event file at path (atomically: base/files.h) keeping only the records of steps
 * up to max_step, and those without a step; a torn or corrupt tail is dropped. For a resumed
 * run, whose events past its checkpoint describe a trajectory it does not continue. */
int tfevents_truncate(const char *path, int64_t max_step, Error *err);

/* Closes the file and frees w (also on failure). NULL is a no-op. Returns 0, or -1 and err. */
int tfevents_close(TfEventWriter *w, Error *err);

/* The current Unix time in seconds (CLOCK_REALTIME), as event wall_time expects. */
double tfevents_wall_time(void);

#endif
