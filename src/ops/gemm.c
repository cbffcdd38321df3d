/* The cblas_sgemm wrapper of the CPU code (see ops/gemm.h). */
#include "ops/gemm.h"

#include <cblas.h>
#include <limits.h>
#ifdef MHIM_HAVE_OPENMP
#include <omp.h>
#endif

#include "mhim/common.h"
#include "ops/gemm_bf16.h"

/* The process-wide switch of mhim_gemm_set_bf16. */
static int all_bf16;

void mhim_gemm_set_bf16(int on) {
    MHIM_ASSERT(!on || mhim_gemm_bf16_available());
    all_bf16 = on != 0;
}

int mhim_blas_dim(int64_t d) {
    MHIM_ASSERT(d >= 0 && d <= INT_MAX);
    return (int)d;
}

/* 1 when the caller runs inside an OpenMP parallel region (where the OpenBLAS thread count must not be touched). */
static int in_parallel_region(void) {
#ifdef MHIM_HAVE_OPENMP
    return omp_in_parallel();
#else
    return 0;
#endif
}

void mhim_gemm_ld(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t lda,
                  const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    if (all_bf16) {
        mhim_gemm_bf16_ld(trans_a, trans_b, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    const int small = (double)M * (double)N * (double)K < (double)MHIM_GEMM_SERIAL_MAX_MNK && !in_parallel_region();
    const int token = small ? mhim_gemm_serial_begin() : 0;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                mhim_blas_dim(M), mhim_blas_dim(N), mhim_blas_dim(K), alpha, a, mhim_blas_dim(lda), b,
                mhim_blas_dim(ldb), beta, c, mhim_blas_dim(ldc));
    mhim_gemm_serial_end(token);
}

void mhim_gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *a, const float *b,
               float beta, float *c) {
    mhim_gemm_ld(trans_a, trans_b, M, N, K, alpha, a, trans_a ? M : K, b, trans_b ? K : N, beta, c, N);
}

/* openblas_get_parallel(): 0 sequential build, 1 pthreads, 2 OpenMP (which already runs GEMMs single-threaded
 * inside a parallel region, and whose set_num_threads would also shrink our OpenMP team). */
int mhim_gemm_serial_begin(void) {
    if (openblas_get_parallel() != 1) return 0;
    int threads = openblas_get_num_threads();
    if (threads > 1) openblas_set_num_threads(1);
    return threads;
}

void mhim_gemm_serial_end(int token) {
    if (token > 1) openblas_set_num_threads(token);
}
