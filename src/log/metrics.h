/* metrics.h — a run's scalar log: DIR/metrics.csv and a TensorBoard event file in DIR, one row /
 * one event per logged step.
 *
 *     const char *cols[] = {"loss/q", "eval/return"};
 *     MetricsLog *m = metrics_open("runs/a", 2, cols, -1, &err);      // fresh run
 *     double row[] = {0.5, NAN};                                      // NAN: not measured now
 *     if (!m || metrics_log(m, 100, row, &err) || metrics_close(m, &err)) ...
 *
 * metrics.csv has the header `step,wall_time,<columns...>`; wall_time is Unix seconds with
 * millisecond resolution, values are printed with %.9g (enough to round-trip a float), and a NaN
 * value is an empty cell and is left out of the event. Every row is flushed when logged.
 * Not thread-safe; separate logs are independent. */
#ifndef CUIQL_LOG_METRICS_H
#define CUIQL_LOG_METRICS_H

#include <stdint.h>

#include "cuiql/error.h"

typedef struct MetricsLog MetricsLog;

/* Opens the log in the existing directory dir. columns (n_columns >= 1 names, copied; no commas,
 * quotes or line breaks since they are CSV header cells) are the scalars' tags.
 *   resume_step < 0: a fresh run — metrics.csv is created or truncated.
 *   resume_step >= 0: a run resumed from its checkpoint at resume_step — the existing rows with
 *     step <= resume_step are kept and later ones dropped (a crashed run may have logged past its
 *     last checkpoint), by rewriting the file atomically (base/files.h); a torn last line is
 *     dropped too. The directory's event files are cut back the same way. An existing header that differs from this run's fails with a message
 *     naming the first differing column. A missing or empty metrics.csv is started afresh. The
 *     new event file begins with a session-start event at resume_step + 1, which tells
 *     TensorBoard to discard the dropped steps from the earlier event files.
 * A new event file is created either way (earlier ones are left for TensorBoard to read).
 * Returns NULL and err on failure; nothing is changed when the header check fails. */
MetricsLog *metrics_open(const char *dir, int n_columns, const char *const *columns, int64_t resume_step,
                         Error *err);

/* Logs one row at the current time: values[i] for columns[i], NaN meaning "not measured at this
 * step". The event is skipped when every value is NaN; the CSV row is always written. */
int metrics_log(MetricsLog *m, int64_t step, const double *values, Error *err);

/* The paths being written (valid until metrics_close). */
const char *metrics_csv_path(const MetricsLog *m);
const char *metrics_event_path(const MetricsLog *m);

/* Closes both files and frees m (also on failure). NULL is a no-op. Returns 0, or -1 and err. */
int metrics_close(MetricsLog *m, Error *err);

#endif
