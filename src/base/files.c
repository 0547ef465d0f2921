/* files.c — atomic whole-file writes and directories (see files.h). */
#include "base/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *file_dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, path, len);
    d[len] = '\0';
    return d;
}

int file_exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* fsync of a file or a directory by name. */
static int sync_path(const char *p, int directory, const char *shown, Error *err) {
    int fd = open(p, directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
    if (fd < 0) return error_set(err, "%s: cannot open %s to sync it: %s", shown, p, strerror(errno));
    int rc = 0;
    /* Some file systems cannot sync a directory and say EINVAL; there is nothing more to do. */
    if (fsync(fd) != 0 && !(directory && errno == EINVAL))
        rc = error_set(err, "%s: fsync of %s failed: %s", shown, p, strerror(errno));
    close(fd);
    return rc;
}

int file_write_atomic(const char *path, FileWriteFn write, void *ctx, Error *err) {
    if (!path || !path[0]) return error_set(err, "cannot write a file with an empty name");
    size_t len = strlen(path);
    char *tmp = malloc(len + 5);
    if (!tmp) return error_set(err, "%s: out of memory", path);
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", 5);

    int rc = -1, created = 1;
    char *dir = NULL;
    /* A stale PATH.tmp (a crash mid-write) is replaced; a directory of that name is not ours. */
    if (unlink(tmp) != 0 && errno != ENOENT) {
        error_set(err, "%s: cannot replace the stale %s: %s", path, tmp, strerror(errno));
        created = 0;
        goto done;
    }
    if (write(tmp, ctx, err) != 0) goto done;
    /* The writer closed the file, which leaves its data in the page cache: without this
     * fsync a crash after the rename could leave PATH naming blocks that never reached disk. */
    if (sync_path(tmp, 0, path, err) != 0) goto done;
    if (rename(tmp, path) != 0) {
        error_set(err, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
        goto done;
    }
    created = 0; /* the file is PATH now */
    /* The rename lives in the directory: sync it so the new name survives a crash. */
    if (!(dir = file_dir_of(path))) {
        error_set(err, "%s: out of memory", path);
        goto done;
    }
    if (sync_path(dir, 1, path, err) != 0) {
        error_prefix(err, "written but not yet durable");
        goto done;
    }
    rc = 0;
done:
    /* unlink, not remove: if PATH.tmp is somebody's directory, it stays. */
    if (created) unlink(tmp);
    free(tmp);
    free(dir);
    return rc;
}

typedef struct {
    StreamWriteFn write;
    void *ctx;
} StreamJob;

static int write_stream(const char *tmp, void *arg, Error *err) {
    const StreamJob *job = arg;
    FILE *f = fopen(tmp, "wb");
    if (!f) return error_set(err, "%s: cannot create: %s", tmp, strerror(errno));
    errno = 0;
    int rc = job->write(f, job->ctx, err);
    int saved = errno;
    if (rc == 0 && (ferror(f) || fflush(f) != 0)) {
        saved = errno;
        rc = error_set(err, "%s: cannot write: %s", tmp, saved ? strerror(saved) : "I/O error");
    }
    if (fclose(f) != 0 && rc == 0) rc = error_set(err, "%s: cannot write: %s", tmp, strerror(errno));
    return rc;
}

int file_write_atomic_stream(const char *path, StreamWriteFn write, void *ctx, Error *err) {
    StreamJob job = {write, ctx};
    return file_write_atomic(path, write_stream, &job, err);
}

int file_make_dirs(const char *path, Error *err) {
    size_t len = strlen(path);
    char *buf = malloc(len + 1);
    if (!buf) return error_set(err, "%s: out of memory", path);
    memcpy(buf, path, len + 1);
    int rc = 0;
    for (char *p = buf + 1; rc == 0; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        struct stat st;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            rc = error_set(err, "%s: cannot create directory: %s", buf, strerror(errno));
        else if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = error_set(err, "%s: exists and is not a directory", buf);
        *p = saved;
        if (!saved) break;
    }
    free(buf);
    return rc;
}

int file_write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int file_read_all(int fd, void *data, size_t n) {
    char *p = data;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = 0;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

char *file_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}
