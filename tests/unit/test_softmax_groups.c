/* The vectorised softmax kernels (src/ops/softmax.c) against a double-precision evaluation, at lengths that exercise
 * every part of their lane structure (1, 31, 32, a full float block of 256 plus a tail, several blocks: 4099, 8000)
 * and in every layout: contiguous unmasked (attention rows, ABMIL's instances), contiguous masked (with a masked logit
 * far above every kept one, which must not move the result), strided (DSMIL's (N, C) columns, masked and unmasked),
 * plus the all-masked group. Forward probabilities within 2^−20 relative where they are normal floats (masked
 * entries exactly 0); backward within 1e-6 absolute + 1e-5 relative. Prints the worst errors; exits non-zero on a
 * mismatch. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/ops/softmax.h"

#define SOFTMAX_MAX_REL 0x1p-20

/* Softmax of column k of x (len, stride) over the kept rows, and its backward for dy, in double, from the float
 * differences x − max (what the kernel and torch.softmax compute first; their rounding, up to 2^−18 absolute for
 * differences near 80, is not the kernel's error). */
static void reference(double *p, double *dx, const float *x, const float *dy, const float *y, const uint8_t *keep,
                      int64_t len, int64_t stride, int64_t k) {
    float max = -INFINITY;
    double sum = 0, dot = 0;
    for (int64_t j = 0; j < len; j++)
        if ((!keep || keep[j]) && x[j * stride + k] > max) max = x[j * stride + k];
    for (int64_t j = 0; j < len; j++) {
        const float diff = x[j * stride + k] - max;
        p[j] = (!keep || keep[j]) && max > -INFINITY ? exp((double)diff) : 0.0;
        sum += p[j];
    }
    for (int64_t j = 0; j < len; j++) p[j] = sum > 0 ? p[j] / sum : 0.0;
    for (int64_t j = 0; j < len; j++) dot += (double)dy[j * stride + k] * y[j * stride + k];
    for (int64_t j = 0; j < len; j++) dx[j] = (double)y[j * stride + k] * ((double)dy[j * stride + k] - dot);
}

/* One (len, K) case of mhim_softmax_instances_*; keep_every = 0: unmasked, else every keep_every-th row masked
 * (and, if any row is kept, the first masked row gets a logit 1000 above the others); keep_none: all masked. */
static int check_case(int64_t len, int64_t K, int keep_every, int keep_none) {
    test_rng r = {.s = (uint64_t)(len * 7 + K)};
    const int64_t n = len * K;
    float *x = mhim_malloc((size_t)n * sizeof *x), *y = mhim_malloc((size_t)n * sizeof *y);
    float *dy = mhim_malloc((size_t)n * sizeof *dy), *dx = mhim_malloc((size_t)n * sizeof *dx);
    double *p = mhim_malloc((size_t)len * sizeof *p), *dxr = mhim_malloc((size_t)len * sizeof *dxr);
    uint8_t *keep = NULL;
    test_fill_uniform(&r, x, n, -40.0f, 40.0f);
    test_fill_uniform(&r, dy, n, -1.0f, 1.0f);
    if (keep_every || keep_none) {
        keep = mhim_malloc((size_t)len);
        for (int64_t j = 0; j < len; j++) keep[j] = !keep_none && (j % keep_every != 0);
        if (!keep_none && len > 1)
            for (int64_t k = 0; k < K; k++) x[k] = 1000.0f; /* row 0 is masked */
    }
    mhim_softmax_instances_forward(y, x, keep, len, K);
    mhim_softmax_instances_backward(dx, dy, y, len, K);
    double worst_rel = 0, worst_abs = 0, worst_excess = 0;
    int fails = 0;
    for (int64_t k = 0; k < K; k++) {
        reference(p, dxr, x, dy, y, keep, len, K, k);
        for (int64_t j = 0; j < len; j++) {
            const float got = y[j * K + k];
            if (p[j] == 0.0) fails += got != 0.0f;
            else if (p[j] >= FLT_MIN) worst_rel = fmax(worst_rel, fabs(got - p[j]) / p[j]);
            const double err = fabs(dx[j * K + k] - dxr[j]);
            worst_abs = fmax(worst_abs, err);
            worst_excess = fmax(worst_excess, err - 1e-5 * fabs(dxr[j]));
        }
    }
    printf("len %5lld K %lld %-10s: forward max rel %.3g (bound %.3g), backward max abs %.3g, nonzero where 0: "
           "%d\n",
           (long long)len, (long long)K, keep_none ? "all masked" : keep ? "masked" : "unmasked", worst_rel,
           SOFTMAX_MAX_REL, worst_abs, fails);
    fails += worst_rel > SOFTMAX_MAX_REL;
    fails += worst_excess > 1e-6; /* |err| ≤ 1e-6 + 1e-5·|ref| */
    free(x), free(y), free(dy), free(dx), free(p), free(dxr), free(keep);
    return fails != 0;
}

/* mhim_softmax_rows_forward with a column mask against mhim_softmax_instances_forward of each row (the same kernel
 * contract in the other layout): bitwise equal. */
static int check_rows_masked(int64_t R, int64_t L) {
    test_rng r = {.s = 99};
    float *x = mhim_malloc((size_t)(R * L) * sizeof *x), *y = mhim_malloc((size_t)(R * L) * sizeof *y);
    float *want = mhim_malloc((size_t)L * sizeof *want);
    uint8_t *keep = mhim_malloc((size_t)L);
    test_fill_uniform(&r, x, R * L, -10.0f, 10.0f);
    for (int64_t j = 0; j < L; j++) keep[j] = (j % 5) != 2;
    mhim_softmax_rows_forward(y, x, keep, R, L);
    int fails = 0;
    for (int64_t i = 0; i < R; i++) {
        mhim_softmax_instances_forward(want, x + i * L, keep, L, 1);
        for (int64_t j = 0; j < L; j++) fails += y[i * L + j] != want[j];
    }
    printf("masked rows (%lld, %lld) = masked instance softmax of each row: %d differences\n", (long long)R,
           (long long)L, fails);
    free(x), free(y), free(want), free(keep);
    return fails != 0;
}

int main(void) {
    const int64_t lens[] = {1, 31, 32, 300, 4099, 8000};
    int fails = 0;
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        for (int64_t K = 1; K <= 3; K += 2) {
            fails += check_case(lens[i], K, 0, 0);
            fails += check_case(lens[i], K, 3, 0);
        }
    fails += check_case(300, 1, 0, 1);
    fails += check_case(300, 3, 0, 1);
    fails += check_rows_masked(7, 777);
    printf("%s\n", fails ? "FAIL" : "OK");
    return fails != 0;
}
