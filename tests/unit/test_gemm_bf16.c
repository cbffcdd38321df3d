/* The CPU bf16 GEMM (src/ops/gemm_bf16.h), the bf16 first layer (mhim_embed_set_bf16) and the bf16 linear layers
 * (mhim_linear_set_bf16), both switched through mhim_precision_cpu_set:
 *  - all four transpose cases against a double reference on the bf16-rounded operands (mhim_float_to_bf16), with
 *    edge shapes (M not a multiple of the 8-row tile, N not a multiple of the 32-column panel, odd K, K over several
 *    k blocks, more than one row block and column block), alpha and beta, and beta = 0 never reading c (NaN there);
 *  - the rounding itself: a 1 x 1 x 1 product x · 1 gives the value of mhim_float_to_bf16(x) (ties to even,
 *    overflow to inf, NaN), and a bf16 subnormal input counts as 0 (the instruction's DAZ, docs/numerics.md);
 *  - 1 and 2 threads bitwise equal on the front end's two shapes;
 *  - the front end with the switch on: forward equal to the fp32 front end on bf16-valued inputs, weight gradient
 *    within bf16 rounding of the fp32 one, bias gradient bitwise equal (it stays fp32);
 *  - a linear layer with the linear switch on: forward, input and weight gradients equal to fp32 on bf16-valued
 *    operands, different from fp32 (within bf16 rounding) on other values, bias gradient bitwise fp32; a thin layer
 *    (2 outputs) bitwise unchanged; 1 and 2 threads bitwise equal;
 *  - strided blocks (mhim_gemm_bf16_ld) against the reference; calls from inside a parallel region (one per thread,
 *    as the attention heads make them) bitwise equal to the same call outside; the bf16_all switch routes mhim_gemm
 *    and mhim_gemm_ld to the bf16 GEMM (bitwise equal results) and off again to OpenBLAS.
 * Exits 77 (skipped) on a CPU without AVX512_BF16. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/half.h"
#include "mhim/models/embed.h"
#include "mhim/ops/linear.h"
#include "mhim/ops/precision.h"
#include "mhim/threads.h"
#include "ops/gemm.h"
#include "ops/gemm_bf16.h"

static double rounded(float x) { return (double)mhim_bf16_to_float(mhim_float_to_bf16(x)); }

/* Element (i, j) of op(x) for a packed row-major x with `cols` columns. */
static float op_at(const float *x, int trans, int64_t cols, int64_t i, int64_t j) {
    return trans ? x[j * cols + i] : x[i * cols + j];
}

/* One case against the double reference of the rounded operands; c starts as NaN when beta == 0. */
static int check_case(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, float beta) {
    test_rng r = {.s = (uint64_t)(M * 7919 + N * 104729 + K * 31 + ta * 2 + tb)};
    float *a = mhim_malloc((size_t)(M * K) * sizeof(float)), *b = mhim_malloc((size_t)(K * N) * sizeof(float));
    float *c = mhim_malloc((size_t)(M * N) * sizeof(float)), *want = mhim_malloc((size_t)(M * N) * sizeof(float));
    test_fill_uniform(&r, a, M * K, -1, 1);
    test_fill_uniform(&r, b, K * N, -1, 1);
    test_fill_uniform(&r, c, M * N, -1, 1);
    if (beta == 0.0f)
        for (int64_t i = 0; i < M * N; i++) c[i] = NAN;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++)
                s += rounded(op_at(a, ta, ta ? M : K, i, k)) * rounded(op_at(b, tb, tb ? K : N, k, j));
            want[i * N + j] = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * c[i * N + j]));
        }
    mhim_gemm_bf16(ta, tb, M, N, K, alpha, a, b, beta, c);
    char name[128];
    snprintf(name, sizeof name, "gemm_bf16 ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g", ta, tb, (long long)M,
             (long long)N, (long long)K, alpha, beta);
    /* fp32 sums of K products of magnitude <= 1 in another order than the reference */
    const int fail = check_close(name, c, want, M * N, 3e-7 * (double)K, 1e-5);
    free(a), free(b), free(c), free(want);
    return fail;
}

/* x · 1 for special values: the value of mhim_float_to_bf16(x) (bf16 subnormals as 0). */
static int check_rounding(void) {
    const float values[] = {1.0f + 0x1p-8f,  /* tie: down to the even 1 */
                            1.0f + 3 * 0x1p-8f, /* tie: up to the even 1 + 2^-6 */
                            -1.0f - 0x1p-8f - 0x1p-20f, /* above the tie: away from 0 */
                            3.14159265f, -0.0f, 0x1.fffffep127f /* rounds to inf */, INFINITY, -65504.0f,
                            0x1p-126f /* smallest normal */, 1e-40f /* subnormal: flushed */};
    int fail = 0;
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
        const float x = values[v], one = 1.0f;
        float got = 7.0f;
        mhim_gemm_bf16(0, 0, 1, 1, 1, 1.0f, &x, &one, 0.0f, &got);
        const int subnormal = fpclassify(x) == FP_SUBNORMAL;
        const float want = subnormal ? 0.0f : mhim_bf16_to_float(mhim_float_to_bf16(x));
        char name[96];
        snprintf(name, sizeof name, "bf16 rounding of %a: %a (want %a)", (double)x, (double)got, (double)want);
        fail += check_true(name, got == want); /* equal values (the sum starts at +0, so -0 gives +0) */
    }
    const float nan = NAN, one = 1.0f;
    float got = 0.0f;
    mhim_gemm_bf16(0, 0, 1, 1, 1, 1.0f, &nan, &one, 0.0f, &got);
    fail += check_true("bf16 rounding of NaN: NaN", isnan(got));
    return fail;
}

/* The front end's two products (x·Wᵀ and dhᵀ·x) with 1 and 2 threads: bitwise equal. */
static int check_threads_bitwise(void) {
    const int64_t M = 300, W = 512, D = 1030;
    test_rng r = {.s = 7};
    float *x = mhim_malloc((size_t)(M * D) * sizeof(float)), *w = mhim_malloc((size_t)(W * D) * sizeof(float));
    float *dh = mhim_malloc((size_t)(M * W) * sizeof(float));
    float *h[2], *dw[2];
    test_fill_uniform(&r, x, M * D, -1, 1);
    test_fill_uniform(&r, w, W * D, -1, 1);
    test_fill_uniform(&r, dh, M * W, -1, 1);
    for (int t = 0; t < 2; t++) {
        h[t] = mhim_malloc((size_t)(M * W) * sizeof(float));
        dw[t] = mhim_calloc((size_t)(W * D), sizeof(float));
        mhim_threads_init(t + 1);
        mhim_gemm_bf16(0, 1, M, W, D, 1.0f, x, w, 0.0f, h[t]);
        mhim_gemm_bf16(1, 0, W, D, M, 1.0f, dh, x, 1.0f, dw[t]);
    }
    int fail = check_true("x·Wᵀ 300x512x1030: 1 and 2 threads bitwise equal",
                          memcmp(h[0], h[1], (size_t)(M * W) * sizeof(float)) == 0);
    fail += check_true("dhᵀ·x 512x1030x300: 1 and 2 threads bitwise equal",
                       memcmp(dw[0], dw[1], (size_t)(W * D) * sizeof(float)) == 0);
    for (int t = 0; t < 2; t++) free(h[t]), free(dw[t]);
    free(x), free(w), free(dh);
    mhim_threads_init(2);
    return fail;
}

/* The front end (ReLU, no dropout) with the switch off and on, on bf16-valued rows and weight. */
static int check_front_end(void) {
    const int64_t N = 50, D = 40;
    mhim_embed_config cfg = {D, MHIM_EMBED_DIM, MHIM_ACT_RELU, 0.0f, 1};
    mhim_param_spec rows[MHIM_EMBED_SPEC_ROWS];
    mhim_embed_param_spec(&cfg, rows);
    mhim_param_layout L;
    mhim_embed e;
    MHIM_ASSERT(mhim_param_layout_init(&L, rows, MHIM_EMBED_SPEC_ROWS) == MHIM_OK);
    MHIM_ASSERT(mhim_embed_bind(&e, &cfg, &L) == MHIM_OK);
    float *params = mhim_params_alloc(&L), *grads[2] = {mhim_params_alloc(&L), mhim_params_alloc(&L)};
    float *x = mhim_malloc((size_t)(N * D) * sizeof(float)), *h[2], *dh[2];
    test_rng r = {.s = 11};
    test_fill_uniform(&r, params, L.total, -0.5f, 0.5f);
    test_fill_uniform(&r, x, N * D, -1, 1);
    for (int64_t i = 0; i < N * D; i++) x[i] = (float)rounded(x[i]);
    for (int64_t i = 0; i < MHIM_EMBED_DIM * D; i++) params[e.weight + i] = (float)rounded(params[e.weight + i]);
    mhim_arena arena;
    mhim_arena_init(&arena, "test front end", 2 * mhim_embed_arena_bytes(&cfg, N));
    for (int on = 0; on < 2; on++) {
        MHIM_ASSERT(mhim_precision_cpu_set(on ? MHIM_PRECISION_BF16 : MHIM_PRECISION_FP32) == MHIM_OK);
        mhim_arena_reset(&arena, 0);
        mhim_embed_cache cache;
        mhim_embed_forward(&cache, &arena, &e, params, x, N, NULL, N, NULL);
        h[on] = mhim_malloc((size_t)(N * MHIM_EMBED_DIM) * sizeof(float));
        memcpy(h[on], cache.h, (size_t)(N * MHIM_EMBED_DIM) * sizeof(float));
        dh[on] = mhim_malloc((size_t)(N * MHIM_EMBED_DIM) * sizeof(float));
        test_rng g = {.s = 5};
        test_fill_uniform(&g, dh[on], N * MHIM_EMBED_DIM, -1, 1);
        memset(grads[on], 0, (size_t)L.total * sizeof(float));
        mhim_embed_backward(&e, grads[on], dh[on], &cache);
    }
    MHIM_ASSERT(mhim_precision_cpu_set(MHIM_PRECISION_FP32) == MHIM_OK);
    int fail = check_close("front end bf16: forward on bf16-valued x, W_e", h[1], h[0], N * MHIM_EMBED_DIM, 1e-5, 1e-5);
    /* dh is rounded to bf16 in the weight gradient: relative 2^-9 per product, over N products of size <= 1 */
    fail += check_close("front end bf16: weight gradient", grads[1] + e.weight, grads[0] + e.weight,
                        MHIM_EMBED_DIM * D, 4e-3 * sqrt((double)N), 0.0);
    fail += check_true("front end bf16: bias gradient bitwise fp32",
                       memcmp(grads[1] + e.bias, grads[0] + e.bias, MHIM_EMBED_DIM * sizeof(float)) == 0);
    for (int on = 0; on < 2; on++) free(h[on]), free(dh[on]), mhim_params_free(grads[on]);
    free(x);
    mhim_params_free(params);
    mhim_arena_free(&arena);
    mhim_param_layout_free(&L);
    return fail;
}

/* One linear layer (N, C) -> OC with bias, forward and backward, with the linear switch at `precision`; the outputs
 * go to out (N·OC), dinp (N·C), dw (OC·C), db (OC). */
static void linear_run(mhim_precision precision, const float *inp, const float *w, const float *b, const float *dout,
                       int64_t N, int64_t C, int64_t OC, float *out, float *dinp, float *dw, float *db) {
    MHIM_ASSERT(mhim_precision_cpu_set(precision) == MHIM_OK);
    memset(dw, 0, (size_t)(OC * C) * sizeof(float));
    memset(db, 0, (size_t)OC * sizeof(float));
    mhim_linear_forward(out, inp, w, b, N, C, OC);
    mhim_linear_backward(dinp, dw, db, dout, inp, w, N, C, OC);
    MHIM_ASSERT(mhim_precision_cpu_set(MHIM_PRECISION_FP32) == MHIM_OK);
}

/* A linear layer with the linear switch off and on (a 130 x 300 -> 150 layer: several row blocks, odd K for the
 * weight gradient), on bf16-valued operands (equal to fp32 up to the summation order) and on other values (bf16
 * rounding); a thin layer; 1 and 2 threads. */
static int check_linear(void) {
    const int64_t N = 131, C = 300, OC = 150;
    test_rng r = {.s = 23};
    float *inp = mhim_malloc((size_t)(N * C) * sizeof(float)), *w = mhim_malloc((size_t)(OC * C) * sizeof(float));
    float *b = mhim_malloc((size_t)OC * sizeof(float)), *dout = mhim_malloc((size_t)(N * OC) * sizeof(float));
    float *out[2], *dinp[2], *dw[2], *db[2];
    for (int k = 0; k < 2; k++) {
        out[k] = mhim_malloc((size_t)(N * OC) * sizeof(float)), dinp[k] = mhim_malloc((size_t)(N * C) * sizeof(float));
        dw[k] = mhim_malloc((size_t)(OC * C) * sizeof(float)), db[k] = mhim_malloc((size_t)OC * sizeof(float));
    }
    test_fill_uniform(&r, inp, N * C, -1, 1);
    test_fill_uniform(&r, w, OC * C, -0.5f, 0.5f);
    test_fill_uniform(&r, b, OC, -0.5f, 0.5f);
    test_fill_uniform(&r, dout, N * OC, -1, 1);
    int fail = 0;
    /* other values: bf16 rounding (relative 2^-9 per operand) over C or N products of magnitude <= 1 */
    linear_run(MHIM_PRECISION_FP32, inp, w, b, dout, N, C, OC, out[0], dinp[0], dw[0], db[0]);
    linear_run(MHIM_PRECISION_BF16_LINEAR, inp, w, b, dout, N, C, OC, out[1], dinp[1], dw[1], db[1]);
    fail += check_close("linear bf16: forward within bf16 rounding", out[1], out[0], N * OC, 4e-3 * sqrt((double)C), 0);
    fail += check_close("linear bf16: input gradient within bf16 rounding", dinp[1], dinp[0], N * C,
                        4e-3 * sqrt((double)OC), 0);
    fail += check_close("linear bf16: weight gradient within bf16 rounding", dw[1], dw[0], OC * C,
                        4e-3 * sqrt((double)N), 0);
    fail += check_true("linear bf16: the forward is not the fp32 one (the switch rounds)",
                       memcmp(out[0], out[1], (size_t)(N * OC) * sizeof(float)) != 0);
    fail += check_true("linear bf16: bias gradient bitwise fp32", memcmp(db[0], db[1], (size_t)OC * sizeof(float)) == 0);
    /* bf16-valued operands: the products are exact, only the order of the fp32 sums differs */
    for (int64_t i = 0; i < N * C; i++) inp[i] = (float)rounded(inp[i]);
    for (int64_t i = 0; i < OC * C; i++) w[i] = (float)rounded(w[i]);
    for (int64_t i = 0; i < N * OC; i++) dout[i] = (float)rounded(dout[i]);
    linear_run(MHIM_PRECISION_FP32, inp, w, b, dout, N, C, OC, out[0], dinp[0], dw[0], db[0]);
    linear_run(MHIM_PRECISION_BF16_LINEAR, inp, w, b, dout, N, C, OC, out[1], dinp[1], dw[1], db[1]);
    fail += check_close("linear bf16: forward on bf16 values", out[1], out[0], N * OC, 1e-5, 1e-5);
    fail += check_close("linear bf16: input gradient on bf16 values", dinp[1], dinp[0], N * C, 1e-5, 1e-5);
    fail += check_close("linear bf16: weight gradient on bf16 values", dw[1], dw[0], OC * C, 1e-5, 1e-5);
    /* the thin layers stay fp32 */
    linear_run(MHIM_PRECISION_FP32, inp, w, b, dout, N, C, 2, out[0], dinp[0], dw[0], db[0]);
    linear_run(MHIM_PRECISION_BF16_LINEAR, inp, w, b, dout, N, C, 2, out[1], dinp[1], dw[1], db[1]);
    fail += check_true("linear bf16: a thin layer (2 outputs) bitwise fp32",
                       !memcmp(out[0], out[1], (size_t)(N * 2) * sizeof(float)) &&
                           !memcmp(dinp[0], dinp[1], (size_t)(N * C) * sizeof(float)) &&
                           !memcmp(dw[0], dw[1], (size_t)(2 * C) * sizeof(float)));
    /* 1 and 2 threads */
    for (int t = 0; t < 2; t++) {
        mhim_threads_init(t + 1);
        linear_run(MHIM_PRECISION_BF16_LINEAR, inp, w, b, dout, N, C, OC, out[t], dinp[t], dw[t], db[t]);
    }
    mhim_threads_init(2);
    fail += check_true("linear bf16: 1 and 2 threads bitwise equal",
                       !memcmp(out[0], out[1], (size_t)(N * OC) * sizeof(float)) &&
                           !memcmp(dinp[0], dinp[1], (size_t)(N * C) * sizeof(float)) &&
                           !memcmp(dw[0], dw[1], (size_t)(OC * C) * sizeof(float)));
    for (int k = 0; k < 2; k++) free(out[k]), free(dinp[k]), free(dw[k]), free(db[k]);
    free(inp), free(w), free(b), free(dout);
    return fail;
}

/* Strided blocks of larger arrays: c (M,N) at row stride ldc from a (row stride lda) and b (ldb), against the double
 * reference; the elements of c outside the block stay untouched. */
static int check_strided(int ta, int tb) {
    const int64_t M = 37, N = 45, K = 70, lda = 97, ldb = 101, ldc = 60;
    const int64_t a_rows = ta ? K : M, b_rows = tb ? N : K;
    test_rng r = {.s = (uint64_t)(17 + ta * 2 + tb)};
    float *a = mhim_malloc((size_t)(a_rows * lda) * sizeof(float)), *b = mhim_malloc((size_t)(b_rows * ldb) * sizeof(float));
    float *c = mhim_malloc((size_t)(M * ldc) * sizeof(float)), *want = mhim_malloc((size_t)(M * N) * sizeof(float));
    test_fill_uniform(&r, a, a_rows * lda, -1, 1);
    test_fill_uniform(&r, b, b_rows * ldb, -1, 1);
    for (int64_t i = 0; i < M * ldc; i++) c[i] = 7.0f;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++)
                s += rounded(ta ? a[k * lda + i] : a[i * lda + k]) * rounded(tb ? b[j * ldb + k] : b[k * ldb + j]);
            want[i * N + j] = (float)(s + 0.5 * 7.0);
        }
    mhim_gemm_bf16_ld(ta, tb, M, N, K, 1.0f, a, lda, b, ldb, 0.5f, c, ldc);
    double err = 0.0;
    int outside_kept = 1;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < ldc; j++) {
            if (j < N) err = fmax(err, fabs((double)c[i * ldc + j] - want[i * N + j]));
            else outside_kept = outside_kept && c[i * ldc + j] == 7.0f;
        }
    char name[96];
    snprintf(name, sizeof name, "gemm_bf16_ld ta=%d tb=%d strided: max abs err %.2e, outside untouched", ta, tb, err);
    const int fail = check_true(name, err <= 3e-7 * (double)K + 1e-5 && outside_kept);
    free(a), free(b), free(c), free(want);
    return fail;
}

/* Eight independent 256 x 256 x 64 products, as the attention heads run them (one per thread inside a parallel
 * region), against the same calls made one after another outside: bitwise equal; then the bf16_all switch. */
static int check_in_parallel_and_switch(void) {
    const int64_t H = 8, M = 256, N = 256, K = 64;
    test_rng r = {.s = 29};
    float *a = mhim_malloc((size_t)(H * M * K) * sizeof(float)), *b = mhim_malloc((size_t)(H * N * K) * sizeof(float));
    float *c[3];
    test_fill_uniform(&r, a, H * M * K, -1, 1);
    test_fill_uniform(&r, b, H * N * K, -1, 1);
    for (int v = 0; v < 3; v++) c[v] = mhim_malloc((size_t)(H * M * N) * sizeof(float));
    for (int64_t h = 0; h < H; h++)
        mhim_gemm_bf16(0, 1, M, N, K, 1.0f, a + h * M * K, b + h * N * K, 0.0f, c[0] + h * M * N);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t h = 0; h < H; h++)
        mhim_gemm_bf16(0, 1, M, N, K, 1.0f, a + h * M * K, b + h * N * K, 0.0f, c[1] + h * M * N);
    int fail = check_true("gemm_bf16 inside a parallel region (a head per thread): bitwise the serial calls",
                          memcmp(c[0], c[1], (size_t)(H * M * N) * sizeof(float)) == 0);
    /* the switch: mhim_gemm and mhim_gemm_ld give the bf16 GEMM's bits while on, OpenBLAS's after */
    MHIM_ASSERT(mhim_precision_cpu_set(MHIM_PRECISION_BF16_ALL) == MHIM_OK);
    mhim_gemm(0, 1, M, N, K, 1.0f, a, b, 0.0f, c[1]);
    mhim_gemm_ld(0, 1, M, N, K, 1.0f, a + M * K, K, b + N * K, K, 0.0f, c[1] + M * N, N);
    MHIM_ASSERT(mhim_precision_cpu_set(MHIM_PRECISION_FP32) == MHIM_OK);
    fail += check_true("bf16_all: mhim_gemm and mhim_gemm_ld run the bf16 GEMM",
                       memcmp(c[0], c[1], (size_t)(2 * M * N) * sizeof(float)) == 0);
    mhim_gemm(0, 1, M, N, K, 1.0f, a, b, 0.0f, c[2]);
    fail += check_true("fp32 again: mhim_gemm is OpenBLAS's (not the bf16 bits)",
                       memcmp(c[0], c[2], (size_t)(M * N) * sizeof(float)) != 0);
    for (int v = 0; v < 3; v++) free(c[v]);
    free(a), free(b);
    return fail;
}

int main(void) {
    if (!mhim_gemm_bf16_available()) {
        printf("skip: this CPU has no AVX512_BF16\n");
        return 77;
    }
    mhim_threads_init(2);
    int fail = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            fail += check_case(ta, tb, 13, 37, 19, 1.0f, 0.0f);
            fail += check_case(ta, tb, 1, 1, 1, 0.5f, 1.0f);
            fail += check_case(ta, tb, 9, 33, 301, 1.5f, 0.5f);
        }
    fail += check_case(0, 1, 130, 1030, 1100, 1.0f, 1.0f); /* 3 row, 2 column and 2 k blocks */
    fail += check_case(1, 0, 130, 1030, 1100, 1.0f, 1.0f);
    fail += check_case(0, 1, 70, 512, 1024, 1.0f, 0.0f); /* the front end's forward */
    fail += check_case(1, 0, 512, 1024, 151, 1.0f, 1.0f); /* its weight gradient on an odd bag */
    fail += check_rounding();
    fail += check_threads_bitwise();
    fail += check_front_end();
    fail += check_linear();
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) fail += check_strided(ta, tb);
    fail += check_in_parallel_and_switch();
    printf("%s\n", fail ? "FAIL" : "ok");
    return fail != 0;
}
