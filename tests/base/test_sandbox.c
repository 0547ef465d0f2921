/* test_sandbox.c — base/sandbox.h: what the child sends arrives; its refusal comes back as its
 * own message; its death by a signal, or by running past its deadline, comes back as a refusal
 * naming the file (the readers' protection against HDF5's own crashes and endless loops); the
 * program itself survives all of it. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "base/files.h"
#include "base/sandbox.h"
#include "test_util.h"

static int send_numbers(void *ctx, int out, Error *err) {
    (void)ctx;
    int v[3] = {7, 8, 9};
    return file_write_all(out, v, sizeof v) ? error_set(err, "send failed") : 0;
}

static int receive_numbers(void *ctx, int in, Error *err) {
    return file_read_all(in, ctx, 3 * sizeof(int)) ? error_set(err, "receive failed") : 0;
}

static int refuse(void *ctx, int out, Error *err) {
    (void)ctx, (void)out;
    return error_set(err, "f.h5: dataset 'x': refused by the child");
}

static int crash(void *ctx, int out, Error *err) {
    (void)ctx, (void)out, (void)err;
    raise(SIGSEGV);
    return 0;
}

static int loop_forever(void *ctx, int out, Error *err) {
    (void)ctx, (void)out, (void)err;
    sandbox_deadline(1);
    for (;;) pause();
    return 0;
}

static int silent_failure(void *ctx, int out, Error *err) {
    (void)ctx, (void)out, (void)err;
    return -1; /* no message: still a refusal, not a death */
}

static int touch_parent(void *ctx, int out, Error *err) {
    (void)out, (void)err;
    *(int *)ctx = 42; /* the child's copy only */
    return 0;
}

int main(void) {
    Error err = {{0}};
    int got[3] = {0, 0, 0};
    CHECK(sandbox_run("f.h5", send_numbers, receive_numbers, got, NULL, &err) == 0 && got[0] == 7 && got[2] == 9,
          "the child's data arrives: %s", err.msg);
    CHECK(sandbox_run("f.h5", refuse, NULL, NULL, NULL, &err) == -1 && !strcmp(err.msg, "f.h5: dataset 'x': refused by the child"),
          "the child's refusal comes back as it was: %s", err.msg);
    CHECK(sandbox_run("f.h5", crash, NULL, NULL, NULL, &err) == -1 && strstr(err.msg, "f.h5: reading it crashed") &&
              strstr(err.msg, "SIGSEGV"), "a crash in the child is a refusal naming the file: %s", err.msg);
    CHECK(sandbox_run("f.h5", loop_forever, NULL, NULL, NULL, &err) == -1 && strstr(err.msg, "f.h5") &&
              strstr(err.msg, "did not finish"), "a child past its deadline is ended and named: %s", err.msg);
    CHECK(sandbox_run("f.h5", silent_failure, NULL, NULL, NULL, &err) == -1 && !strstr(err.msg, "crashed"),
          "a refusal without a message is no crash: %s", err.msg);
    int mine = 1;
    CHECK(sandbox_run("f.h5", touch_parent, NULL, &mine, NULL, &err) == 0 && mine == 1,
          "the child cannot change the program's memory");
    /* Deadlines never apply in the program itself. */
    sandbox_deadline(1);
    sleep(2);
    CHECK(1, "no SIGALRM outside the child");
    return test_finish("test_sandbox", 0);
}
