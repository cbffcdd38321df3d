/* Attention pooling z = Aᵀh (see mhim/ops/attnpool.h). With few attention columns (ABMIL's K = 1, DSMIL's K =
 * classes) the products are thin and memory-bound, so they run as single passes over h (ops/thin.h); wider shapes go
 * to the GEMM. */
#include "mhim/ops/attnpool.h"

#include "mhim/common.h"
#include "ops/gemm.h"
#include "ops/thin.h"

/* BLAS takes int dimensions; every GEMM dimension must fit. */
void mhim_attnpool_forward(float *z, const float *A, const float *h, int64_t N, int64_t K, int64_t D) {
    MHIM_ASSERT(K > 0 && D > 0);
    if (N == 0) {
        for (int64_t i = 0; i < K * D; i++) z[i] = 0.0f;
        return;
    }
    if (K * D <= MHIM_THIN_KD_MAX) {
        mhim_thin_weighted_colsum(z, 0, A, h, N, K, D);
        return;
    }
    /* z (K,D) = A(N,K)ᵀ · h (N,D) */
    mhim_gemm(1, 0, K, D, N, 1.0f, A, h, 0.0f, z);
}

static void attnpool_backward(float *dA, float *dh, float beta_h, const float *dz, const float *A, const float *h,
                              int64_t N, int64_t K, int64_t D) {
    MHIM_ASSERT(K > 0 && D > 0);
    if (N == 0) return;
    if (K <= MHIM_THIN_KMAX) {
        mhim_thin_dot_combine_rows(dA, dh, beta_h != 0.0f, h, A, dz, N, K, D);
        return;
    }
    /* dA (N,K) = h (N,D) · dz(K,D)ᵀ */
    mhim_gemm(0, 1, N, K, D, 1.0f, h, dz, 0.0f, dA);
    /* dh (N,D) = A (N,K) · dz (K,D) (+ dh) */
    mhim_gemm(0, 0, N, D, K, 1.0f, A, dz, beta_h, dh);
}

void mhim_attnpool_backward(float *dA, float *dh, const float *dz, const float *A, const float *h, int64_t N,
                            int64_t K, int64_t D) {
    attnpool_backward(dA, dh, 0.0f, dz, A, h, N, K, D);
}

void mhim_attnpool_backward_acc(float *dA, float *dh, const float *dz, const float *A, const float *h, int64_t N,
                                int64_t K, int64_t D) {
    attnpool_backward(dA, dh, 1.0f, dz, A, h, N, K, D);
}
