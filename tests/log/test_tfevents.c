/* test_tfevents.c — CRC-32C against docs/formats.md's vectors and a bit-by-bit reference, and the
 * event writer's bytes parsed back by hand: record framing, both CRCs, every protobuf field.
 * (test_log_files.py reads the same kind of file with TensorBoard's own loader.) */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/crc32c.h"
#include "log/metrics.h"
#include "log/tfevents.h"
#include "test_util.h"

/* ---- CRC-32C ------------------------------------------------------------------------------ */

/* The definition, one bit at a time, written independently of the table in crc32c.c. */
static uint32_t crc32c_bitwise(const unsigned char *p, size_t n) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return crc ^ 0xFFFFFFFFu;
}

static void test_crc(void) {
    CHECK(crc32c("123456789", 9) == 0xE3069283u, "crc32c(\"123456789\") = %08X", crc32c("123456789", 9));
    unsigned char zeros[32] = {0};
    CHECK(crc32c(zeros, 32) == 0x8A9136AAu, "crc32c(32 zeros) = %08X", crc32c(zeros, 32));
    unsigned char len24[8] = {24, 0, 0, 0, 0, 0, 0, 0};
    CHECK(crc32c_masked(crc32c(len24, 8)) == 0x224B7FA3u, "masked crc of LE u64 24 = %08X",
          crc32c_masked(crc32c(len24, 8)));
    CHECK(crc32c(NULL, 0) == 0, "crc32c of nothing = %08X", crc32c(NULL, 0));

    // Every table entry is exercised by 4096 pseudo-random bytes (an LCG, so the test is fixed).
    unsigned char buf[4096];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        s = s * 1664525u + 1013904223u;
        buf[i] = (unsigned char)(s >> 24);
    }
    int bad = 0;
    for (size_t n = 0; n <= sizeof buf; n += (n < 64 ? 1 : 97))
        if (crc32c(buf, n) != crc32c_bitwise(buf, n)) bad++;
    for (int b = 0; b < 256; b++) {  // each single byte value: checks all 256 table entries directly
        unsigned char c = (unsigned char)b;
        if (crc32c(&c, 1) != crc32c_bitwise(&c, 1)) bad++;
    }
    CHECK(bad == 0, "%d lengths where the table disagrees with the bitwise CRC", bad);
    CHECK(crc32c_extend(crc32c(buf, 1000), buf + 1000, 3000) == crc32c(buf, 4000), "crc32c_extend continues");
}

/* ---- a minimal record and protobuf reader -------------------------------------------------- */

static uint64_t get_le(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

typedef struct {
    const unsigned char *payload;
    size_t len;
} Record;

/* Splits a file image into records, checking both CRCs; returns the count, or -1 (and says why,
 * unless quiet) on a framing error. */
static int split_records(const unsigned char *data, size_t size, Record *out, int max, int quiet) {
    size_t pos = 0;
    int n = 0;
    while (pos < size) {
        if (size - pos < 12 || n == max) {
            if (!quiet) fprintf(stderr, "record %d: truncated header or too many records\n", n);
            return -1;
        }
        uint64_t len = get_le(data + pos, 8);
        if (get_le(data + pos + 8, 4) != crc32c_masked(crc32c(data + pos, 8))) {
            if (!quiet) fprintf(stderr, "record %d: length CRC mismatch\n", n);
            return -1;
        }
        if (len > size - pos - 16) {
            if (!quiet) fprintf(stderr, "record %d: length %llu runs past the end\n", n, (unsigned long long)len);
            return -1;
        }
        const unsigned char *payload = data + pos + 12;
        if (get_le(payload + len, 4) != crc32c_masked(crc32c(payload, len))) {
            if (!quiet) fprintf(stderr, "record %d: payload CRC mismatch\n", n);
            return -1;
        }
        out[n].payload = payload;
        out[n++].len = len;
        pos += 16 + len;
    }
    return n;
}

typedef struct {
    int field, wire;
    uint64_t num;               // varint, fixed32 or fixed64 bits
    const unsigned char *data;  // length-delimited
    size_t len;
} Field;

static int read_varint(const unsigned char **p, const unsigned char *end, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*p >= end) return -1;
        unsigned char b = *(*p)++;
        *v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

/* Reads the next field of a message; 1 when one was read, 0 at the end, -1 on malformed input. */
static int next_field(const unsigned char **p, const unsigned char *end, Field *f) {
    if (*p == end) return 0;
    uint64_t key;
    if (read_varint(p, end, &key)) return -1;
    f->field = (int)(key >> 3);
    f->wire = (int)(key & 7);
    switch (f->wire) {
    case 0: return read_varint(p, end, &f->num) ? -1 : 1;
    case 1:
        if (end - *p < 8) return -1;
        f->num = get_le(*p, 8);
        *p += 8;
        return 1;
    case 5:
        if (end - *p < 4) return -1;
        f->num = get_le(*p, 4);
        *p += 4;
        return 1;
    case 2:
        if (read_varint(p, end, &f->len) || f->len > (uint64_t)(end - *p)) return -1;
        f->data = *p;
        *p += f->len;
        return 1;
    default: return -1;
    }
}

typedef struct {
    double wall_time;
    int64_t step;
    int has_step;
    char file_version[32];
    int has_summary, n_values;
    char *tags[256];
    uint32_t value_bits[256];
    int session_status;  // -1: no session_log
    int unknown_fields;
} Event;

static float bits_float(uint32_t b) {
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* Decodes an Event; returns 0, or -1 on malformed input or a field of the wrong wire type. */
static int decode_event(const Record *r, Event *e) {
    memset(e, 0, sizeof *e);
    e->session_status = -1;
    const unsigned char *p = r->payload, *end = r->payload + r->len;
    Field f;
    int rc;
    while ((rc = next_field(&p, end, &f)) == 1) {
        if (f.field == 1 && f.wire == 1) {
            memcpy(&e->wall_time, &f.num, sizeof e->wall_time);
        } else if (f.field == 2 && f.wire == 0) {
            e->step = (int64_t)f.num;
            e->has_step = 1;
        } else if (f.field == 3 && f.wire == 2 && f.len < sizeof e->file_version) {
            memcpy(e->file_version, f.data, f.len);
        } else if (f.field == 5 && f.wire == 2) {
            e->has_summary = 1;
            const unsigned char *q = f.data, *qend = f.data + f.len;
            Field v;
            int rv;
            while ((rv = next_field(&q, qend, &v)) == 1) {
                if (v.field != 1 || v.wire != 2 || e->n_values == 256) return -1;
                const unsigned char *s = v.data, *send = v.data + v.len;
                Field t;
                int rt, k = e->n_values++;
                while ((rt = next_field(&s, send, &t)) == 1) {
                    if (t.field == 1 && t.wire == 2) {
                        e->tags[k] = malloc(t.len + 1);
                        memcpy(e->tags[k], t.data, t.len);
                        e->tags[k][t.len] = '\0';
                    } else if (t.field == 2 && t.wire == 5) {
                        e->value_bits[k] = (uint32_t)t.num;
                    } else {
                        e->unknown_fields++;
                    }
                }
                if (rt < 0 || !e->tags[k]) return -1;
            }
            if (rv < 0) return -1;
        } else if (f.field == 7 && f.wire == 2) {
            const unsigned char *q = f.data;
            Field s;
            if (next_field(&q, f.data + f.len, &s) != 1 || s.field != 1 || s.wire != 0) return -1;
            e->session_status = (int)s.num;
        } else {
            e->unknown_fields++;
        }
    }
    return rc;
}

static void free_event(Event *e) {
    for (int i = 0; i < e->n_values; i++) free(e->tags[i]);
}

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    *size = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

/* ---- the writer ---------------------------------------------------------------------------- */

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *ent;
    char path[1024];
    while ((ent = readdir(d)))
        if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
            remove(path);
        }
    closedir(d);
    rmdir(dir);
}

static void test_writer(const char *dir) {
    Error err = {{0}};
    double t0 = tfevents_wall_time();
    TfEventWriter *w = tfevents_open(dir, &err);
    CHECK(w != NULL, "tfevents_open: %s", err.msg);
    if (!w) return;
    char path[1024];
    snprintf(path, sizeof path, "%s", tfevents_path(w));

    // The file name: DIR/events.out.tfevents.<10 digits>.<host>.<pid>
    const char *base = strrchr(path, '/') + 1;
    const char *prefix = "events.out.tfevents.";
    CHECK(strncmp(base, prefix, strlen(prefix)) == 0, "file name '%s'", base);
    const char *digits = base + strlen(prefix);
    int nd = 0;
    while (digits[nd] >= '0' && digits[nd] <= '9') nd++;
    CHECK(nd == 10 && digits[10] == '.', "10-digit time in '%s'", base);
    char pid_suffix[32];
    snprintf(pid_suffix, sizeof pid_suffix, ".%ld", (long)getpid());
    CHECK(strlen(base) > strlen(pid_suffix) && !strcmp(base + strlen(base) - strlen(pid_suffix), pid_suffix),
          "'%s' ends in the pid", base);
    CHECK(llabs(atoll(digits) - (long long)t0) <= 1, "time in the name %lld vs now %.0f", atoll(digits), t0);

    // A second writer in the same directory, same process and (most likely) same second.
    TfEventWriter *w2 = tfevents_open(dir, &err);
    CHECK(w2 && strcmp(tfevents_path(w2), path) != 0, "second writer gets its own file: %s",
          w2 ? tfevents_path(w2) : err.msg);
    CHECK(tfevents_close(w2, &err) == 0, "close second: %s", err.msg);

    // Event 2: three values, one NaN (written as it is) and a 300-byte tag (2-byte varint lengths).
    char long_tag[301];
    memset(long_tag, 'x', 300);
    memcpy(long_tag, "long/", 5);
    long_tag[300] = '\0';
    const char *tags3[] = {"loss/q", long_tag, "nan/value"};
    float vals3[] = {0.25f, -3.5e-7f, NAN};
    CHECK(tfevents_scalars(w, 7, 1234.5, 3, tags3, vals3, &err) == 0, "scalars: %s", err.msg);

    // Event 3: 200 values with 300-byte tags (a summary > 16 KiB: 3-byte length), step > 2^32.
    static char many_tags[200][301];
    const char *tags200[200];
    float vals200[200];
    for (int i = 0; i < 200; i++) {
        memset(many_tags[i], 'a' + i % 26, 300);
        snprintf(many_tags[i], 12, "t%03d/", i);
        many_tags[i][strlen(many_tags[i])] = 'y';  // snprintf's terminator would cut the tag short
        many_tags[i][300] = '\0';
        tags200[i] = many_tags[i];
        vals200[i] = (float)i * 0.5f - 17.0f;
    }
    const int64_t big_step = (int64_t)1 << 40;
    CHECK(tfevents_scalars(w, big_step, 1e9 + 0.25, 200, tags200, vals200, &err) == 0, "scalars: %s", err.msg);
    // Event 4: no values, a negative step (10-byte varint).
    CHECK(tfevents_scalars(w, -5, 2.0, 0, NULL, NULL, &err) == 0, "empty scalars: %s", err.msg);
    // Event 5: session start.
    CHECK(tfevents_session_start(w, 31, 3.0, &err) == 0, "session start: %s", err.msg);
    CHECK(tfevents_close(w, &err) == 0, "close: %s", err.msg);
    double t1 = tfevents_wall_time();

    size_t size = 0;
    unsigned char *data = read_file(path, &size);
    CHECK(data != NULL, "read back %s", path);
    if (!data) return;
    // The first record is 24 bytes (wall_time 9, file_version 2 + 13), so docs/formats.md's third test
    // vector is its length CRC: the exact bytes are known.
    static const unsigned char head[12] = {24, 0, 0, 0, 0, 0, 0, 0, 0xA3, 0x7F, 0x4B, 0x22};
    CHECK(size >= 12 && memcmp(data, head, 12) == 0, "first record header bytes");

    Record rec[8];
    int n = split_records(data, size, rec, 8, 0);
    CHECK(n == 5, "%d records (expected 5)", n);
    if (n == 5) {
        Event e;
        CHECK(decode_event(&rec[0], &e) == 0, "decode record 0");
        CHECK(!strcmp(e.file_version, "brain.Event:2"), "file_version '%s'", e.file_version);
        CHECK(e.wall_time >= t0 - 1e-3 && e.wall_time <= t1 + 1e-3, "first wall_time %.3f in [%.3f, %.3f]",
              e.wall_time, t0, t1);
        CHECK(!e.has_step && !e.has_summary && !e.unknown_fields, "first record holds only its two fields");

        CHECK(decode_event(&rec[1], &e) == 0, "decode record 1");
        CHECK(e.wall_time == 1234.5 && e.has_step && e.step == 7, "event 1: wall %.17g step %lld", e.wall_time,
              (long long)e.step);
        CHECK(e.n_values == 3 && !e.unknown_fields, "event 1: %d values", e.n_values);
        for (int i = 0; i < e.n_values && i < 3; i++) {
            uint32_t want;
            memcpy(&want, &vals3[i], 4);
            CHECK(!strcmp(e.tags[i], tags3[i]), "event 1 tag %d '%.20s'", i, e.tags[i]);
            CHECK(e.value_bits[i] == want, "event 1 value %d: %08X vs %08X", i, e.value_bits[i], want);
        }
        CHECK(e.n_values == 3 && isnan(bits_float(e.value_bits[2])), "NaN written as NaN");
        free_event(&e);

        CHECK(decode_event(&rec[2], &e) == 0, "decode record 2");
        CHECK(e.step == big_step && e.wall_time == 1e9 + 0.25, "event 2: step %lld", (long long)e.step);
        int bad = e.n_values != 200;
        for (int i = 0; i < e.n_values && i < 200; i++)
            bad += strcmp(e.tags[i], tags200[i]) != 0 || bits_float(e.value_bits[i]) != vals200[i];
        CHECK(bad == 0 && !e.unknown_fields, "event 2: %d of 200 values wrong or missing", bad);
        free_event(&e);

        CHECK(decode_event(&rec[3], &e) == 0, "decode record 3");
        CHECK(e.step == -5 && e.has_summary && e.n_values == 0, "event 3: step %lld, %d values", (long long)e.step,
              e.n_values);
        CHECK(rec[3].len == 9 + 1 + 10 + 2, "negative step takes 10 varint bytes (record %zu bytes)", rec[3].len);

        CHECK(decode_event(&rec[4], &e) == 0, "decode record 4");
        CHECK(e.step == 31 && e.session_status == 1 && !e.has_summary, "session start: step %lld status %d",
              (long long)e.step, e.session_status);
    }

    // The reader above must be able to fail: one flipped bit anywhere is a CRC mismatch.
    for (size_t at = 0; at < size; at += 37) {
        data[at] ^= 0x10;
        int m = split_records(data, size, rec, 8, 1);
        data[at] ^= 0x10;
        if (m == 5) {
            CHECK(0, "a flipped bit at byte %zu went unnoticed", at);
            break;
        }
    }
    free(data);
}

static void test_errors(const char *dir) {
    Error err = {{0}};
    CHECK(tfevents_open("no/such/dir", &err) == NULL && strstr(err.msg, "no/such/dir"), "missing dir: '%s'",
          err.msg);
    const char *cols[] = {"a", "b,c"};
    CHECK(metrics_open(dir, 2, cols, -1, &err) == NULL && strstr(err.msg, "b,c"), "comma in column: '%s'", err.msg);
    const char *dup[] = {"a", "b", "a"};
    CHECK(metrics_open(dir, 3, dup, -1, &err) == NULL && strstr(err.msg, "twice"), "duplicate column: '%s'",
          err.msg);
    const char *ok[] = {"a"};
    CHECK(metrics_open("no/such/dir", 1, ok, -1, &err) == NULL && strstr(err.msg, "no/such/dir/metrics.csv"),
          "missing dir: '%s'", err.msg);
}

int main(void) {
    test_crc();
    char dir[] = "tfevents_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_writer(dir);
    test_errors(dir);
    remove_dir(dir);
    return test_finish("test_tfevents", 0);
}
