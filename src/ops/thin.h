/* src/ops/thin.h — the thin matrix products of the CPU ops (private to src/ops): products with one dimension of at
 * most a few columns (ABMIL's attention K = 1, DSMIL's C classes, a Linear with a handful of outputs). cblas_sgemm
 * packs the whole wide operand for such a product and runs 10–50× below its peak rate on them; these kernels make one
 * pass over the wide operand instead, in orders fixed by the shapes, so their results are bitwise independent of the
 * thread count. Row-major throughout. */
#ifndef MHIM_OPS_THIN_H
#define MHIM_OPS_THIN_H

#include <stdint.h>

/* Widest K the thin products serve (mhim_thin_fits). */
#define MHIM_THIN_KMAX 8
/* Largest K·D of mhim_thin_weighted_colsum (its fixed row-range partials live on the stack). */
#define MHIM_THIN_KD_MAX 1024

/* out (N, K) = h (N, D) · w (K, D)ᵀ, plus bias (K) when bias is non-NULL (torch.nn.functional.linear).
 * Row by row; each dot product is summed in double over 8 fixed lanes (element d in lane d % 8), then the lanes in
 * order. K ≤ MHIM_THIN_KMAX. */
void mhim_thin_dot_rows(float *out, const float *h, const float *w, const float *bias, int64_t N, int64_t K,
                        int64_t D);
/* out (N, D) = A (N, K) · w (K, D), or out += when accumulate (torch.mm(A, w)). Row by row, k in order, in float.
 * K ≤ MHIM_THIN_KMAX. */
void mhim_thin_combine_rows(float *out, int accumulate, const float *A, const float *w, int64_t N, int64_t K,
                            int64_t D);
/* Both of the above with the same w, in one pass over the rows: dots (N, K) = h · wᵀ (mhim_thin_dot_rows without
 * bias) and out (N, D) = A · w, or out += when accumulate (mhim_thin_combine_rows); the same results. Row i's dot
 * product and combination run together, so the reads of h and the writes of out stream at the same time. */
void mhim_thin_dot_combine_rows(float *dots, float *out, int accumulate, const float *h, const float *A,
                                const float *w, int64_t N, int64_t K, int64_t D);
/* z (K, D) = A (N, K)ᵀ · h (N, D), or z += when accumulate (torch.mm(A.T, h)). 8 fixed row ranges (bounds from N
 * only), each summed in row order in double, then combined in range order; N may be 0 (adds nothing).
 * K·D ≤ MHIM_THIN_KD_MAX. */
void mhim_thin_weighted_colsum(float *z, int accumulate, const float *A, const float *h, int64_t N, int64_t K,
                               int64_t D);

/* Whether a product with K thin columns against D-wide rows can run through all three kernels above. */
static inline int mhim_thin_fits(int64_t K, int64_t D) { return K <= MHIM_THIN_KMAX && K * D <= MHIM_THIN_KD_MAX; }

#endif
