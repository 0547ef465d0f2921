/* launcher.c — rank, size, local rank and Slurm array task from the launchers' variables (see
 * launcher.h for which and why in this order). */
#include "run/launcher.h"

#include <stdlib.h>

#include "base/parse.h"

typedef struct {
    EnvLookup lookup;
    void *ctx;
} Env;

/* *value = the variable as a non-negative int; 0 when it is unset (nothing stored), 1 when
 * set, -1 with err when it is set to anything else. */
static int read_int(const Env *env, const char *name, int *value, Error *err) {
    const char *text = env->lookup(name, env->ctx);
    if (!text) return 0;
    uint64_t v;
    if (parse_uint64(text, &v) || v > 1000000000)
        return error_set(err, "environment variable %s='%s' is not a non-negative integer", name, text);
    *value = (int)v;
    return 1;
}

/* A launcher's rank and size (both set or both unset) and its local rank (optional, 0). */
static int read_launcher(const Env *env, const char *rank_name, const char *size_name, const char *local_name,
                         const char *source, Launch *out, Error *err) {
    int rank = 0, size = 0, local = 0;
    int has_rank = read_int(env, rank_name, &rank, err), has_size;
    if (has_rank < 0 || (has_size = read_int(env, size_name, &size, err)) < 0) return -1;
    if (!has_rank && !has_size) return 0;
    if (!has_rank || !has_size)
        return error_set(err, "environment: %s is set but %s is not (a broken %s launch?)",
                         has_rank ? rank_name : size_name, has_rank ? size_name : rank_name, source);
    if (size < 1 || rank >= size)
        return error_set(err, "environment: %s=%d is not a rank of %s=%d", rank_name, rank, size_name, size);
    if (local_name && read_int(env, local_name, &local, err) < 0) return -1;
    out->rank = rank;
    out->size = size;
    out->local_rank = local;
    out->rank_source = source;
    return 1;
}

static int read_array(const Env *env, Launch *out, Error *err) {
    int id = 0, count = 0, min = 0, step = 1;
    int has_id = read_int(env, "SLURM_ARRAY_TASK_ID", &id, err), has_count;
    if (has_id < 0 || (has_count = read_int(env, "SLURM_ARRAY_TASK_COUNT", &count, err)) < 0 ||
        read_int(env, "SLURM_ARRAY_TASK_MIN", &min, err) < 0 || read_int(env, "SLURM_ARRAY_TASK_STEP", &step, err) < 0)
        return -1;
    if (!has_id) return 0;
    if (!has_count) return error_set(err, "environment: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
    /* An array given as a list (--array=1,4,9) has no index rule: refuse rather than guess. */
    if (step < 1 || id < min || (id - min) % step || (id - min) / step >= count)
        return error_set(err,
                         "Slurm array task %d is not one of %d evenly spaced tasks from %d (submit the array as "
                         "--array=0-%d, or give --shard I/N)",
                         id, count, min, count > 0 ? count - 1 : 0);
    out->array_index = (id - min) / step;
    out->array_count = count;
    return 1;
}

int launcher_detect(EnvLookup lookup, void *ctx, Launch *out, Error *err) {
    Env env = {lookup, ctx};
    Launch l = {.rank = 0, .size = 1, .local_rank = 0, .rank_source = NULL, .array_index = 0, .array_count = 1};
    int found = read_launcher(&env, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
                              "mpirun (OpenMPI)", &l, err);
    if (found == 0) found = read_launcher(&env, "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "mpiexec (PMI)", &l, err);
    if (found == 0 && lookup("SLURM_STEP_ID", ctx)) {
        /* an srun step: SLURM_STEP_NUM_TASKS is the step's own count (SLURM_NTASKS the job's) */
        const char *size_name = lookup("SLURM_STEP_NUM_TASKS", ctx) ? "SLURM_STEP_NUM_TASKS" : "SLURM_NTASKS";
        found = read_launcher(&env, "SLURM_PROCID", size_name, "SLURM_LOCALID", "srun", &l, err);
    }
    if (found < 0 || read_array(&env, &l, err) < 0) return -1;
    *out = l;
    return 0;
}

static const char *process_env(const char *name, void *ctx) {
    (void)ctx;
    return getenv(name);
}

int launcher_from_environment(Launch *out, Error *err) { return launcher_detect(process_env, NULL, out, err); }
