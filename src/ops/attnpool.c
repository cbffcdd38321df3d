/* Attention pooling z = Aᵀh (see mhim/ops/attnpool.h): three GEMMs with transposition flags, no copies. */
#include "mhim/ops/attnpool.h"

#include <cblas.h>
#include <limits.h>

#include "mhim/common.h"

/* BLAS takes int dimensions; every GEMM dimension must fit. */
static int blas_dim(int64_t d) {
    MHIM_ASSERT(d >= 0 && d <= INT_MAX);
    return (int)d;
}

void mhim_attnpool_forward(float *z, const float *A, const float *h, int64_t N, int64_t K, int64_t D) {
    MHIM_ASSERT(K > 0 && D > 0);
    if (N == 0) {
        for (int64_t i = 0; i < K * D; i++) z[i] = 0.0f;
        return;
    }
    /* z (K,D) = A(N,K)ᵀ · h (N,D) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_dim(K), blas_dim(D), blas_dim(N), 1.0f, A, blas_dim(K),
                h, blas_dim(D), 0.0f, z, blas_dim(D));
}

static void attnpool_backward(float *dA, float *dh, float beta_h, const float *dz, const float *A, const float *h,
                              int64_t N, int64_t K, int64_t D) {
    MHIM_ASSERT(K > 0 && D > 0);
    if (N == 0) return;
    /* dA (N,K) = h (N,D) · dz(K,D)ᵀ */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_dim(N), blas_dim(K), blas_dim(D), 1.0f, h, blas_dim(D),
                dz, blas_dim(D), 0.0f, dA, blas_dim(K));
    /* dh (N,D) = A (N,K) · dz (K,D) (+ dh) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_dim(N), blas_dim(D), blas_dim(K), 1.0f, A,
                blas_dim(K), dz, blas_dim(D), beta_h, dh, blas_dim(D));
}

void mhim_attnpool_backward(float *dA, float *dh, const float *dz, const float *A, const float *h, int64_t N,
                            int64_t K, int64_t D) {
    attnpool_backward(dA, dh, 0.0f, dz, A, h, N, K, D);
}

void mhim_attnpool_backward_acc(float *dA, float *dh, const float *dz, const float *A, const float *h, int64_t N,
                                int64_t K, int64_t D) {
    attnpool_backward(dA, dh, 1.0f, dz, A, h, N, K, D);
}
