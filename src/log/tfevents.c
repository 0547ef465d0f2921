/* tfevents.c — TensorBoard event files: TFRecord framing and the few protobuf fields of an Event
 * that scalars need, encoded by hand (field numbers and keys in docs/formats.md).
 *
 * A record is   u64 length (LE) | u32 masked crc32c(length bytes) | payload | u32 masked crc32c(payload)
 * and the payload an Event message. Each record is assembled in one buffer and written with one
 * fwrite + fflush, so the file only ever ends in the middle of a record if the process dies
 * inside that call — which the reader tolerates. */
#include "log/tfevents.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/files.h"   // defines: file_write_atomic_stream
#include "log/crc32c.h"  // defines: crc32c, crc32c_masked

struct TfEventWriter {
    FILE *f;
    char *path;
    unsigned char *buf;  // one record: 12 header bytes, the payload, 4 CRC bytes; grown as needed
    size_t cap;
};

/* Protobuf wire keys, (field << 3) | wire type: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32. */
enum {
    KEY_EVENT_WALL_TIME = 0x09,     // Event.wall_time = 1, double
    KEY_EVENT_STEP = 0x10,          // Event.step = 2, int64
    KEY_EVENT_FILE_VERSION = 0x1A,  // Event.file_version = 3, string
    KEY_EVENT_SUMMARY = 0x2A,       // Event.summary = 5, Summary
    KEY_EVENT_SESSION_LOG = 0x3A,   // Event.session_log = 7, SessionLog
    KEY_SUMMARY_VALUE = 0x0A,       // Summary.value = 1, repeated Summary.Value
    KEY_VALUE_TAG = 0x0A,           // Summary.Value.tag = 1, string
    KEY_VALUE_SIMPLE_VALUE = 0x15,  // Summary.Value.simple_value = 2, float
    KEY_SESSION_LOG_STATUS = 0x08,  // SessionLog.status = 1, enum
};
enum { SESSION_LOG_START = 1 };

static const char FILE_VERSION[] = "brain.Event:2";
enum { RECORD_HEADER = 12, RECORD_FOOTER = 4 };

/* ---- protobuf encoding -------------------------------------------------------------------- */

static size_t varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) { v >>= 7; n++; }
    return n;
}

static unsigned char *put_varint(unsigned char *p, uint64_t v) {
    while (v >= 0x80) { *p++ = (unsigned char)(v | 0x80); v >>= 7; }
    *p++ = (unsigned char)v;
    return p;
}

/* Little-endian whatever the host's order: protobuf fixed fields and TFRecord headers are LE. */
static unsigned char *put_le(unsigned char *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static unsigned char *put_double(unsigned char *p, double x) {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return put_le(p, bits, 8);
}

static unsigned char *put_float(unsigned char *p, float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return put_le(p, bits, 4);
}

static unsigned char *put_bytes(unsigned char *p, const void *s, size_t n) {
    p = put_varint(p, n);
    memcpy(p, s, n);
    return p + n;
}

/* Size of the Summary.Value message for one tag (without its own key and length). */
static size_t value_len(size_t tag_len) { return 1 + varint_len(tag_len) + tag_len + 5; }

/* Size of the wall_time and step fields that open every event after the first. */
static size_t head_len(int64_t step) { return 9 + 1 + varint_len((uint64_t)step); }

static unsigned char *put_head(unsigned char *p, int64_t step, double wall_time) {
    *p++ = KEY_EVENT_WALL_TIME;
    p = put_double(p, wall_time);
    *p++ = KEY_EVENT_STEP;
    return put_varint(p, (uint64_t)step);  // int64 is encoded as its two's-complement uint64
}

/* ---- records ------------------------------------------------------------------------------ */

/* Makes room for a payload of n bytes and returns where it starts. */
static unsigned char *payload_buffer(TfEventWriter *w, size_t n, Error *err) {
    size_t need = RECORD_HEADER + n + RECORD_FOOTER;
    if (need < n) {
        error_set(err, "%s: event of %zu bytes is too large", w->path, n);
        return NULL;
    }
    if (need > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        unsigned char *b = realloc(w->buf, cap);
        if (!b) {
            error_set(err, "%s: out of memory for an event of %zu bytes", w->path, n);
            return NULL;
        }
        w->buf = b;
        w->cap = cap;
    }
    return w->buf + RECORD_HEADER;
}

/* Frames the n-byte payload already in the buffer, writes the record and flushes it. */
static int write_record(TfEventWriter *w, size_t n, Error *err) {
    unsigned char *p = w->buf;
    put_le(p, (uint64_t)n, 8);
    put_le(p + 8, crc32c_masked(crc32c(p, 8)), 4);
    put_le(p + RECORD_HEADER + n, crc32c_masked(crc32c(p + RECORD_HEADER, n)), 4);
    size_t total = RECORD_HEADER + n + RECORD_FOOTER;
    errno = 0;
    if (fwrite(p, 1, total, w->f) != total || fflush(w->f) != 0)
        return error_set(err, "%s: cannot write event: %s", w->path, errno ? strerror(errno) : "write error");
    return 0;
}

/* ---- the writer --------------------------------------------------------------------------- */

double tfevents_wall_time(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (double)time(NULL);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The host name as it may appear in a file name: characters outside [A-Za-z0-9._-] become '_'. */
static void file_hostname(char *out, size_t cap) {
    if (gethostname(out, cap) != 0) out[0] = '\0';
    out[cap - 1] = '\0';  // POSIX leaves a truncated name unterminated
    for (char *c = out; *c; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 *c == '.' || *c == '_' || *c == '-';
        if (!ok) *c = '_';
    }
    if (!out[0]) snprintf(out, cap, "localhost");
}

/* Opens a new file in dir, never an existing one: two writers in one directory, in one process
 * and one second (a resumed run retried at once), must not truncate each other's file. */
static int create_file(TfEventWriter *w, const char *dir, double now, Error *err) {
    char host[256];
    file_hostname(host, sizeof host);
    long long secs = (long long)now;
    long pid = (long)getpid();
    size_t cap = strlen(dir) + strlen(host) + 96;
    w->path = malloc(cap);
    if (!w->path) return error_set(err, "%s: out of memory", dir);
    for (int attempt = 0; attempt < 1000; attempt++) {
        int len = snprintf(w->path, cap, "%s/events.out.tfevents.%010lld.%s.%ld", dir, secs, host, pid);
        if (attempt) snprintf(w->path + len, cap - (size_t)len, ".%d", attempt);
        w->f = fopen(w->path, "wbx");  // C11 "x": fail with EEXIST rather than truncate
        if (w->f) return 0;
        if (errno != EEXIST) return error_set(err, "%s: cannot create event file: %s", w->path, strerror(errno));
    }
    return error_set(err, "%s: cannot create event file: 1000 names taken", w->path);
}

TfEventWriter *tfevents_open(const char *dir, Error *err) {
    TfEventWriter *w = calloc(1, sizeof *w);
    if (!w) {
        error_set(err, "%s: out of memory", dir);
        return NULL;
    }
    double now = tfevents_wall_time();
    if (create_file(w, dir, now, err)) goto fail;

    size_t n = 9 + 1 + varint_len(sizeof FILE_VERSION - 1) + (sizeof FILE_VERSION - 1);
    unsigned char *p = payload_buffer(w, n, err);
    if (!p) goto fail;
    *p++ = KEY_EVENT_WALL_TIME;
    p = put_double(p, now);
    *p++ = KEY_EVENT_FILE_VERSION;
    put_bytes(p, FILE_VERSION, sizeof FILE_VERSION - 1);
    if (write_record(w, n, err)) goto fail;
    return w;

fail:
    if (w->f) {
        fclose(w->f);
        remove(w->path);  // a file without its version record would only confuse a reader
    }
    free(w->path);
    free(w->buf);
    free(w);
    return NULL;
}

const char *tfevents_path(const TfEventWriter *w) { return w->path; }

int tfevents_scalars(TfEventWriter *w, int64_t step, double wall_time, int n, const char *const *tags,
                     const float *values, Error *err) {
    if (n < 0 || (n > 0 && (!tags || !values)))
        return error_set(err, "%s: tfevents_scalars: bad arguments (n = %d)", w->path, n);
    // Lengths first: every nested message is preceded by its size.
    size_t summary = 0;
    for (int i = 0; i < n; i++) {
        if (!tags[i]) return error_set(err, "%s: tfevents_scalars: tag %d is NULL", w->path, i);
        size_t v = value_len(strlen(tags[i]));
        summary += 1 + varint_len(v) + v;
    }
    size_t len = head_len(step) + 1 + varint_len(summary) + summary;
    unsigned char *p = payload_buffer(w, len, err);
    if (!p) return -1;

    p = put_head(p, step, wall_time);
    *p++ = KEY_EVENT_SUMMARY;
    p = put_varint(p, summary);
    for (int i = 0; i < n; i++) {
        size_t tag_len = strlen(tags[i]);
        *p++ = KEY_SUMMARY_VALUE;
        p = put_varint(p, value_len(tag_len));
        *p++ = KEY_VALUE_TAG;
        p = put_bytes(p, tags[i], tag_len);
        *p++ = KEY_VALUE_SIMPLE_VALUE;
        p = put_float(p, values[i]);
    }
    return write_record(w, len, err);
}

int tfevents_session_start(TfEventWriter *w, int64_t step, double wall_time, Error *err) {
    size_t len = head_len(step) + 1 + 1 + 2;  // session_log key, its length, then status key and value
    unsigned char *p = payload_buffer(w, len, err);
    if (!p) return -1;
    p = put_head(p, step, wall_time);
    *p++ = KEY_EVENT_SESSION_LOG;
    *p++ = 2;
    *p++ = KEY_SESSION_LOG_STATUS;
    *p++ = SESSION_LOG_START;
    return write_record(w, len, err);
}

/* ---- cutting a file back (resume) ------------------------------------------------------------ */

static uint64_t get_le(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Reads a varint at *p (< end); 0 when it runs past end or over 10 bytes. */
static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; *p < end && shift < 70; shift += 7) {
        unsigned char b = *(*p)++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) return *out = v, 1;
    }
    return 0;
}

/* The step of an Event payload; 0 when it has none (the file_version record). Only the
 * fields our writer emits are walked; anything else ends the walk (a foreign event is kept). */
static int event_step(const unsigned char *p, size_t n, int64_t *step) {
    const unsigned char *end = p + n;
    while (p < end) {
        unsigned char key = *p++;
        uint64_t len;
        switch (key & 7) {
        case 0:
            if (!get_varint(&p, end, &len)) return 0;
            if (key == KEY_EVENT_STEP) return *step = (int64_t)len, 1;
            break;
        case 1: p += 8; break;
        case 5: p += 4; break;
        case 2:
            if (!get_varint(&p, end, &len) || len > (uint64_t)(end - p)) return 0;
            p += len;
            break;
        default: return 0;
        }
    }
    return 0;
}

typedef struct {
    const unsigned char *data;
    size_t size;
    int64_t max_step;
} CutJob;

/* Copies the complete, intact records whose step is at most max_step (and those without a
 * step); stops at a torn or corrupt record, which can only be the end of a crashed run. */
static int write_cut(FILE *out, void *arg, Error *err) {
    (void)err;
    const CutJob *job = arg;
    size_t pos = 0;
    while (job->size - pos >= RECORD_HEADER + RECORD_FOOTER) {
        const unsigned char *rec = job->data + pos;
        uint64_t n = get_le(rec, 8);
        if (get_le(rec + 8, 4) != crc32c_masked(crc32c(rec, 8)) ||
            n > job->size - pos - RECORD_HEADER - RECORD_FOOTER)
            break;
        const unsigned char *payload = rec + RECORD_HEADER;
        if (get_le(payload + n, 4) != crc32c_masked(crc32c(payload, n))) break;
        int64_t step;
        size_t total = RECORD_HEADER + (size_t)n + RECORD_FOOTER;
        if ((!event_step(payload, n, &step) || step <= job->max_step) && fwrite(rec, 1, total, out) != total) return -1;
        pos += total;
    }
    return 0;
}

int tfevents_truncate(const char *path, int64_t max_step, Error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(err, "%s: cannot open: %s", path, strerror(errno));
    unsigned char *data = NULL;
    size_t size = 0, cap = 0;
    for (;;) {
        if (size == cap) {
            size_t grown = cap ? 2 * cap : 1 << 16;
            unsigned char *d = realloc(data, grown);
            if (!d) {
                free(data);
                fclose(f);
                return error_set(err, "%s: out of memory reading it", path);
            }
            data = d;
            cap = grown;
        }
        size_t got = fread(data + size, 1, cap - size, f);
        size += got;
        if (got == 0) break;
    }
    int failed = ferror(f);
    fclose(f);
    int rc = failed ? error_set(err, "%s: cannot read: %s", path, strerror(errno)) : 0;
    if (rc == 0) {
        CutJob job = {data, size, max_step};
        rc = file_write_atomic_stream(path, write_cut, &job, err);
    }
    free(data);
    return rc;
}

int tfevents_close(TfEventWriter *w, Error *err) {
    if (!w) return 0;
    int rc = 0;
    if (fclose(w->f) != 0) rc = error_set(err, "%s: cannot close event file: %s", w->path, strerror(errno));
    free(w->path);
    free(w->buf);
    free(w);
    return rc;
}
