/* gemm.cu — the GemmArgs contract (row-major, strided-batched) through cuBLAS.
 *
 * cuBLAS is column-major. A row-major matrix X with leading dimension ld is, byte for byte,
 * the column-major matrix Xᵀ with the same ld, so the row-major product C = op(A)·op(B) is
 * computed as the column-major product Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands (B first),
 * swap m and n, keep each operand's transpose flag and leading dimension.
 *
 * Expected bottleneck: at the default sizes (B = 256 rows, width 256) each member's product is
 * 256×256×256, a few µs of tensor-core or FFMA work; the step is launch- and latency-bound,
 * which is why all members go in one strided-batched call and why steps run as graphs. */
#include "cuda_backend.h"  /* defines: CudaBackend, CUBLAS_RECORD */

void cuda_gemm(Backend *b, const GemmArgs *g) {
    CudaBackend *cb = (CudaBackend *)b;
    if (g->batch <= 0 || g->m <= 0 || g->n <= 0) return;  /* nothing to write */
    cublasOperation_t op_a = g->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t op_b = g->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    /* A stride of 0 is legal in cuBLAS: every batch entry reads the same operand. alpha and
     * beta are host values (pointer mode host), which a captured graph stores by value. */
    if (cb->precision == PRECISION_TF32) {
        CUBLAS_RECORD(cb, cublasGemmStridedBatchedEx(cb->op_blas, op_b, op_a, g->n, g->m, g->k, &g->alpha, g->b, CUDA_R_32F,
                                                     g->ldb, g->stride_b, g->a, CUDA_R_32F, g->lda, g->stride_a,
                                                     &g->beta, g->c, CUDA_R_32F, g->ldc, g->stride_c, g->batch,
                                                     CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT));
    } else {
        CUBLAS_RECORD(cb, cublasSgemmStridedBatched(cb->op_blas, op_b, op_a, g->n, g->m, g->k, &g->alpha, g->b, g->ldb,
                                                    g->stride_b, g->a, g->lda, g->stride_a, &g->beta, g->c, g->ldc,
                                                    g->stride_c, g->batch));
    }
}
