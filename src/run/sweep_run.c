/* sweep_run.c — what a training run does for a sweep beyond training its members: which shard
 * of the sweep this process trains, in how many groups its memory allows, the sweep's
 * top-level files, and the results table (run/sweep_results.h) written at every evaluation. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/files.h"
#include "checkpoint/checkpoint.h"
#include "run/run_state.h"

int run_resolve_shard(Run *run, Error *err) {
    const TrainOptions *opt = run->opt;
    run->shard = (SweepShard){.index = 0, .count = 1, .source = "whole sweep"};
    run->launch = (Launch){.rank = 0, .size = 1, .array_count = 1};
    if (opt->sweep.n_axes == 0) {
        /* a single run ignores launchers here: data-parallel training reads them for itself */
        if (opt->shard.count > 1)
            return error_set(err, "--shard %d/%d: only a sweep (--sweep) is sharded", opt->shard.index, opt->shard.count);
        return 0;
    }
    if (launcher_from_environment(&run->launch, err)) return error_prefix(err, "sharding the sweep");
    if (opt->comm) {
        /* --data-parallel: the launcher's ranks are the run's, all on the same members; a sweep
         * is sharded only by --shard or a Slurm array */
        run->launch.rank = 0;
        run->launch.size = 1;
        run->launch.rank_source = NULL;
    }
    if (opt->shard.count > 0) run->shard = opt->shard;
    else sweep_shard_from_launch(&run->launch, &run->shard);
    return 0;
}

/* ---- memory ---------------------------------------------------------------------------------- */

/* Linux's MemAvailable: free memory plus the page cache it can drop. The CPU backend's free
 * figure leaves the cache out, which after reading a large dataset can be a small part of what
 * a population may really use; 0 where /proc/meminfo does not say. */
static size_t host_available_bytes(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) break;
    fclose(f);
    return (size_t)kib * 1024;
}

/* The step member m's checkpoint is at, or 0 without one. */
static int checkpoint_step(const Member *m, int64_t *step, Error *err) {
    char path[TRAIN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/checkpoint.h5", m->dir);
    *step = 0;
    if (!file_exists(path)) return 0;
    CheckpointMeta meta;
    if (checkpoint_read_meta(path, &meta, err)) return error_prefix(err, "--resume");
    *step = meta.step;
    checkpoint_meta_free(&meta);
    return 0;
}

/* Consecutive members in groups of at most the plan's size. A resumed sweep also starts a new
 * group where the checkpoint step changes: a population shares one step counter, and members
 * of a sweep stopped between groups (or shards, or a plan of other sizes) are at different
 * steps, those never started at none. A single run is one group that needs its checkpoint. */
static int make_groups(Run *run, Error *err) {
    const TrainOptions *opt = run->opt;
    run->groups = calloc((size_t)run->n_all, sizeof *run->groups);
    if (!run->groups) return error_set(err, "out of host memory");
    run->n_groups = 0;
    for (int m = 0; m < run->n_all; m++) {
        int64_t step = 0;
        if (opt->resume && opt->sweep.n_axes && checkpoint_step(&run->all[m], &step, err)) return -1;
        RunGroup *last = run->n_groups ? &run->groups[run->n_groups - 1] : NULL;
        if (last && last->count < run->plan.group_size && last->start == step) {
            last->count++;
            continue;
        }
        run->groups[run->n_groups++] = (RunGroup){.first = m, .count = 1, .start = step,
                                                  .resume = opt->resume && (opt->sweep.n_axes == 0 || step > 0)};
    }
    return 0;
}

int run_plan_groups(Run *run, Error *err) {
    const Config *c = run->cfg;
    if (run->opt->comm) {
        /* Data parallel: the ranks step together, so they train one population, as planned by
         * nobody (each rank's free memory differs) and resumed from the writer's checkpoints. */
        run->plan = (MemoryPlan){.members = run->n_all, .group_size = run->n_all, .n_groups = 1};
        run->groups = calloc(1, sizeof *run->groups);
        if (!run->groups) return error_set(err, "out of host memory");
        run->groups[0] = (RunGroup){.first = 0, .count = run->n_all, .resume = run->opt->resume};
        run->n_groups = 1;
        return 0;
    }
    const Dataset *d = &run->data;
    int cuda = !strcmp(run->backend->ops->name, "cuda");
    size_t per = sweep_member_bytes(&run->single, c->batch_size, c->target_update_rate < 1.0);
    /* On the CPU the run's host copies of the population (checkpoints, evaluation) share the
     * memory with the backend's buffers: params, both moments and the targets once more. */
    if (!cuda) per += sizeof(float) * (3 * run->single.n_params + model_target_size(&run->single));
    size_t fixed = sweep_population_bytes(&run->single, c->batch_size, c->target_update_rate < 1.0);
    size_t replay = cuda && c->replay != REPLAY_HOST ? sweep_replay_bytes(d->n, d->n_states, d->obs_dim, d->act_dim) : 0;
    size_t available;
    if (run->opt->memory_budget) {
        available = run->opt->memory_budget;
    } else {
        size_t free_bytes = 0, total = 0;
        if (run->backend->ops->memory_info(run->backend, &free_bytes, &total, err))
            return error_prefix(err, "planning the population's memory");
        if (!cuda && host_available_bytes() > free_bytes) free_bytes = host_available_bytes();
        /* What the backend allocates beyond the estimate (CUDA: cuBLAS workspaces, graphs, the
         * evaluation; the replay keeps the same margin, kernels/replay.cu) stays out of the plan. */
        size_t margin = total / 20;
        if (cuda && margin < ((size_t)1 << 30)) margin = (size_t)1 << 30;
        available = free_bytes > margin ? free_bytes - margin : 0;
    }
    available = available > replay ? available - replay : 0;
    if (sweep_plan_memory(run->n_all, per, fixed, available, &run->plan, err)) {
        char numbers[sizeof err->msg], hidden[96] = "", replay_note[128] = "";
        snprintf(numbers, sizeof numbers, "%s", err->msg);
        for (int i = 0, len = 0; i < c->n_hidden && len < (int)sizeof hidden; i++)
            len += snprintf(hidden + len, sizeof hidden - (size_t)len, "%s%d", i ? "," : "", c->hidden[i]);
        if (replay) {
            char r[32];
            sweep_format_bytes(r, sizeof r, (double)replay);
            snprintf(replay_note, sizeof replay_note, "; the dataset takes %s more (--set replay=host keeps it on the host)", r);
        }
        return error_set(err, "out of memory: at batch_size %d and hidden [%s] %s%s (lower batch_size or hidden, or "
                         "use a device with more memory)", c->batch_size, hidden, numbers, replay_note);
    }
    return make_groups(run, err);
}

/* ---- the top-level files --------------------------------------------------------------------- */

/* Writes path atomically under a name of this process's own first, so shards that start
 * together and write the same file (with the same content) never share a temporary file. */
static int write_shared(const char *path, StreamWriteFn write, void *ctx, Error *err) {
    char host[64] = "host", unique[TRAIN_PATH_MAX + 160];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    if ((size_t)snprintf(unique, sizeof unique, "%s.%s-%ld", path, host, (long)getpid()) >= sizeof unique)
        return error_set(err, "%s: path too long", path);
    if (file_write_atomic_stream(unique, write, ctx, err)) return -1;
    if (rename(unique, path)) {
        int e = errno;
        unlink(unique);
        return error_set(err, "%s: cannot rename %s over it: %s", path, unique, strerror(e));
    }
    char *dir = file_dir_of(path);
    if (!dir) return error_set(err, "%s: out of memory", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);  /* the rename's durability; the content was synced by the atomic write */
        close(fd);
    }
    free(dir);
    return 0;
}

static int join_path(char *buf, size_t len, const char *dir, const char *name, Error *err) {
    if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len) return error_set(err, "%s: path too long", dir);
    return 0;
}

static const SweepAxis *swept(const Sweep *sweep, const char *key) {
    for (int i = 0; i < sweep->n_axes; i++)
        if (!strcmp(sweep->axes[i].key, key)) return &sweep->axes[i];
    return NULL;
}

static void axis_values(const SweepAxis *axis, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (int j = 0; j < axis->n && used + 1 < len; j++)
        used += (size_t)snprintf(buf + used, len - used, "%s%g", j ? ", " : "", axis->values[j]);
}

/* The base config of a sweep: the swept keys are commented out with their values, since the
 * base's own tau, beta or seed are not any member's. With the seed swept, the batch seed the
 * members share is written out, so a resume rebuilds the same batch stream. */
void run_sweep_base_config(const Run *run, Config *base) {
    *base = *run->cfg;
    if (swept(&run->opt->sweep, "seed")) base->batch_seed = (int64_t)config_batch_seed(run->cfg);
}

static int write_base_config(FILE *out, void *arg, Error *err) {
    const Run *run = arg;
    const Sweep *sweep = &run->opt->sweep;
    Config base;
    run_sweep_base_config(run, &base);
    char *yaml = config_to_yaml_string(&base);
    if (!yaml) return error_set(err, "out of host memory");
    fprintf(out, "# The base config of a sweep of %d members: tau, beta or seed, where swept, are each member's own\n"
                 "# (DIR/<member>/config.yaml). The swept values are in sweep.txt, the members in members.csv.\n",
            run->sweep_members);
    for (char *line = yaml; *line;) {
        size_t len = strcspn(line, "\n");
        const SweepAxis *axis = NULL;
        for (int i = 0; i < sweep->n_axes && !axis; i++) {
            size_t k = strlen(sweep->axes[i].key);
            if (len > k && !strncmp(line, sweep->axes[i].key, k) && line[k] == ':') axis = &sweep->axes[i];
        }
        if (axis) {
            char values[512];
            axis_values(axis, values, sizeof values);
            fprintf(out, "# %s: swept over %s\n", axis->key, values);
        } else {
            fprintf(out, "%.*s\n", (int)len, line);
        }
        line += len + (line[len] == '\n');
    }
    free(yaml);
    return 0;
}

static int write_members(FILE *out, void *arg, Error *err) {
    const Run *run = arg;
    fprintf(out, "member,name,tau,beta,seed\n");
    for (int m = 0; m < run->sweep_members; m++) {
        Config c;
        char name[96];
        if (sweep_member_config(&run->opt->sweep, run->cfg, m, &c, err)) return -1;
        sweep_member_name(&c, name, sizeof name);
        fprintf(out, "%d,%s,%.15g,%.15g,%llu\n", m, name, c.tau, c.beta, (unsigned long long)c.seed);
    }
    return 0;
}

int run_write_sweep_files(Run *run, Error *err) {
    const char *dir = run->opt->out_dir;
    char path[TRAIN_PATH_MAX + 32];
    /* sweep.txt before config.yaml: a sibling shard that sees config.yaml checks sweep.txt too
     * (run_claim.c) */
    if (join_path(path, sizeof path, dir, "sweep.txt", err) ||
        write_shared(path, sweep_write_axes, (void *)&run->opt->sweep, err) ||
        join_path(path, sizeof path, dir, "config.yaml", err) || write_shared(path, write_base_config, run, err) ||
        join_path(path, sizeof path, dir, "members.csv", err) || write_shared(path, write_members, run, err))
        return -1;
    return 0;
}

/* ---- the results table ----------------------------------------------------------------------- */

/* Members evaluated by an earlier run (this shard's, or any other's) count for "best so far"
 * and the list at the end: their latest evaluations from every table of DIR. */
static int remember_evaluations(Run *run, Error *err) {
    SweepTable all = {0};
    int n_files;
    if (sweep_table_read_dir(&all, run->opt->out_dir, &n_files, err)) return error_prefix(err, "--resume");
    for (int m = 0, i = 0; m < run->n_all; m++) {  /* both sorted by member */
        Member *mem = &run->all[m];
        for (; i < (int)all.n && all.rows[i].member <= mem->index; i++)
            if (all.rows[i].member == mem->index && isfinite(all.rows[i].ret)) {
                mem->last_return = all.rows[i].ret;  /* rows come by step: the last one stays */
                mem->last_score = all.rows[i].score;
            }
    }
    sweep_table_free(&all);
    return 0;
}

int run_open_results(Run *run, Error *err) {
    if (run->opt->sweep.n_axes == 0) return 0;
    char name[64];
    sweep_results_file_name(run->shard.index, run->shard.count, name, sizeof name);
    if (join_path(run->results_path, sizeof run->results_path, run->opt->out_dir, name, err)) return -1;
    if (run->opt->resume && file_exists(run->results_path) && sweep_table_read(&run->results, run->results_path, err))
        return -1;
    if (run->opt->resume && remember_evaluations(run, err)) return -1;
    return sweep_table_write(&run->results, run->results_path, err);  /* the table exists from the start */
}

void run_cut_results(Run *run, int64_t start) {
    for (int p = 0; p < run->P; p++) sweep_table_cut(&run->results, run->members[p].index, start);
}

int run_record_results(Run *run, int64_t step, const double *returns, const double *scores, int with_losses,
                       Error *err) {
    for (int p = 0; p < run->P; p++) {
        Member *m = &run->members[p];
        if (returns) {
            m->last_return = returns[p];
            m->last_score = scores[p];
        }
        if (run->opt->sweep.n_axes == 0) continue;
        const double *s = run->scalars + (size_t)p * LOG_TRAIN_SCALAR_COUNT;
        SweepRow row = {.member = m->index, .tau = m->cfg.tau, .beta = m->cfg.beta, .seed = m->cfg.seed, .step = step,
                        .ret = returns ? returns[p] : NAN, .score = returns ? scores[p] : NAN,
                        .loss_value = with_losses && run->have_scalars ? s[LOG_LOSS_VALUE] : NAN,
                        .loss_q = with_losses && run->have_scalars ? s[LOG_LOSS_Q] : NAN,
                        .loss_policy = with_losses && run->have_scalars ? s[LOG_LOSS_POLICY] : NAN};
        snprintf(row.name, sizeof row.name, "%s", m->name);
        if (sweep_table_add(&run->results, &row, err)) return -1;
    }
    if (run->opt->sweep.n_axes == 0) return 0;
    return sweep_table_write(&run->results, run->results_path, err);
}
