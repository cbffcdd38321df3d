/* Nyström row kernels against their plain references: the floored row softmax against mhim_softmax_rows_forward
 * (narrow logits: within 1e-6; logits spread over ±1000: rows still sum to 1, entries below the floor are
 * < 2e-38), the row-range residual convolution against the rows of the full one (bitwise), and the row-range
 * backward of the residual convolution against the whole backward on a gradient that is zero outside the rows (with
 * NaN there instead, to show those rows are not read), and its weight gradient, bitwise, against one dot product
 * per (head, tap) in the library's lane order, on 1 and 2 threads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/ops/nystrom.h"
#include "mhim/ops/softmax.h"
#include "mhim/threads.h"

static int test_softmax(void) {
    const int64_t R = 37, L = 301; /* odd sizes: vector bodies and scalar tails */
    float *x = mhim_malloc((size_t)(R * L) * sizeof(float)), *want = mhim_malloc((size_t)(R * L) * sizeof(float));
    float *got = mhim_malloc((size_t)(R * L) * sizeof(float));
    test_rng r = {.s = 7};
    int fails = 0;
    test_fill_uniform(&r, x, R * L, -4.0f, 4.0f);
    mhim_softmax_rows_forward(want, x, NULL, R, L);
    memcpy(got, x, (size_t)(R * L) * sizeof(float));
    mhim_nystrom_softmax_rows(got, R, L);
    fails += check_close("softmax, logits in [-4, 4]", got, want, R * L, 1e-6, 1e-6);

    test_fill_uniform(&r, x, R * L, -1000.0f, 1000.0f);
    memcpy(got, x, (size_t)(R * L) * sizeof(float));
    mhim_nystrom_softmax_rows(got, R, L);
    int rows_ok = 1, floor_ok = 1;
    for (int64_t i = 0; i < R; i++) {
        double sum = 0.0;
        float max = -INFINITY;
        for (int64_t j = 0; j < L; j++) sum += got[i * L + j], max = fmaxf(max, x[i * L + j]);
        rows_ok &= fabs(sum - 1.0) < 1e-6;
        for (int64_t j = 0; j < L; j++)
            if (x[i * L + j] < max - 90.0f) floor_ok &= got[i * L + j] < 2e-38f && got[i * L + j] >= 0.0f;
    }
    printf("  logits in [-1000, 1000]: rows sum to 1: %d, floored entries < 2e-38: %d\n", rows_ok, floor_ok);
    fails += check_true("wide logits: every row sums to 1", rows_ok);
    fails += check_true("wide logits: entries far below the max are (almost) zero", floor_ok);
    free(x), free(want), free(got);
    return fails;
}

static int test_res_conv_rows(void) {
    const int64_t H = 3, T = 90, dh = 5, I = H * dh;
    float *v = mhim_malloc((size_t)(H * T * dh) * sizeof(float)), *w = mhim_malloc((size_t)(H * 33) * sizeof(float));
    float *full = mhim_calloc((size_t)(H * T * dh), sizeof(float)), *rows = mhim_calloc((size_t)(T * I), sizeof(float));
    test_rng r = {.s = 3};
    test_fill_uniform(&r, v, H * T * dh, -1.0f, 1.0f);
    test_fill_uniform(&r, w, H * 33, -0.5f, 0.5f);
    mhim_nystrom_res_conv_forward_acc(full, v, w, H, T, dh);
    /* three uneven row ranges, merged layout (row t, head h at t·I + h·dh) */
    mhim_nystrom_res_conv_rows_acc(rows, I, v, w, H, T, dh, 0, 10);
    mhim_nystrom_res_conv_rows_acc(rows + 10 * I, I, v, w, H, T, dh, 10, 61);
    mhim_nystrom_res_conv_rows_acc(rows + 71 * I, I, v, w, H, T, dh, 71, T - 71);
    int same = 1;
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++)
            same &= memcmp(rows + t * I + h * dh, full + (h * T + t) * dh, (size_t)dh * sizeof(float)) == 0;
    int fails = check_true("row-range residual conv = rows of the full one, bitwise", same);
    free(v), free(w), free(full), free(rows);
    return fails;
}

/* Gradient rows [t0, t0 + rows) of every head; dh = 64 (dot lanes follow the column: bitwise) and dh = 5 (close). */
static int test_res_conv_backward_rows(int64_t dh, int64_t t0, int64_t rows) {
    const int64_t H = 2, T = 120, n = H * T * dh;
    float *v = mhim_malloc((size_t)n * sizeof(float)), *w = mhim_malloc((size_t)(H * 33) * sizeof(float));
    float *g_zero = mhim_calloc((size_t)n, sizeof(float)), *g_nan = mhim_malloc((size_t)n * sizeof(float));
    float *dv_whole = mhim_calloc((size_t)n, sizeof(float)), *dv_rows = mhim_calloc((size_t)n, sizeof(float));
    float dw_whole[66] = {0}, dw_rows[66] = {0};
    test_rng r = {.s = (uint64_t)(dh + t0)};
    test_fill_uniform(&r, v, n, -1.0f, 1.0f);
    test_fill_uniform(&r, w, H * 33, -0.5f, 0.5f);
    for (int64_t j = 0; j < n; j++) g_nan[j] = NAN;
    for (int64_t h = 0; h < H; h++)
        for (int64_t t = t0; t < t0 + rows; t++)
            for (int64_t d = 0; d < dh; d++) {
                const float x = test_uniform(&r, -1.0f, 1.0f);
                g_zero[(h * T + t) * dh + d] = g_nan[(h * T + t) * dh + d] = x;
            }
    mhim_nystrom_res_conv_backward_acc(dv_whole, dw_whole, g_zero, v, w, H, T, dh);
    mhim_nystrom_res_conv_backward_rows_acc(dv_rows, dw_rows, g_nan, v, w, H, T, dh, t0, rows);
    char name[96];
    const double tol = dh % 16 == 0 ? 0.0 : 1e-6;
    snprintf(name, sizeof name, "res-conv backward rows [%lld, %lld), dh=%lld: dv", (long long)t0,
             (long long)(t0 + rows), (long long)dh);
    int fails = check_close(name, dv_rows, dv_whole, n, tol, 0);
    snprintf(name, sizeof name, "res-conv backward rows [%lld, %lld), dh=%lld: dw", (long long)t0,
             (long long)(t0 + rows), (long long)dh);
    fails += check_close(name, dw_rows, dw_whole, H * 33, tol, 0);
    free(v), free(w), free(g_zero), free(g_nan), free(dv_whole), free(dv_rows);
    return fails;
}

/* The weight gradient as one dot product per (head, tap): element k of the span of gradient rows whose shifted row
 * lies in [0, T) in lane k mod 16, the lanes added as 8, 4, 2, 1 pairs, in double; rounded to float. */
static void res_conv_dw_reference(float *dw, const float *dout, const float *v, int64_t H, int64_t T, int64_t dh,
                                  int64_t t0, int64_t rows) {
    for (int64_t h = 0; h < H; h++)
        for (int64_t j = 0; j < 33; j++) {
            const int64_t shift = j - 16, t_lo = t0 > -shift ? t0 : -shift;
            const int64_t t_hi = t0 + rows < T - shift ? t0 + rows : T - shift;
            double lane[16] = {0};
            for (int64_t k = 0; k < (t_hi - t_lo) * dh; k++)
                lane[k % 16] += (double)dout[(h * T + t_lo) * dh + k] * v[(h * T + t_lo + shift) * dh + k];
            for (int w = 8; w >= 1; w /= 2)
                for (int k = 0; k < w; k++) lane[k] += lane[k + w];
            dw[h * 33 + j] = (float)lane[0];
        }
}

/* The library's weight gradient (taken over blocks of rows, tap groups per thread count) equals the reference
 * bitwise, on 1 and 2 threads; H = 1 gives the 2-thread run two tap groups. */
static int test_res_conv_dw_bitwise(int64_t H, int64_t T, int64_t dh, int64_t t0, int64_t rows) {
    const int64_t n = H * T * dh;
    float *v = mhim_malloc((size_t)n * sizeof(float)), *g = mhim_malloc((size_t)n * sizeof(float));
    float *w = mhim_malloc((size_t)(H * 33) * sizeof(float)), *dv = mhim_calloc((size_t)n, sizeof(float));
    float *want = mhim_malloc((size_t)(H * 33) * sizeof(float)), *got = mhim_malloc((size_t)(H * 33) * sizeof(float));
    test_rng r = {.s = (uint64_t)(H * 1000 + T + dh)};
    test_fill_uniform(&r, v, n, -1.0f, 1.0f);
    test_fill_uniform(&r, g, n, -1.0f, 1.0f);
    test_fill_uniform(&r, w, H * 33, -0.5f, 0.5f);
    res_conv_dw_reference(want, g, v, H, T, dh, t0, rows);
    int fails = 0;
    for (int threads = 1; threads <= 2; threads++) {
        mhim_threads_init(threads);
        memset(got, 0, (size_t)(H * 33) * sizeof(float));
        mhim_nystrom_res_conv_backward_rows_acc(dv, got, g, v, w, H, T, dh, t0, rows);
        char name[112];
        snprintf(name, sizeof name, "res-conv dw, H=%lld T=%lld dh=%lld rows [%lld, %lld), %d thread(s): bitwise",
                 (long long)H, (long long)T, (long long)dh, (long long)t0, (long long)(t0 + rows), threads);
        fails += check_true(name, memcmp(got, want, (size_t)(H * 33) * sizeof(float)) == 0);
    }
    free(v), free(g), free(w), free(dv), free(want), free(got);
    return fails;
}

int main(void) {
    int fails = test_softmax() + test_res_conv_rows();
    fails += test_res_conv_backward_rows(64, 7, 1);  /* a cls row after 7 rows of padding */
    fails += test_res_conv_backward_rows(64, 0, 120); /* every row */
    fails += test_res_conv_backward_rows(5, 40, 30);  /* an interior block, dh not a multiple of 16 */
    fails += test_res_conv_backward_rows(5, 100, 20); /* up to the last row */
    fails += test_res_conv_dw_bitwise(1, 300, 64, 0, 300); /* three row blocks, two tap groups on 2 threads */
    fails += test_res_conv_dw_bitwise(3, 300, 64, 37, 250); /* blocks starting mid-way, one tap group */
    fails += test_res_conv_dw_bitwise(1, 300, 5, 3, 290);   /* lanes that start mid-row (dh = 5) */
    fails += test_res_conv_dw_bitwise(2, 40, 5, 39, 1);     /* one row: the cls row of layer 2 */
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails != 0;
}
