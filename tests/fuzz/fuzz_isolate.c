/* fuzz_isolate.c — see fuzz_isolate.h. The helper's protocol: the harness sends a 64-bit length
 * and the input; the helper answers 'S' (survived); a helper that dies under ASan first sends
 * 'R' and the report (from ASan's report callback); one that runs past its deadline sends 'H'
 * (stuck in HDF5) or 'O' (stuck elsewhere); one that dies otherwise sends nothing, and the
 * harness says its wait status and what it wrote to stderr (describe_silent_death). */
#define _GNU_SOURCE /* dladdr, REG_RIP */
#include "fuzz_isolate.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <ucontext.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/files.h"
#include "base/sandbox.h"

#define HELPER_INPUTS 2000 /* then a fresh helper: HDF5 leaks a little on some corrupt files */
#define HELPER_DEADLINE 5   /* seconds per input, shorter than libFuzzer's -timeout (run_fuzz.sh) */

static pid_t helper = -1;
static int to_helper = -1, from_helper = -1, helper_inputs = 0;
/* The helper's stderr: an unlinked file the harness reads when the helper died without a word
 * through the pipe (UBSan's reports, which do not pass through ASan's report callback; a death
 * outside any sanitizer). The helper empties it before each input, so it holds this input's. */
static int helper_stderr = -1;

static pid_t helper_self = -1; /* the helper's pid, in the helper */

static void send_report(const char *report) {
    /* Only the helper's own errors: a child it forks (the readers' sandbox) inherits this
     * callback and the pipe, and at its exit LeakSanitizer hands the callback its summary of
     * suppressed leaks, which is no error and no answer of the helper's. */
    if (getpid() != helper_self || !strstr(report, "ERROR:")) return;
    /* The report is the answer now: the deadline's alarm must not cut it short (under load the
     * report's symbolization can use up the input's seconds, and a report cut off before its
     * first frame cannot say the crash was HDF5's). */
    alarm(0);
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alrm, NULL);
    (void)file_write_all(from_helper, "R", 1);
    (void)file_write_all(from_helper, report, strlen(report));
}

/* Called by ASan when an error report begins (send_report is called when it ends): the deadline
 * must not fire while the report is being symbolized. A report cut short by the alarm used to
 * leave the helper dead without a word. */
void __asan_on_error(void) {
    if (getpid() != helper_self) return;
    alarm(0);
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alrm, NULL);
}

/* A frame of the sanitizer's runtime, the C library or the unwinder, which HDF5 calls into (an
 * allocation, a memcpy, ASan's stack capture on each malloc): not where the blame lies. In this
 * program (-rdynamic names its functions: project/CMakeLists.txt), the runtime is what has no
 * name (its internals), a reserved name (__asan_*, __interceptor_*, ...), or the name of a C
 * library function it intercepts (strlen, malloc). cuiql's own functions are none of these. */
static int runtime_frame(const Dl_info *d) {
    const char *file = d->dli_fname;
    if (strstr(file, "libc.so") || strstr(file, "libgcc_s") || strstr(file, "ld-linux") || strstr(file, "libstdc++"))
        return 1;
    if (strstr(file, "libhdf5")) return 0;
    const char *name = d->dli_sname;
    return !name || !strncmp(name, "__", 2) || dlsym(RTLD_NEXT, name) != NULL;
}

/* The helper ran past its deadline (sandbox_deadline, which the readers set): where was it? The
 * first frame from the interrupted one up that is not the runtime's: in libhdf5 is HDF5 stuck on
 * a damaged file, which the program refuses ('H'); anywhere else is cuiql's own hang ('O', a
 * finding). */
static void on_deadline(int sig, siginfo_t *info, void *context) {
    (void)sig, (void)info;
    void *pc = (void *)((ucontext_t *)context)->uc_mcontext.gregs[REG_RIP];
    void *frames[128];
    int n = backtrace(frames, 128), first = 0, hdf5 = 0;
    while (first < n && frames[first] != pc) first++;
    if (first == n) { /* not listed as such: start past the signal trampoline (libc) */
        Dl_info d;
        for (first = 0; first < n; first++)
            if (dladdr(frames[first], &d) && d.dli_fname && strstr(d.dli_fname, "libc.so")) break;
        first = first < n ? first + 1 : 0;
    }
    for (int i = first; i < n; i++) {
        Dl_info d;
        if (!dladdr(frames[i], &d) || !d.dli_fname || runtime_frame(&d)) continue;
        hdf5 = strstr(d.dli_fname, "libhdf5") != NULL;
        break;
    }
    if (getenv("FUZZ_DEBUG_DEADLINE")) { int f = open(getenv("FUZZ_DEBUG_DEADLINE"), O_WRONLY | O_CREAT | O_TRUNC, 0644); backtrace_symbols_fd(frames, n, f); close(f); }
    (void)file_write_all(from_helper, hdf5 ? "H" : "O", 1);
    _exit(1);
}

static void helper_loop(FuzzRead reader) {
    helper_self = getpid();
    __asan_set_error_report_callback(send_report);
    /* The helper's death is no finding of libFuzzer's (it would write a crash file), and its
     * report travels through the pipe (send_report), printed by the harness when it counts. */
    __sanitizer_set_death_callback(NULL);
    int own_stderr = helper_stderr >= 0 && !getenv("FUZZ_HELPER_STDERR"); /* set: see the helper's */
    if (own_stderr) dup2(helper_stderr, 2);
    sandbox_act_as_child(HELPER_DEADLINE);
    struct sigaction sa = {.sa_sigaction = on_deadline, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    for (;;) {
        uint64_t size;
        if (file_read_all(to_helper, &size, sizeof size)) _exit(0);
        uint8_t *data = malloc(size ? size : 1);
        if (!data || file_read_all(to_helper, data, size)) _exit(0);
        if (own_stderr && (ftruncate(2, 0) != 0 || lseek(2, 0, SEEK_SET) != 0)) _exit(0);
        Error err;
        sandbox_deadline(HELPER_DEADLINE);
        (void)reader(data, size, &err);
        alarm(0);
        free(data);
        if (file_write_all(from_helper, "S", 1)) _exit(0);
    }
}

/* Ends the helper; its wait status. */
static int stop_helper(void) {
    int status = 0;
    if (helper < 0) return status;
    close(to_helper);
    close(from_helper);
    waitpid(helper, &status, 0);
    helper = -1;
    return status; /* helper_stderr stays readable until the next helper starts */
}

static void start_helper(FuzzRead reader) {
    int in[2], out[2];
    if (pipe(in) || pipe(out)) abort();
    if (helper_stderr >= 0) close(helper_stderr);
    char path[] = "/tmp/cuiql-fuzz-helper-XXXXXX";
    helper_stderr = mkstemp(path);
    if (helper_stderr < 0) abort();
    unlink(path);
    signal(SIGPIPE, SIG_IGN); /* a helper that died is seen as EPIPE, not as our death */
    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
        close(in[1]);
        close(out[0]);
        to_helper = in[0];
        from_helper = out[1];
        helper_loop(reader);
    }
    close(in[0]);
    close(out[1]);
    helper = pid;
    to_helper = in[1];
    from_helper = out[0];
    helper_inputs = 0;
}

/* 1 when the report's first frame past the runtime (runtime_frame's rule, on the report's text:
 * "    #3 0x... in NAME (MODULE+0x...)") is in libhdf5. */
static int died_in_hdf5(const char *report) {
    for (const char *line = strstr(report, "    #"); line; line = strstr(line + 1, "\n    #")) {
        const char *end = strchr(line + 1, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char frame[512], name[256] = "";
        snprintf(frame, sizeof frame, "%.*s", (int)(len < sizeof frame ? len : sizeof frame - 1), line);
        if (strstr(frame, "libhdf5")) return 1;
        /* HDF5's functions are all named H5*: a frame cut off before its module still says it */
        const char *fn = strstr(frame, " in H5");
        if (fn && fn[6] && (fn[6] == '_' || (fn[6] >= 'A' && fn[6] <= 'Z'))) return 1;
        if (strstr(frame, "libc.so") || strstr(frame, "libgcc_s") || strstr(frame, "ld-linux") ||
            strstr(frame, "sysdeps/"))
            continue;
        const char *in = strstr(frame, " in ");
        if (in) sscanf(in + 4, "%255[^ (]", name);
        /* libFuzzer's own frames: its crash handler reports a signal no sanitizer handles */
        if (!name[0] || !strncmp(name, "__", 2) || !strncmp(name, "fuzzer::", 8) || dlsym(RTLD_NEXT, name)) continue;
        return 0;
    }
    return 0;
}

/* One input through the helper: 'S' survived, 'X' HDF5's crash or hang, else the helper's other
 * death with its report in report[]. */
static char run_in_helper(FuzzRead reader, const uint8_t *data, size_t size, char *report, size_t cap, size_t *len);

int fuzz_crashes_hdf5(FuzzRead reader, const uint8_t *data, size_t size) {
    static char report[1 << 16];
    size_t len = 0;
    char verdict = run_in_helper(reader, data, size, report, sizeof report, &len);
    /* A death outside HDF5 is a finding: confirmed on a second, fresh helper first, because a
     * loaded machine has cut a report short before its first frame (an HDF5 crash then reads as
     * someone else's). */
    if (verdict != 'S' && verdict != 'X') verdict = run_in_helper(reader, data, size, report, sizeof report, &len);
    if (verdict == 'S') return 0;
    if (verdict == 'X') return 1;
    if (verdict == 'O') {
        fprintf(stderr, "fuzz: the reading helper ran past its deadline outside libhdf5 (a hang in cuiql)\n");
        abort();
    }
    fprintf(stderr, "fuzz: the reading helper died outside libhdf5:\n%s\n", report);
    abort();
}

/* A helper that died without an answer: its wait status and what it wrote to stderr (a UBSan
 * report, a message of the C library's), in place of the report it did not send. */
static size_t describe_silent_death(int status, char *report, size_t cap) {
    int n = WIFSIGNALED(status) ? snprintf(report, cap, "(no answer: the helper was killed by signal %d, %s)\n",
                                           WTERMSIG(status), strsignal(WTERMSIG(status)))
                                : snprintf(report, cap, "(no answer: the helper exited with status %d)\n",
                                           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    size_t len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
    struct stat st;
    if (helper_stderr < 0 || fstat(helper_stderr, &st) != 0 || st.st_size == 0) {
        len += (size_t)snprintf(report + len, cap - len, "(its stderr is empty)");
        return len;
    }
    /* the end of it, where the report's summary is, when it does not all fit */
    off_t from = st.st_size > (off_t)(cap - len - 1) ? st.st_size - (off_t)(cap - len - 1) : 0;
    ssize_t r = pread(helper_stderr, report + len, cap - len - 1, from);
    len += r > 0 ? (size_t)r : 0;
    report[len] = '\0';
    return len;
}

static char run_in_helper(FuzzRead reader, const uint8_t *data, size_t size, char *report, size_t cap, size_t *out_len) {
    if (helper >= 0 && helper_inputs >= HELPER_INPUTS) stop_helper();
    if (helper < 0) start_helper(reader);
    helper_inputs++;
    uint64_t n = size;
    char answer = 0;
    if (file_write_all(to_helper, &n, sizeof n) == 0 && file_write_all(to_helper, data, size) == 0 &&
        file_read_all(from_helper, &answer, 1) == 0 && answer == 'S')
        return 'S';
    /* The helper died on this input. */
    size_t len = 0;
    for (ssize_t r; len + 1 < cap && (r = read(from_helper, report + len, cap - 1 - len)) > 0;) len += (size_t)r;
    report[len] = '\0';
    int status = stop_helper();
    int silent = answer != 'R' && answer != 'H' && answer != 'O';
    if (silent) len = describe_silent_death(status, report, cap);
    *out_len = len;
    /* (A silent death's stderr may hold a report all the same, libFuzzer's or UBSan's: the same
     * rule on its frames.) */
    if (((answer == 'R' || silent) && died_in_hdf5(report)) || answer == 'H') return 'X';
    /* A report without a single frame (on a loaded machine the helper's report has arrived as
     * only its leak summary) says nothing about where: not counted as a finding, but said. The
     * long runs on a quiet machine (bench/RESULTS.md §9) are where such an input would show
     * its frames. */
    if (answer == 'R' && !strstr(report, "    #")) {
        fprintf(stderr, "fuzz: the helper died with a report of no frames (%zu bytes); not counted\n", len);
        return 'X';
    }
    return answer == 'O' ? 'O' : 'D';
}
