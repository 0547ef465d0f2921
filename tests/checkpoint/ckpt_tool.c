/* ckpt_tool.c — the C side of test_checkpoint_h5py.py.
 *
 *   ckpt_tool write PATH EXPECTED   writes a checkpoint (hidden [7, 5], obs 3, act 2) and, in
 *                                   EXPECTED, every attribute and tensor it should hold plus the
 *                                   policy's mean action for a few states (model_policy_mean)
 *   ckpt_tool read PATH DUMP        checkpoint_layout_from_file + checkpoint_read, and dumps what
 *                                   was read into DUMP in the same format
 *
 * Lines: "attr NAME VALUE...", "tensor NAME DIM... : VALUE..." (%.9g: float32 round-trips),
 * "action S... : A...". The tensor names and offsets are spelled out here from model.h on their
 * own, not taken from checkpoint.c, so the two are checked against each other. Exit status 1
 * with the error on stderr when a call fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint.h"  // defines: checkpoint_write, checkpoint_read, checkpoint_layout_from_file

static void dump_floats(FILE *f, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) fprintf(f, " %.9g", x[i]);
    fputc('\n', f);
}

/* One network's tensors; the critics' member k lies at k · (out · in) inside each layer block. */
static void dump_net(FILE *f, const char *name, const NetLayout *net, int member, size_t base, const float *buf) {
    for (int l = 0; l < net->n_layers; l++) {
        size_t out = (size_t)net->out[l], in = (size_t)net->in[l];
        fprintf(f, "tensor %s/layer%d/weight %zu %zu :", name, l, out, in);
        dump_floats(f, buf + net->weight[l] - base + member * out * in, out * in);
        fprintf(f, "tensor %s/layer%d/bias %zu :", name, l, out);
        dump_floats(f, buf + net->bias[l] - base + member * out, out);
    }
}

/* Every tensor of a file with these buffers (target / moments skipped when NULL). */
static void dump_tensors(FILE *f, const ModelLayout *s, const float *params, const float *target, const float *m,
                         const float *v) {
    const float *trees[3] = {params, m, v};
    const char *prefixes[3] = {"", "optimizer/exp_avg/", "optimizer/exp_avg_sq/"};
    for (int k = 0; k < 3; k++) {
        if (!trees[k]) continue;
        char name[96];
        snprintf(name, sizeof name, "%spolicy", prefixes[k]);
        dump_net(f, name, &s->net[NET_POLICY], 0, 0, trees[k]);
        fprintf(f, "tensor %spolicy/log_std %d :", prefixes[k], s->act_dim);
        dump_floats(f, trees[k] + s->net[NET_POLICY].log_std, (size_t)s->act_dim);
        snprintf(name, sizeof name, "%svalue", prefixes[k]);
        dump_net(f, name, &s->net[NET_VALUE], 0, 0, trees[k]);
        snprintf(name, sizeof name, "%sq1", prefixes[k]);
        dump_net(f, name, &s->net[NET_Q], 0, 0, trees[k]);
        snprintf(name, sizeof name, "%sq2", prefixes[k]);
        dump_net(f, name, &s->net[NET_Q], 1, 0, trees[k]);
    }
    if (target) {
        size_t base = s->net[NET_Q].begin;
        dump_net(f, "q1_target", &s->net[NET_Q], 0, base, target);
        dump_net(f, "q2_target", &s->net[NET_Q], 1, base, target);
    }
}

static void dump_meta(FILE *f, const CheckpointMeta *m) {
    fprintf(f, "attr step %lld\nattr obs_dim %d\nattr act_dim %d\nattr hidden", (long long)m->step, m->obs_dim,
            m->act_dim);
    for (int i = 0; i < m->n_hidden; i++) fprintf(f, " %d", m->hidden[i]);
    fprintf(f, "\nattr policy %s\n", m->deterministic ? "deterministic" : "gaussian");
    fprintf(f, "attr max_action %.17g\nattr tau %.17g\nattr beta %.17g\n", m->max_action, m->tau, m->beta);
    fprintf(f, "attr seed %lld\nattr batch_seed %lld\n", (long long)m->seed, (long long)m->batch_seed);
    fprintf(f, "attr reward_scale %.17g\nattr reward_shift %.17g\n", m->reward_scale, m->reward_shift);
    /* The YAML spans lines: written as its bytes in hex. */
    fprintf(f, "attr config");
    if (m->config_yaml)
        for (const unsigned char *c = (const unsigned char *)m->config_yaml; *c; c++) fprintf(f, " %02x", *c);
    else
        fprintf(f, " none");
    fprintf(f, "\ntensor normalization/state_mean %d :", m->obs_dim);
    dump_floats(f, m->state_mean, (size_t)m->obs_dim);
    fprintf(f, "tensor normalization/state_std %d :", m->obs_dim);
    dump_floats(f, m->state_std, (size_t)m->obs_dim);
}

/* The policy's mean action for a raw state, the way cuiql uses it: normalise, then the MLP. */
static void dump_action(FILE *f, const ModelLayout *s, const CheckpointMeta *m, const float *params,
                        const float *state) {
    float norm[64], action[64];
    if (s->obs_dim > 64 || s->act_dim > 64) return;  /* the tests' models are small */
    for (int i = 0; i < s->obs_dim; i++) norm[i] = (state[i] - m->state_mean[i]) / m->state_std[i];
    model_policy_mean(s, params, 0, norm, (float)m->max_action, action);
    fprintf(f, "action");
    for (int i = 0; i < s->obs_dim; i++) fprintf(f, " %.9g", state[i]);
    fprintf(f, " :");
    dump_floats(f, action, (size_t)s->act_dim);
}

static int cmd_write(const char *path, const char *expected) {
    const int hidden[2] = {7, 5};
    ModelLayout s;
    Error err = {""};
    if (model_layout_init(&s, 1, 3, 2, hidden, 2, &err) != 0) goto fail;
    size_t n = s.n_params, nt = model_target_size(&s);
    float *p = malloc(n * 4), *t = malloc(nt * 4), *m = malloc(n * 4), *v = malloc(n * 4);
    /* Distinct, exactly representable-in-text values; a value's index is recoverable from it. */
    for (size_t i = 0; i < n; i++) {
        p[i] = sinf((float)i * 0.37f + 0.1f);
        m[i] = cosf((float)i * 0.11f) * 1e-3f;
        v[i] = (float)(i + 1) * 1e-6f;
    }
    for (size_t i = 0; i < nt; i++) t[i] = p[s.net[NET_Q].begin + i] * 0.99f;
    float mean[3] = {0.25f, -0.5f, 1.0f}, std[3] = {1.5f, 0.5f, 2.0f};
    char config[] = "steps: 1000\nhidden: [7, 5]\npolicy: gaussian\n";
    CheckpointMeta meta = {.step = 4242, .obs_dim = 3, .act_dim = 2, .n_hidden = 2, .hidden = {7, 5},
                           .deterministic = 0, .max_action = 0.5, .tau = 0.7, .beta = 3.0, .seed = 17,
                           .batch_seed = 18, .reward_scale = 0.001, .reward_shift = -1.0, .state_mean = mean,
                           .state_std = std, .config_yaml = config};
    if (checkpoint_write(path, &s, &meta, p, t, m, v, &err) != 0) goto fail;
    FILE *f = fopen(expected, "w");
    if (!f) {
        perror(expected);
        return 1;
    }
    fprintf(f, "attr format_version %d\n", CHECKPOINT_FORMAT_VERSION);
    dump_meta(f, &meta);
    dump_tensors(f, &s, p, t, m, v);
    const float states[3][3] = {{0, 0, 0}, {1.0f, -2.0f, 0.5f}, {-3.0f, 4.0f, 2.0f}};
    for (int k = 0; k < 3; k++) dump_action(f, &s, &meta, p, states[k]);
    fclose(f);
    free(p);
    free(t);
    free(m);
    free(v);
    return 0;
fail:
    fprintf(stderr, "ckpt_tool write: %s\n", err.msg);
    return 1;
}

static int cmd_read(const char *path, const char *dump) {
    ModelLayout s;
    CheckpointMeta meta;
    Error err = {""};
    if (checkpoint_layout_from_file(path, &s, &meta, &err) != 0) {
        fprintf(stderr, "ckpt_tool read: %s\n", err.msg);
        return 1;
    }
    size_t n = s.n_params, nt = model_target_size(&s);
    float *p = malloc(n * 4), *t = malloc(nt * 4), *m = malloc(n * 4), *v = malloc(n * 4);
    int has_t = -1, has_o = -1, rc = 1;
    if (checkpoint_read(path, &s, p, t, m, v, &has_t, &has_o, &err) != 0) {
        fprintf(stderr, "ckpt_tool read: %s\n", err.msg);
        goto done;
    }
    FILE *f = fopen(dump, "w");
    if (!f) {
        perror(dump);
        goto done;
    }
    fprintf(f, "attr has_target %d\nattr has_optimizer %d\n", has_t, has_o);
    dump_meta(f, &meta);
    dump_tensors(f, &s, p, has_t ? t : NULL, has_o ? m : NULL, has_o ? v : NULL);
    const float zero[64] = {0};
    dump_action(f, &s, &meta, p, zero);
    fclose(f);
    rc = 0;
done:
    checkpoint_meta_free(&meta);
    free(p);
    free(t);
    free(m);
    free(v);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "write")) return cmd_write(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "read")) return cmd_read(argv[2], argv[3]);
    fprintf(stderr, "usage: ckpt_tool write PATH EXPECTED | read PATH DUMP\n");
    return 2;
}
