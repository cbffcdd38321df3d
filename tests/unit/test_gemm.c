/* The GEMM wrapper (src/ops/gemm.h): mhim_gemm_ld on strided blocks for all four transpose cases, below and above
 * MHIM_GEMM_SERIAL_MAX_MNK, with beta 0 and 1, against double references; the OpenBLAS thread count is restored
 * after each call (a small GEMM runs on the calling thread only for its own duration); mhim_gemm derives the leading
 * dimensions from the shapes; 1 and 2 threads give bitwise-equal products. Exits non-zero on a mismatch. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/threads.h"
#include "ops/gemm.h"

/* Element (i, j) of op(x) for a row-major x with leading dimension ld. */
static double op_at(const float *x, int trans, int64_t ld, int64_t i, int64_t j) {
    return trans ? x[j * ld + i] : x[i * ld + j];
}

/* c (M, N; ldc) = alpha · op(a) · op(b) + beta · c in double, rounded to float once. */
static void ref_gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++) s += op_at(a, ta, lda, i, k) * op_at(b, tb, ldb, k, j);
            c[i * ldc + j] = (float)(alpha * s + (double)beta * c[i * ldc + j]);
        }
}

/* One case: strided operands (each leading dimension 3 wider than the block), the padding columns of c untouched. */
static int check_case(int ta, int tb, int64_t M, int64_t N, int64_t K, float beta, int threads) {
    const int64_t ra = ta ? K : M, ca = ta ? M : K, rb = tb ? N : K, cb = tb ? K : N;
    const int64_t lda = ca + 3, ldb = cb + 3, ldc = N + 3;
    test_rng r = {.s = (uint64_t)(M * 7919 + N * 104729 + K * 31 + ta * 2 + tb)};
    float *a = mhim_malloc((size_t)(ra * lda) * sizeof(float)), *b = mhim_malloc((size_t)(rb * ldb) * sizeof(float));
    float *c = mhim_malloc((size_t)(M * ldc) * sizeof(float)), *want = mhim_malloc((size_t)(M * ldc) * sizeof(float));
    test_fill_uniform(&r, a, ra * lda, -1, 1);
    test_fill_uniform(&r, b, rb * ldb, -1, 1);
    test_fill_uniform(&r, c, M * ldc, -1, 1);
    memcpy(want, c, (size_t)(M * ldc) * sizeof(float));
    mhim_gemm_ld(ta, tb, M, N, K, 0.5f, a, lda, b, ldb, beta, c, ldc);
    ref_gemm(ta, tb, M, N, K, 0.5f, a, lda, b, ldb, beta, want, ldc);
    char name[160];
    snprintf(name, sizeof name, "gemm_ld ta=%d tb=%d M=%lld N=%lld K=%lld beta=%g (MNK %s the serial bound)", ta, tb,
             (long long)M, (long long)N, (long long)K, beta,
             (double)M * N * K < (double)MHIM_GEMM_SERIAL_MAX_MNK ? "below" : "above");
    int fail = check_close(name, c, want, M * ldc, 4e-7 * (double)K, 1e-5);
    snprintf(name, sizeof name, "OpenBLAS threads restored to %d", threads);
    fail += check_true(name, openblas_get_num_threads() == threads);
    free(a), free(b), free(c), free(want);
    return fail;
}

/* mhim_gemm's leading dimensions: the same product as mhim_gemm_ld on packed operands, bitwise. */
static int check_packed(int ta, int tb) {
    const int64_t M = 37, N = 29, K = 41;
    test_rng r = {.s = 99u + (uint64_t)(2 * ta + tb)};
    float *a = mhim_malloc((size_t)(M * K) * sizeof(float)), *b = mhim_malloc((size_t)(K * N) * sizeof(float));
    float *c1 = mhim_calloc((size_t)(M * N), sizeof(float)), *c2 = mhim_calloc((size_t)(M * N), sizeof(float));
    test_fill_uniform(&r, a, M * K, -1, 1);
    test_fill_uniform(&r, b, K * N, -1, 1);
    mhim_gemm(ta, tb, M, N, K, 1.0f, a, b, 0.0f, c1);
    mhim_gemm_ld(ta, tb, M, N, K, 1.0f, a, ta ? M : K, b, tb ? K : N, 0.0f, c2, N);
    char name[80];
    snprintf(name, sizeof name, "mhim_gemm ta=%d tb=%d = mhim_gemm_ld with packed strides", ta, tb);
    int fail = check_true(name, memcmp(c1, c2, (size_t)(M * N) * sizeof(float)) == 0);
    free(a), free(b), free(c1), free(c2);
    return fail;
}

/* A product above the serial bound run with 1 and 2 threads: bitwise equal. */
static int check_threads_bitwise(void) {
    const int64_t M = 300, N = 256, K = 200;
    test_rng r = {.s = 7};
    float *a = mhim_malloc((size_t)(M * K) * sizeof(float)), *b = mhim_malloc((size_t)(N * K) * sizeof(float));
    float *c[2] = {mhim_calloc((size_t)(M * N), sizeof(float)), mhim_calloc((size_t)(M * N), sizeof(float))};
    test_fill_uniform(&r, a, M * K, -1, 1);
    test_fill_uniform(&r, b, N * K, -1, 1);
    for (int t = 0; t < 2; t++) {
        mhim_threads_init(t + 1);
        mhim_gemm(0, 1, M, N, K, 1.0f, a, b, 0.0f, c[t]);
    }
    int fail = check_true("gemm 300x256x200: 1 and 2 threads bitwise equal",
                          memcmp(c[0], c[1], (size_t)(M * N) * sizeof(float)) == 0);
    free(a), free(b), free(c[0]), free(c[1]);
    return fail;
}

int main(void) {
    int fail = 0;
    const int threads = mhim_threads_init(2);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            fail += check_case(ta, tb, 5, 33, 17, 0.0f, threads);    /* small: the calling thread */
            fail += check_case(ta, tb, 7, 512, 230, 1.0f, threads);  /* an ELEPHANT bag's first layer */
            fail += check_case(ta, tb, 160, 150, 190, 1.0f, threads); /* above the bound: the thread pool */
            fail += check_packed(ta, tb);
        }
    fail += check_threads_bitwise();
    printf("%s\n", fail ? "FAIL" : "ok");
    return fail != 0;
}
