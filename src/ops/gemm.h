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

/* Head-parallel sections: between mhim_gemm_serial_begin() and mhim_gemm_serial_end(token) every GEMM runs on the
 * calling thread alone, so independent per-head products can be spread over the OpenMP threads with
 * `omp parallel for` (one head per thread at a time, no thread-pool hand-off per small GEMM). Call both outside any
 * parallel region. A GEMM's result does not depend on how many threads run it (OpenBLAS splits the output, never
 * the K sum), so a section changes timings only. */
int mhim_gemm_serial_begin(void);
void mhim_gemm_serial_end(int token);

#endif
