/* transfer.c — a Dataset through a pipe, from the child process that read the file to the
 * program (dataset.c runs the readers in a sandbox: base/sandbox.h says why). The child frees
 * each array once it is sent, so the two processes together hold little more than one copy. */
#include <stdlib.h>
#include <string.h>

#include "base/files.h"
#include "base/sandbox.h"
#include "base/sizes.h"
#include "data/reader.h"

typedef struct {
    uint32_t magic;
    int32_t format, obs_dim, act_dim, had_next_observations;
    int64_t n, n_states, n_episodes, rows_in_file, dropped, n_terminals, n_timeouts;
} Header;

#define TRANSFER_MAGIC 0x63754453u /* "SDuc" */

/* The arrays in the order they travel, with their sizes in bytes. */
typedef struct {
    void **slot;
    size_t bytes;
} Part;

static int parts(Dataset *d, Part p[7]) {
    size_t n = (size_t)d->n;
    size_t sizes[7];
    if (size_mul3((uint64_t)d->n_states, (uint64_t)d->obs_dim, sizeof(float), &sizes[0]) ||
        size_mul(n, sizeof(uint32_t), &sizes[1]) || size_mul(n, sizeof(uint32_t), &sizes[2]) ||
        size_mul3(n, (uint64_t)d->act_dim, sizeof(float), &sizes[3]) || size_mul(n, sizeof(float), &sizes[4]) ||
        size_mul(n, sizeof(float), &sizes[5]) || size_mul((uint64_t)d->n_episodes + 1, sizeof(int64_t), &sizes[6]))
        return -1;
    void **slots[7] = {(void **)&d->states, (void **)&d->state_row, (void **)&d->next_row, (void **)&d->actions,
                       (void **)&d->rewards, (void **)&d->terminals, (void **)&d->episode_start};
    for (int i = 0; i < 7; i++) p[i] = (Part){slots[i], sizes[i]};
    return 0;
}

int dataset_send(Dataset *d, int fd, Error *err) {
    Header h = {TRANSFER_MAGIC, (int32_t)d->format, d->obs_dim, d->act_dim, d->had_next_observations, d->n,
                d->n_states, d->n_episodes, d->rows_in_file, d->dropped, d->n_terminals, d->n_timeouts};
    Part p[7];
    if (parts(d, p)) return error_set(err, "dataset sizes out of range");
    if (file_write_all(fd, &h, sizeof h)) return error_set(err, "cannot send the dataset to the program");
    for (int i = 0; i < 7; i++) {
        if (file_write_all(fd, *p[i].slot, p[i].bytes)) return error_set(err, "cannot send the dataset to the program");
        free(*p[i].slot);
        *p[i].slot = NULL;
    }
    return 0;
}

int dataset_receive(Dataset *d, int fd, const char *path, Error *err) {
    Header h;
    if (file_read_all(fd, &h, sizeof h) || h.magic != TRANSFER_MAGIC)
        return error_set(err, "%s: the reading process sent no dataset", path);
    if (h.n < 1 || h.obs_dim < 1 || h.act_dim < 1 || h.n_states < 1 || h.n_states > (int64_t)UINT32_MAX ||
        h.n_episodes < 0 || h.n_episodes > h.n)
        return error_set(err, "%s: the reading process sent a malformed dataset", path);
    d->format = (DatasetFormat)h.format;
    d->obs_dim = h.obs_dim;
    d->act_dim = h.act_dim;
    d->had_next_observations = h.had_next_observations;
    d->n = h.n;
    d->n_states = h.n_states;
    d->n_episodes = h.n_episodes;
    d->rows_in_file = h.rows_in_file;
    d->dropped = h.dropped;
    d->n_terminals = h.n_terminals;
    d->n_timeouts = h.n_timeouts;
    Part p[7];
    size_t total = 0;
    if (parts(d, p)) return error_set(err, "%s: the reading process sent a malformed dataset", path);
    for (int i = 0; i < 7; i++)
        if (size_add(total, p[i].bytes, &total)) return error_set(err, "%s: dataset too large", path);
    if (size_check_memory(total, err)) return error_prefix(err, "%s", path);
    for (int i = 0; i < 7; i++) {
        if (!(*p[i].slot = malloc(p[i].bytes ? p[i].bytes : 1)))
            return error_set(err, "%s: out of memory for the dataset (%zu bytes)", path, p[i].bytes);
        if (file_read_all(fd, *p[i].slot, p[i].bytes))
            return error_set(err, "%s: the reading process stopped sending the dataset", path);
    }
    return 0;
}
