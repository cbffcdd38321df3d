/* bench_gemm_bf16 — the CPU bf16 GEMM of --precision=bf16 (src/ops/gemm_bf16.h) on the front end's two products
 * against cblas_sgemm of the same shapes, measured in the same run:
 *   fwd    h (N, 512) = x (N, 1024) · W (512, 1024)ᵀ
 *   wgrad  dW (512, 1024) += dh (N, 512)ᵀ · x (N, 1024)
 * usage: OMP_WAIT_POLICY=passive bench_gemm_bf16 [--threads T] [--reps R] [--n N1,N2,...] [--in C]
 *        (defaults 2, 10, 1000,8000,30000, 1024)
 * Prints one Markdown row per N: median ms and GFLOP/s (2·N·C·512 flops per product) of each GEMM, repetitions
 * interleaved, after 2 warm-ups; the bf16 rate over the sgemm rate. Exits 2 on a CPU without AVX512_BF16. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/clock.h"
#include "mhim/common.h"
#include "mhim/rng.h"
#include "mhim/threads.h"
#include "ops/gemm_bf16.h"

#define WARMUPS 2
#define MAX_REPS 200
#define OUT 512

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Time the four products at N rows; prints one table row. */
static void bench_size(int64_t N, int64_t C, int reps) {
    float *x = mhim_malloc((size_t)(N * C) * sizeof(float)), *w = mhim_malloc((size_t)(OUT * C) * sizeof(float));
    float *h = mhim_malloc((size_t)(N * OUT) * sizeof(float)), *dw = mhim_calloc((size_t)(OUT * C), sizeof(float));
    mhim_rng r = mhim_rng_stream(1, 0, 0, MHIM_RNG_SYNTH, 0);
    mhim_rng_fill_uniform(&r, 0, x, N * C, -1.0f, 1.0f);
    mhim_rng_fill_uniform(&r, 1ull << 40, w, OUT * C, -0.05f, 0.05f);
    mhim_rng_fill_uniform(&r, 1ull << 41, h, N * OUT, -1.0f, 1.0f);
    static double t[4][MAX_REPS];
    for (int rep = -WARMUPS; rep < reps; rep++) {
        double t0 = mhim_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, OUT, (int)C, 1.0f, x, (int)C, w, (int)C, 0.0f, h,
                    OUT);
        double t1 = mhim_seconds();
        mhim_gemm_bf16(0, 1, N, OUT, C, 1.0f, x, w, 0.0f, h);
        double t2 = mhim_seconds();
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, (int)C, (int)N, 1.0f, h, OUT, x, (int)C, 1.0f, dw,
                    (int)C);
        double t3 = mhim_seconds();
        mhim_gemm_bf16(1, 0, OUT, C, N, 1.0f, h, x, 1.0f, dw);
        double t4 = mhim_seconds();
        if (rep >= 0) t[0][rep] = t1 - t0, t[1][rep] = t2 - t1, t[2][rep] = t3 - t2, t[3][rep] = t4 - t3;
    }
    const double flops = 2.0 * (double)N * (double)C * OUT;
    double med[4];
    for (int k = 0; k < 4; k++) {
        qsort(t[k], (size_t)reps, sizeof(double), cmp_double);
        med[k] = t[k][reps / 2];
    }
    printf("| %lld |", (long long)N);
    for (int k = 0; k < 4; k++) printf(" %.2f | %.1f |", 1e3 * med[k], flops / med[k] * 1e-9);
    printf(" %.2fx | %.2fx |\n", med[0] / med[1], med[2] / med[3]);
    free(x), free(w), free(h), free(dw);
}

int main(int argc, char **argv) {
    int threads = 2, reps = 10;
    int64_t C = 1024;
    const char *sizes = "1000,8000,30000";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--n")) sizes = argv[i + 1];
        else if (!strcmp(argv[i], "--in")) C = atoll(argv[i + 1]);
    }
    if (!mhim_gemm_bf16_available()) return fprintf(stderr, "bench_gemm_bf16: this CPU has no AVX512_BF16\n"), 2;
    reps = MHIM_MAX(1, MHIM_MIN(reps, MAX_REPS));
    threads = mhim_threads_init(threads);
    printf("# bench_gemm_bf16: threads %d, in %lld, out %d, median of %d after %d warm-ups\n", threads, (long long)C,
           OUT, reps, WARMUPS);
    printf("| N | sgemm fwd ms | GFLOP/s | bf16 fwd ms | GFLOP/s | sgemm wgrad ms | GFLOP/s | bf16 wgrad ms | GFLOP/s "
           "| fwd bf16 / sgemm | wgrad bf16 / sgemm |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const char *s = sizes; *s;) {
        char *end;
        const long long n = strtoll(s, &end, 10);
        if (end == s || n < 1) return fprintf(stderr, "bench_gemm_bf16: --n %s: expected N1,N2,...\n", sizes), 2;
        bench_size(n, C, reps);
        s = *end == ',' ? end + 1 : end;
    }
    return 0;
}
