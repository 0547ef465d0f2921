/* checkpoints.c — a run's checkpoints: one file per member (the member view, model.h), made
 * from one download of each population buffer; resume and --init-from in the other direction,
 * gathered on the host and uploaded once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "run/run_state.h"

static int checkpoint_path(char *buf, size_t len, const Member *m, int64_t step) {
    if (step < 0) return snprintf(buf, len, "%s/checkpoint.h5", m->dir) >= (int)len ? -1 : 0;
    return snprintf(buf, len, "%s/checkpoint-%lld.h5", m->dir, (long long)step) >= (int)len ? -1 : 0;
}

static void fill_meta(const Run *run, const Member *m, int64_t step, CheckpointMeta *meta, char *config_yaml) {
    memset(meta, 0, sizeof *meta);
    meta->step = step;
    meta->obs_dim = run->single.obs_dim;
    meta->act_dim = run->single.act_dim;
    meta->n_hidden = run->single.n_hidden;
    memcpy(meta->hidden, run->single.hidden, sizeof meta->hidden);
    meta->deterministic = m->cfg.policy == POLICY_DETERMINISTIC;
    meta->max_action = m->cfg.max_action;
    meta->tau = m->cfg.tau;
    meta->beta = m->cfg.beta;
    meta->seed = (int64_t)m->cfg.seed;
    meta->batch_seed = (int64_t)config_batch_seed(&m->cfg);
    meta->reward_scale = run->data.reward_scale;
    meta->reward_shift = run->data.reward_shift;
    meta->state_mean = run->data.state_mean;
    meta->state_std = run->data.state_std;
    meta->config_yaml = config_yaml;
}

int run_save_checkpoints(Run *run, int64_t step, int periodic, Error *err) {
    /* After a failed op the weights are suspect: keep the last good checkpoint instead. */
    if (run->backend->ops->status(run->backend, err))
        return error_prefix(err, "step %lld: not saving a checkpoint (the last one written is intact)", (long long)step);
    if (iql_get_population(run->iql, run->pop_params, run->pop_target, run->pop_m, run->pop_v, err))
        return error_prefix(err, "saving checkpoint at step %lld", (long long)step);
    const ModelLayout *pop = iql_layout(run->iql);
    for (int p = 0; p < run->P; p++) {
        Member *m = &run->members[p];
        model_member_gather(pop, p, run->pop_params, run->params, 0);
        model_member_gather(pop, p, run->pop_target, run->target, 1);
        model_member_gather(pop, p, run->pop_m, run->adam_m, 0);
        model_member_gather(pop, p, run->pop_v, run->adam_v, 0);
        char *yaml = config_to_yaml_string(&m->cfg);
        if (!yaml) return error_set(err, "out of host memory");
        CheckpointMeta meta;
        fill_meta(run, m, step, &meta, yaml);
        char path[TRAIN_PATH_MAX + 64];
        int rc = 0;
        if (periodic) {
            rc = checkpoint_path(path, sizeof path, m, step) ? error_set(err, "%s: path too long", m->dir)
                 : checkpoint_write(path, &run->single, &meta, run->params, run->target, run->adam_m, run->adam_v, err);
        }
        if (!rc) {
            rc = checkpoint_path(path, sizeof path, m, -1) ? error_set(err, "%s: path too long", m->dir)
                 : checkpoint_write(path, &run->single, &meta, run->params, run->target, run->adam_m, run->adam_v, err);
        }
        free(yaml);
        if (rc) return -1;
    }
    return 0;
}

int run_write_policy_file(Run *run, int p, int64_t step, const char *path, Error *err) {
    CheckpointMeta meta;
    fill_meta(run, &run->members[p], step, &meta, NULL);
    return checkpoint_write(path, &run->single, &meta, run->params, NULL, NULL, NULL, err);
}

/* Puts one member's checkpoint tensors (in run->params & co.) into the host population
 * buffers; absent targets start as copies of the member's critics. */
static void scatter_member(Run *run, int p, int has_target, int with_optimizer) {
    const ModelLayout *pop = iql_layout(run->iql);
    model_member_scatter(pop, p, run->params, run->pop_params, 0);
    if (has_target) model_member_scatter(pop, p, run->target, run->pop_target, 1);
    else iql_targets_from_critics(run->iql, p, run->params, run->pop_target);
    if (with_optimizer) {
        model_member_scatter(pop, p, run->adam_m, run->pop_m, 0);
        model_member_scatter(pop, p, run->adam_v, run->pop_v, 0);
    }
}

int run_resume(Run *run, int64_t *start_step, Error *err) {
    for (int p = 0; p < run->P; p++) {
        Member *m = &run->members[p];
        char path[TRAIN_PATH_MAX + 64];
        if (checkpoint_path(path, sizeof path, m, -1)) return error_set(err, "%s: path too long", m->dir);
        if (access(path, R_OK)) return error_set(err, "--resume: no checkpoint to resume at %s", path);
        CheckpointMeta meta;
        if (checkpoint_read_meta(path, &meta, err)) return -1;
        int64_t step = meta.step;
        checkpoint_meta_free(&meta);
        if (p == 0) *start_step = step;
        else if (step != *start_step)
            return error_set(err, "--resume: %s is at step %lld but %s is at step %lld", path, (long long)step,
                             run->members[0].dir, (long long)*start_step);
        int has_target = 0, has_opt = 0;
        if (checkpoint_read(path, &run->single, run->params, run->target, run->adam_m, run->adam_v, &has_target,
                            &has_opt, err))
            return -1;
        if (!has_opt) return error_set(err, "--resume: %s has no optimizer state (a weights-only file)", path);
        scatter_member(run, p, has_target, 1);
    }
    if (iql_set_population(run->iql, run->pop_params, run->pop_target, run->pop_m, run->pop_v, err)) return -1;
    return iql_set_step_count(run->iql, *start_step, err);
}

int run_init_from(Run *run, const char *path, Error *err) {
    int has_target = 0;
    if (checkpoint_read(path, &run->single, run->params, run->target, NULL, NULL, &has_target, NULL, err))
        return error_prefix(err, "--init-from");
    for (int p = 0; p < run->P; p++) scatter_member(run, p, has_target, 0);
    return iql_set_population(run->iql, run->pop_params, run->pop_target, NULL, NULL, err);
}
