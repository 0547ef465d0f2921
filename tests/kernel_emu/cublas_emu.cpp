/* cublas_emu.cpp — the cuBLAS and cuBLASLt calls of kernels/gemm.cu, computed on the CPU from
 * the semantics NVIDIA documents (column-major storage, op() per transpose flag, strided
 * batches, the BIAS / RELU_BIAS epilogues with a per-batch bias stride), and refusing what the
 * real libraries refuse: a leading dimension shorter than the stored rows, layouts whose
 * shapes do not chain into op(A)·op(B) = D, a bias epilogue without a bias pointer.
 *
 * This is not a cuBLAS: it is a reference for what gemm.cu asks of it. The row-major to
 * column-major translation, the layout and descriptor set-up and the fallback on refusal are
 * the real code under test; the GPU tests (tests/gpu/) check the same calls against the real
 * libraries. Each call is queued on its stream like any other work; the product itself is
 * OpenBLAS's column-major sgemm, followed by the epilogue: the very sums the CPU backend's
 * row-major calls make, bit for bit. CUDA_EMU_GEMM_ORDER=split sums the k dimension of every
 * batched call (batch ≥ 2) in two halves instead (the first into C with the call's beta, the
 * second added on), as a split-k kernel of the real cuBLAS may, and leaves single products as
 * they are, as cuBLAS picks other kernels for other batch counts: the same products in
 * another summation order, so tests see the rounding differences a GPU brings (a P = 8
 * population against its single members too) and must hold with them. */
#include "cuda_emu.h"

#include <cblas.h>

#include <cstdlib>

namespace cuda_emu {

bool lt_refuse_heuristic, lt_refuse_matmul;
int64_t lt_matmuls;

namespace {

/* CUDA_EMU_GEMM_ORDER=split: the k dimension in two halves (see the top of this file). */
bool split_k() {
    static const int split = [] {
        const char *env = std::getenv("CUDA_EMU_GEMM_ORDER");
        return env && std::strcmp(env, "split") == 0 ? 1 : 0;
    }();
    return split != 0;
}

/* One column-major strided-batched product: C_i = alpha·op(A_i)·op(B_i) + beta·C_i. */
struct Product {
    bool trans_a, trans_b;
    int64_t m, n, k;
    float alpha, beta;
    const float *a;
    int64_t lda, stride_a;
    const float *b;
    int64_t ldb, stride_b;
    const float *c;
    int64_t ldc, stride_c;
    float *d;
    int64_t ldd, stride_d;
    int64_t batch;
    const float *bias;
    int64_t bias_stride; /* NULL: no bias */
    bool relu;
};

void compute(const Product &p) {
    if (p.m == 0 || p.n == 0) return;
    for (int64_t i = 0; i < p.batch; i++) {
        const float *A = p.a + i * p.stride_a, *B = p.b + i * p.stride_b, *C = p.c + i * p.stride_c;
        float *D = p.d + i * p.stride_d;
        if (C != D && p.beta != 0.0f)
            for (int64_t col = 0; col < p.n; col++) std::memcpy(D + col * p.ldd, C + col * p.ldc, sizeof(float) * p.m);
        /* beta = 0 never reads C (it may hold NaN), as BLAS specifies */
        int64_t k1 = split_k() && p.batch >= 2 && p.k >= 2 ? p.k / 2 : p.k;
        cblas_sgemm(CblasColMajor, p.trans_a ? CblasTrans : CblasNoTrans, p.trans_b ? CblasTrans : CblasNoTrans,
                    (int)p.m, (int)p.n, (int)k1, p.alpha, A, (int)p.lda, B, (int)p.ldb, p.beta, D, (int)p.ldd);
        if (k1 < p.k) {  /* op(A)'s columns k1.. and op(B)'s rows k1.., added on */
            const float *A2 = p.trans_a ? A + k1 : A + k1 * p.lda, *B2 = p.trans_b ? B + k1 * p.ldb : B + k1;
            cblas_sgemm(CblasColMajor, p.trans_a ? CblasTrans : CblasNoTrans, p.trans_b ? CblasTrans : CblasNoTrans,
                        (int)p.m, (int)p.n, (int)(p.k - k1), p.alpha, A2, (int)p.lda, B2, (int)p.ldb, 1.0f, D,
                        (int)p.ldd);
        }
        if (!p.bias && !p.relu) continue;
        for (int64_t col = 0; col < p.n; col++)
            for (int64_t row = 0; row < p.m; row++) {
                float &out = D[row + col * p.ldd];
                if (p.bias) out += p.bias[i * p.bias_stride + row];
                if (p.relu && !(out > 0)) out = 0;
            }
    }
}

struct BlasHandle {
    cudaStream_t stream = nullptr;
};

/* What cuBLAS checks of a classic call. */
bool classic_valid(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, int lda, int ldb, int ldc,
                   int batch) {
    int rows_a = ta == CUBLAS_OP_N ? m : k, rows_b = tb == CUBLAS_OP_N ? k : n;
    return m >= 0 && n >= 0 && k >= 0 && batch >= 0 && lda >= (rows_a > 1 ? rows_a : 1) &&
           ldb >= (rows_b > 1 ? rows_b : 1) && ldc >= (m > 1 ? m : 1) && (ta == CUBLAS_OP_N || ta == CUBLAS_OP_T) &&
           (tb == CUBLAS_OP_N || tb == CUBLAS_OP_T);
}

cublasStatus_t classic(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                       const float *alpha, const float *A, int lda, long long sa, const float *B, int ldb, long long sb,
                       const float *beta, float *C, int ldc, long long sc, int batch) {
    if (!classic_valid(ta, tb, m, n, k, lda, ldb, ldc, batch)) return CUBLAS_STATUS_INVALID_VALUE;
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    /* pointer mode host: alpha and beta are read now, as cuBLAS does */
    Product p{ta == CUBLAS_OP_T,
              tb == CUBLAS_OP_T,
              m,
              n,
              k,
              *alpha,
              *beta,
              A,
              lda,
              sa,
              B,
              ldb,
              sb,
              C,
              ldc,
              sc,
              C,
              ldc,
              sc,
              batch,
              nullptr,
              0,
              false};
    enqueue(reinterpret_cast<BlasHandle *>(handle)->stream, [p] { compute(p); });
    return CUBLAS_STATUS_SUCCESS;
}

/* The opaque cuBLASLt objects, as this model keeps them. */
struct Layout {
    cudaDataType type;
    uint64_t rows, cols;
    int64_t ld, stride = 0;
    int32_t batch = 1;
};
struct Desc {
    cublasComputeType_t compute;
    cublasOperation_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
    cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    const void *bias = nullptr;
    int64_t bias_stride = 0;
};

template <class T> cublasStatus_t set(T &field, const void *buf, size_t size) {
    if (size != sizeof(T)) return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&field, buf, sizeof(T));
    return CUBLAS_STATUS_SUCCESS;
}

/* The product the descriptors describe, or why cuBLASLt would refuse it. */
cublasStatus_t lt_product(const Desc &d, const Layout &a, const Layout &b, const Layout &c, const Layout &dd,
                          Product *p) {
    if (a.type != CUDA_R_32F || b.type != CUDA_R_32F || c.type != CUDA_R_32F || dd.type != CUDA_R_32F)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    /* op(A) must be m × k, op(B) k × n, C like D */
    uint64_t m = dd.rows, n = dd.cols;
    uint64_t a_m = d.trans_a == CUBLAS_OP_N ? a.rows : a.cols, k = d.trans_a == CUBLAS_OP_N ? a.cols : a.rows;
    uint64_t b_k = d.trans_b == CUBLAS_OP_N ? b.rows : b.cols, b_n = d.trans_b == CUBLAS_OP_N ? b.cols : b.rows;
    bool shapes = a_m == m && b_k == k && b_n == n && c.rows == m && c.cols == n;
    bool lds = a.ld >= (int64_t)(a.rows > 1 ? a.rows : 1) && b.ld >= (int64_t)(b.rows > 1 ? b.rows : 1) &&
               c.ld >= (int64_t)(c.rows > 1 ? c.rows : 1) && dd.ld >= (int64_t)(dd.rows > 1 ? dd.rows : 1);
    bool batches = a.batch == dd.batch && b.batch == dd.batch && c.batch == dd.batch;
    if (!shapes || !lds || !batches) return CUBLAS_STATUS_INVALID_VALUE;
    bool bias = d.epilogue == CUBLASLT_EPILOGUE_BIAS || d.epilogue == CUBLASLT_EPILOGUE_RELU_BIAS;
    if (!bias && d.epilogue != CUBLASLT_EPILOGUE_DEFAULT && d.epilogue != CUBLASLT_EPILOGUE_RELU)
        return CUBLAS_STATUS_NOT_SUPPORTED; /* this model knows only the forward epilogues */
    if (bias && !d.bias) return CUBLAS_STATUS_INVALID_VALUE;
    *p = Product{d.trans_a == CUBLAS_OP_T,
                 d.trans_b == CUBLAS_OP_T,
                 (int64_t)m,
                 (int64_t)n,
                 (int64_t)k,
                 0,
                 0,
                 nullptr,
                 a.ld,
                 a.stride,
                 nullptr,
                 b.ld,
                 b.stride,
                 nullptr,
                 c.ld,
                 c.stride,
                 nullptr,
                 dd.ld,
                 dd.stride,
                 dd.batch,
                 bias ? (const float *)d.bias : nullptr,
                 d.bias_stride,
                 d.epilogue == CUBLASLT_EPILOGUE_RELU || d.epilogue == CUBLASLT_EPILOGUE_RELU_BIAS};
    return CUBLAS_STATUS_SUCCESS;
}

/* lt_product on the opaque handles gemm.cu holds. */
cublasStatus_t lt_described(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                            cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d, Product *p) {
    return lt_product(*reinterpret_cast<Desc *>(desc), *reinterpret_cast<Layout *>(a), *reinterpret_cast<Layout *>(b),
                      *reinterpret_cast<Layout *>(c), *reinterpret_cast<Layout *>(d), p);
}

} // namespace

cublasStatus_t sgemm_strided_batched(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                     int k, const float *alpha, const float *A, int lda, long long sa, const float *B,
                                     int ldb, long long sb, const float *beta, float *C, int ldc, long long sc,
                                     int batch) {
    return classic(handle, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}

cublasStatus_t gemm_strided_batched_ex(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                       int k, const void *alpha, const void *A, cudaDataType at, int lda, long long sa,
                                       const void *B, cudaDataType bt, int ldb, long long sb, const void *beta, void *C,
                                       cudaDataType ct, int ldc, long long sc, int batch, cublasComputeType_t compute,
                                       cublasGemmAlgo_t) {
    if (at != CUDA_R_32F || bt != CUDA_R_32F || ct != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_FAST_TF32) return CUBLAS_STATUS_NOT_SUPPORTED;
    return classic(handle, ta, tb, m, n, k, (const float *)alpha, (const float *)A, lda, sa, (const float *)B, ldb, sb,
                   (const float *)beta, (float *)C, ldc, sc, batch);
}

cublasStatus_t lt_desc_create(cublasLtMatmulDesc_t *desc, cublasComputeType_t compute, cudaDataType scale) {
    if (scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    Desc *d = new Desc;
    d->compute = compute;
    *desc = reinterpret_cast<cublasLtMatmulDesc_t>(d);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t lt_desc_set(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, const void *buf,
                           size_t size) {
    Desc *d = reinterpret_cast<Desc *>(desc);
    switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA: return set(d->trans_a, buf, size);
    case CUBLASLT_MATMUL_DESC_TRANSB: return set(d->trans_b, buf, size);
    case CUBLASLT_MATMUL_DESC_EPILOGUE: return set(d->epilogue, buf, size);
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: return set(d->bias, buf, size);
    case CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE: return set(d->bias_stride, buf, size);
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
    }
}

cublasStatus_t lt_desc_destroy(cublasLtMatmulDesc_t desc) {
    delete reinterpret_cast<Desc *>(desc);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t lt_layout_create(cublasLtMatrixLayout_t *layout, cudaDataType type, uint64_t rows, uint64_t cols,
                                int64_t ld) {
    Layout *l = new Layout{type, rows, cols, ld};
    *layout = reinterpret_cast<cublasLtMatrixLayout_t>(l);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t lt_layout_set(cublasLtMatrixLayout_t layout, cublasLtMatrixLayoutAttribute_t attr, const void *buf,
                             size_t size) {
    Layout *l = reinterpret_cast<Layout *>(layout);
    switch (attr) {
    case CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT: return set(l->batch, buf, size);
    case CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET: return set(l->stride, buf, size);
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
    }
}

cublasStatus_t lt_layout_destroy(cublasLtMatrixLayout_t layout) {
    delete reinterpret_cast<Layout *>(layout);
    return CUBLAS_STATUS_SUCCESS;
}

/* Preferences only narrow the choice of algorithm; the model has one. */
cublasStatus_t lt_pref_create(cublasLtMatmulPreference_t *pref) {
    *pref = reinterpret_cast<cublasLtMatmulPreference_t>(new char[1]);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t lt_pref_set(cublasLtMatmulPreference_t, cublasLtMatmulPreferenceAttributes_t, const void *, size_t) {
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t lt_pref_destroy(cublasLtMatmulPreference_t pref) {
    delete[] reinterpret_cast<char *>(pref);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t lt_heuristic(cublasLtHandle_t, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                            cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                            cublasLtMatmulPreference_t, int requested, cublasLtMatmulHeuristicResult_t *results,
                            int *found) {
    *found = 0;
    if (requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
    Product p;
    cublasStatus_t st = lt_described(desc, a, b, c, d, &p);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    if (lt_refuse_heuristic) return CUBLAS_STATUS_NOT_SUPPORTED;
    std::memset(results, 0, sizeof *results);
    results->state = CUBLAS_STATUS_SUCCESS;
    *found = 1;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t lt_algo_check(cublasLtHandle_t, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                             cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                             const cublasLtMatmulAlgo_t *, cublasLtMatmulHeuristicResult_t *result) {
    Product p;
    cublasStatus_t st = lt_described(desc, a, b, c, d, &p);
    std::memset(result, 0, sizeof *result);
    result->state = st;
    return st;
}

cublasStatus_t lt_matmul(cublasLtHandle_t lt, cublasLtMatmulDesc_t desc, const void *alpha, const void *A,
                         cublasLtMatrixLayout_t a, const void *B, cublasLtMatrixLayout_t b, const void *beta,
                         const void *C, cublasLtMatrixLayout_t c, void *D, cublasLtMatrixLayout_t d,
                         const cublasLtMatmulAlgo_t *algo, void *, size_t, cudaStream_t stream) {
    if (!lt) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!algo) return CUBLAS_STATUS_INVALID_VALUE;
    Product p;
    cublasStatus_t st = lt_described(desc, a, b, c, d, &p);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    if (lt_refuse_matmul) return CUBLAS_STATUS_NOT_SUPPORTED;
    p.alpha = *(const float *)alpha, p.beta = *(const float *)beta;
    p.a = (const float *)A, p.b = (const float *)B, p.c = (const float *)C, p.d = (float *)D;
    enqueue(stream, [p] { compute(p); });
    lt_matmuls++;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t blas_create(cublasHandle_t *handle) {
    *handle = reinterpret_cast<cublasHandle_t>(new BlasHandle);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t blas_destroy(cublasHandle_t handle) {
    delete reinterpret_cast<BlasHandle *>(handle);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t blas_set_stream(cublasHandle_t handle, cudaStream_t stream) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    reinterpret_cast<BlasHandle *>(handle)->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}
/* The Lt handle carries nothing this model needs; a distinct non-null value. */
cublasStatus_t lt_create(cublasLtHandle_t *handle) {
    *handle = reinterpret_cast<cublasLtHandle_t>(new char[1]);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t lt_destroy(cublasLtHandle_t handle) {
    delete[] reinterpret_cast<char *>(handle);
    return CUBLAS_STATUS_SUCCESS;
}

} // namespace cuda_emu
