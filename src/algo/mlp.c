/* mlp.c — forward and backward passes of the networks through the backend (see mlp.h). */
#include "algo/mlp.h"

static void forward(const MlpContext *ctx, const MlpForward *f) {
    const BackendOps *ops = ctx->b->ops;
    const NetLayout *net = f->net;
    int B = ctx->rows;
    for (int l = 0; l < net->n_layers; l++) {
        /* k runs over the stored width ld: for the first layer that includes the input's zero
         * padding columns, whose weights are zero (model.h) */
        int ld = net->ld[l], out = net->out[l];
        GemmArgs g = {  /* Y_e = X_e · W_eᵀ */
            .trans_a = 0, .trans_b = 1, .m = B, .n = out, .k = ld, .alpha = 1.0f, .beta = 0.0f,
            .a = l == 0 ? f->input : f->acts[l - 1], .lda = ld, .stride_a = l == 0 ? 0 : (int64_t)B * ld,
            .b = f->weights + (net->weight[l] - net->begin), .ldb = ld, .stride_b = (int64_t)net->weight_stride[l],
            .c = f->acts[l], .ldc = out, .stride_c = (int64_t)B * out, .batch = net->members,
        };
        ops->gemm_bias_activation(ctx->b, &g, f->weights + (net->bias[l] - net->begin), (int64_t)net->bias_stride[l],
                                  l + 1 < net->n_layers ? ACTIVATION_RELU : ACTIVATION_NONE);
    }
}

/* The chain lane carries dY down the layers (ReLU mask, then dX = dY·W); the weights lane
 * takes each layer's dW and db as soon as its dY is final. The chain is the critical path:
 * half the launches of doing all three products per layer in one sequence. */
static void backward(const MlpContext *ctx, const MlpBackward *p, int chain, int weights) {
    const BackendOps *ops = ctx->b->ops;
    Backend *b = ctx->b;
    const NetLayout *net = p->net;
    int B = ctx->rows;
    float *dy = p->dout;
    for (int l = net->n_layers - 1; l >= 0; l--) {
        int ld = net->ld[l], out = net->out[l];
        const float *x = l == 0 ? p->input : p->acts[l - 1];
        ops->lane(b, chain);
        if (l + 1 < net->n_layers) ops->relu_backward(b, dy, p->acts[l], (int64_t)net->members * B * out);
        ops->lane_wait(b, weights, chain);  /* dY_l is final */
        ops->lane(b, weights);
        GemmArgs dw = {  /* dW_e = dY_eᵀ · X_e; the padding columns get Σ dY·0 = 0 */
            .trans_a = 1, .trans_b = 0, .m = out, .n = ld, .k = B, .alpha = 1.0f, .beta = 0.0f,
            .a = dy, .lda = out, .stride_a = (int64_t)B * out,
            .b = x, .ldb = ld, .stride_b = l == 0 ? 0 : (int64_t)B * ld,
            .c = p->grads + net->weight[l], .ldc = ld, .stride_c = (int64_t)net->weight_stride[l], .batch = net->members,
        };
        ops->gemm(b, &dw);
        /* db_e = 1ᵀ · dY_e: a GEMM rather than a column-sum kernel, because cuBLAS spreads the
         * sum over the batch across the whole GPU (at B = 65536 a per-column kernel would have
         * only a few blocks per layer), in a fixed order. */
        GemmArgs db = {
            .trans_a = 0, .trans_b = 0, .m = 1, .n = out, .k = B, .alpha = 1.0f, .beta = 0.0f,
            .a = ctx->ones, .lda = B, .stride_a = 0,
            .b = dy, .ldb = out, .stride_b = (int64_t)B * out,
            .c = p->grads + net->bias[l], .ldc = out, .stride_c = (int64_t)net->bias_stride[l], .batch = net->members,
        };
        ops->gemm(b, &db);
        if (l == 0) break;
        ops->lane(b, chain);
        float *dx = p->dhidden[l - 1];
        GemmArgs dxa = {  /* dX_e = dY_e · W_e (a hidden layer: ld = in) */
            .trans_a = 0, .trans_b = 0, .m = B, .n = ld, .k = out, .alpha = 1.0f, .beta = 0.0f,
            .a = dy, .lda = out, .stride_a = (int64_t)B * out,
            .b = p->params + net->weight[l], .ldb = ld, .stride_b = (int64_t)net->weight_stride[l],
            .c = dx, .ldc = ld, .stride_c = (int64_t)B * ld, .batch = net->members,
        };
        ops->gemm(b, &dxa);
        dy = dx;
    }
}

void mlp_forward_all(const MlpContext *ctx, const MlpForward *passes, int n) {
    const BackendOps *ops = ctx->b->ops;
    ops->fork(ctx->b, n);
    for (int i = 0; i < n; i++) {
        ops->lane(ctx->b, i);
        forward(ctx, &passes[i]);
    }
    ops->join(ctx->b);
}

void mlp_backward_all(const MlpContext *ctx, const MlpBackward *passes, int n) {
    const BackendOps *ops = ctx->b->ops;
    ops->fork(ctx->b, 2 * n);
    for (int i = 0; i < n; i++) backward(ctx, &passes[i], 2 * i, 2 * i + 1);
    ops->join(ctx->b);
}
