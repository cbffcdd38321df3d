/* src/ops/gemm.h — the one cblas_sgemm wrapper of the CPU ops (private to src/ops and src/models).
 * Row-major c (M,N) = alpha · op(a) · op(b) + beta · c, with op(a) (M,K) and op(b) (K,N) after the optional
 * transpositions; leading dimensions follow from the shapes. Dimensions must fit in int (checked). */
#ifndef MHIM_OPS_GEMM_H
#define MHIM_OPS_GEMM_H

#include <stdint.h>

/* d as a BLAS int; aborts if it does not fit. */
int mhim_blas_dim(int64_t d);
void mhim_gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *a, const float *b,
               float beta, float *c);

#endif
