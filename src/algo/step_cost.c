/* step_cost.c — see step_cost.h. */
#include "algo/step_cost.h"

/* Forward passes a network makes per step: V on s and s', the critics twice with a target
 * network, the policy once. */
static int forwards(int net, int use_target) { return net == NET_VALUE ? 2 : net == NET_Q && use_target ? 2 : 1; }

double step_flops(const ModelLayout *L, int B, int use_target) {
    double total = 0;
    for (int n = 0; n < NET_COUNT; n++) {
        const NetLayout *net = &L->net[n];
        double fwd = 0, bwd = 0;
        for (int l = 0; l < net->n_layers; l++) {
            double f = 2.0 * B * net->in[l] * net->out[l] * net->members;
            fwd += f;
            bwd += l == 0 ? f : 2 * f;
        }
        total += forwards(n, use_target) * fwd + bwd;
    }
    return total;
}

double step_bytes(const ModelLayout *L, int B, int use_target) {
    double acts = 0, critics = 0;
    for (int n = 0; n < NET_COUNT; n++) {
        const NetLayout *net = &L->net[n];
        for (int l = 0; l < net->n_layers; l++) {
            acts += (double)forwards(n, use_target) * net->members * B * net->out[l];
            if (n == NET_Q) critics += (double)net->members * ((double)net->out[l] * net->in[l] + net->out[l]);
        }
    }
    return 4.0 * (7.0 * (double)L->n_logical + (use_target ? 3.0 * critics : 0) + 4.0 * acts);
}
