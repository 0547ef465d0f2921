/* dataset.c — dataset_load (open, detect the layout, hand over to d4rl.c or minari.c), episode
 * returns and freeing (see dataset.h). */
#include "data/dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/sandbox.h"
#include "data/reader.h"

const char *dataset_format_name(DatasetFormat f) {
    switch (f) {
    case DATASET_D4RL: return "D4RL";
    case DATASET_MINARI: return "Minari";
    }
    return "unknown";
}

void dataset_free(Dataset *d) {
    if (!d) return;
    free(d->states);
    free(d->state_row);
    free(d->next_row);
    free(d->actions);
    free(d->rewards);
    free(d->terminals);
    free(d->episode_start);
    free(d->state_mean);
    free(d->state_std);
    memset(d, 0, sizeof *d);
}

/* No preprocessing yet: state_mean = 0, state_std = 1, the identity reward transform. */
static int init_preprocessing(Dataset *d, Error *err) {
    d->state_mean = calloc((size_t)d->obs_dim, sizeof(float));
    d->state_std = malloc((size_t)d->obs_dim * sizeof(float));
    if (!d->state_mean || !d->state_std) return error_set(err, "out of memory for the state statistics");
    for (int j = 0; j < d->obs_dim; j++) d->state_std[j] = 1.0f;
    d->states_normalized = 0;
    d->reward_scale = 1.0;
    d->reward_shift = 0.0;
    d->preprocessed = 0;
    return 0;
}

/* Plain-file checks first: HDF5's own failure for these says little ("unable to open file"). */
static int check_plain_file(const char *path, Error *err) {
    struct stat st;
    if (stat(path, &st) != 0) return error_set(err, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return error_set(err, "%s: is a directory, not an HDF5 file", path);
    /* HDF5 needs a file it can seek in; a device or a pipe has no size to speak of either. */
    if (!S_ISREG(st.st_mode))
        return error_set(err, "%s: is a %s, not a regular file; an HDF5 dataset must be a file", path,
                         S_ISCHR(st.st_mode) ? "character device" : S_ISBLK(st.st_mode) ? "block device"
                         : S_ISFIFO(st.st_mode) ? "FIFO (named pipe)" : S_ISSOCK(st.st_mode) ? "socket" : "special file");
    if (st.st_size == 0) return error_set(err, "%s: empty file (0 bytes), not an HDF5 file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(err, "%s: cannot open: %s", path, strerror(errno));
    fclose(f);
    return 0;
}

/* Why H5Fopen failed: an HDF5 file starts with its signature (at byte 0 unless the file has a
 * user block, which D4RL and Minari files do not). */
static int open_failure(const char *path, Error *err) {
    char detail[256];
    h5_error_detail(detail, sizeof detail);
    static const unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8] = {0};
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(head, 1, sizeof head, f) : 0;
    if (f) fclose(f);
    if (got < sizeof head || memcmp(head, signature, sizeof head) != 0)
        return error_set(err, "%s: not an HDF5 file", path);
    return error_set(err, "%s: HDF5 file cannot be opened (%s)", path, detail[0] ? detail : "damaged?");
}

static int read_layout(hid_t file, const char *path, Dataset *out, Error *err) {
    htri_t flat = H5Lexists(file, "observations", H5P_DEFAULT);
    if (flat < 0) {
        char detail[256];
        h5_error_detail(detail, sizeof detail);
        return error_set(err, "%s: cannot read the root group (%s)", path, detail);
    }
    if (flat > 0) return d4rl_load(file, path, out, err);
    int episodes = minari_detect(file, path, err);
    if (episodes < 0) return -1;
    if (episodes > 0) return minari_load(file, path, out, err);
    return error_set(err,
                     "%s: dataset 'observations': missing, and no 'episode_<id>' groups: neither a D4RL "
                     "nor a Minari dataset (an empty file?)",
                     path);
}

/* The read itself: open, the layout's reader, close. */
static int load_file(const char *path, Dataset *out, Error *err) {
    h5_silence();  /* we report one line, not HDF5's whole error stack */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return open_failure(path, err);
    int rc = read_layout(file, path, out, err);
    if (H5Fclose(file) < 0 && rc == 0) {
        char detail[256];
        h5_error_detail(detail, sizeof detail);
        rc = error_set(err, "%s: closing the file failed (%s)", path, detail);
    }
    return rc;
}

typedef struct {
    const char *path;
    Dataset *out;
} LoadJob;

/* In the reading child (base/sandbox.h): the whole read, then the arrays to the program.
 * out < 0: running in the program itself, the dataset stays where it is. */
static int load_child(void *ctx, int out, Error *err) {
    LoadJob *job = ctx;
    sandbox_deadline(SANDBOX_METADATA_SECONDS); /* the readers extend it once they know the sizes */
    if (load_file(job->path, job->out, err) < 0) return -1;
    return out < 0 ? 0 : dataset_send(job->out, out, err);
}

static int load_receive(void *ctx, int in, Error *err) {
    LoadJob *job = ctx;
    return dataset_receive(job->out, in, job->path, err);
}

int dataset_load(const char *path, Dataset *out, Error *err) {
    memset(out, 0, sizeof *out);
    if (check_plain_file(path, err) < 0) return -1;
    /* HDF5 runs in a child process: a crash inside the library on a crafted file is then a
     * refusal of that file (base/sandbox.h). */
    LoadJob job = {path, out};
    int rc = sandbox_run(path, load_child, load_receive, &job, NULL, err);
    if (rc == 0) rc = init_preprocessing(out, err);
    if (rc < 0) dataset_free(out);
    return rc;
}

int dataset_episode_returns(const Dataset *d, double *returns) {
    for (int64_t e = 0; e < d->n_episodes; e++) {
        double sum = 0;
        for (int64_t i = d->episode_start[e]; i < d->episode_start[e + 1]; i++) sum += d->rewards[i];
        returns[e] = sum;
    }
    return 0;
}
