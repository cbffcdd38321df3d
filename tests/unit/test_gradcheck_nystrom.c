/* Finite-difference checks of the Nyström attention backward: each piece (landmark means, residual convolution,
 * pseudo-inverse) on its own, then the whole layer for sequence lengths around the landmark count
 * (n < m, n not a multiple of m, n = 1) with dim 16, 2 heads, dim_head 8, 4 landmarks.
 * Objective: Σ out·w with fixed random w, evaluated in double. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/ops/nystrom.h"

#define EPS    3e-3
#define TOL    1e-2
#define CHECKS 60

static float *rand_buf(test_rng *r, int64_t n, float lo, float hi) {
    float *x = mhim_malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    test_fill_uniform(r, x, n, lo, hi);
    return x;
}

static float *zeros(int64_t n) { return mhim_calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

/* ---- landmarks ------------------------------------------------------------------------------------------------ */

typedef struct {
    float *x, *out, *w;
    int64_t H, m, l, dh;
} lm_ctx;

static double lm_objective(void *p) {
    lm_ctx *c = p;
    mhim_nystrom_landmarks_forward(c->out, c->x, c->H, c->m, c->l, c->dh);
    return test_dot(c->out, c->w, c->H * c->m * c->dh);
}

static int check_landmarks(test_rng *r) {
    lm_ctx c = {.H = 2, .m = 4, .l = 3, .dh = 5};
    const int64_t nx = c.H * c.m * c.l * c.dh, no = c.H * c.m * c.dh;
    c.x = rand_buf(r, nx, -1, 1);
    c.out = zeros(no);
    c.w = rand_buf(r, no, -1, 1);
    float *dx = zeros(nx);
    mhim_nystrom_landmarks_backward_acc(dx, c.w, c.H, c.m, c.l, c.dh);
    int fails = gradcheck("landmarks dx", c.x, nx, dx, lm_objective, &c, EPS, TOL, CHECKS);
    free(c.x), free(c.out), free(c.w), free(dx);
    return fails;
}

/* ---- residual convolution ----------------------------------------------------------------------------------- */

typedef struct {
    float *v, *wk, *out, *w;
    int64_t H, T, dh;
} rc_ctx;

static double rc_objective(void *p) {
    rc_ctx *c = p;
    memset(c->out, 0, (size_t)(c->H * c->T * c->dh) * sizeof(float));
    mhim_nystrom_res_conv_forward_acc(c->out, c->v, c->wk, c->H, c->T, c->dh);
    return test_dot(c->out, c->w, c->H * c->T * c->dh);
}

static int check_res_conv(test_rng *r, int64_t T) {
    rc_ctx c = {.H = 2, .T = T, .dh = 3};
    const int64_t nv = c.H * T * c.dh, nw = c.H * MHIM_NYSTROM_RES_KERNEL;
    c.v = rand_buf(r, nv, -1, 1);
    c.wk = rand_buf(r, nw, -1, 1);
    c.out = zeros(nv);
    c.w = rand_buf(r, nv, -1, 1);
    float *dv = zeros(nv), *dw = zeros(nw);
    mhim_nystrom_res_conv_backward_acc(dv, dw, c.w, c.v, c.wk, c.H, T, c.dh);
    char name[64];
    snprintf(name, sizeof name, "res_conv T=%lld dv", (long long)T);
    int fails = gradcheck(name, c.v, nv, dv, rc_objective, &c, EPS, TOL, CHECKS);
    snprintf(name, sizeof name, "res_conv T=%lld dw", (long long)T);
    fails += gradcheck(name, c.wk, nw, dw, rc_objective, &c, EPS, TOL, CHECKS);
    free(c.v), free(c.wk), free(c.out), free(c.w), free(dv), free(dw);
    return fails;
}

/* ---- pseudo-inverse ----------------------------------------------------------------------------------------- */

typedef struct {
    float *a, *z, *inter, *norm, *tmp, *w;
    int64_t H, m;
} pv_ctx;

static double pv_objective(void *p) {
    pv_ctx *c = p;
    mhim_nystrom_pinv_forward(c->z, c->inter, c->norm, c->tmp, c->a, c->H, c->m);
    return test_dot(c->z + MHIM_NYSTROM_PINV_ITERS * c->H * c->m * c->m, c->w, c->H * c->m * c->m);
}

/* Positive matrices with distinct row and column sums (no ties in the normaliser's maxima). The backward reads the
 * forward's intermediates; recomputing them instead (inter = NULL) must give the same bits. */
static int check_pinv(test_rng *r, int64_t m) {
    pv_ctx c = {.H = 2, .m = m};
    const int64_t na = c.H * m * m;
    c.a = rand_buf(r, na, 0.05f, 1.0f);
    for (int64_t i = 0; i < c.H * m; i++) c.a[i * m + i % m] += 1.0f; /* well conditioned */
    c.z = zeros((MHIM_NYSTROM_PINV_ITERS + 1) * na);
    c.inter = zeros(3 * MHIM_NYSTROM_PINV_ITERS * na);
    c.norm = zeros(2);
    c.tmp = zeros(mhim_nystrom_pinv_forward_scratch_floats(c.H, m));
    c.w = rand_buf(r, na, -1, 1);
    pv_objective(&c);
    float *da = zeros(na), *da_recomputed = zeros(na);
    float *scratch = zeros(mhim_nystrom_pinv_backward_scratch_floats(c.H, m));
    mhim_nystrom_pinv_backward(da, c.w, c.z, c.inter, c.norm, scratch, c.a, c.H, m);
    mhim_nystrom_pinv_backward(da_recomputed, c.w, c.z, NULL, c.norm, scratch, c.a, c.H, m);
    int same = memcmp(da, da_recomputed, (size_t)na * sizeof *da) == 0;
    printf("%s pinv m=%lld: da with recomputed intermediates bitwise equal\n", same ? "ok  " : "FAIL", (long long)m);
    char name[64];
    snprintf(name, sizeof name, "pinv m=%lld da", (long long)m);
    int fails = !same + gradcheck(name, c.a, na, da, pv_objective, &c, 1e-3, TOL, CHECKS);
    free(c.a), free(c.z), free(c.inter), free(c.norm), free(c.tmp), free(c.w), free(da), free(da_recomputed),
        free(scratch);
    return fails;
}

/* ---- whole layer ------------------------------------------------------------------------------------------- */

typedef struct {
    int64_t n, rows, D, H, dh, m; /* rows: the output rows computed (out_rows) */
    float *x, *w_qkv, *w_out, *b_out, *w_res, *out, *w, *cache_buf, *scratch;
    mhim_nystrom_cache cache;
} ny_ctx;

static double ny_objective(void *p) {
    ny_ctx *c = p;
    mhim_nystrom_forward(c->out, &c->cache, c->scratch, c->x, c->w_qkv, c->w_out, c->b_out, c->w_res, c->n, c->D, c->H,
                         c->dh, c->m, c->rows);
    return test_dot(c->out, c->w, c->rows * c->D);
}

/* The layer on n tokens computing its first `rows` output rows (rows = n: the whole layer). */
static int check_layer(test_rng *r, int64_t n, int64_t rows) {
    ny_ctx c = {.n = n, .rows = rows, .D = 16, .H = 2, .dh = 8, .m = 4};
    const int64_t inner = c.H * c.dh, nx = n * c.D, nqkv = 3 * inner * c.D, nwo = c.D * inner;
    const int64_t nres = c.H * MHIM_NYSTROM_RES_KERNEL;
    c.x = rand_buf(r, nx, -1.5f, 1.5f);
    c.w_qkv = rand_buf(r, nqkv, -0.6f, 0.6f);
    c.w_out = rand_buf(r, nwo, -0.4f, 0.4f);
    c.b_out = rand_buf(r, c.D, -0.2f, 0.2f);
    c.w_res = rand_buf(r, nres, -0.3f, 0.3f);
    c.out = zeros(nx);
    c.w = rand_buf(r, nx, -1, 1);
    c.cache_buf = zeros(mhim_nystrom_cache_floats(n, c.H, c.dh, c.m));
    mhim_nystrom_cache_bind(&c.cache, c.cache_buf, n, c.H, c.dh, c.m);
    int64_t ns = MHIM_MAX(mhim_nystrom_forward_scratch_floats(n, c.D, c.H, c.dh, c.m),
                          mhim_nystrom_backward_scratch_floats(n, c.D, c.H, c.dh, c.m));
    c.scratch = zeros(ns);
    ny_objective(&c);
    float *dx = zeros(nx), *dqkv = zeros(nqkv), *dwo = zeros(nwo), *dbo = zeros(c.D), *dres = zeros(nres);
    mhim_nystrom_backward(dx, dqkv, dwo, dbo, dres, c.w, &c.cache, c.scratch, c.x, c.w_qkv, c.w_out, c.w_res, n, c.D,
                          c.H, c.dh, c.m, rows);
    const struct {
        const char *label;
        float *param, *grad;
        int64_t count;
    } checks[] = {{"dx", c.x, dx, nx},
                  {"d to_qkv.weight", c.w_qkv, dqkv, nqkv},
                  {"d to_out.0.weight", c.w_out, dwo, nwo},
                  {"d to_out.0.bias", c.b_out, dbo, c.D},
                  {"d res_conv.weight", c.w_res, dres, nres}};
    int fails = 0;
    char name[64];
    for (size_t i = 0; i < MHIM_ARRAY_LEN(checks); i++) {
        snprintf(name, sizeof name, "nystrom n=%lld rows=%lld %s", (long long)n, (long long)rows, checks[i].label);
        fails += gradcheck(name, checks[i].param, checks[i].count, checks[i].grad, ny_objective, &c, EPS, TOL, CHECKS);
    }
    free(c.x), free(c.w_qkv), free(c.w_out), free(c.b_out), free(c.w_res), free(c.out), free(c.w);
    free(c.cache_buf), free(c.scratch), free(dx), free(dqkv), free(dwo), free(dbo), free(dres);
    return fails;
}

/* The first `rows` output rows computed alone match those rows of the whole layer, and the backward of a gradient on
 * those rows only matches the whole layer's backward of the same gradient padded with zero rows (float rounding:
 * a1's rows come from a GEMM of another height, the landmark queries from the projected segment means of x). */
static int check_rows_match(test_rng *r, int64_t n, int64_t rows) {
    const int64_t D = 16, H = 2, dh = 8, m = 4, inner = H * dh, nx = n * D, nqkv = 3 * inner * D, nwo = D * inner;
    const int64_t nres = H * MHIM_NYSTROM_RES_KERNEL;
    float *x = rand_buf(r, nx, -1.5f, 1.5f), *w_qkv = rand_buf(r, nqkv, -0.6f, 0.6f);
    float *w_out = rand_buf(r, nwo, -0.4f, 0.4f), *b_out = rand_buf(r, D, -0.2f, 0.2f);
    float *w_res = rand_buf(r, nres, -0.3f, 0.3f), *dout = zeros(nx);
    float *g = rand_buf(r, rows * D, -1, 1);
    memcpy(dout, g, (size_t)(rows * D) * sizeof *g);
    float *cache_buf = zeros(mhim_nystrom_cache_floats(n, H, dh, m));
    float *scratch = zeros(MHIM_MAX(mhim_nystrom_forward_scratch_floats(n, D, H, dh, m),
                                    mhim_nystrom_backward_scratch_floats(n, D, H, dh, m)));
    mhim_nystrom_cache cache;
    mhim_nystrom_cache_bind(&cache, cache_buf, n, H, dh, m);
    float *out[2], *grads[2][5];
    for (int k = 0; k < 2; k++) { /* 0: the whole layer, 1: the first rows only */
        const int64_t want = k == 0 ? n : rows;
        out[k] = zeros(nx);
        grads[k][0] = zeros(nx), grads[k][1] = zeros(nqkv), grads[k][2] = zeros(nwo), grads[k][3] = zeros(D);
        grads[k][4] = zeros(nres);
        mhim_nystrom_forward(out[k], &cache, scratch, x, w_qkv, w_out, b_out, w_res, n, D, H, dh, m, want);
        mhim_nystrom_backward(grads[k][0], grads[k][1], grads[k][2], grads[k][3], grads[k][4], k == 0 ? dout : g,
                              &cache, scratch, x, w_qkv, w_out, w_res, n, D, H, dh, m, want);
    }
    const char *labels[] = {"out", "dx", "d to_qkv.weight", "d to_out.0.weight", "d to_out.0.bias",
                            "d res_conv.weight"};
    const int64_t counts[] = {rows * D, nx, nqkv, nwo, D, nres};
    int fails = 0;
    for (int t = 0; t < 6; t++) {
        const float *a = t == 0 ? out[0] : grads[0][t - 1], *b = t == 0 ? out[1] : grads[1][t - 1];
        double worst = 0.0, scale = 0.0;
        for (int64_t i = 0; i < counts[t]; i++) {
            worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
            scale = fmax(scale, fabs((double)a[i]));
        }
        const int ok = worst <= 1e-5 * scale;
        printf("%s nystrom n=%lld first %lld rows vs whole layer: %s max abs diff %.2e (largest |value| %.2e)\n",
               ok ? "ok  " : "FAIL", (long long)n, (long long)rows, labels[t], worst, scale);
        fails += !ok;
    }
    for (int k = 0; k < 2; k++) {
        free(out[k]);
        for (int t = 0; t < 5; t++) free(grads[k][t]);
    }
    free(x), free(w_qkv), free(w_out), free(b_out), free(w_res), free(dout), free(g), free(cache_buf), free(scratch);
    return fails;
}

int main(void) {
    test_rng r = {.s = 20240611};
    int fails = check_landmarks(&r);
    fails += check_res_conv(&r, 7);
    fails += check_res_conv(&r, 40);
    fails += check_pinv(&r, 4);
    fails += check_pinv(&r, 7);
    const int64_t lengths[] = {1, 3, 7, 13, 50};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(lengths); i++) fails += check_layer(&r, lengths[i], lengths[i]);
    /* the first rows only (TransMIL's second layer: the cls row) */
    fails += check_layer(&r, 13, 1);
    fails += check_layer(&r, 50, 1);
    fails += check_layer(&r, 7, 3);
    fails += check_rows_match(&r, 50, 1);
    fails += check_rows_match(&r, 13, 5);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
