/* The fused first-layer epilogue (mhim_cuda_bias_act_dropout_forward) against the CPU ops it fuses: bias added to
 * the GEMM output, mhim_act_forward, mhim_dropout_forward; with and without bias, pre cache and dropout, for every
 * activation it accepts, in place (h == lin) and not. Then the backward the models run after it (dropout backward,
 * then the activation backward reading pre or the dropped-out h) against the CPU backward of the unfused chain.
 * Skipped (77) without a GPU. */
#include <stdio.h>
#include <stdlib.h>

#include "mhim/common.h"
#include "mhim/ops.h"
#include "parity.h"

enum { N = 301, C = 130 };
#define P_DROP 0.3f

static const char *act_name(mhim_act a) {
    return a == MHIM_ACT_RELU ? "relu" : a == MHIM_ACT_GELU ? "gelu" : a == MHIM_ACT_TANH ? "tanh" : "sigmoid";
}

int main(void) {
    mhim_cuda_ctx *ctx = NULL;
    int rc = parity_open(&ctx);
    if (rc) return rc;
    test_rng rng = {2026ULL};
    float *lin = parity_random(&rng, N * C, -2, 2), *bias = parity_random(&rng, C, -0.5f, 0.5f);
    float *dout = parity_random(&rng, N * C, -1, 1);
    uint8_t *keep = mhim_malloc(N * C);
    for (int64_t i = 0; i < N * C; i++) keep[i] = test_uniform(&rng, 0, 1) >= P_DROP;
    float *lin_d = parity_up(ctx, lin, N * C), *bias_d = parity_up(ctx, bias, C), *dout_d = parity_up(ctx, dout, N * C);
    uint8_t *keep_d = parity_up_u8(ctx, keep, N * C);
    float *v = parity_zeros(N * C), *a = parity_zeros(N * C), *h = parity_zeros(N * C), *dh = parity_zeros(N * C);
    float *h_d = mhim_cuda_floats(ctx, N * C), *pre_d = mhim_cuda_floats(ctx, N * C), *dh_d = mhim_cuda_floats(ctx, N * C);
    int bad = 0;
    const mhim_act acts[] = {MHIM_ACT_RELU, MHIM_ACT_GELU, MHIM_ACT_TANH, MHIM_ACT_SIGMOID};
    for (int k = 0; k < 4; k++)
        for (int with_bias = 0; with_bias < 2; with_bias++)
            for (int with_drop = 0; with_drop < 2; with_drop++) {
                const mhim_act act = acts[k];
                if (with_drop && act != MHIM_ACT_RELU && act != MHIM_ACT_GELU) continue;
                for (int64_t i = 0; i < N * C; i++) v[i] = with_bias ? lin[i] + bias[i % C] : lin[i];
                mhim_act_forward(act, a, v, N * C);
                if (with_drop) mhim_dropout_forward(h, keep, a, P_DROP, N * C);
                else for (int64_t i = 0; i < N * C; i++) h[i] = a[i];
                const int in_place = (k + with_bias) % 2; /* half of the cases write over lin */
                float *out_d = h_d;
                if (in_place) {
                    out_d = mhim_cuda_floats(ctx, N * C);
                    mhim_cuda_upload(ctx, out_d, lin, (size_t)(N * C) * sizeof(float));
                }
                mhim_cuda_bias_act_dropout_forward(ctx, out_d, pre_d, in_place ? out_d : lin_d,
                                                   with_bias ? bias_d : NULL, act, with_drop ? keep_d : NULL, P_DROP, N,
                                                   C);
                char name[96];
                snprintf(name, sizeof name, "%s bias=%d dropout=%d in_place=%d: h", act_name(act), with_bias, with_drop,
                         in_place);
                bad += parity_check(ctx, name, out_d, h, N * C, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
                snprintf(name, sizeof name, "%s bias=%d dropout=%d: pre", act_name(act), with_bias, with_drop);
                bad += parity_check(ctx, name, pre_d, v, N * C, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
                if (!with_drop) continue;
                /* backward as the models run it: dropout first, then the activation reading pre (GELU) or h (ReLU) */
                mhim_dropout_backward(dh, dout, keep, P_DROP, N * C);
                mhim_act_backward(act, dh, dh, v, a, N * C);
                mhim_cuda_dropout_backward(ctx, dh_d, dout_d, keep_d, P_DROP, N * C);
                mhim_cuda_act_backward(ctx, act, dh_d, dh_d, pre_d, out_d, N * C);
                snprintf(name, sizeof name, "%s bias=%d: backward through the fused forward", act_name(act), with_bias);
                bad += parity_check(ctx, name, dh_d, dh, N * C, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
            }
    mhim_cuda_ctx_destroy(ctx);
    printf("%s: %d failing check(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad ? 1 : 0;
}
