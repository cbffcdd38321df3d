/* Attention pooling z = Aᵀh (see mhim/ops/attnpool.h). With few attention columns (ABMIL's K = 1, DSMIL's K =
 * classes) the products are thin and memory-bound, so they run as single passes over h in fixed orders (fixed row
 * ranges for z, one row at a time for the backward), sums in double; wider shapes go to the GEMM. */
#include "mhim/ops/attnpool.h"

#include <cblas.h>

#include "mhim/common.h"
#include "ops/gemm.h"
#include "ops/vecmath.h"

#define POOL_KMAX 8        /* attention columns handled by the single-pass backward */
#define POOL_THIN_KD 1024  /* largest K·D of the single-pass forward (DSMIL: 2 classes x 512) */
#define POOL_PARTS 8       /* fixed row ranges of the single-pass forward (partials: 64 KiB of stack) */
#define LANES 8                       /* fixed lanes of the backward's row dot products */

/* z (K, D) = Σ_i A[i, k]·h[i, :] over POOL_PARTS fixed row ranges (boundaries from N only), each summed in row
 * order in double, the ranges then combined in order: the result does not depend on the thread count, and every
 * task streams contiguous rows. K·D ≤ POOL_THIN_KD (the partial sums live on the stack). */
MHIM_SIMD_CLONES_WIDE static void pool_forward_thin(float *z, const float *A, const float *h, int64_t N, int64_t K,
                                                    int64_t D) {
    double part[POOL_PARTS][POOL_THIN_KD];
#pragma omp parallel for schedule(static) if (N * D >= MHIM_OPS_PARALLEL_MIN)
    for (int p = 0; p < POOL_PARTS; p++) {
        const int64_t i0 = N * p / POOL_PARTS, i1 = N * (p + 1) / POOL_PARTS;
        double *acc = part[p];
        for (int64_t j = 0; j < K * D; j++) acc[j] = 0.0;
        for (int64_t i = i0; i < i1; i++)
            for (int64_t k = 0; k < K; k++) {
                const double a = A[i * K + k];
                const float *row = h + i * D;
                double *acc_k = acc + k * D;
                for (int64_t c = 0; c < D; c++) acc_k[c] += a * row[c];
            }
    }
    for (int64_t j = 0; j < K * D; j++) {
        double sum = 0.0;
        for (int p = 0; p < POOL_PARTS; p++) sum += part[p][j];
        z[j] = (float)sum;
    }
}

/* Per row i: dA[i, k] = Σ_d h[i, d]·dz[k, d] (double, LANES fixed lanes) and dh[i, :] (=, or += when accumulate)
 * Σ_k A[i, k]·dz[k, :]. Rows are independent: thread-count invariant. */
MHIM_SIMD_CLONES_WIDE static void pool_backward_thin(float *dA, float *dh, int accumulate, const float *dz,
                                                     const float *A, const float *h, int64_t N, int64_t K,
                                                     int64_t D) {
#pragma omp parallel for schedule(static) if (N * D >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *row = h + i * D;
        float *g = dh + i * D;
        for (int64_t k = 0; k < K; k++) {
            const float *dzk = dz + k * D;
            double lane[LANES] = {0};
            int64_t d = 0;
            for (; d + LANES <= D; d += LANES)
                for (int l = 0; l < LANES; l++) lane[l] += (double)row[d + l] * dzk[d + l];
            for (int l = 0; d < D; d++, l++) lane[l] += (double)row[d] * dzk[d];
            double sum = 0.0;
            for (int l = 0; l < LANES; l++) sum += lane[l];
            dA[i * K + k] = (float)sum;
            const float a = A[i * K + k];
            if (k == 0 && !accumulate)
                for (d = 0; d < D; d++) g[d] = a * dzk[d];
            else
                for (d = 0; d < D; d++) g[d] += a * dzk[d];
        }
    }
}

/* BLAS takes int dimensions; every GEMM dimension must fit. */
void mhim_attnpool_forward(float *z, const float *A, const float *h, int64_t N, int64_t K, int64_t D) {
    MHIM_ASSERT(K > 0 && D > 0);
    if (N == 0) {
        for (int64_t i = 0; i < K * D; i++) z[i] = 0.0f;
        return;
    }
    if (K * D <= POOL_THIN_KD) {
        pool_forward_thin(z, A, h, N, K, D);
        return;
    }
    /* z (K,D) = A(N,K)ᵀ · h (N,D) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, mhim_blas_dim(K), mhim_blas_dim(D), mhim_blas_dim(N), 1.0f, A, mhim_blas_dim(K),
                h, mhim_blas_dim(D), 0.0f, z, mhim_blas_dim(D));
}

static void attnpool_backward(float *dA, float *dh, float beta_h, const float *dz, const float *A, const float *h,
                              int64_t N, int64_t K, int64_t D) {
    MHIM_ASSERT(K > 0 && D > 0);
    if (N == 0) return;
    if (K <= POOL_KMAX) {
        pool_backward_thin(dA, dh, beta_h != 0.0f, dz, A, h, N, K, D);
        return;
    }
    /* dA (N,K) = h (N,D) · dz(K,D)ᵀ */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mhim_blas_dim(N), mhim_blas_dim(K), mhim_blas_dim(D), 1.0f, h, mhim_blas_dim(D),
                dz, mhim_blas_dim(D), 0.0f, dA, mhim_blas_dim(K));
    /* dh (N,D) = A (N,K) · dz (K,D) (+ dh) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mhim_blas_dim(N), mhim_blas_dim(D), mhim_blas_dim(K), 1.0f, A,
                mhim_blas_dim(K), dz, mhim_blas_dim(D), beta_h, dh, mhim_blas_dim(D));
}

void mhim_attnpool_backward(float *dA, float *dh, const float *dz, const float *A, const float *h, int64_t N,
                            int64_t K, int64_t D) {
    attnpool_backward(dA, dh, 0.0f, dz, A, h, N, K, D);
}

void mhim_attnpool_backward_acc(float *dA, float *dh, const float *dz, const float *A, const float *h, int64_t N,
                                int64_t K, int64_t D) {
    attnpool_backward(dA, dh, 1.0f, dz, A, h, N, K, D);
}
