/* run_lock.c — the run directory's lock, and the rules for new, resumed and forced runs (see
 * run_lock.h). */
#include "run/run_lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/files.h"

struct RunLock {
    int fd;
    char *moved_to; /* --force: where the old run went */
};

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* A file a run writes at the top of its directory (a leftover NAME.tmp of one too). */
static int is_run_file(const char *name) {
    static const char *const fixed[] = {"config.yaml", "metrics.csv", "checkpoint.h5", "sweep.txt", "history.log"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (!strcmp(name, fixed[i])) return 1;
    if (!strncmp(name, "events.out.tfevents.", 20)) return 1;
    if (!strncmp(name, "checkpoint-", 11) && (ends_with(name, ".h5") || ends_with(name, ".h5.tmp"))) return 1;
    if (ends_with(name, ".tmp")) {
        char base[256];
        size_t n = strlen(name) - 4;
        if (n >= sizeof base) return 0;
        memcpy(base, name, n);
        base[n] = '\0';
        return is_run_file(base);
    }
    return 0;
}

int run_dir_holds_run(const char *dir, char *what, size_t n) {
    /* The most telling evidence first, for the message. */
    static const char *const telling[] = {"checkpoint.h5", "metrics.csv", "config.yaml"};
    for (size_t i = 0; i < sizeof telling / sizeof *telling; i++) {
        char *p = file_join(dir, telling[i]);
        int here = p && file_exists(p);
        free(p);
        if (here) {
            if (what && n) snprintf(what, n, "%s", telling[i]);
            return 1;
        }
    }
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)))
        if (e->d_type != DT_DIR && is_run_file(e->d_name)) {  /* a run writes files, not folders */
            found = 1;
            if (what && n) snprintf(what, n, "%s", e->d_name);
        }
    closedir(d);
    return found;
}

/* Who holds the lock, as the holder wrote it into the file ("pid 12 on host h since ..."). */
static void read_holder(int fd, char *buf, size_t n) {
    ssize_t got = pread(fd, buf, n - 1, 0);
    buf[got > 0 ? got : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    if (!buf[0]) snprintf(buf, n, "a process that has not said which");
}

/* Records this process in the lock file, for the message another one gets. Best effort: the
 * lock is the flock, not this text. */
static void write_holder(int fd) {
    char host[128] = "?", when[32] = "?", text[256];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int len = snprintf(text, sizeof text, "cuiql train, pid %ld on host %s since %s\n", (long)getpid(), host, when);
    if (ftruncate(fd, 0) == 0 && len > 0) {
        ssize_t ignored = pwrite(fd, text, (size_t)len, 0);
        (void)ignored;
    }
}

/* A new run: refused where the top directory or one it will write holds a run already. */
static int refuse_takeover(const char *dir, const char *const *dirs, int n_dirs, int check_top, Error *err) {
    char what[256];
    for (int i = check_top ? -1 : 0; i < n_dirs; i++) {
        const char *d = i < 0 ? dir : dirs[i];
        if (run_dir_holds_run(d, what, sizeof what))
            return error_set(err, "%s: holds a run already (%s); continue it with --resume, or start a new one "
                             "there with --force (the old run's files are moved to %s/%sDATE/, not deleted)",
                             d, what, dir, RUN_REPLACED_PREFIX);
    }
    return 0;
}

/* Makes DIR/replaced-STAMP (or -2, -3, ...) and returns its path. */
static char *make_replaced_dir(const char *dir, Error *err) {
    char stamp[64];
    time_t t = time(NULL);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(stamp, sizeof stamp, RUN_REPLACED_PREFIX "%Y%m%d-%H%M%S", &tm))
        snprintf(stamp, sizeof stamp, RUN_REPLACED_PREFIX "%lld", (long long)t);
    for (int k = 1; k < 1000; k++) {
        char name[96];
        if (k == 1) snprintf(name, sizeof name, "%s", stamp);
        else snprintf(name, sizeof name, "%s-%d", stamp, k);
        char *path = file_join(dir, name);
        if (!path) return error_set(err, "%s: out of memory", dir), NULL;
        if (mkdir(path, 0777) == 0) return path;
        int saved = errno;
        free(path);
        if (saved != EEXIST) return error_set(err, "%s/%s: cannot create: %s", dir, name, strerror(saved)), NULL;
    }
    return error_set(err, "%s: cannot find a free %s name", dir, RUN_REPLACED_PREFIX), NULL;
}

/* --force: moves the old run's files and run subdirectories into DIR/replaced-STAMP/. */
static int move_old_run(const char *dir, RunLock *lock, Error *err) {
    DIR *d = opendir(dir);
    if (!d) return error_set(err, "%s: cannot list: %s", dir, strerror(errno));
    int rc = 0, moved = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        const char *name = e->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, RUN_LOCK_NAME) ||
            !strncmp(name, RUN_REPLACED_PREFIX, strlen(RUN_REPLACED_PREFIX)))
            continue;
        char *from = file_join(dir, name);
        if (!from) {
            rc = error_set(err, "%s: out of memory", dir);
            break;
        }
        struct stat st;
        int take = is_run_file(name) ||
                   (lstat(from, &st) == 0 && S_ISDIR(st.st_mode) && run_dir_holds_run(from, NULL, 0));
        if (take && !lock->moved_to && !(lock->moved_to = make_replaced_dir(dir, err))) rc = -1;
        if (take && rc == 0) {
            char *to = file_join(lock->moved_to, name);
            if (!to) rc = error_set(err, "%s: out of memory", dir);
            else if (rename(from, to) != 0)
                rc = error_set(err, "--force: cannot move %s to %s: %s (%d moved before it)", from, lock->moved_to,
                               strerror(errno), moved);
            else moved++;
            free(to);
        }
        free(from);
    }
    closedir(d);
    if (rc == 0 && moved)
        fprintf(stderr, "cuiql train: --force: moved the previous run's %d file%s and director%s to %s/\n", moved,
                moved == 1 ? "" : "s", moved == 1 ? "y" : "ies", lock->moved_to);
    return rc;
}

RunLock *run_lock_take(const char *dir, const char *lock_name, RunDirMode mode, const char *const *dirs, int n_dirs,
                       int check_top, Error *err) {
    if (file_make_dirs(dir, err)) return NULL;
    RunLock *lock = calloc(1, sizeof *lock);
    char *path = file_join(dir, lock_name ? lock_name : RUN_LOCK_NAME);
    if (!lock || !path) {
        free(lock);
        free(path);
        return error_set(err, "%s: out of memory", dir), NULL;
    }
    lock->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (lock->fd < 0) {
        error_set(err, "%s: cannot open the run's lock file: %s", path, strerror(errno));
        free(path);
        free(lock);
        return NULL;
    }
    if (flock(lock->fd, LOCK_EX | LOCK_NB) != 0) {
        int saved = errno;
        char holder[256];
        if (saved == EWOULDBLOCK) {
            read_holder(lock->fd, holder, sizeof holder);
            error_set(err, "%s: in use by another process (%s); two processes on one run directory would "
                      "interleave its checkpoints and logs: wait for it, or give another --out", dir, holder);
        } else {
            error_set(err, "%s: cannot lock the run directory: %s", path, strerror(saved));
        }
        free(path);
        close(lock->fd);
        free(lock);
        return NULL;
    }
    free(path);
    write_holder(lock->fd);
    int rc = 0;
    if (mode == RUN_DIR_NEW) rc = refuse_takeover(dir, dirs, n_dirs, check_top, err);
    else if (mode == RUN_DIR_FORCE) rc = move_old_run(dir, lock, err);
    if (rc) {
        run_lock_release(lock);
        return NULL;
    }
    return lock;
}

const char *run_lock_moved_to(const RunLock *lock) { return lock ? lock->moved_to : NULL; }

void run_lock_release(RunLock *lock) {
    if (!lock) return;
    /* Emptied first, so a reader never sees this process named after it has gone. */
    if (ftruncate(lock->fd, 0) != 0) { /* nothing to do: the text is only a hint */ }
    close(lock->fd); /* drops the flock */
    free(lock->moved_to);
    free(lock);
}
