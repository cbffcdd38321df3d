/* Gated ABMIL attention scores s = (act(h Waᵀ + ba) ⊙ sigmoid(h Wbᵀ + bb)) Wcᵀ + bc (see mhim/ops/attnpool.h). */
#include "mhim/ops/attnpool.h"

#include "mhim/common.h"
#include "mhim/ops/linear.h"

void mhim_gated_scores_forward(float *s, float *a_pre, float *a, float *b, float *g, const float *h, const float *Wa,
                               const float *ba, const float *Wb, const float *bb, const float *Wc, const float *bc,
                               mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K) {
    MHIM_ASSERT(a_pre || !mhim_act_needs_input(act));
    float *lin_a = a_pre ? a_pre : a; /* without a pre cache the activation runs in place */
    mhim_linear_forward(lin_a, h, Wa, ba, N, D, L);
    mhim_act_forward(act, a, lin_a, N * L);
    mhim_linear_forward(b, h, Wb, bb, N, D, L);
    mhim_sigmoid_forward(b, b, N * L);
    int64_t n = N * L;
#pragma omp parallel for schedule(static) if (n >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) g[i] = a[i] * b[i];
    mhim_linear_forward(s, g, Wc, bc, N, L, K);
}

static void gated_scores_backward(float *dh, int accumulate, float *dWa, float *dba, float *dWb, float *dbb,
                                  float *dWc, float *dbc, float *scratch, const float *ds, const float *h,
                                  const float *a_pre, const float *a, const float *b, const float *g, const float *Wa,
                                  const float *Wb, const float *Wc, mhim_act act, int64_t N, int64_t D, int64_t L,
                                  int64_t K) {
    int64_t n = N * L;
    float *da = scratch, *db = scratch + n;
    mhim_linear_backward(da, dWc, dbc, ds, g, Wc, N, L, K); /* da holds dg for now */
#pragma omp parallel for schedule(static) if (n >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        float dg = da[i];
        db[i] = dg * a[i];
        da[i] = dg * b[i];
    }
    mhim_sigmoid_backward(db, db, b, n);
    mhim_act_backward(act, da, da, a_pre, a, n);
    if (accumulate)
        mhim_linear_backward_acc(dh, dWa, dba, da, h, Wa, N, D, L);
    else
        mhim_linear_backward(dh, dWa, dba, da, h, Wa, N, D, L);
    mhim_linear_backward_acc(dh, dWb, dbb, db, h, Wb, N, D, L);
}

void mhim_gated_scores_backward(float *dh, float *dWa, float *dba, float *dWb, float *dbb, float *dWc, float *dbc,
                                float *scratch, const float *ds, const float *h, const float *a_pre, const float *a,
                                const float *b, const float *g, const float *Wa, const float *Wb, const float *Wc,
                                mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K) {
    gated_scores_backward(dh, 0, dWa, dba, dWb, dbb, dWc, dbc, scratch, ds, h, a_pre, a, b, g, Wa, Wb, Wc, act, N, D,
                          L, K);
}

void mhim_gated_scores_backward_acc(float *dh, float *dWa, float *dba, float *dWb, float *dbb, float *dWc, float *dbc,
                                    float *scratch, const float *ds, const float *h, const float *a_pre,
                                    const float *a, const float *b, const float *g, const float *Wa, const float *Wb,
                                    const float *Wc, mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K) {
    gated_scores_backward(dh, 1, dWa, dba, dWb, dbb, dWc, dbc, scratch, ds, h, a_pre, a, b, g, Wa, Wb, Wc, act, N, D,
                          L, K);
}
