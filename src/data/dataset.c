/* dataset.c — dataset_load (open, detect the layout, hand over to d4rl.c or minari.c),
 * preprocessing, episode returns and freeing (see dataset.h). */
#include "data/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int dataset_init_preprocessing(Dataset *d, Error *err) {
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

int dataset_load(const char *path, Dataset *out, Error *err) {
    memset(out, 0, sizeof *out);
    if (check_plain_file(path, err) < 0) return -1;
    /* HDF5 would otherwise print its whole error stack to stderr; we report one line instead. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return open_failure(path, err);
    int rc = read_layout(file, path, out, err);
    if (H5Fclose(file) < 0 && rc == 0) {
        char detail[256];
        h5_error_detail(detail, sizeof detail);
        rc = error_set(err, "%s: closing the file failed (%s)", path, detail);
    }
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

/* r' = r · 1000 / (max return − min return), as the IQL authors and CORL scale locomotion
 * rewards. Every episode counts, the unfinished last one included (as the IQL code does). */
static int iql_locomotion_scale(const Dataset *d, double *scale, Error *err) {
    if (d->n_episodes == 0) return error_set(err, "reward_transform iql-locomotion: the dataset has no episodes");
    double *returns = malloc((size_t)d->n_episodes * sizeof *returns);
    if (!returns) return error_set(err, "out of memory for %lld episode returns", (long long)d->n_episodes);
    dataset_episode_returns(d, returns);
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t e = 0; e < d->n_episodes; e++) {
        lo = fmin(lo, returns[e]);
        hi = fmax(hi, returns[e]);
    }
    free(returns);
    if (!(hi - lo > 0) || !isfinite(1000.0 / (hi - lo)))
        return error_set(err,
                         "reward_transform iql-locomotion: all %lld episodes have the same return (%g), so "
                         "1000 / (max return - min return) is undefined; use reward_transform none or scale",
                         (long long)d->n_episodes, lo);
    *scale = 1000.0 / (hi - lo);
    return 0;
}

/* Mean and population std (numpy's .std()) of the transitions' states s_i = states[state_row[i]],
 * accumulated in double; std gets + 1e-3 so no dimension divides by ~0. */
static int state_statistics(const Dataset *d, float *mean_out, float *std_out, Error *err) {
    size_t S = (size_t)d->obs_dim;
    double *sum = calloc(2 * S, sizeof *sum);
    if (!sum) return error_set(err, "out of memory for the state statistics");
    double *sq = sum + S;
    for (int64_t i = 0; i < d->n; i++) {
        const float *s = d->states + (size_t)d->state_row[i] * S;
        for (size_t j = 0; j < S; j++) sum[j] += s[j];
    }
    for (size_t j = 0; j < S; j++) sum[j] /= (double)d->n;
    /* Second pass on the deviations: one-pass E[x²] − E[x]² loses digits when |mean| ≫ std. */
    for (int64_t i = 0; i < d->n; i++) {
        const float *s = d->states + (size_t)d->state_row[i] * S;
        for (size_t j = 0; j < S; j++) sq[j] += (s[j] - sum[j]) * (s[j] - sum[j]);
    }
    for (size_t j = 0; j < S; j++) {
        mean_out[j] = (float)sum[j];
        std_out[j] = (float)(sqrt(sq[j] / (double)d->n) + 1e-3);
    }
    free(sum);
    return 0;
}

int dataset_preprocess(Dataset *d, const Config *cfg, Error *err) {
    if (d->preprocessed)
        return error_set(err, "the dataset is already preprocessed; load it again to preprocess differently");
    if (d->n == 0 || !d->state_mean || !d->state_std) return error_set(err, "dataset_preprocess: no dataset loaded");

    /* Everything that can fail happens before the data changes, so a failure leaves d as it was. */
    double scale = 1.0, shift = 0.0;
    switch (cfg->reward_transform) {
    case REWARD_NONE: break;
    case REWARD_IQL_LOCOMOTION:
        if (iql_locomotion_scale(d, &scale, err) < 0) return -1;
        break;
    case REWARD_ANTMAZE: shift = -1.0; break;
    case REWARD_SCALE_SHIFT:
        scale = cfg->reward_scale;
        shift = cfg->reward_shift;
        if (!isfinite(scale) || !isfinite(shift))
            return error_set(err, "reward_scale and reward_shift must be finite (got %g, %g)", scale, shift);
        break;
    default: return error_set(err, "unknown reward_transform (%d)", (int)cfg->reward_transform);
    }

    if (cfg->normalize_states) {
        if (state_statistics(d, d->state_mean, d->state_std, err) < 0) return -1;
        /* The whole table: rows used only as s' (next_observations) are normalised too. */
        size_t S = (size_t)d->obs_dim;
        for (int64_t r = 0; r < d->n_states; r++) {
            float *s = d->states + (size_t)r * S;
            for (size_t j = 0; j < S; j++) s[j] = (s[j] - d->state_mean[j]) / d->state_std[j];
        }
        d->states_normalized = 1;
    }
    if (scale != 1.0 || shift != 0.0)
        for (int64_t i = 0; i < d->n; i++) d->rewards[i] = (float)((double)d->rewards[i] * scale + shift);
    d->reward_scale = scale;
    d->reward_shift = shift;
    d->preprocessed = 1;
    return 0;
}
