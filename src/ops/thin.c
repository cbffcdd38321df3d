/* Thin matrix products in one pass over the wide operand (see ops/thin.h). */
#include "ops/thin.h"

#include "mhim/common.h"
#include "mhim/ops/act.h"
#include "ops/vecmath.h"

#define DOT_LANES 8   /* fixed lanes of the row dot products */
#define COLSUM_PARTS 8 /* fixed row ranges of the weighted column sums (partials: 64 KiB of stack) */

/* out[k] = row · w[k] (+ bias[k]) for k < K: each dot product summed in double over DOT_LANES fixed lanes (element d in
 * lane d % DOT_LANES), then the lanes in order. */
MHIM_CLONE_INLINE void dot_row(float *out, const float *row, const float *w, const float *bias, int64_t K, int64_t D) {
    for (int64_t k = 0; k < K; k++) {
        const float *wk = w + k * D;
        double lane[DOT_LANES] = {0};
        int64_t d = 0;
        for (; d + DOT_LANES <= D; d += DOT_LANES)
            for (int l = 0; l < DOT_LANES; l++) lane[l] += (double)row[d + l] * wk[d + l];
        for (int l = 0; d < D; d++, l++) lane[l] += (double)row[d] * wk[d];
        double sum = 0.0;
        for (int l = 0; l < DOT_LANES; l++) sum += lane[l];
        out[k] = bias ? (float)(sum + (double)bias[k]) : (float)sum;
    }
}

/* g (D) = Σ_k a[k]·w[k] (or g +=, when accumulate), k in order, in float. */
MHIM_CLONE_INLINE void combine_row(float *g, int accumulate, const float *a, const float *w, int64_t K, int64_t D) {
    for (int64_t k = 0; k < K; k++) {
        const float ak = a[k], *wk = w + k * D;
        if (k == 0 && !accumulate)
            for (int64_t d = 0; d < D; d++) g[d] = ak * wk[d];
        else
            for (int64_t d = 0; d < D; d++) g[d] += ak * wk[d];
    }
}

MHIM_SIMD_CLONES_WIDE void mhim_thin_dot_rows(float *out, const float *h, const float *w, const float *bias, int64_t N,
                                              int64_t K, int64_t D) {
    MHIM_ASSERT(K > 0 && K <= MHIM_THIN_KMAX && D > 0);
#pragma omp parallel for schedule(static) if (N * D >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < N; i++) dot_row(out + i * K, h + i * D, w, bias, K, D);
}

MHIM_SIMD_CLONES_WIDE void mhim_thin_combine_rows(float *out, int accumulate, const float *A, const float *w,
                                                  int64_t N, int64_t K, int64_t D) {
    MHIM_ASSERT(K > 0 && K <= MHIM_THIN_KMAX && D > 0);
#pragma omp parallel for schedule(static) if (N * D >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < N; i++) combine_row(out + i * D, accumulate, A + i * K, w, K, D);
}

MHIM_SIMD_CLONES_WIDE void mhim_thin_dot_combine_rows(float *dots, float *out, int accumulate, const float *h,
                                                      const float *A, const float *w, int64_t N, int64_t K,
                                                      int64_t D) {
    MHIM_ASSERT(K > 0 && K <= MHIM_THIN_KMAX && D > 0);
#pragma omp parallel for schedule(static) if (N * D >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < N; i++) {
        dot_row(dots + i * K, h + i * D, w, NULL, K, D);
        combine_row(out + i * D, accumulate, A + i * K, w, K, D);
    }
}

MHIM_SIMD_CLONES_WIDE void mhim_thin_weighted_colsum(float *z, int accumulate, const float *A, const float *h,
                                                     int64_t N, int64_t K, int64_t D) {
    MHIM_ASSERT(K > 0 && D > 0 && K * D <= MHIM_THIN_KD_MAX);
    double part[COLSUM_PARTS][MHIM_THIN_KD_MAX];
#pragma omp parallel for schedule(static) if (N * D >= MHIM_OPS_PARALLEL_MIN)
    for (int p = 0; p < COLSUM_PARTS; p++) {
        const int64_t i0 = N * p / COLSUM_PARTS, i1 = N * (p + 1) / COLSUM_PARTS;
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
        for (int p = 0; p < COLSUM_PARTS; p++) sum += part[p][j];
        z[j] = accumulate ? z[j] + (float)sum : (float)sum;
    }
}
