/* The fixed summation orders of the row sums (docs/numerics.md), bit for bit: a scalar model of the documented order
 * (element c in double lane c mod 32, float partial sums over blocks of groups of 32 elements, the row's last
 * C mod 32 terms added to the double lanes directly, the lanes added as a fixed tree) against the library, which
 * computes the same sums a vector at a time in whichever ISA copy the CPU runs (16- or 8-wide float lanes, 4-wide
 * double lanes, zero-padded tails). Checked: LayerNorm forward (mean, rstd, output; the FMA copies contract the
 * squares and the output's multiply-add, so each row must equal the model with or without FMA, the same for all
 * rows), LayerNorm backward dx (no contraction) and the row-softmax backward, on widths with and without tails,
 * below one group and over several blocks. What the bits pin down is chiefly the float partial sums (which elements
 * share a float lane and block): the double lanes add float terms almost always exactly, so their tree order rarely
 * shows. Exits non-zero on a mismatch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/ops/norm.h"
#include "mhim/ops/softmax.h"

enum { LANES = 32 };

/* The fixed tree: a[j] = (L[j] + L[j+16]) + (L[j+8] + L[j+24]), then ((a0 + a4) + (a2 + a6)) + ((a1 + a5) +
 * (a3 + a7)). */
static double lanes_total(const double *L) {
    double a[8];
    for (int j = 0; j < 8; j++) a[j] = (L[j] + L[j + 16]) + (L[j + 8] + L[j + 24]);
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

/* Σ (x − shift) (squares = 0) or Σ (x − shift)² over the row: float lanes over up to 8 groups of 32 (the squares
 * accumulated with fmaf when fma), the tail's float terms added to the double lanes. */
static double row_sum(const float *x, int64_t C, int squares, float shift, int fma) {
    double L[LANES] = {0};
    int64_t c = 0;
    while (c + LANES <= C) {
        float f[LANES] = {0};
        for (int b = 0; b < 8 && c + LANES <= C; b++, c += LANES)
            for (int l = 0; l < LANES; l++) {
                const float d = x[c + l] - shift;
                f[l] = !squares ? f[l] + d : fma ? fmaf(d, d, f[l]) : f[l] + d * d;
            }
        for (int l = 0; l < LANES; l++) L[l] += f[l];
    }
    for (int l = 0; c < C; c++, l++) {
        const float d = x[c] - shift;
        L[l] += squares ? d * d : d;
    }
    return lanes_total(L);
}

/* Row i of the LayerNorm forward as documented: 1 when y, mean, rstd equal it bit for bit. */
static int forward_row_matches(const float *y, float mean, float rstd, const float *x, const float *w, const float *b,
                               int64_t C, int fma) {
    const float m = (float)((double)x[0] + row_sum(x, C, 0, x[0], fma) / (double)C);
    const float r = (float)(1.0 / sqrt(row_sum(x, C, 1, m, fma) / (double)C + (double)MHIM_LAYERNORM_EPS));
    if (memcmp(&m, &mean, sizeof m) || memcmp(&r, &rstd, sizeof r)) return 0;
    for (int64_t c = 0; c < C; c++) {
        const float xhat = (x[c] - m) * r, want = fma ? fmaf(xhat, w[c], b[c]) : xhat * w[c] + b[c];
        if (memcmp(&want, &y[c], sizeof want)) return 0;
    }
    return 1;
}

/* dx of one LayerNorm row: Σ dy·γ and Σ dy·γ·x̂ over float lanes of up to 16 groups of 32, then
 * dx = r·(dy·γ − mean_g − x̂·mean_gx). */
static void backward_row(float *dx, const float *dy, const float *x, const float *w, float m, float r, int64_t C) {
    double Lg[LANES] = {0}, Lgx[LANES] = {0};
    int64_t c = 0;
    while (c + LANES <= C) {
        float fg[LANES] = {0}, fgx[LANES] = {0};
        for (int b = 0; b < 16 && c + LANES <= C; b++, c += LANES)
            for (int l = 0; l < LANES; l++) {
                const float g = dy[c + l] * w[c + l];
                fg[l] += g;
                fgx[l] += g * ((x[c + l] - m) * r);
            }
        for (int l = 0; l < LANES; l++) Lg[l] += fg[l], Lgx[l] += fgx[l];
    }
    for (int l = 0; c < C; c++, l++) {
        const float g = dy[c] * w[c];
        Lg[l] += g;
        Lgx[l] += g * ((x[c] - m) * r);
    }
    const float mean_g = (float)(lanes_total(Lg) / (double)C), mean_gx = (float)(lanes_total(Lgx) / (double)C);
    for (c = 0; c < C; c++) dx[c] = r * (dy[c] * w[c] - mean_g - (x[c] - m) * r * mean_gx);
}

/* dx of one row-softmax row: d = Σ dy·y (exact double products) over the double lanes, dx = y·(dy − d). */
static void softmax_backward_row(float *dx, const float *dy, const float *y, int64_t L) {
    double lane[LANES] = {0};
    for (int64_t j = 0; j < L; j++) lane[j % LANES] += (double)dy[j] * y[j];
    const float d = (float)lanes_total(lane);
    for (int64_t j = 0; j < L; j++) dx[j] = y[j] * (dy[j] - d);
}

/* 0 when got equals want bit for bit, else 1 (printing the first difference). */
static int check_bits(const char *name, const float *got, const float *want, int64_t n) {
    for (int64_t k = 0; k < n; k++)
        if (memcmp(&got[k], &want[k], sizeof *got)) {
            printf("FAIL %s: element %lld is %.9g, the documented order gives %.9g\n", name, (long long)k, got[k],
                   want[k]);
            return 1;
        }
    printf("ok   %s: %lld values bit for bit\n", name, (long long)n);
    return 0;
}

static int check_width(int64_t N, int64_t C) {
    test_rng rng = {.s = (uint64_t)(17 + C)};
    const int64_t n = N * C;
    float *x = mhim_malloc((size_t)n * sizeof *x), *dy = mhim_malloc((size_t)n * sizeof *dy);
    float *y = mhim_malloc((size_t)n * sizeof *y), *dx = mhim_malloc((size_t)n * sizeof *dx);
    float *want = mhim_malloc((size_t)n * sizeof *want), *w = mhim_malloc((size_t)C * sizeof *w);
    float *b = mhim_malloc((size_t)C * sizeof *b), *dg = mhim_calloc((size_t)C, sizeof *dg);
    float *db = mhim_calloc((size_t)C, sizeof *db), *mean = mhim_malloc((size_t)N * sizeof *mean);
    float *rstd = mhim_malloc((size_t)N * sizeof *rstd);
    test_fill_uniform(&rng, x, n, -2.0f, 3.0f);
    test_fill_uniform(&rng, dy, n, -1.0f, 1.0f);
    test_fill_uniform(&rng, w, C, 0.5f, 1.5f);
    test_fill_uniform(&rng, b, C, -0.1f, 0.1f);
    char name[96];
    printf("N = %lld, C = %lld:\n", (long long)N, (long long)C);

    mhim_layernorm_forward(y, mean, rstd, x, w, b, N, C);
    int64_t rows_plain = 0, rows_fma = 0; /* rows equal to the model without / with FMA (short rows may be both) */
    for (int64_t i = 0; i < N; i++) {
        rows_plain += forward_row_matches(y + i * C, mean[i], rstd[i], x + i * C, w, b, C, 0);
        rows_fma += forward_row_matches(y + i * C, mean[i], rstd[i], x + i * C, w, b, C, 1);
    }
    snprintf(name, sizeof name, "  layernorm forward rows (mean, rstd, output) in the documented order (%s)",
             rows_plain == N ? "no FMA" : "FMA");
    int fails = check_true(name, rows_plain == N || rows_fma == N);

    mhim_layernorm_backward(dx, dg, db, dy, x, w, mean, rstd, N, C);
    for (int64_t i = 0; i < N; i++) backward_row(want + i * C, dy + i * C, x + i * C, w, mean[i], rstd[i], C);
    fails += check_bits("  layernorm backward dx", dx, want, n);

    mhim_softmax_rows_forward(y, x, NULL, N, C);
    mhim_softmax_rows_backward(dx, dy, y, N, C);
    for (int64_t i = 0; i < N; i++) softmax_backward_row(want + i * C, dy + i * C, y + i * C, C);
    fails += check_bits("  row softmax backward", dx, want, n);

    free(x), free(dy), free(y), free(dx), free(want), free(w), free(b), free(dg), free(db), free(mean), free(rstd);
    return fails;
}

int main(void) {
    /* below one group, one group, a group and a tail, two float blocks of the forward (8 groups) with a tail, one
     * block of the backward (16 groups), the backward's wide path (two blocks and a tail) */
    const int64_t widths[] = {1, 7, 31, 32, 33, 100, 300, 512, 777};
    int fails = 0;
    for (size_t k = 0; k < sizeof widths / sizeof *widths; k++) fails += check_width(37, widths[k]);
    printf("%s\n", fails ? "FAIL" : "OK");
    return fails != 0;
}
