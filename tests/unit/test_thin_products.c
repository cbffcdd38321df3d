/* The thin matrix products (src/ops/thin.h) against double-precision references, written and accumulated, on shapes
 * with one row, with D not a multiple of the 8 dot lanes, with N not a multiple of the 8 row ranges, and large enough
 * for the OpenMP loops to run in parallel; the one-pass dot-and-combine bitwise equal to the two kernels it joins;
 * then bitwise equality of 1 and 2 threads, and the thin path of the Linear layer (OC = 2, DSMIL's instance
 * classifier) against the same references. Exits non-zero on a mismatch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/ops/linear.h"
#include "mhim/threads.h"
#include "ops/thin.h"

typedef struct {
    int64_t N, K, D;
    float *h, *A, *w, *bias;
} inputs;

static inputs make_inputs(int64_t N, int64_t K, int64_t D) {
    test_rng r = {.s = (uint64_t)(N * 131 + K * 17 + D)};
    inputs in = {N, K, D, mhim_malloc((size_t)(N * D) * sizeof(float)), mhim_malloc((size_t)(N * K) * sizeof(float)),
                 mhim_malloc((size_t)(K * D) * sizeof(float)), mhim_malloc((size_t)K * sizeof(float))};
    test_fill_uniform(&r, in.h, N * D, -1, 1);
    test_fill_uniform(&r, in.A, N * K, -1, 1);
    test_fill_uniform(&r, in.w, K * D, -1, 1);
    test_fill_uniform(&r, in.bias, K, -1, 1);
    return in;
}

static void free_inputs(inputs *in) { free(in->h), free(in->A), free(in->w), free(in->bias); }

/* Tolerance of a float result of a sum of n products of values in [-1, 1]: a few ulp of the largest partial sum. */
static double sum_atol(int64_t n) { return 4e-7 * (double)n; }

/* out (N, K) = h · wᵀ + bias, (N, D) = A · w, (K, D) = Aᵀ · h, each in double, added to `base` (float) when given. */
static void ref_dot(float *out, const inputs *in, int bias) {
    for (int64_t i = 0; i < in->N; i++)
        for (int64_t k = 0; k < in->K; k++) {
            double s = bias ? in->bias[k] : 0.0;
            for (int64_t d = 0; d < in->D; d++) s += (double)in->h[i * in->D + d] * in->w[k * in->D + d];
            out[i * in->K + k] = (float)s;
        }
}

static void ref_combine(float *out, const float *base, const inputs *in) {
    for (int64_t i = 0; i < in->N; i++)
        for (int64_t d = 0; d < in->D; d++) {
            double s = base ? base[i * in->D + d] : 0.0;
            for (int64_t k = 0; k < in->K; k++) s += (double)in->A[i * in->K + k] * in->w[k * in->D + d];
            out[i * in->D + d] = (float)s;
        }
}

static void ref_colsum(float *out, const float *base, const inputs *in) {
    for (int64_t k = 0; k < in->K; k++)
        for (int64_t d = 0; d < in->D; d++) {
            double s = 0.0;
            for (int64_t i = 0; i < in->N; i++) s += (double)in->A[i * in->K + k] * in->h[i * in->D + d];
            out[k * in->D + d] = (float)((base ? base[k * in->D + d] : 0.0) + s);
        }
}

/* The three kernels (dot with bias, combine accumulated onto `base_nd`, colsum accumulated onto `base_kd`) into
 * out_dot (N, K), out_comb (N, D), out_col (K, D). */
static void run_thin(float *out_dot, float *out_comb, float *out_col, const float *base_nd, const float *base_kd,
                     const inputs *in) {
    memcpy(out_comb, base_nd, (size_t)(in->N * in->D) * sizeof(float));
    memcpy(out_col, base_kd, (size_t)(in->K * in->D) * sizeof(float));
    mhim_thin_dot_rows(out_dot, in->h, in->w, in->bias, in->N, in->K, in->D);
    mhim_thin_combine_rows(out_comb, 1, in->A, in->w, in->N, in->K, in->D);
    mhim_thin_weighted_colsum(out_col, 1, in->A, in->h, in->N, in->K, in->D);
}

/* The one-pass dot-and-combine (the attention pooling's backward) gives bitwise the results of mhim_thin_dot_rows
 * (no bias) and mhim_thin_combine_rows with the same w, written and accumulated onto base_nd. */
static int check_fused(const inputs *in, const float *base_nd) {
    const size_t nk = (size_t)(in->N * in->K), nd = (size_t)(in->N * in->D);
    float *dots = mhim_malloc(nk * sizeof(float)), *want_dots = mhim_malloc(nk * sizeof(float));
    float *comb = mhim_malloc(nd * sizeof(float)), *want_comb = mhim_malloc(nd * sizeof(float));
    char name[96];
    int fails = 0;
    for (int acc = 0; acc <= 1; acc++) {
        if (acc) memcpy(comb, base_nd, nd * sizeof(float)), memcpy(want_comb, base_nd, nd * sizeof(float));
        mhim_thin_dot_combine_rows(dots, comb, acc, in->h, in->A, in->w, in->N, in->K, in->D);
        mhim_thin_dot_rows(want_dots, in->h, in->w, NULL, in->N, in->K, in->D);
        mhim_thin_combine_rows(want_comb, acc, in->A, in->w, in->N, in->K, in->D);
        snprintf(name, sizeof name, "dot_combine_rows N=%lld K=%lld D=%lld acc=%d: bitwise as the two kernels",
                 (long long)in->N, (long long)in->K, (long long)in->D, acc);
        fails += check_true(name, !memcmp(dots, want_dots, nk * sizeof(float)) &&
                                      !memcmp(comb, want_comb, nd * sizeof(float)));
    }
    free(dots), free(want_dots), free(comb), free(want_comb);
    return fails;
}

static int check_shape(int64_t N, int64_t K, int64_t D) {
    inputs in = make_inputs(N, K, D);
    const size_t nk = (size_t)(N * K), nd = (size_t)(N * D), kd = (size_t)(K * D);
    float *got = mhim_malloc(nd * sizeof(float)), *want = mhim_malloc(nd * sizeof(float));
    float *base_nd = mhim_malloc(nd * sizeof(float)), *base_kd = mhim_malloc(kd * sizeof(float));
    test_rng r = {.s = 99};
    test_fill_uniform(&r, base_nd, (int64_t)nd, -1, 1);
    test_fill_uniform(&r, base_kd, (int64_t)kd, -1, 1);
    char name[96];
    int fails = 0;

    for (int bias = 0; bias <= 1; bias++) {
        mhim_thin_dot_rows(got, in.h, in.w, bias ? in.bias : NULL, N, K, D);
        ref_dot(want, &in, bias);
        snprintf(name, sizeof name, "dot_rows N=%lld K=%lld D=%lld bias=%d", (long long)N, (long long)K,
                 (long long)D, bias);
        fails += check_close(name, got, want, (int64_t)nk, sum_atol(D), 0);
    }
    for (int acc = 0; acc <= 1; acc++) {
        if (acc) memcpy(got, base_nd, nd * sizeof(float));
        mhim_thin_combine_rows(got, acc, in.A, in.w, N, K, D);
        ref_combine(want, acc ? base_nd : NULL, &in);
        snprintf(name, sizeof name, "combine_rows N=%lld K=%lld D=%lld acc=%d", (long long)N, (long long)K,
                 (long long)D, acc);
        fails += check_close(name, got, want, (int64_t)nd, sum_atol(K + 1), 0);
    }
    fails += check_fused(&in, base_nd);
    if (K * D <= MHIM_THIN_KD_MAX)
        for (int acc = 0; acc <= 1; acc++) {
            if (acc) memcpy(got, base_kd, kd * sizeof(float));
            mhim_thin_weighted_colsum(got, acc, in.A, in.h, N, K, D);
            ref_colsum(want, acc ? base_kd : NULL, &in);
            snprintf(name, sizeof name, "weighted_colsum N=%lld K=%lld D=%lld acc=%d", (long long)N, (long long)K,
                     (long long)D, acc);
            fails += check_close(name, got, want, (int64_t)kd, sum_atol(N + 1), 0);
        }
    free(got), free(want), free(base_nd), free(base_kd);
    free_inputs(&in);
    return fails;
}

/* Results of 1 and 2 threads bitwise equal, on a shape whose loops run in parallel (N·D above the ops' threshold). */
static int check_threads(int64_t N, int64_t K, int64_t D) {
    inputs in = make_inputs(N, K, D);
    const size_t nk = (size_t)(N * K), nd = (size_t)(N * D), kd = (size_t)(K * D);
    float *base_nd = mhim_calloc(nd, sizeof(float)), *base_kd = mhim_calloc(kd, sizeof(float));
    float *out[2][5];
    for (int t = 0; t < 2; t++) {
        out[t][0] = mhim_malloc(nk * sizeof(float)), out[t][1] = mhim_malloc(nd * sizeof(float));
        out[t][2] = mhim_malloc(kd * sizeof(float));
        out[t][3] = mhim_malloc(nk * sizeof(float)), out[t][4] = mhim_malloc(nd * sizeof(float));
        mhim_threads_init(t + 1);
        run_thin(out[t][0], out[t][1], out[t][2], base_nd, base_kd, &in);
        mhim_thin_dot_combine_rows(out[t][3], out[t][4], 0, in.h, in.A, in.w, N, K, D);
    }
    const size_t bytes[5] = {nk * sizeof(float), nd * sizeof(float), kd * sizeof(float), nk * sizeof(float),
                             nd * sizeof(float)};
    int same[5];
    for (int j = 0; j < 5; j++) same[j] = !memcmp(out[0][j], out[1][j], bytes[j]);
    int fails = check_true("dot_rows: 1 vs 2 threads bitwise", same[0]) +
                check_true("combine_rows: 1 vs 2 threads bitwise", same[1]) +
                check_true("weighted_colsum: 1 vs 2 threads bitwise", same[2]) +
                check_true("dot_combine_rows: 1 vs 2 threads bitwise", same[3] && same[4]);
    for (int t = 0; t < 2; t++)
        for (int j = 0; j < 5; j++) free(out[t][j]);
    free(base_nd), free(base_kd);
    free_inputs(&in);
    return fails;
}

/* The Linear layer with 2 outputs takes the thin path: forward, input gradient (written) and weight gradient
 * (accumulated onto its previous value) against the references. */
static int check_linear(int64_t N, int64_t C) {
    const int64_t OC = 2;
    inputs in = make_inputs(N, OC, C); /* h = input (N, C), w = weight (OC, C), A = upstream gradient (N, OC) */
    float *out = mhim_malloc((size_t)(N * OC) * sizeof(float)), *want = mhim_malloc((size_t)(N * C) * sizeof(float));
    float *dx = mhim_malloc((size_t)(N * C) * sizeof(float)), *dw = mhim_calloc((size_t)(OC * C), sizeof(float));
    float *db = mhim_calloc((size_t)OC, sizeof(float));
    int fails = check_true("linear OC=2 takes the thin path", mhim_thin_fits(OC, C));
    mhim_linear_forward(out, in.h, in.w, in.bias, N, C, OC);
    ref_dot(want, &in, 1);
    fails += check_close("linear OC=2 forward", out, want, N * OC, sum_atol(C), 0);
    for (int64_t j = 0; j < OC * C; j++) dw[j] = 0.5f;
    mhim_linear_backward(dx, dw, db, in.A, in.h, in.w, N, C, OC);
    ref_combine(want, NULL, &in);
    fails += check_close("linear OC=2 input gradient", dx, want, N * C, sum_atol(OC), 0);
    float *half = mhim_malloc((size_t)(OC * C) * sizeof(float));
    for (int64_t j = 0; j < OC * C; j++) half[j] = 0.5f;
    ref_colsum(want, half, &in);
    fails += check_close("linear OC=2 weight gradient (accumulated)", dw, want, OC * C, sum_atol(N + 1), 0);
    free(out), free(want), free(dx), free(dw), free(db), free(half);
    free_inputs(&in);
    return fails;
}

int main(void) {
    int fails = 0;
    fails += check_shape(1, 1, 1);
    fails += check_shape(13, 2, 512);
    fails += check_shape(37, 3, 130);
    fails += check_shape(9, 8, 128);
    fails += check_shape(5000, 2, 512);
    fails += check_shape(3001, 8, 37);
    fails += check_threads(5000, 2, 512);
    fails += check_threads(4099, 5, 100);
    fails += check_linear(3001, 512);
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "PASS", fails);
    return fails != 0;
}
