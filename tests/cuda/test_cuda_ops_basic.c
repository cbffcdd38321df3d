/* CPU-vs-GPU parity of the basic ops: linear, activations, dropout (bit-identical mask), LayerNorm, masked
 * softmax (instances and rows), row gather/scatter (bit-identical), and the four losses, forward and backward, on
 * the same random inputs. Prints max abs/rel error per op; skipped (77) without a GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/ops.h"
#include "parity.h"

static int t_linear(mhim_cuda_ctx *ctx, test_rng *r) {
    const int64_t N = 37, C = 96, OC = 40;
    float *x = parity_random(r, N * C, -1, 1), *w = parity_random(r, OC * C, -0.2f, 0.2f);
    float *b = parity_random(r, OC, -0.1f, 0.1f), *dout = parity_random(r, N * OC, -1, 1);
    float *out = parity_zeros(N * OC), *dx = parity_random(r, N * C, -1, 1), *dx_acc = parity_copy(dx, N * C);
    float *dw = parity_random(r, OC * C, -1, 1), *db = parity_random(r, OC, -1, 1);
    float *dx_d = parity_up(ctx, dx, N * C), *dxa_d = parity_up(ctx, dx_acc, N * C);
    float *dw_d = parity_up(ctx, dw, OC * C), *db_d = parity_up(ctx, db, OC);
    float *x_d = parity_up(ctx, x, N * C), *w_d = parity_up(ctx, w, OC * C), *b_d = parity_up(ctx, b, OC);
    float *dout_d = parity_up(ctx, dout, N * OC), *out_d = mhim_cuda_floats(ctx, N * OC);
    int bad = 0;
    mhim_linear_forward(out, x, w, b, N, C, OC);
    mhim_cuda_linear_forward(ctx, out_d, x_d, w_d, b_d, N, C, OC);
    bad += parity_check(ctx, "linear forward (bias)", out_d, out, N * OC, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    mhim_linear_forward(out, x, w, NULL, N, C, OC);
    mhim_cuda_linear_forward(ctx, out_d, x_d, w_d, NULL, N, C, OC);
    bad += parity_check(ctx, "linear forward (no bias)", out_d, out, N * OC, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    mhim_linear_backward(dx, dw, db, dout, x, w, N, C, OC);
    mhim_cuda_linear_backward(ctx, dx_d, dw_d, db_d, dout_d, x_d, w_d, N, C, OC);
    bad += parity_check(ctx, "linear backward dinp", dx_d, dx, N * C, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    bad += parity_check(ctx, "linear backward dweight (+=)", dw_d, dw, OC * C, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    bad += parity_check(ctx, "linear backward dbias (+=)", db_d, db, OC, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    mhim_linear_backward_acc(dx_acc, NULL, NULL, dout, x, w, N, C, OC);
    mhim_cuda_linear_backward_acc(ctx, dxa_d, NULL, NULL, dout_d, x_d, w_d, N, C, OC);
    bad += parity_check(ctx, "linear backward_acc dinp (+=)", dxa_d, dx_acc, N * C, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    /* first layer: no input gradient, frozen-input weight gradient only */
    mhim_linear_backward(NULL, dw, NULL, dout, x, w, N, C, OC);
    mhim_cuda_linear_backward(ctx, NULL, dw_d, NULL, dout_d, x_d, w_d, N, C, OC);
    bad += parity_check(ctx, "linear backward (no dinp) dweight", dw_d, dw, OC * C, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    return bad;
}

static int t_act(mhim_cuda_ctx *ctx, test_rng *r) {
    static const char *names[] = {"relu", "gelu", "tanh", "sigmoid"};
    const int64_t n = 5000;
    float *x = parity_random(r, n, -4, 4), *dout = parity_random(r, n, -1, 1);
    float *y = parity_zeros(n), *dx = parity_zeros(n);
    float *x_d = parity_up(ctx, x, n), *dout_d = parity_up(ctx, dout, n);
    float *y_d = mhim_cuda_floats(ctx, n), *dx_d = mhim_cuda_floats(ctx, n);
    int bad = 0;
    char label[64];
    for (int a = MHIM_ACT_RELU; a <= MHIM_ACT_SIGMOID; a++) {
        mhim_act_forward((mhim_act)a, y, x, n);
        mhim_cuda_act_forward(ctx, (mhim_act)a, y_d, x_d, n);
        snprintf(label, sizeof label, "%s forward", names[a]);
        bad += parity_check(ctx, label, y_d, y, n, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
        /* the backward reads the CPU's forward output on both sides, so only the backward formula is compared */
        mhim_cuda_upload(ctx, y_d, y, (size_t)n * sizeof(float));
        mhim_act_backward((mhim_act)a, dx, dout, x, y, n);
        mhim_cuda_act_backward(ctx, (mhim_act)a, dx_d, dout_d, x_d, y_d, n);
        snprintf(label, sizeof label, "%s backward", names[a]);
        bad += parity_check(ctx, label, dx_d, dx, n, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    }
    return bad;
}

static int t_dropout(mhim_cuda_ctx *ctx, test_rng *r) {
    const int64_t n = 10007;
    const float p = 0.25f;
    const mhim_rng stream = mhim_rng_stream(20240607ULL, 3, 17, MHIM_RNG_DROPOUT, 1);
    uint8_t *keep = mhim_malloc((size_t)n), *keep_got = mhim_malloc((size_t)n);
    mhim_dropout_mask(keep, &stream, 5, p, n); /* first = 5: an unaligned start exercises the block split */
    uint8_t *keep_d = mhim_cuda_alloc(ctx, (size_t)n);
    mhim_cuda_dropout_mask(ctx, keep_d, &stream, 5, p, n);
    mhim_cuda_download(ctx, keep_got, keep_d, (size_t)n);
    int64_t differ = 0, kept = 0;
    for (int64_t i = 0; i < n; i++) {
        differ += keep[i] != keep_got[i];
        kept += keep[i];
    }
    printf("%s %-40s n=%lld differing=%lld kept=%.4f\n", differ ? "FAIL" : "ok  ", "dropout mask (bit-identical)",
           (long long)n, (long long)differ, (double)kept / (double)n);
    int bad = differ != 0;
    float *x = parity_random(r, n, -2, 2), *y = parity_zeros(n), *dx = parity_zeros(n);
    float *x_d = parity_up(ctx, x, n), *y_d = mhim_cuda_floats(ctx, n);
    mhim_dropout_forward(y, keep, x, p, n);
    mhim_cuda_dropout_forward(ctx, y_d, keep_d, x_d, p, n);
    bad += parity_check(ctx, "dropout forward", y_d, y, n, 0, 0);
    mhim_dropout_backward(dx, x, keep, p, n);
    mhim_cuda_dropout_backward(ctx, y_d, x_d, keep_d, p, n);
    bad += parity_check(ctx, "dropout backward", y_d, dx, n, 0, 0);
    return bad;
}

static int t_layernorm(mhim_cuda_ctx *ctx, test_rng *r) {
    const int64_t N = 29, C = 300;
    float *x = parity_random(r, N * C, -3, 3), *w = parity_random(r, C, 0.5f, 1.5f), *b = parity_random(r, C, -1, 1);
    float *dout = parity_random(r, N * C, -1, 1), *y = parity_zeros(N * C), *mean = parity_zeros(N);
    float *rstd = parity_zeros(N), *dx = parity_random(r, N * C, -1, 1), *dw = parity_random(r, C, -1, 1);
    float *db = parity_random(r, C, -1, 1);
    float *x_d = parity_up(ctx, x, N * C), *w_d = parity_up(ctx, w, C), *b_d = parity_up(ctx, b, C);
    float *dout_d = parity_up(ctx, dout, N * C), *y_d = mhim_cuda_floats(ctx, N * C);
    float *mean_d = mhim_cuda_floats(ctx, N), *rstd_d = mhim_cuda_floats(ctx, N);
    float *dx_d = parity_up(ctx, dx, N * C), *dw_d = parity_up(ctx, dw, C), *db_d = parity_up(ctx, db, C);
    int bad = 0;
    mhim_layernorm_forward(y, mean, rstd, x, w, b, N, C);
    mhim_cuda_layernorm_forward(ctx, y_d, mean_d, rstd_d, x_d, w_d, b_d, N, C);
    bad += parity_check(ctx, "layernorm forward", y_d, y, N * C, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    bad += parity_check(ctx, "layernorm mean", mean_d, mean, N, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    bad += parity_check(ctx, "layernorm rstd", rstd_d, rstd, N, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    mhim_layernorm_backward_acc(dx, dw, db, dout, x, w, mean, rstd, N, C);
    mhim_cuda_layernorm_backward_acc(ctx, dx_d, dw_d, db_d, dout_d, x_d, w_d, mean_d, rstd_d, N, C);
    bad += parity_check(ctx, "layernorm backward_acc dinp (+=)", dx_d, dx, N * C, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    bad += parity_check(ctx, "layernorm backward dweight (+=)", dw_d, dw, C, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    bad += parity_check(ctx, "layernorm backward dbias (+=)", db_d, db, C, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    mhim_layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, N, C);
    mhim_cuda_layernorm_backward(ctx, dx_d, dw_d, db_d, dout_d, x_d, w_d, mean_d, rstd_d, N, C);
    bad += parity_check(ctx, "layernorm backward dinp", dx_d, dx, N * C, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    return bad;
}

static int t_softmax(mhim_cuda_ctx *ctx, test_rng *r) {
    const int64_t N = 1500, K = 3, R = 7, L = 333;
    uint8_t *keep = mhim_malloc((size_t)N), *keep_none = mhim_calloc((size_t)L, 1);
    for (int64_t i = 0; i < N; i++) keep[i] = test_uniform(r, 0, 1) < 0.7f;
    float *x = parity_random(r, N * K, -5, 5), *dout = parity_random(r, N * K, -1, 1), *y = parity_zeros(N * K);
    float *dx = parity_zeros(N * K), *xr = parity_random(r, R * L, -5, 5), *yr = parity_zeros(R * L);
    float *doutr = parity_random(r, R * L, -1, 1), *dxr = parity_zeros(R * L);
    float *x_d = parity_up(ctx, x, N * K), *dout_d = parity_up(ctx, dout, N * K), *y_d = mhim_cuda_floats(ctx, N * K);
    float *xr_d = parity_up(ctx, xr, R * L), *doutr_d = parity_up(ctx, doutr, R * L);
    float *yr_d = mhim_cuda_floats(ctx, R * L);
    uint8_t *keep_d = parity_up_u8(ctx, keep, N), *none_d = parity_up_u8(ctx, keep_none, L);
    int bad = 0;
    mhim_softmax_instances_forward(y, x, keep, N, K);
    mhim_cuda_softmax_instances_forward(ctx, y_d, x_d, keep_d, N, K);
    bad += parity_check(ctx, "softmax instances forward (masked)", y_d, y, N * K, TOL_ELEM_ATOL, TOL_GEMM_RTOL);
    mhim_softmax_instances_backward(dx, dout, y, N, K);
    mhim_cuda_softmax_instances_backward(ctx, y_d, dout_d, y_d, N, K); /* in place on the device */
    bad += parity_check(ctx, "softmax instances backward", y_d, dx, N * K, TOL_ELEM_ATOL, TOL_GEMM_RTOL);
    mhim_softmax_rows_forward(yr, xr, NULL, R, L);
    mhim_cuda_softmax_rows_forward(ctx, yr_d, xr_d, NULL, R, L);
    bad += parity_check(ctx, "softmax rows forward", yr_d, yr, R * L, TOL_ELEM_ATOL, TOL_GEMM_RTOL);
    mhim_softmax_rows_backward(dxr, doutr, yr, R, L);
    mhim_cuda_softmax_rows_backward(ctx, yr_d, doutr_d, yr_d, R, L);
    bad += parity_check(ctx, "softmax rows backward", yr_d, dxr, R * L, TOL_ELEM_ATOL, TOL_GEMM_RTOL);
    mhim_softmax_rows_forward(yr, xr, keep_none, R, L);
    mhim_cuda_softmax_rows_forward(ctx, yr_d, xr_d, none_d, R, L);
    bad += parity_check(ctx, "softmax rows forward (all masked = 0)", yr_d, yr, R * L, 0, 0);
    return bad;
}

static int t_gather(mhim_cuda_ctx *ctx, test_rng *r) {
    const int64_t N = 300, M = 450, D = 70;
    int64_t *idx = mhim_malloc((size_t)M * sizeof(int64_t));
    for (int64_t j = 0; j < M; j++) idx[j] = (int64_t)(test_uniform(r, 0, 1) * (float)N) % N; /* repeats */
    float *x = parity_random(r, N * D, -1, 1), *dout = parity_random(r, M * D, -1, 1), *out = parity_zeros(M * D);
    float *dx = parity_random(r, N * D, -1, 1), *dx_acc = parity_copy(dx, N * D);
    float *x_d = parity_up(ctx, x, N * D), *dout_d = parity_up(ctx, dout, M * D), *out_d = mhim_cuda_floats(ctx, M * D);
    float *dx_d = parity_up(ctx, dx, N * D), *dxa_d = parity_up(ctx, dx_acc, N * D);
    int64_t *idx_d = parity_up_i64(ctx, idx, M);
    int bad = 0;
    mhim_gather_rows_forward(out, x, idx, M, N, D);
    mhim_cuda_gather_rows_forward(ctx, out_d, x_d, idx_d, M, N, D);
    bad += parity_check(ctx, "gather rows forward (exact)", out_d, out, M * D, 0, 0);
    mhim_gather_rows_backward(dx, dout, idx, M, N, D);
    mhim_cuda_gather_rows_backward(ctx, dx_d, dout_d, idx_d, M, N, D);
    bad += parity_check(ctx, "gather rows backward (exact)", dx_d, dx, N * D, 0, 0);
    mhim_gather_rows_backward_acc(dx_acc, dout, idx, M, N, D);
    mhim_cuda_gather_rows_backward_acc(ctx, dxa_d, dout_d, idx_d, M, N, D);
    bad += parity_check(ctx, "gather rows backward_acc (exact)", dxa_d, dx_acc, N * D, 0, 0);
    return bad;
}

static int t_losses(mhim_cuda_ctx *ctx, test_rng *r) {
    const int64_t B = 3, C = 4, R = 2, D = 512;
    int64_t target[3] = {1, 0, 3}, ybin[3] = {2, 0, 3};
    float cens[3] = {0, 1, 1};
    float *logits = parity_random(r, B * C, -3, 3), *probs = parity_zeros(B * C), *dl = parity_zeros(B * C);
    float *logits_d = parity_up(ctx, logits, B * C), *probs_d = mhim_cuda_floats(ctx, B * C);
    float *dl_d = mhim_cuda_floats(ctx, B * C), *loss_d = mhim_cuda_floats(ctx, 1);
    int64_t *target_d = parity_up_i64(ctx, target, B), *ybin_d = parity_up_i64(ctx, ybin, B);
    float *cens_d = parity_up(ctx, cens, B);
    int bad = 0;
    float loss = mhim_cross_entropy_forward(probs, logits, target, B, C);
    mhim_cuda_cross_entropy_forward(ctx, loss_d, probs_d, logits_d, target_d, B, C);
    bad += parity_check_scalar(ctx, "cross entropy loss", loss_d, loss, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    bad += parity_check(ctx, "cross entropy probs", probs_d, probs, B * C, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    mhim_cross_entropy_backward(dl, probs, target, 0.5f, B, C);
    mhim_cuda_cross_entropy_backward(ctx, dl_d, probs_d, target_d, 0.5f, B, C);
    bad += parity_check(ctx, "cross entropy backward", dl_d, dl, B * C, TOL_ELEM_ATOL, TOL_ELEM_RTOL);

    float *s = parity_random(r, R * D, -2, 2), *t = parity_random(r, R * D, -2, 2), *ps = parity_zeros(R * D);
    float *pt = parity_zeros(R * D), *ds = parity_zeros(R * D);
    float *s_d = parity_up(ctx, s, R * D), *t_d = parity_up(ctx, t, R * D), *ps_d = mhim_cuda_floats(ctx, R * D);
    float *pt_d = mhim_cuda_floats(ctx, R * D), *ds_d = mhim_cuda_floats(ctx, R * D);
    loss = mhim_soft_target_ce_forward(ps, pt, s, t, MHIM_CONSISTENCY_TEMP_T, MHIM_CONSISTENCY_TEMP_S, R, D);
    mhim_cuda_soft_target_ce_forward(ctx, loss_d, ps_d, pt_d, s_d, t_d, MHIM_CONSISTENCY_TEMP_T,
                                     MHIM_CONSISTENCY_TEMP_S, R, D);
    bad += parity_check_scalar(ctx, "soft-target CE loss", loss_d, loss, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    bad += parity_check(ctx, "soft-target CE p_teacher", pt_d, pt, R * D, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    mhim_soft_target_ce_backward(ds, ps, pt, 0.3f, MHIM_CONSISTENCY_TEMP_S, R, D);
    mhim_cuda_soft_target_ce_backward(ctx, ds_d, ps_d, pt_d, 0.3f, MHIM_CONSISTENCY_TEMP_S, R, D);
    bad += parity_check(ctx, "soft-target CE backward", ds_d, ds, R * D, TOL_ELEM_ATOL, TOL_ELEM_RTOL);

    float *y01 = parity_random(r, B * C, 0, 1);
    float *y01_d = parity_up(ctx, y01, B * C);
    loss = mhim_bce_logits_forward(logits, y01, B * C);
    mhim_cuda_bce_logits_forward(ctx, loss_d, logits_d, y01_d, B * C);
    bad += parity_check_scalar(ctx, "BCE-with-logits loss", loss_d, loss, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    mhim_bce_logits_backward(dl, logits, y01, 1.0f, B * C);
    mhim_cuda_bce_logits_backward(ctx, dl_d, logits_d, y01_d, 1.0f, B * C);
    bad += parity_check(ctx, "BCE-with-logits backward", dl_d, dl, B * C, TOL_ELEM_ATOL, TOL_ELEM_RTOL);

    float *haz = parity_zeros(B * C), *surv = parity_zeros(B * C);
    float *haz_d = mhim_cuda_floats(ctx, B * C), *surv_d = mhim_cuda_floats(ctx, B * C);
    loss = mhim_nll_surv_forward(haz, surv, logits, ybin, cens, 0.0f, B, C);
    mhim_cuda_nll_surv_forward(ctx, loss_d, haz_d, surv_d, logits_d, ybin_d, cens_d, 0.0f, B, C);
    bad += parity_check_scalar(ctx, "NLL survival loss", loss_d, loss, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    bad += parity_check(ctx, "NLL survival S", surv_d, surv, B * C, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    mhim_nll_surv_backward(dl, haz, surv, ybin, cens, 0.0f, 1.0f, B, C);
    mhim_cuda_nll_surv_backward(ctx, dl_d, haz_d, surv_d, ybin_d, cens_d, 0.0f, 1.0f, B, C);
    bad += parity_check(ctx, "NLL survival backward", dl_d, dl, B * C, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    return bad;
}

int main(void) {
    mhim_cuda_ctx *ctx = NULL;
    int rc = parity_open(&ctx);
    if (rc) return rc;
    test_rng rng = {20260101ULL};
    int (*tests[])(mhim_cuda_ctx *, test_rng *) = {t_linear, t_act, t_dropout, t_layernorm, t_softmax, t_gather,
                                                   t_losses};
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
