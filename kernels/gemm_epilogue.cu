/* gemm_epilogue.cu — gemm_bias_activation: a layer's GEMM with the bias and ReLU in cuBLASLt's
 * epilogue (--gemm-epilogues; experimental until measured on a GPU, bench/RESULTS.md §3).
 *
 * One launch per layer instead of two, and no second pass over the layer's output (at B = 65536
 * the bias kernels' read + write of every activation is ~30 % of the step's memory traffic).
 * The column-major view is gemm's: D (n × m, ld ldc) = op(our B) · op(our A). cuBLASLt's bias
 * epilogue adds a vector along D's rows, which are the layer's n outputs: exactly the row-major
 * per-column bias, with BIAS_BATCH_STRIDE = the bias's member stride. Whatever cuBLASLt does
 * not support (no algorithm from the heuristic) falls back to the two-launch path, per shape;
 * so does a bias whose members are not all 16-byte aligned (a stride that is not a multiple of
 * 4 floats, as a packed [E, 1] or [E, 6] bias has): cuBLASLt has no preference attribute for the
 * bias's alignment, so a plan could not promise its kernel one. The aligned model layout gives
 * every member's bias a stride of a multiple of 4 (model.h). */
#include <string.h>

#include "cuda_backend.h"  /* defines: CudaBackend, LtPlan, LtKey, CUBLAS_RECORD */
#include "cuda_debug.h"    /* declares: cuda_debug_epilogue_calls */

static int alignment_class(const void *p) {
    uintptr_t a = (uintptr_t)p;
    return (a & 15u) == 0 ? 16 : (a & 7u) == 0 ? 8 : 4;
}

/* The plan key of a call. The four pointers' alignment classes go in one int: a plan made for
 * 16-byte operands must not run on 4-byte ones. */
static_assert(sizeof(LtKey) == 2 * sizeof(int64_t) + 12 * sizeof(int), "LtKey has padding: memcmp would see it");

static LtKey plan_key(const GemmArgs *g, const float *bias, int64_t bias_stride, Activation act) {
    LtKey key;
    memset(&key, 0, sizeof key);
    key.stride_a = g->stride_a, key.stride_b = g->stride_b;
    key.trans_a = g->trans_a, key.trans_b = g->trans_b, key.m = g->m, key.n = g->n, key.k = g->k;
    key.lda = g->lda, key.ldb = g->ldb, key.ldc = g->ldc, key.batch = g->batch, key.act = act;
    key.bias_stride = (int)bias_stride;  /* ≤ INT_MAX: epilogue_allowed refuses more */
    key.align = alignment_class(g->a) | alignment_class(g->b) << 5 | alignment_class(g->c) << 10 |
                alignment_class(bias) << 15;
    return key;
}

static cublasStatus_t layout_create(cublasLtMatrixLayout_t *layout, int rows, int cols, int ld, int batch,
                                    int64_t stride) {
    cublasStatus_t st = cublasLtMatrixLayoutCreate(layout, CUDA_R_32F, (uint64_t)rows, (uint64_t)cols, ld);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                              sizeof stride);
    return st;
}

/* Descriptors and the heuristic's first algorithm for this shape. A status other than success
 * means "cuBLASLt cannot do this one": the caller falls back, it is no error. */
static cublasStatus_t plan_build(CudaBackend *cb, LtPlan *p, const GemmArgs *g, const float *bias) {
    cublasComputeType_t compute = cb->precision == PRECISION_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    cublasOperation_t op_first = g->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;  /* cuBLASLt's A is our B */
    cublasOperation_t op_second = g->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasLtEpilogue_t epilogue = p->key.act == ACTIVATION_RELU ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
    int64_t bias_stride = p->key.bias_stride;
    cublasStatus_t st = cublasLtMatmulDescCreate(&p->desc, compute, CUDA_R_32F);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_first, sizeof op_first);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_second, sizeof op_second);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, &bias_stride,
                                            sizeof bias_stride);
    /* Stored shapes, column-major: our row-major X (r × c, ld) is cuBLASLt's c × r. */
    if (st == CUBLAS_STATUS_SUCCESS)
        st = layout_create(&p->layout_a, g->trans_b ? g->k : g->n, g->trans_b ? g->n : g->k, g->ldb, g->batch, g->stride_b);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = layout_create(&p->layout_b, g->trans_a ? g->m : g->k, g->trans_a ? g->k : g->m, g->lda, g->batch, g->stride_a);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = layout_create(&p->layout_c, g->n, g->m, g->ldc, g->batch, g->stride_c);
    if (st != CUBLAS_STATUS_SUCCESS) return st;

    cublasLtMatmulPreference_t pref = NULL;
    size_t workspace = CUDA_BLAS_WORKSPACE_BYTES;
    /* The pointers' real alignment, so the algorithm chosen can run on them (cuBLASLt's A is our B). */
    const struct {
        cublasLtMatmulPreferenceAttributes_t attr;
        uint32_t bytes;
    } alignments[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, (uint32_t)alignment_class(g->b)},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, (uint32_t)alignment_class(g->a)},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, (uint32_t)alignment_class(g->c)},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, (uint32_t)alignment_class(g->c)},
    };
    st = cublasLtMatmulPreferenceCreate(&pref);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                                  sizeof workspace);
    for (int i = 0; i < 4 && st == CUBLAS_STATUS_SUCCESS; i++)
        st = cublasLtMatmulPreferenceSetAttribute(pref, alignments[i].attr, &alignments[i].bytes, sizeof(uint32_t));
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulAlgoGetHeuristic(cb->lt, p->desc, p->layout_a, p->layout_b, p->layout_c, p->layout_c, pref, 1,
                                            &result, &found);
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    if (found < 1 || result.state != CUBLAS_STATUS_SUCCESS) return CUBLAS_STATUS_NOT_SUPPORTED;
    /* The heuristic's answer "doesn't fully guarantee algo will run" (cublasLt.h): ask. */
    cublasLtMatmulHeuristicResult_t check;
    st = cublasLtMatmulAlgoCheck(cb->lt, p->desc, p->layout_a, p->layout_b, p->layout_c, p->layout_c, &result.algo,
                                 &check);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    p->algo = result.algo;
    return CUBLAS_STATUS_SUCCESS;
}

/* Destroys the plan's cuBLASLt objects; the key stays. */
static void plan_release(LtPlan *p) {
    if (p->layout_c) cublasLtMatrixLayoutDestroy(p->layout_c);
    if (p->layout_b) cublasLtMatrixLayoutDestroy(p->layout_b);
    if (p->layout_a) cublasLtMatrixLayoutDestroy(p->layout_a);
    if (p->desc) cublasLtMatmulDescDestroy(p->desc);
    p->layout_a = p->layout_b = p->layout_c = NULL;
    p->desc = NULL;
    p->usable = 0;
}

/* The plan for this call's shape: found, or built in a free slot. NULL when the table is full
 * (the call then takes the two-launch path). */
static LtPlan *plan_for(CudaBackend *cb, const GemmArgs *g, const float *bias, int64_t bias_stride, Activation act) {
    LtKey key = plan_key(g, bias, bias_stride, act);
    for (int i = 0; i < CUDA_LT_PLANS; i++) {
        LtPlan *p = &cb->lt_plans[i];
        if (!p->used) {
            *p = LtPlan{};
            p->used = 1;
            p->key = key;
            p->usable = plan_build(cb, p, g, bias) == CUBLAS_STATUS_SUCCESS;
            if (!p->usable) plan_release(p);  /* kept as unusable: the heuristic is not asked again */
            return p;
        }
        if (memcmp(&p->key, &key, sizeof key) == 0) return p;
    }
    return NULL;
}

void cuda_lt_plans_destroy(CudaBackend *cb) {
    for (int i = 0; i < CUDA_LT_PLANS; i++) {
        plan_release(&cb->lt_plans[i]);
        cb->lt_plans[i] = LtPlan{};
    }
}

/* The fused path only where every member's bias is 16-byte aligned (see the top of this file). */
static int epilogue_allowed(const GemmArgs *g, const float *bias, int64_t bias_stride) {
    return g->k > 0 && alignment_class(bias) == 16 && (g->batch == 1 || bias_stride % 4 == 0) &&
           bias_stride <= 0x7fffffff;
}

void cuda_gemm_bias_activation(Backend *b, const GemmArgs *g, const float *bias, int64_t bias_stride, Activation act) {
    CudaBackend *cb = (CudaBackend *)b;
    if (g->batch <= 0 || g->m <= 0 || g->n <= 0) return;
    /* The contract (packed C, beta 0) is the bias kernel's too; anything else is a caller's bug. */
    if (g->beta != 0.0f || g->ldc != g->n || g->stride_c != (int64_t)g->m * g->n || bias_stride < g->n) {
        cuda_record_error(cb, "gemm_bias_activation", __func__, __FILE__, __LINE__, "invalid argument",
                          "needs beta = 0, a packed C (ldc = n, stride_c = m·n) and a bias stride of at least n");
        return;
    }
    LtPlan *p = cb->gemm_epilogues && epilogue_allowed(g, bias, bias_stride) ? plan_for(cb, g, bias, bias_stride, act)
                                                                           : NULL;
    if (p && p->usable) {
        /* The bias pointer is this call's (plans are shared by layers of the same shape). A
         * refusal comes back before anything is enqueued, so the two-launch path below can
         * still stand in, inside a capture too; the plan is then dropped for good. */
        cublasStatus_t st =
            cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
        if (st == CUBLAS_STATUS_SUCCESS)
            st = cublasLtMatmul(cb->lt, p->desc, &g->alpha, g->b, p->layout_a, g->a, p->layout_b, &g->beta, g->c,
                                p->layout_c, g->c, p->layout_c, &p->algo, cb->op_workspace, CUDA_BLAS_WORKSPACE_BYTES,
                                cb->op_stream);
        if (st == CUBLAS_STATUS_SUCCESS) {
            cb->lt_fused_calls++;
            return;
        }
        if (st != CUBLAS_STATUS_NOT_SUPPORTED && st != CUBLAS_STATUS_INVALID_VALUE) {
            CUBLAS_RECORD(cb, st);  /* not a refusal: a real failure */
            return;
        }
        plan_release(p);
    }
    cb->lt_unfused_calls++;
    cuda_gemm(b, g);
    cuda_bias_activation(b, g->c, bias, bias_stride, g->batch, g->m, g->n, act);
}

void cuda_debug_epilogue_calls(Backend *b, int64_t *fused, int64_t *unfused) {
    CudaBackend *cb = (CudaBackend *)b;
    *fused = cb->lt_fused_calls;
    *unfused = cb->lt_unfused_calls;
}
