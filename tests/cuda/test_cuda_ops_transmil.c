/* CPU-vs-GPU parity of the TransMIL pieces: Nyström landmark means, the iterative pseudo-inverse with its global
 * scaling (forward iterates and the unrolled backward), the residual depthwise convolution (kernel 33) and PPEG
 * (grids with wrap-around copies and with zero padding), forward and backward. Skipped (77) without a GPU. */
#include <stdio.h>

#include "mhim/common.h"
#include "mhim/ops.h"
#include "parity.h"

#define G TOL_GEMM_ATOL, TOL_GEMM_RTOL

static int t_landmarks(mhim_cuda_ctx *ctx, test_rng *r) {
    const int64_t H = 8, m = 16, l = 7, dh = 64, nx = H * m * l * dh, no = H * m * dh;
    float *x = parity_random(r, nx, -1, 1), *out = parity_zeros(no), *dout = parity_random(r, no, -1, 1);
    float *dx = parity_random(r, nx, -1, 1);
    float *x_d = parity_up(ctx, x, nx), *out_d = mhim_cuda_floats(ctx, no), *dout_d = parity_up(ctx, dout, no);
    float *dx_d = parity_up(ctx, dx, nx);
    int bad = 0;
    mhim_nystrom_landmarks_forward(out, x, H, m, l, dh);
    mhim_cuda_nystrom_landmarks_forward(ctx, out_d, x_d, H, m, l, dh);
    bad += parity_check(ctx, "nystrom landmarks forward", out_d, out, no, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    mhim_nystrom_landmarks_backward_acc(dx, dout, H, m, l, dh);
    mhim_cuda_nystrom_landmarks_backward_acc(ctx, dx_d, dout_d, H, m, l, dh);
    bad += parity_check(ctx, "nystrom landmarks backward_acc", dx_d, dx, nx, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    return bad;
}

static int t_pinv(mhim_cuda_ctx *ctx, test_rng *r) {
    const int64_t H = 8, m = 32, mm = m * m, hmm = H * mm, nz = (MHIM_NYSTROM_PINV_ITERS + 1) * hmm;
    float *logits = parity_random(r, hmm, -2, 2), *a = parity_zeros(hmm);
    mhim_softmax_rows_forward(a, logits, NULL, H * m, m); /* a2 is a row-softmax matrix per head */
    float *z = parity_zeros(nz), norm[2], *scratch = parity_zeros(mhim_nystrom_pinv_forward_scratch_floats(H, m));
    float *dpinv = parity_random(r, hmm, -1, 1), *da = parity_zeros(hmm);
    float *bscratch = parity_zeros(mhim_nystrom_pinv_backward_scratch_floats(H, m));
    float *a_d = parity_up(ctx, a, hmm), *z_d = mhim_cuda_floats(ctx, nz), *norm_d = mhim_cuda_floats(ctx, 2);
    float *scratch_d = mhim_cuda_floats(ctx, mhim_cuda_nystrom_pinv_forward_scratch_floats(H, m));
    float *dpinv_d = parity_up(ctx, dpinv, hmm), *da_d = mhim_cuda_floats(ctx, hmm);
    float *bscratch_d = mhim_cuda_floats(ctx, mhim_cuda_nystrom_pinv_backward_scratch_floats(H, m));
    int bad = 0;
    mhim_nystrom_pinv_forward(z, NULL, norm, scratch, a, H, m);
    mhim_cuda_nystrom_pinv_forward(ctx, z_d, norm_d, scratch_d, a_d, H, m);
    bad += parity_check(ctx, "nystrom pinv norms (exact)", norm_d, norm, 2, 0, 0);
    bad += parity_check(ctx, "nystrom pinv Z_0 (a^T / s)", z_d, z, hmm, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    bad += parity_check(ctx, "nystrom pinv all iterates", z_d, z, nz, TOL_ITER_ATOL, TOL_ITER_RTOL);
    mhim_cuda_upload(ctx, z_d, z, (size_t)nz * sizeof(float)); /* the backward starts from the same iterates */
    mhim_nystrom_pinv_backward(da, dpinv, z, NULL, norm, bscratch, a, H, m);
    mhim_cuda_nystrom_pinv_backward(ctx, da_d, dpinv_d, z_d, norm_d, bscratch_d, a_d, H, m);
    bad += parity_check(ctx, "nystrom pinv backward da", da_d, da, hmm, TOL_ITER_ATOL, TOL_ITER_RTOL);
    return bad;
}

static int t_res_conv(mhim_cuda_ctx *ctx, test_rng *r) {
    const int64_t H = 8, T = 150, dh = 64, n = H * T * dh, nw = H * MHIM_NYSTROM_RES_KERNEL;
    float *v = parity_random(r, n, -1, 1), *w = parity_random(r, nw, -0.2f, 0.2f);
    float *out = parity_random(r, n, -1, 1), *dout = parity_random(r, n, -1, 1), *dv = parity_random(r, n, -1, 1);
    float *dw = parity_random(r, nw, -1, 1);
    float *v_d = parity_up(ctx, v, n), *w_d = parity_up(ctx, w, nw), *out_d = parity_up(ctx, out, n);
    float *dout_d = parity_up(ctx, dout, n), *dv_d = parity_up(ctx, dv, n), *dw_d = parity_up(ctx, dw, nw);
    int bad = 0;
    /* every row into the merged (T, H·dh) layout, then one row (the cls row of a padded layer) into a wider ld */
    mhim_nystrom_res_conv_rows_acc(out, H * dh, v, w, H, T, dh, 0, T);
    mhim_cuda_nystrom_res_conv_rows_acc(ctx, out_d, H * dh, v_d, w_d, H, T, dh, 0, T);
    bad += parity_check(ctx, "res conv (33) rows_acc, every row", out_d, out, n, G);
    mhim_nystrom_res_conv_rows_acc(out, H * dh + 7, v, w, H, T, dh, 5, 1);
    mhim_cuda_nystrom_res_conv_rows_acc(ctx, out_d, H * dh + 7, v_d, w_d, H, T, dh, 5, 1);
    bad += parity_check(ctx, "res conv (33) rows_acc, row 5 (ld + 7)", out_d, out, n, G);
    mhim_nystrom_res_conv_backward_acc(dv, dw, dout, v, w, H, T, dh);
    mhim_cuda_nystrom_res_conv_backward_acc(ctx, dv_d, dw_d, dout_d, v_d, w_d, H, T, dh);
    bad += parity_check(ctx, "res conv (33) backward dv (+=)", dv_d, dv, n, G);
    bad += parity_check(ctx, "res conv (33) backward dw (+=)", dw_d, dw, nw, G);
    return bad;
}

/* M tokens: 30 (zero padding to 7x7), 110 (11x11 grid with 11 wrap-around copies). */
static int t_ppeg(mhim_cuda_ctx *ctx, test_rng *r, int64_t M) {
    const int64_t dim = 96, n = M * dim, n0 = dim * 49, n1 = dim * 25, n2 = dim * 9;
    float *x = parity_random(r, n, -1, 1), *w0 = parity_random(r, n0, -0.1f, 0.1f);
    float *w1 = parity_random(r, n1, -0.1f, 0.1f), *w2 = parity_random(r, n2, -0.1f, 0.1f);
    float *b0 = parity_random(r, dim, -0.1f, 0.1f), *b1 = parity_random(r, dim, -0.1f, 0.1f);
    float *b2 = parity_random(r, dim, -0.1f, 0.1f), *dout = parity_random(r, n, -1, 1), *out = parity_zeros(n);
    float *dx = parity_zeros(n), *dw0 = parity_zeros(n0), *dw1 = parity_zeros(n1), *dw2 = parity_zeros(n2);
    float *db0 = parity_zeros(dim), *db1 = parity_zeros(dim), *db2 = parity_zeros(dim);
    float *scratch = parity_zeros(mhim_ppeg_backward_scratch_floats(M, dim));
    float *x_d = parity_up(ctx, x, n), *w0_d = parity_up(ctx, w0, n0), *w1_d = parity_up(ctx, w1, n1);
    float *w2_d = parity_up(ctx, w2, n2), *b0_d = parity_up(ctx, b0, dim), *b1_d = parity_up(ctx, b1, dim);
    float *b2_d = parity_up(ctx, b2, dim), *dout_d = parity_up(ctx, dout, n), *out_d = mhim_cuda_floats(ctx, n);
    float *dx_d = mhim_cuda_floats(ctx, n), *dw0_d = parity_up(ctx, dw0, n0), *dw1_d = parity_up(ctx, dw1, n1);
    float *dw2_d = parity_up(ctx, dw2, n2), *db0_d = parity_up(ctx, db0, dim), *db1_d = parity_up(ctx, db1, dim);
    float *db2_d = parity_up(ctx, db2, dim);
    float *scratch_d = mhim_cuda_floats(ctx, mhim_ppeg_backward_scratch_floats(M, dim));
    int bad = 0;
    char name[80];
    mhim_ppeg_forward(out, scratch, x, w0, b0, w1, b1, w2, b2, M, dim);
    mhim_cuda_ppeg_forward(ctx, out_d, scratch_d, x_d, w0_d, b0_d, w1_d, b1_d, w2_d, b2_d, M, dim);
    snprintf(name, sizeof name, "ppeg M=%lld forward", (long long)M);
    bad += parity_check(ctx, name, out_d, out, n, G);
    mhim_ppeg_backward(dx, dw0, db0, dw1, db1, dw2, db2, dout, scratch, x, w0, w1, w2, M, dim);
    mhim_cuda_ppeg_backward(ctx, dx_d, dw0_d, db0_d, dw1_d, db1_d, dw2_d, db2_d, dout_d, scratch_d, x_d, w0_d, w1_d,
                            w2_d, M, dim);
    snprintf(name, sizeof name, "ppeg M=%lld dx", (long long)M);
    bad += parity_check(ctx, name, dx_d, dx, n, G);
    snprintf(name, sizeof name, "ppeg M=%lld dw0 (7x7)", (long long)M);
    bad += parity_check(ctx, name, dw0_d, dw0, n0, G);
    snprintf(name, sizeof name, "ppeg M=%lld dw1 (5x5)", (long long)M);
    bad += parity_check(ctx, name, dw1_d, dw1, n1, G);
    snprintf(name, sizeof name, "ppeg M=%lld dw2 (3x3)", (long long)M);
    bad += parity_check(ctx, name, dw2_d, dw2, n2, G);
    snprintf(name, sizeof name, "ppeg M=%lld db0", (long long)M);
    bad += parity_check(ctx, name, db0_d, db0, dim, G);
    return bad;
}

static int t_ppeg_small(mhim_cuda_ctx *c, test_rng *r) { return t_ppeg(c, r, 30); }
static int t_ppeg_wrap(mhim_cuda_ctx *c, test_rng *r) { return t_ppeg(c, r, 110); }

int main(void) {
    mhim_cuda_ctx *ctx = NULL;
    int rc = parity_open(&ctx);
    if (rc) return rc;
    test_rng rng = {4242ULL};
    int (*tests[])(mhim_cuda_ctx *, test_rng *) = {t_landmarks, t_pinv, t_res_conv, t_ppeg_small, t_ppeg_wrap};
    int bad = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        size_t mark = mhim_cuda_mark(ctx);
        bad += tests[i](ctx, &rng);
        mhim_cuda_reset(ctx, mark);
    }
    mhim_cuda_ctx_destroy(ctx);
    printf("%s: %d failing check(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad ? 1 : 0;
}
