/* test_sweep_units.c — the pieces of sharded sweeps that need no training: the launchers'
 * variables (run/launcher.h), shards and their GPUs (run/sweep_shard.h), the results table
 * (run/sweep_results.h), the ranked summary (run/sweep_summary.h) and the memory plan
 * (run/sweep_memory.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/launcher.h"
#include "run/sweep.h"
#include "run/sweep_memory.h"
#include "run/sweep_results.h"
#include "run/sweep_shard.h"
#include "run/sweep_summary.h"
#include "test_util.h"

/* ---- launchers: an environment as a NULL-terminated list of "NAME=VALUE" ---------------------- */

static const char *fake_env(const char *name, void *ctx) {
    size_t n = strlen(name);
    for (const char *const *v = ctx; *v; v++)
        if (!strncmp(*v, name, n) && (*v)[n] == '=') return *v + n + 1;
    return NULL;
}

static int detect(const char *const *env, Launch *l, Error *err) { return launcher_detect(fake_env, (void *)env, l, err); }

static void test_launchers(void) {
    Error err;
    Launch l;
    const char *none[] = {NULL};
    CHECK(detect(none, &l, &err) == 0 && l.rank == 0 && l.size == 1 && l.array_index == 0 && l.array_count == 1 &&
          !l.rank_source, "no launcher: rank 0 of 1");

    const char *ompi[] = {"OMPI_COMM_WORLD_RANK=3", "OMPI_COMM_WORLD_SIZE=4", "OMPI_COMM_WORLD_LOCAL_RANK=1",
                          "PMIX_RANK=3", NULL};
    CHECK(detect(ompi, &l, &err) == 0 && l.rank == 3 && l.size == 4 && l.local_rank == 1, "mpirun: %d/%d local %d",
          l.rank, l.size, l.local_rank);

    /* mpirun inside an sbatch job: every rank inherits the batch step's SLURM_PROCID=0 */
    const char *ompi_in_sbatch[] = {"SLURM_PROCID=0", "SLURM_NTASKS=2", "SLURM_LOCALID=0", "SLURM_JOB_ID=7",
                                    "OMPI_COMM_WORLD_RANK=1", "OMPI_COMM_WORLD_SIZE=2",
                                    "OMPI_COMM_WORLD_LOCAL_RANK=1", NULL};
    CHECK(detect(ompi_in_sbatch, &l, &err) == 0 && l.rank == 1 && l.size == 2, "OpenMPI's rank wins over Slurm's");

    const char *pmi[] = {"PMI_RANK=2", "PMI_SIZE=3", "MPI_LOCALRANKID=0", NULL};
    CHECK(detect(pmi, &l, &err) == 0 && l.rank == 2 && l.size == 3, "PMI (MPICH, Intel MPI)");

    /* an sbatch batch script (no job step) is not a launch, whatever SLURM_NTASKS says */
    const char *batch[] = {"SLURM_PROCID=0", "SLURM_NTASKS=4", "SLURM_LOCALID=0", "SLURM_JOB_ID=7", NULL};
    CHECK(detect(batch, &l, &err) == 0 && l.rank == 0 && l.size == 1, "batch step: not a launch (size %d)", l.size);
    const char *srun[] = {"SLURM_PROCID=5", "SLURM_NTASKS=8", "SLURM_STEP_NUM_TASKS=6", "SLURM_LOCALID=2",
                          "SLURM_STEP_ID=0", NULL};
    CHECK(detect(srun, &l, &err) == 0 && l.rank == 5 && l.size == 6 && l.local_rank == 2,
          "srun step: SLURM_PROCID of SLURM_STEP_NUM_TASKS (%d/%d)", l.rank, l.size);

    const char *array[] = {"SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=0",
                           "SLURM_ARRAY_TASK_STEP=1", "SLURM_PROCID=0", "SLURM_NTASKS=1", NULL};
    CHECK(detect(array, &l, &err) == 0 && l.array_index == 2 && l.array_count == 3 && l.size == 1, "array task 2 of 3");
    const char *array_from_1[] = {"SLURM_ARRAY_TASK_ID=5", "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=1",
                                  "SLURM_ARRAY_TASK_STEP=2", NULL};
    CHECK(detect(array_from_1, &l, &err) == 0 && l.array_index == 2, "--array=1-5:2: task 5 is index 2 (%d)",
          l.array_index);
    const char *array_list[] = {"SLURM_ARRAY_TASK_ID=4", "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=1",
                                "SLURM_ARRAY_TASK_STEP=1", NULL};
    CHECK(detect(array_list, &l, &err) != 0 && strstr(err.msg, "--array=0-2"), "an uneven array is refused: %s", err.msg);

    const char *bad_value[] = {"OMPI_COMM_WORLD_RANK=x1", "OMPI_COMM_WORLD_SIZE=2", NULL};
    CHECK(detect(bad_value, &l, &err) != 0 && strstr(err.msg, "OMPI_COMM_WORLD_RANK"), "bad value named: %s", err.msg);
    const char *half[] = {"PMI_RANK=1", NULL};
    CHECK(detect(half, &l, &err) != 0 && strstr(err.msg, "PMI_SIZE"), "rank without size named: %s", err.msg);
    const char *outside[] = {"OMPI_COMM_WORLD_RANK=2", "OMPI_COMM_WORLD_SIZE=2", NULL};
    CHECK(detect(outside, &l, &err) != 0, "rank 2 of 2 is refused");
}

/* ---- shards ---------------------------------------------------------------------------------- */

static void test_shards(void) {
    Error err;
    SweepShard s;
    CHECK(sweep_shard_parse("1/3", &s, &err) == 0 && s.index == 1 && s.count == 3, "--shard 1/3");
    CHECK(sweep_shard_parse("3/3", &s, &err) != 0 && strstr(err.msg, "3/3"), "--shard 3/3 refused: %s", err.msg);
    CHECK(sweep_shard_parse("1", &s, &err) != 0 && sweep_shard_parse("a/2", &s, &err) != 0 &&
          sweep_shard_parse("0/0", &s, &err) != 0 && sweep_shard_parse("-1/2", &s, &err) != 0, "malformed refused");

    /* every member in exactly one shard, whatever N */
    int members[27], seen[27];
    for (int n = 1; n <= 30; n++) {
        memset(seen, 0, sizeof seen);
        for (int i = 0; i < n; i++) {
            SweepShard sh = {.index = i, .count = n};
            int k = sweep_shard_members(&sh, 27, members);
            for (int j = 0; j < k; j++) seen[members[j]]++;
            CHECK(k == 27 / n + (i < 27 % n), "shard %d/%d holds %d members", i, n, k);
        }
        int once = 1;
        for (int m = 0; m < 27; m++) once &= seen[m] == 1;
        CHECK(once, "%d shards cover each of 27 members once", n);
    }

    /* array task a of A with R ranks each: shard a*R + r of A*R */
    Launch l = {.rank = 1, .size = 2, .local_rank = 1, .rank_source = "srun", .array_index = 2, .array_count = 3};
    sweep_shard_from_launch(&l, &s);
    CHECK(s.index == 5 && s.count == 6 && strstr(s.source, "SLURM_ARRAY_TASK_ID"), "array x ranks: %d/%d (%s)",
          s.index, s.count, s.source);

    /* GPUs: the local rank under a launcher, else the shard index; modulo the visible devices */
    Launch mpi = {.rank = 5, .size = 8, .local_rank = 1, .array_count = 1};
    SweepShard sh5 = {.index = 5, .count = 8};
    CHECK(sweep_shard_device(&mpi, &sh5, 4) == 1, "mpirun: local rank 1 -> GPU 1");
    CHECK(sweep_shard_device(&mpi, &sh5, 1) == 0, "one visible GPU (CUDA_VISIBLE_DEVICES set per task) -> 0");
    Launch alone = {.rank = 0, .size = 1, .array_count = 1};
    SweepShard sh2 = {.index = 2, .count = 3};
    CHECK(sweep_shard_device(&alone, &sh2, 2) == 0 && sweep_shard_device(&alone, &sh2, 3) == 2 &&
          sweep_shard_device(&alone, &sh2, 0) == 0, "by hand: shard index mod devices");
}

/* ---- the results table ----------------------------------------------------------------------- */

static SweepRow row(int member, double tau, double beta, int seed, long step, double ret) {
    SweepRow r = {.member = member, .tau = tau, .beta = beta, .seed = (uint64_t)seed, .step = step, .ret = ret,
                  .score = ret / 10, .loss_value = 1.5, .loss_q = 2.25, .loss_policy = NAN};
    snprintf(r.name, sizeof r.name, "tau%g-beta%g-seed%d", tau, beta, seed);
    return r;
}

static void add(SweepTable *t, SweepRow r) {
    Error err;
    CHECK(sweep_table_add(t, &r, &err) == 0, "add: %s", err.msg);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_results(const char *dir) {
    Error err;
    char path[512], name[64];
    sweep_results_file_name(0, 1, name, sizeof name);
    CHECK(!strcmp(name, "sweep.csv"), "whole sweep: sweep.csv");
    sweep_results_file_name(1, 3, name, sizeof name);
    CHECK(!strcmp(name, "sweep-shard-1-of-3.csv"), "shard 1/3: %s", name);

    SweepTable t = {0};
    CHECK(sweep_table_add(&t, &(SweepRow){.member = 0, .name = "a,b"}, &err) != 0, "a comma in a name is refused");
    add(&t, row(0, 0.7, 3, 0, 100, -500.25));
    add(&t, row(0, 0.7, 3, 0, 200, -400.125));
    add(&t, row(1, 0.7, 3, 1, 100, NAN));
    snprintf(path, sizeof path, "%s/sweep-shard-0-of-2.csv", dir);
    CHECK(sweep_table_write(&t, path, &err) == 0, "write: %s", err.msg);
    SweepTable back = {0};
    CHECK(sweep_table_read(&back, path, &err) == 0 && back.n == 3, "read back %zu rows: %s", back.n, err.msg);
    if (back.n == 3) {
        CHECK(back.rows[1].ret == -400.125 && back.rows[1].tau == 0.7 && back.rows[1].step == 200 &&
              !strcmp(back.rows[1].name, "tau0.7-beta3-seed0") && back.rows[1].loss_q == 2.25 &&
              isnan(back.rows[1].loss_policy), "values round-trip");
        CHECK(isnan(back.rows[2].ret), "an empty cell reads as NaN");
    }
    sweep_table_cut(&t, 0, 100);
    CHECK(t.n == 2 && t.rows[0].step == 100 && t.rows[1].member == 1, "cut drops member 0 after step 100");

    /* a second shard's file, one duplicate row and a torn last line */
    snprintf(path, sizeof path, "%s/sweep-shard-1-of-2.csv", dir);
    sleep(1);  /* a newer modification time than the first file's, on any file system */
    write_text(path, SWEEP_RESULTS_HEADER "\n"
                     "2,tau0.9-beta3-seed0,0.9,3,0,100,-300,-30,1,2,3\n"
                     "0,tau0.7-beta3-seed0,0.7,3,0,200,-399,-40,1,2,3\n"
                     "2,tau0.9-beta3-seed0,0.9,3,0,2");
    SweepTable merged = {0};
    int n_files = 0;
    CHECK(sweep_table_read_dir(&merged, dir, &n_files, &err) == 0 && n_files == 2, "two tables read: %s", err.msg);
    CHECK(merged.n == 4, "4 rows once merged (one duplicate, a torn line): %zu", merged.n);
    if (merged.n == 4) {
        CHECK(merged.rows[0].member == 0 && merged.rows[1].member == 0 && merged.rows[3].member == 2, "by member");
        CHECK(merged.rows[1].step == 200 && merged.rows[1].ret == -399, "the newer file's copy of a row wins");
    }
    snprintf(path, sizeof path, "%s/sweep.csv", dir);
    write_text(path, SWEEP_RESULTS_HEADER "\n0,x,0.7,3,0,100,abc,,,,\n1,y,0.7,3,0,100,,,,,\n");
    SweepTable bad = {0};
    CHECK(sweep_table_read(&bad, path, &err) != 0 && strstr(err.msg, ":2:"), "a bad cell names path:line: %s", err.msg);
    write_text(path, "step,wall_time\n");
    CHECK(sweep_table_read(&bad, path, &err) != 0 && strstr(err.msg, "not a cuiql sweep table"), "wrong header: %s",
          err.msg);
    unlink(path);
    sweep_table_free(&t);
    sweep_table_free(&back);
    sweep_table_free(&merged);
    sweep_table_free(&bad);
}

/* ---- the summary ----------------------------------------------------------------------------- */

static void test_summary(void) {
    Error err;
    Sweep sw = {0};
    sweep_add_axis(&sw, "tau=0.5,0.9", &err);
    sweep_add_axis(&sw, "seed=0,1,2", &err);
    Config base;
    config_defaults(&base);
    base.steps = 200;
    SweepTable t = {0};
    /* tau 0.5 (members 0-2): finals -100, -110, -120 (best -90 at step 100 for seed 0);
     * tau 0.9 (members 3-5): -50 and -70, the third member not reported yet */
    double finals[] = {-100, -110, -120, -50, -70};
    for (int m = 0; m < 5; m++) {
        double tau = m < 3 ? 0.5 : 0.9;
        add(&t, row(m, tau, 2, m % 3, 100, m == 0 ? -90 : finals[m] - 1));
        if (m != 4) add(&t, row(m, tau, 2, m % 3, 200, finals[m]));
    }
    SweepSummary s;
    CHECK(sweep_summarize(&t, &sw, &base, &s, &err) == 0, "summarize: %s", err.msg);
    CHECK(s.n_cells == 2 && s.members_expected == 6 && s.members_evaluated == 5 && s.members_at_end == 4,
          "cells %d, expected %d, evaluated %d, at the end %d", s.n_cells, s.members_expected, s.members_evaluated,
          s.members_at_end);
    if (s.n_cells == 2) {
        const SweepCell *a = &s.cells[0], *b = &s.cells[1];
        CHECK(a->rank == 1 && a->tau == 0.9 && a->n == 2 && a->expected == 3, "tau 0.9 first, 2 of 3 seeds");
        CHECK(fabs(a->final_mean + 60.5) < 1e-12 && fabs(a->final_std - sqrt(2 * 10.5 * 10.5)) < 1e-9,
              "running member counts with its latest evaluation (-71 at step 100): %g ± %g", a->final_mean, a->final_std);
        CHECK(a->step_min == 100 && a->step_max == 200, "steps 100-200");
        CHECK(b->rank == 2 && fabs(b->final_mean + 110) < 1e-12 && fabs(b->final_std - 10) < 1e-12,
              "tau 0.5: -110 ± 10 (%g ± %g)", b->final_mean, b->final_std);
        CHECK(fabs(b->best_mean - (-90 - 110 - 120) / 3.0) < 1e-9, "best: each member's highest (%g)", b->best_mean);
        CHECK(fabs(b->score_mean + 11) < 1e-12, "final score mean %g", b->score_mean);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    sweep_summary_print(mem, &s, "# t");
    fclose(mem);
    CHECK(strstr(text, "**Best: tau 0.9, beta 2**") && strstr(text, "49.5 above the runner-up") &&
          strstr(text, "2 of 3"), "headline and table:\n%s", text);
    free(text);
    sweep_summary_free(&s);

    /* a row of a member the sweep does not have: another sweep's table */
    add(&t, row(6, 0.9, 2, 0, 200, -1));
    CHECK(sweep_summarize(&t, &sw, &base, &s, &err) != 0 && strstr(err.msg, "another sweep"), "%s", err.msg);
    t.n--;
    t.rows[0].tau = 0.6;
    CHECK(sweep_summarize(&t, &sw, &base, &s, &err) != 0 && strstr(err.msg, "another sweep"), "%s", err.msg);
    SweepTable empty = {0};
    CHECK(sweep_summarize(&empty, &sw, &base, &s, &err) != 0 && strstr(err.msg, "no member has an evaluation"), "%s",
          err.msg);
    sweep_table_free(&t);
}

/* ---- the memory plan ------------------------------------------------------------------------- */

static void test_plan(void) {
    Error err;
    MemoryPlan p;
    CHECK(sweep_plan_memory(27, 100, 50, 50 + 27 * 100, &p, &err) == 0 && p.n_groups == 1 && p.group_size == 27,
          "all fit: one group");
    CHECK(sweep_plan_memory(27, 100, 50, 50 + 10 * 100 + 99, &p, &err) == 0 && p.n_groups == 3 && p.group_size == 9,
          "room for 10 of 27: 3 groups of 9 (%d of %d)", p.n_groups, p.group_size);
    CHECK(sweep_plan_memory(5, 100, 50, 50 + 2 * 100, &p, &err) == 0 && p.n_groups == 3 && p.group_size == 2,
          "room for 2 of 5: 3 groups of at most 2");
    CHECK(sweep_plan_memory(5, 1 << 20, 1 << 20, 1 << 20, &p, &err) != 0 && strstr(err.msg, "2.0 MiB") &&
          strstr(err.msg, "1.0 MiB"), "refused with the numbers: %s", err.msg);
    size_t b;
    CHECK(sweep_parse_bytes("512M", &b, &err) == 0 && b == 512u << 20, "512M");
    CHECK(sweep_parse_bytes("1.5GiB", &b, &err) == 0 && b == 3u << 29, "1.5GiB");
    CHECK(sweep_parse_bytes("1000", &b, &err) == 0 && b == 1000, "bytes");
    CHECK(sweep_parse_bytes("8X", &b, &err) != 0 && sweep_parse_bytes("-1G", &b, &err) != 0 &&
          sweep_parse_bytes("", &b, &err) != 0, "bad sizes refused");
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "sweep_units";
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) return 1;
    test_launchers();
    test_shards();
    test_results(dir);
    test_summary();
    test_plan();
    return test_finish("sweep_units", 0);
}
