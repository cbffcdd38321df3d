/* ABMIL attention-score network s = act(h W1ᵀ + b1) W2ᵀ + b2 (see mhim/ops/attnpool.h), composed of the linear
 * and activation ops. */
#include "mhim/ops/attnpool.h"

#include "mhim/common.h"
#include "mhim/ops/linear.h"

void mhim_abmil_scores_forward(float *s, float *pre, float *hid, const float *h, const float *W1, const float *b1,
                               const float *W2, const float *b2, mhim_act act, int64_t N, int64_t D, int64_t L,
                               int64_t K) {
    MHIM_ASSERT(pre || !mhim_act_needs_input(act));
    float *lin = pre ? pre : hid; /* without a pre cache the activation runs in place */
    mhim_linear_forward(lin, h, W1, b1, N, D, L);
    mhim_act_forward(act, hid, lin, N * L);
    mhim_linear_forward(s, hid, W2, b2, N, L, K);
}

static void abmil_scores_backward(float *dh, int accumulate, float *dW1, float *db1, float *dW2, float *db2,
                                  float *scratch, const float *ds, const float *h, const float *pre,
                                  const float *hid, const float *W1, const float *W2, mhim_act act, int64_t N,
                                  int64_t D, int64_t L, int64_t K) {
    mhim_linear_backward(scratch, dW2, db2, ds, hid, W2, N, L, K);
    mhim_act_backward(act, scratch, scratch, pre, hid, N * L);
    if (accumulate)
        mhim_linear_backward_acc(dh, dW1, db1, scratch, h, W1, N, D, L);
    else
        mhim_linear_backward(dh, dW1, db1, scratch, h, W1, N, D, L);
}

void mhim_abmil_scores_backward(float *dh, float *dW1, float *db1, float *dW2, float *db2, float *scratch,
                                const float *ds, const float *h, const float *pre, const float *hid, const float *W1,
                                const float *W2, mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K) {
    abmil_scores_backward(dh, 0, dW1, db1, dW2, db2, scratch, ds, h, pre, hid, W1, W2, act, N, D, L, K);
}

void mhim_abmil_scores_backward_acc(float *dh, float *dW1, float *db1, float *dW2, float *db2, float *scratch,
                                    const float *ds, const float *h, const float *pre, const float *hid,
                                    const float *W1, const float *W2, mhim_act act, int64_t N, int64_t D, int64_t L,
                                    int64_t K) {
    abmil_scores_backward(dh, 1, dW1, db1, dW2, db2, scratch, ds, h, pre, hid, W1, W2, act, N, D, L, K);
}
