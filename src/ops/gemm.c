/* The cblas_sgemm wrapper of the CPU ops (see ops/gemm.h). */
#include "ops/gemm.h"

#include <cblas.h>
#include <limits.h>

#include "mhim/common.h"

int mhim_blas_dim(int64_t d) {
    MHIM_ASSERT(d >= 0 && d <= INT_MAX);
    return (int)d;
}

void mhim_gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *a, const float *b,
               float beta, float *c) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                mhim_blas_dim(M), mhim_blas_dim(N), mhim_blas_dim(K), alpha, a, mhim_blas_dim(trans_a ? M : K), b,
                mhim_blas_dim(trans_b ? K : N), beta, c, mhim_blas_dim(N));
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
