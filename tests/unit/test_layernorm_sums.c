/* LayerNorm with float partial sums over fixed blocks (docs/numerics.md) against double-precision evaluations.
 * Forward: the row statistics and output against a two-pass double reference within the documented bounds, on rows
 * of three kinds (spread around 0.5, offset by 100 with a spread of 1, and a first element 40 far from the rest:
 * the shift of the mean's float sums is x[0]), C = 300 (one block of 256 and a tail), 512 (two blocks), 700.
 * Backward: against a double evaluation of the same formula from the same float mean/rstd: rows wide enough for
 * several float blocks per lane (C = 300, the one-pass path with two full blocks of 128 columns, a group of 32 and a
 * tail of 12; C = 700, the wide path) and N = 300 rows (8 row ranges of 37–38 rows: in the one-pass path each a float
 * block of 32 rows and a partial one). Prints the compared tensors; exits non-zero on a mismatch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/ops/norm.h"

/* dx, dγ, dβ in double (rounded to float at the end) for rows normalised with the given float mean/rstd. */
static void reference(float *dx, float *dg, float *db, const float *dy, const float *x, const float *w,
                      const float *mean, const float *rstd, int64_t N, int64_t C) {
    double *sg = mhim_calloc((size_t)C, sizeof *sg), *sb = mhim_calloc((size_t)C, sizeof *sb);
    for (int64_t i = 0; i < N; i++) {
        double sum_g = 0, sum_gx = 0;
        for (int64_t c = 0; c < C; c++) {
            const double xhat = ((double)x[i * C + c] - mean[i]) * rstd[i], g = (double)dy[i * C + c] * w[c];
            sum_g += g, sum_gx += g * xhat;
            sg[c] += dy[i * C + c] * xhat, sb[c] += dy[i * C + c];
        }
        for (int64_t c = 0; c < C; c++) {
            const double xhat = ((double)x[i * C + c] - mean[i]) * rstd[i], g = (double)dy[i * C + c] * w[c];
            dx[i * C + c] = (float)(rstd[i] * (g - sum_g / (double)C - xhat * sum_gx / (double)C));
        }
    }
    for (int64_t c = 0; c < C; c++) dg[c] = (float)sg[c], db[c] = (float)sb[c];
    free(sg), free(sb);
}

/* dγ, dβ against the double sums of the float terms the library adds (dy·x̂ with x̂ = (x − m)·r and the product
 * rounded to float; dy): within 31u·Σ|terms| (float partials over up to 32 rows, docs/numerics.md) plus the final
 * rounding to float, u·|sum| (u = 2^−24). */
static int check_param_sums(const float *dg, const float *db, const float *dy, const float *x, const float *mean,
                            const float *rstd, int64_t N, int64_t C) {
    const double u = 0x1p-24;
    double worst = 0;
    for (int64_t c = 0; c < C; c++) {
        double sw = 0, aw = 0, sb = 0, ab = 0;
        for (int64_t i = 0; i < N; i++) {
            const float g = dy[i * C + c], xhat = (x[i * C + c] - mean[i]) * rstd[i], term = g * xhat;
            sw += term, aw += fabs(term), sb += g, ab += fabs(g);
        }
        worst = fmax(worst, fabs(dg[c] - sw) / (31 * u * aw + u * fabs(sw) + 1e-30));
        worst = fmax(worst, fabs(db[c] - sb) / (31 * u * ab + u * fabs(sb) + 1e-30));
    }
    printf("  dweight, dbias: error / bound %.3f\n", worst);
    return check_true("  dweight, dbias within the bound of their float partial sums", worst <= 1.0);
}

static int check_width(int64_t N, int64_t C) {
    test_rng r = {.s = (uint64_t)(11 + C)};
    const int64_t n = N * C;
    float *x = mhim_malloc((size_t)n * sizeof *x), *dy = mhim_malloc((size_t)n * sizeof *dy);
    float *y = mhim_malloc((size_t)n * sizeof *y), *dx = mhim_malloc((size_t)n * sizeof *dx);
    float *dx_ref = mhim_malloc((size_t)n * sizeof *dx_ref), *w = mhim_malloc((size_t)C * sizeof *w);
    float *b = mhim_malloc((size_t)C * sizeof *b), *dg = mhim_calloc((size_t)C, sizeof *dg);
    float *db = mhim_calloc((size_t)C, sizeof *db), *dg_ref = mhim_malloc((size_t)C * sizeof *dg_ref);
    float *db_ref = mhim_malloc((size_t)C * sizeof *db_ref), *mean = mhim_malloc((size_t)N * sizeof *mean);
    float *rstd = mhim_malloc((size_t)N * sizeof *rstd);
    test_fill_uniform(&r, x, n, -2.0f, 3.0f);
    test_fill_uniform(&r, dy, n, -1.0f, 1.0f);
    test_fill_uniform(&r, w, C, 0.5f, 1.5f);
    test_fill_uniform(&r, b, C, -0.1f, 0.1f);
    mhim_layernorm_forward(y, mean, rstd, x, w, b, N, C);
    mhim_layernorm_backward(dx, dg, db, dy, x, w, mean, rstd, N, C);
    reference(dx_ref, dg_ref, db_ref, dy, x, w, mean, rstd, N, C);
    printf("N = %lld, C = %lld:\n", (long long)N, (long long)C);
    int fails = check_close("  dx", dx, dx_ref, n, 1e-6, 1e-5);
    fails += check_close("  dweight", dg, dg_ref, C, 1e-5, 1e-5);
    fails += check_close("  dbias", db, db_ref, C, 1e-5, 1e-5);
    fails += check_param_sums(dg, db, dy, x, mean, rstd, N, C);
    free(x), free(dy), free(y), free(dx), free(dx_ref), free(w), free(b), free(dg), free(db), free(dg_ref),
        free(db_ref), free(mean), free(rstd);
    return fails;
}

/* Forward of ROWS rows of width C (one of each kind) against the double reference. Bounds (u = 2^−24): the mean
 * within u·|mean| (its rounding to float) + 8u·mean|x − x[0]| (the float block sums of x − x[0]); rstd within 8u
 * relative (float sums of positive squares, ≤ 7 terms per lane, and the roundings); the output equal to the
 * normalisation with the returned mean and rstd (in double) within its float roundings, 4u·(|x̂·γ| + |β|). */
static int check_forward(int64_t C) {
    enum { ROWS = 3 };
    test_rng r = {.s = (uint64_t)(5 + C)};
    const double u = 0x1p-24;
    float *x = mhim_malloc((size_t)(ROWS * C) * sizeof *x), *y = mhim_malloc((size_t)(ROWS * C) * sizeof *y);
    float *w = mhim_malloc((size_t)C * sizeof *w), *b = mhim_malloc((size_t)C * sizeof *b), mean[ROWS], rstd[ROWS];
    test_fill_uniform(&r, x, C, -2.0f, 3.0f);
    test_fill_uniform(&r, x + C, C, 99.0f, 101.0f);
    test_fill_uniform(&r, x + 2 * C, C, -1.0f, 1.0f);
    x[2 * C] = 40.0f;
    test_fill_uniform(&r, w, C, 0.5f, 1.5f);
    test_fill_uniform(&r, b, C, -0.1f, 0.1f);
    mhim_layernorm_forward(y, mean, rstd, x, w, b, ROWS, C);
    int fails = 0;
    double worst_mean = 0, worst_rstd = 0, worst_y = 0; /* error / bound */
    for (int i = 0; i < ROWS; i++) {
        const float *xi = x + i * C;
        double mu = 0, var = 0, spread = 0;
        for (int64_t c = 0; c < C; c++) mu += xi[c], spread += fabs((double)xi[c] - xi[0]);
        mu /= (double)C, spread /= (double)C;
        for (int64_t c = 0; c < C; c++) var += ((double)xi[c] - mu) * ((double)xi[c] - mu);
        const double rs = 1.0 / sqrt(var / (double)C + (double)MHIM_LAYERNORM_EPS);
        const double mean_err = fabs(mean[i] - mu), rstd_err = fabs(rstd[i] / rs - 1.0);
        worst_mean = fmax(worst_mean, mean_err / (u * fabs(mu) + 8 * u * spread));
        worst_rstd = fmax(worst_rstd, rstd_err / (8 * u));
        for (int64_t c = 0; c < C; c++) {
            const double xhat = ((double)xi[c] - mean[i]) * rstd[i], want = xhat * w[c] + b[c];
            const double bound = 4 * u * (fabs(xhat * w[c]) + fabs(b[c])) + 1e-30;
            worst_y = fmax(worst_y, fabs(y[i * C + c] - want) / bound);
        }
    }
    printf("forward, C = %lld: error / bound: mean %.3f, rstd %.3f, output %.3f\n", (long long)C, worst_mean,
           worst_rstd, worst_y);
    fails += check_true("forward mean within its bound", worst_mean <= 1.0);
    fails += check_true("forward rstd within its bound", worst_rstd <= 1.0);
    fails += check_true("forward output within its bound", worst_y <= 1.0);
    free(x), free(y), free(w), free(b);
    return fails;
}

int main(void) {
    int fails = check_forward(300) + check_forward(512) + check_forward(700);
    fails += check_width(300, 300);
    fails += check_width(300, 700);
    printf("%s\n", fails ? "FAIL" : "OK");
    return fails != 0;
}
