/* launcher.h — where this process stands in a launch, read from the environment that the
 * known launchers set: its rank among the launch's processes, their number, its rank on its
 * node, and its task in a Slurm job array. No MPI library is involved, and none is needed.
 *
 * The variables, in the order they are trusted (the first complete set wins):
 *   mpirun (OpenMPI)     OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK
 *   mpiexec (MPICH,      PMI_RANK, PMI_SIZE, MPI_LOCALRANKID (local rank; 0 when absent)
 *            Intel MPI)
 *   srun                 SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID — only inside a job
 *                        step (SLURM_STEP_ID set): the batch script of an sbatch job also has
 *                        SLURM_PROCID = 0 and SLURM_NTASKS, and so does every rank of an
 *                        mpirun started from it, which is why the MPI launchers come first
 *   a Slurm job array    SLURM_ARRAY_TASK_ID, _COUNT, _MIN, _STEP: the task's index counted
 *                        from 0, (ID − MIN) / STEP, and the number of tasks
 * PMIX_RANK (OpenMPI's ranks have it too) carries no size, so alone it is not a launch.
 *
 * Used by sweeps (a shard per process: run/sweep_shard.h) and by data-parallel training. */
#ifndef CUIQL_RUN_LAUNCHER_H
#define CUIQL_RUN_LAUNCHER_H

#include "cuiql/error.h"

typedef struct {
    int rank, size;          /* this process among the launch's processes; 0 and 1 when none */
    int local_rank;          /* among the launch's processes on this node; 0 when none */
    const char *rank_source; /* the launcher the rank came from ("mpirun (OpenMPI)", ...), or NULL */
    int array_index;         /* Slurm job array: this task's index from 0, and the task count; */
    int array_count;         /* 0 and 1 outside an array */
} Launch;

/* Looks a variable up (getenv's contract: NULL when unset). Tests pass their own. */
typedef const char *(*EnvLookup)(const char *name, void *ctx);

/* Fills *out from the variables. A variable that is set but is not a number in range, or an
 * incomplete set (a rank without a size), is an error naming it. */
int launcher_detect(EnvLookup lookup, void *ctx, Launch *out, Error *err);

/* The same from this process's environment. */
int launcher_from_environment(Launch *out, Error *err);

#endif
