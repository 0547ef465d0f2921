/* train.c — `cuiql train`: command-line options → TrainOptions → train_run(). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/parse.h"
#include "cli/commands.h"
#include "algo/config.h"
#include "comm/comm.h"
#include "run/run_history.h"
#include "run/sweep.h"
#include "run/sweep_memory.h"
#include "run/trainer.h"

static void train_usage(FILE *out) {
    fprintf(out,
            "usage: cuiql train [--config FILE] [--dataset FILE] [--out DIR] [--set KEY=VALUE]...\n"
            "                   [--steps N] [--device auto|cpu|cuda] [--resume] [--force] [--init-from CKPT]\n"
            "                   [--sweep KEY=V1,V2,...]... [--threads N] [--no-graphs] [--gemm-epilogues]\n"
            "                   [--parallel-nets] [--data-parallel] [--shard I/N] [--memory-budget SIZE]\n"
            "                   [--progress-every S] [--quiet]\n"
            "\n"
            "Trains IQL on an offline dataset (D4RL or Minari HDF5). Settings come from the seed's\n"
            "defaults, then --config, then --dataset/--set/--steps/--device in order.\n"
            "\n"
            "  --config FILE      YAML config (ours, or CORL's IQL keys); see configs/\n"
            "  --dataset FILE     the dataset (overrides the config's 'dataset')\n"
            "  --out DIR          run directory (default runs/<date>-<time>)\n"
            "  --set KEY=VALUE    override one config key, e.g. --set tau=0.9 --set hidden=[256,256]\n"
            "  --steps N          gradient steps in total\n"
            "  --device D         auto (GPU when present), cpu or cuda\n"
            "  --resume           continue the run in --out from its latest checkpoint (its config.yaml\n"
            "                     is used when no --config is given; only steps, cadences and the device\n"
            "                     may change: docs/run-directory.md)\n"
            "  --force            start a new run in an --out that holds one; the old run's files are\n"
            "                     moved to --out/replaced-DATE/, not deleted\n"
            "  --init-from CKPT   start from CKPT's network weights, at step 0 with fresh optimisers\n"
            "  --sweep K=V1,V2    train the cross product of values of tau, beta, seed as one population;\n"
            "                     each member gets DIR/tau{t}-beta{b}-seed{s}/; results in DIR/sweep.csv\n"
            "                     (cuiql sweep-report DIR ranks them)\n"
            "  --shard I/N        train only the sweep's members m with m mod N = I (default: from a Slurm\n"
            "                     array task or an mpirun/srun rank; --shard 0/1: the whole sweep)\n"
            "  --memory-budget S  memory the population may use (512M, 8G; default: what the device has\n"
            "                     free); more members than fit train in consecutive groups\n"
            "  --progress-every S a progress line at least every S seconds (default 30; 0: only at logs)\n"
            "  --threads N        CPU backend: BLAS threads (default: all cores with OpenBLAS, 1 with BLIS)\n"
            "  --no-graphs        CUDA backend: launch kernels one by one instead of replaying a graph\n"
            "  --gemm-epilogues   CUDA backend: fuse each layer's bias and ReLU into its GEMM (cuBLASLt);\n"
            "                     experimental until measured on a GPU (bench/RESULTS.md)\n"
            "  --parallel-nets    CUDA backend: run the networks' forward and backward passes on streams\n"
            "                     of their own, side by side; experimental likewise\n"
            "  --data-parallel    one rank of a data-parallel run started by mpirun or srun: each of N\n"
            "                     ranks trains on 1/N of every global batch (batch_size) and the\n"
            "                     gradients are summed over the ranks (NCCL on GPUs, MPI on CPUs);\n"
            "                     rank 0 writes the run directory\n"
            "  --quiet            no progress lines\n"
            "  --help-config      every config key with its type, range, default and meaning\n"
            "\n"
            "Evaluation in gymnasium (--set eval_env=gym:Hopper-v5; docs/gym-bridge.md) runs\n"
            "tools/gym_bridge.py with python3; CUIQL_PYTHON and CUIQL_GYM_BRIDGE override either.\n");
}

/* Copies a path option into its buffer; a path that does not fit is refused rather than cut
 * (a cut --out would write somewhere else). */
static int cli_copy_path(char *dst, size_t size, const char *option, const char *value, Error *err) {
    if (strlen(value) >= size) return error_set(err, "%s: path longer than %zu bytes", option, size - 1);
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

/* The value of option argv[*i] ("--x VALUE"), or NULL with a message. */
static const char *option_value(int argc, char **argv, int *i, Error *err) {
    if (*i + 1 >= argc) {
        error_set(err, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* --shard, --memory-budget, --progress-every */
static int parse_sweep_option(TrainOptions *opt, const char *name, const char *v, Error *err) {
    if (!strcmp(name, "--shard")) return sweep_shard_parse(v, &opt->shard, err);
    if (!strcmp(name, "--memory-budget"))
        return sweep_parse_bytes(v, &opt->memory_budget, err) ? error_prefix(err, "--memory-budget") : 0;
    if (parse_double(v, &opt->progress_every) || opt->progress_every < 0)
        return error_set(err, "--progress-every: expected seconds >= 0, got '%s'", v);
    return 0;
}

/* --data-parallel starts the ranks' communicator before anything can fail, so that every
 * failure after it is reported once, by rank 0, for all ranks (comm/comm.h). */
static int wants_data_parallel(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--data-parallel")) return 1;
    return 0;
}

int cmd_train(int argc, char **argv) {
    TrainOptions *optp = calloc(1, sizeof *optp);  /* large (paths and sweep values): heap, not stack */
    Error err = {{0}};
    const char *config_path = NULL, *dataset = NULL, *steps = NULL, *device = NULL;
    char **sets = calloc((size_t)argc, sizeof *sets), **sweeps = calloc((size_t)argc, sizeof *sweeps);
    int n_sets = 0, n_sweeps = 0, rc = 1;
    if (!optp || !sets || !sweeps) {
        fprintf(stderr, "cuiql train: out of memory\n");
        goto done;
    }
    optp->use_graphs = 1;
    optp->progress_every = 30;
    if (wants_data_parallel(argc, argv) && !(optp->comm = comm_world_create(&err))) goto fail;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            train_usage(stdout);
            rc = 0;
            goto done;
        } else if (!strcmp(a, "--help-config")) {
            config_print_help(stdout);
            rc = 0;
            goto done;
        } else if (!strcmp(a, "--resume")) optp->resume = 1;
        else if (!strcmp(a, "--data-parallel")) continue;  /* taken above */
        else if (!strcmp(a, "--force")) optp->force = 1;
        else if (!strcmp(a, "--quiet")) optp->quiet = 1;
        else if (!strcmp(a, "--no-graphs")) optp->use_graphs = 0;
        else if (!strcmp(a, "--gemm-epilogues")) optp->gemm_epilogues = 1;
        else if (!strcmp(a, "--parallel-nets")) optp->parallel_nets = 1;
        else if (!strcmp(a, "--config") || !strcmp(a, "--dataset") || !strcmp(a, "--out") || !strcmp(a, "--set") ||
                 !strcmp(a, "--steps") || !strcmp(a, "--device") || !strcmp(a, "--init-from") ||
                 !strcmp(a, "--sweep") || !strcmp(a, "--threads") || !strcmp(a, "--shard") ||
                 !strcmp(a, "--memory-budget") || !strcmp(a, "--progress-every")) {
            if (!(v = option_value(argc, argv, &i, &err))) goto fail;
            if (!strcmp(a, "--config")) config_path = v;
            else if (!strcmp(a, "--dataset")) dataset = v;
            else if (!strcmp(a, "--out")) {
                if (cli_copy_path(optp->out_dir, sizeof optp->out_dir, a, v, &err)) goto fail;
            }
            else if (!strcmp(a, "--set")) sets[n_sets++] = (char *)v;
            else if (!strcmp(a, "--steps")) steps = v;
            else if (!strcmp(a, "--device")) device = v;
            else if (!strcmp(a, "--init-from")) {
                if (cli_copy_path(optp->init_from, sizeof optp->init_from, a, v, &err)) goto fail;
            }
            else if (!strcmp(a, "--sweep")) sweeps[n_sweeps++] = (char *)v;
            else if (!strcmp(a, "--shard") || !strcmp(a, "--memory-budget") || !strcmp(a, "--progress-every")) {
                if (parse_sweep_option(optp, a, v, &err)) goto fail;
            } else {
                uint64_t t;
                if (parse_uint64(v, &t) || t > 1024) {
                    error_set(&err, "--threads: expected 0..1024, got '%s'", v);
                    goto fail;
                }
                optp->threads = (int)t;
            }
        } else {
            error_set(&err, "unknown option '%s' (see cuiql train --help)", a);
            goto fail;
        }
    }

    if (!optp->out_dir[0]) {
        if (optp->resume) {
            error_set(&err, "--resume needs --out DIR (the run to continue)");
            goto fail;
        }
        time_t t = time(NULL);
        strftime(optp->out_dir, sizeof optp->out_dir, "runs/%Y%m%d-%H%M%S", localtime(&t));
    }

    config_defaults(&optp->cfg);
    char resumed_config[TRAIN_PATH_MAX + 16];
    if (!config_path && optp->resume) {
        snprintf(resumed_config, sizeof resumed_config, "%s/config.yaml", optp->out_dir);
        config_path = resumed_config;
    }
    ConfigNotes notes = {.n = 0};
    if (config_path && config_load_file_notes(&optp->cfg, config_path, &notes, &err)) goto fail;
    for (int i = 0; i < notes.n; i++) fprintf(stderr, "cuiql train: note: %s\n", notes.text[i]);
    if (dataset) {  /* a path, taken verbatim (not parsed as a YAML scalar) */
        if (strlen(dataset) >= sizeof optp->cfg.dataset) {
            error_set(&err, "--dataset: path too long");
            goto fail;
        }
        snprintf(optp->cfg.dataset, sizeof optp->cfg.dataset, "%s", dataset);
    }
    for (int i = 0; i < n_sets; i++)
        if (config_set_assignment(&optp->cfg, sets[i], &err)) goto fail;
    if (steps && config_set(&optp->cfg, "steps", steps, &err)) goto fail;
    if (device && config_set(&optp->cfg, "device", device, &err)) goto fail;
    for (int i = 0; i < n_sweeps; i++)
        if (sweep_add_axis(&optp->sweep, sweeps[i], &err)) goto fail;
    if (optp->resume && run_resume_locate_dataset(optp->out_dir, !dataset && config_path == resumed_config,
                                                  optp->cfg.dataset, sizeof optp->cfg.dataset, &err))
        goto fail;
    if (optp->resume && n_sweeps == 0 && sweep_read_file(&optp->sweep, optp->out_dir, &err)) goto fail;
    if (config_validate(&optp->cfg, &err)) goto fail;

    /* A closed stdout (`cuiql train | head`) must not kill the process with a run unsaved:
     * writes fail with EPIPE instead, and during training SIGPIPE stops the run with a
     * checkpoint (trainer.c). */
    signal(SIGPIPE, SIG_IGN);
    int interrupted = 0;
    if (train_run(optp, &interrupted, &err) == 0) {
        rc = 0;
        goto done;
    }
    /* data parallel: the error is every rank's (train_run), and rank 0 says it */
    if (!optp->comm || optp->comm->rank == 0) fprintf(stderr, "cuiql train: %s\n", err.msg);
    rc = interrupted ? 128 + interrupted : 1;  /* the shell's convention: 130 for SIGINT */
    goto done;

fail:
    /* data parallel: the ranks that got further wait in train_run's first agreement */
    if (optp && optp->comm) comm_agree(optp->comm, -1, &err);
    if (!optp || !optp->comm || optp->comm->rank == 0) fprintf(stderr, "cuiql train: %s\n", err.msg);
    rc = 1;
done:
    if (optp) comm_destroy(optp->comm);
    free(optp);
    free(sets);
    free(sweeps);
    return rc;
}
