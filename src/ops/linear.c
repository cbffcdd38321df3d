/* nn.Linear forward/backward on OpenBLAS or the bf16 GEMM (see mhim/ops/linear.h); layers with at most a few outputs
 * run the thin one-pass products of ops/thin.h instead. */
#include "mhim/ops/linear.h"

#include "mhim/common.h"
#include "mhim/ops/act.h"
#include "mhim/threads.h"
#include "ops/gemm.h"
#include "ops/gemm_bf16.h"
#include "ops/thin.h"

/* The process-wide switch of the bf16 linear layers (mhim_linear_set_bf16). */
static int linear_bf16;

void mhim_linear_set_bf16(int on) {
    MHIM_ASSERT(!on || mhim_gemm_bf16_available());
    linear_bf16 = on != 0;
}

/* c (M,N) = op(a) · op(b) + beta · c: the fp32 GEMM, or the bf16 one while the switch is on. */
static void linear_gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, const float *a, const float *b,
                        float beta, float *c) {
    if (linear_bf16)
        mhim_gemm_bf16(trans_a, trans_b, M, N, K, 1.0f, a, b, beta, c);
    else
        mhim_gemm(trans_a, trans_b, M, N, K, 1.0f, a, b, beta, c);
}

/* BLAS takes int dimensions; every GEMM dimension must fit. */
void mhim_linear_forward(float *out, const float *inp, const float *weight, const float *bias, int64_t N, int64_t C,
                         int64_t OC) {
    MHIM_ASSERT(C > 0 && OC > 0);
    if (N == 0) return;
    if (mhim_thin_fits(OC, C)) {
        mhim_thin_dot_rows(out, inp, weight, bias, N, OC, C);
        return;
    }
    float beta = 0.0f;
    if (bias) {
#pragma omp parallel for schedule(static) if (N * OC >= MHIM_OPS_PARALLEL_MIN)
        for (int64_t i = 0; i < N; i++) {
            float *row = out + i * OC;
            for (int64_t o = 0; o < OC; o++) row[o] = bias[o];
        }
        beta = 1.0f;
    }
    /* out (N,OC) = inp (N,C) · weight(OC,C)ᵀ (+ out) */
    linear_gemm(0, 1, N, OC, C, inp, weight, beta, out);
}

static void linear_backward(float *dinp, float beta_inp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int64_t N, int64_t C, int64_t OC) {
    MHIM_ASSERT(C > 0 && OC > 0);
    if (N == 0) return;
    if (mhim_thin_fits(OC, C)) {
        if (dinp) mhim_thin_combine_rows(dinp, beta_inp != 0.0f, dout, weight, N, OC, C);
        if (dweight) mhim_thin_weighted_colsum(dweight, 1, dout, inp, N, OC, C);
        if (dbias) mhim_colsum_acc(dbias, dout, N, OC);
        return;
    }
    if (dinp) {
        /* dinp (N,C) = dout (N,OC) · weight (OC,C) (+ dinp) */
        linear_gemm(0, 0, N, C, OC, dout, weight, beta_inp, dinp);
    }
    if (dweight) {
        /* dweight (OC,C) += dout(N,OC)ᵀ · inp (N,C) */
        linear_gemm(1, 0, OC, C, N, dout, inp, 1.0f, dweight);
    }
    if (dbias) mhim_colsum_acc(dbias, dout, N, OC);
}

void mhim_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                          const float *weight, int64_t N, int64_t C, int64_t OC) {
    linear_backward(dinp, 0.0f, dweight, dbias, dout, inp, weight, N, C, OC);
}

void mhim_linear_backward_acc(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                              const float *weight, int64_t N, int64_t C, int64_t OC) {
    linear_backward(dinp, 1.0f, dweight, dbias, dout, inp, weight, N, C, OC);
}
