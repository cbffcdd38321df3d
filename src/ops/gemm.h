/* src/ops/gemm.h — the one cblas_sgemm wrapper of the CPU code (private to src/ops, src/models and src/mhim).
 * Row-major c (M,N) = alpha · op(a) · op(b) + beta · c, with op(a) (M,K) and op(b) (K,N) after the optional
 * transpositions. Dimensions must fit in int (checked). A result never depends on how many threads run the GEMM
 * (OpenBLAS splits the output, never the K sum), so the thread choices below change timings only. */
#ifndef MHIM_OPS_GEMM_H
#define MHIM_OPS_GEMM_H

#include <stdint.h>

/* GEMMs with M·N·K below this (~8 MFLOP, ~0.1 ms on one core) run on the calling thread: handing such a product to
 * OpenBLAS's thread pool costs a wake-up and a yield-spin of the caller, which made 2 threads ~15% slower than 1 on
 * bags of a few instances (docs/benchmarks.md, "Small GEMMs"). */
#define MHIM_GEMM_SERIAL_MAX_MNK (1LL << 22)

/* d as a BLAS int; aborts if it does not fit. */
int mhim_blas_dim(int64_t d);
/* Leading dimensions follow from the shapes (a: trans_a ? M : K, b: trans_b ? K : N, c: N). */
void mhim_gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *a, const float *b,
               float beta, float *c);
/* The same on strided blocks: lda, ldb, ldc are the BLAS leading dimensions (row strides) of a, b and c. */
void mhim_gemm_ld(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t lda,
                  const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* --precision=bf16_all (mhim/ops/precision.h): while on, every GEMM of this wrapper runs as mhim_gemm_bf16_ld
 * (operands rounded to bf16, fp32 sums in a fixed order; ops/gemm_bf16.h), also inside parallel regions. Off by
 * default; turning it on requires mhim_gemm_bf16_available(). Set it outside parallel regions. */
void mhim_gemm_set_bf16(int on);

/* Head-parallel sections: between mhim_gemm_serial_begin() and mhim_gemm_serial_end(token) every GEMM runs on the
 * calling thread alone, so independent per-head products can be spread over the OpenMP threads with
 * `omp parallel for` (one head per thread at a time, no thread-pool hand-off per small GEMM). Call both outside any
 * parallel region. */
int mhim_gemm_serial_begin(void);
void mhim_gemm_serial_end(int token);

#endif
