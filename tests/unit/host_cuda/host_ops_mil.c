/* tests/unit/host_cuda/host_ops_mil.c — the rest of the device API that the GPU ABMIL and DSMIL networks
 * (cuda/model_abmil.c, cuda/model_dsmil.c, cuda/model_embed.c) use, on the host with the CPU ops: attention pooling,
 * instance softmax, ABMIL and gated scores, the DSMIL pieces, and cuda/model_ops.cu (row dropout masks, copy, add).
 * Included after host_ops.c by the *_on_host tests in builds WITHOUT CUDA. */
#include "mhim/ops/attnpool.h"
#include "mhim/models/dsmil.h"
#include "mhim/ops/dsmil.h"
#include "mhim/ops/softmax.h"

void mhim_cuda_softmax_instances_forward(mhim_cuda_ctx *ctx, float *out, const float *inp, const uint8_t *keep,
                                         int64_t N, int64_t K) {
    (void)ctx;
    mhim_softmax_instances_forward(out, inp, keep, N, K);
}

void mhim_cuda_softmax_instances_backward(mhim_cuda_ctx *ctx, float *dinp, const float *dout, const float *out,
                                          int64_t N, int64_t K) {
    (void)ctx;
    mhim_softmax_instances_backward(dinp, dout, out, N, K);
}

void mhim_cuda_attnpool_forward(mhim_cuda_ctx *ctx, float *z, const float *A, const float *h, int64_t N, int64_t K,
                                int64_t D) {
    (void)ctx;
    mhim_attnpool_forward(z, A, h, N, K, D);
}

void mhim_cuda_attnpool_backward(mhim_cuda_ctx *ctx, float *dA, float *dh, const float *dz, const float *A,
                                 const float *h, int64_t N, int64_t K, int64_t D) {
    (void)ctx;
    mhim_attnpool_backward(dA, dh, dz, A, h, N, K, D);
}

void mhim_cuda_abmil_scores_forward(mhim_cuda_ctx *ctx, float *s, float *pre, float *hid, const float *h,
                                    const float *W1, const float *b1, const float *W2, const float *b2, mhim_act act,
                                    int64_t N, int64_t D, int64_t L, int64_t K) {
    (void)ctx;
    mhim_abmil_scores_forward(s, pre, hid, h, W1, b1, W2, b2, act, N, D, L, K);
}

void mhim_cuda_abmil_scores_backward_acc(mhim_cuda_ctx *ctx, float *dh, float *dW1, float *db1, float *dW2,
                                         float *db2, float *scratch, const float *ds, const float *h,
                                         const float *pre, const float *hid, const float *W1, const float *W2,
                                         mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K) {
    (void)ctx;
    mhim_abmil_scores_backward_acc(dh, dW1, db1, dW2, db2, scratch, ds, h, pre, hid, W1, W2, act, N, D, L, K);
}

void mhim_cuda_gated_scores_forward(mhim_cuda_ctx *ctx, float *s, float *a_pre, float *a, float *b, float *g,
                                    const float *h, const float *Wa, const float *ba, const float *Wb,
                                    const float *bb, const float *Wc, const float *bc, mhim_act act, int64_t N,
                                    int64_t D, int64_t L, int64_t K) {
    (void)ctx;
    mhim_gated_scores_forward(s, a_pre, a, b, g, h, Wa, ba, Wb, bb, Wc, bc, act, N, D, L, K);
}

void mhim_cuda_gated_scores_backward_acc(mhim_cuda_ctx *ctx, float *dh, float *dWa, float *dba, float *dWb,
                                         float *dbb, float *dWc, float *dbc, float *scratch, const float *ds,
                                         const float *h, const float *a_pre, const float *a, const float *b,
                                         const float *g, const float *Wa, const float *Wb, const float *Wc,
                                         mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K) {
    (void)ctx;
    mhim_gated_scores_backward_acc(dh, dWa, dba, dWb, dbb, dWc, dbc, scratch, ds, h, a_pre, a, b, g, Wa, Wb, Wc, act,
                                   N, D, L, K);
}

void mhim_cuda_dsmil_critical_forward(mhim_cuda_ctx *ctx, int64_t *crit, float *max_logit, const float *inst,
                                      int64_t n, int64_t C) {
    (void)ctx;
    mhim_dsmil_critical_forward(crit, max_logit, inst, n, C);
}

void mhim_cuda_dsmil_critical_backward_acc(mhim_cuda_ctx *ctx, float *d_inst, const float *d_max_logit,
                                           const int64_t *crit, int64_t n, int64_t C) {
    (void)ctx;
    mhim_dsmil_critical_backward_acc(d_inst, d_max_logit, crit, n, C);
}

void mhim_cuda_dsmil_instance_score(mhim_cuda_ctx *ctx, float *score, const float *inst, int64_t n, int64_t C) {
    (void)ctx;
    mhim_dsmil_instance_score(score, inst, n, C);
}

void mhim_cuda_dsmil_loss_v1(mhim_cuda_ctx *ctx, float *loss, float *d_bag, float *d_max, const float *bag_logit,
                             const float *max_logit, const int64_t *target, float dloss, int64_t C) {
    (void)ctx;
    *loss = mhim_dsmil_loss(d_bag, d_max, 1, bag_logit, max_logit, *target, dloss, C);
}

void mhim_cuda_dsmil_attention_forward(mhim_cuda_ctx *ctx, float *bag, float *attn, const float *q,
                                       const int64_t *crit, const float *v, int64_t n, int64_t C, int64_t Dq,
                                       int64_t D) {
    (void)ctx;
    mhim_dsmil_attention_forward(bag, attn, q, crit, v, n, C, Dq, D);
}

void mhim_cuda_dsmil_attention_backward(mhim_cuda_ctx *ctx, float *dq, float *dv, const float *d_bag,
                                        float *scratch, const float *attn, const float *q, const int64_t *crit,
                                        const float *v, int64_t n, int64_t C, int64_t Dq, int64_t D) {
    (void)ctx;
    mhim_dsmil_attention_backward(dq, dv, d_bag, scratch, attn, q, crit, v, n, C, Dq, D);
}

void mhim_cuda_dsmil_fcc_forward(mhim_cuda_ctx *ctx, float *logit, const float *bag, const float *w, const float *b,
                                 int64_t C, int64_t D) {
    (void)ctx;
    mhim_dsmil_fcc_forward(logit, bag, w, b, C, D);
}

void mhim_cuda_dsmil_fcc_backward(mhim_cuda_ctx *ctx, float *d_bag, float *dw, float *db, const float *d_logit,
                                  const float *bag, const float *w, int64_t C, int64_t D) {
    (void)ctx;
    mhim_dsmil_fcc_backward(d_bag, dw, db, d_logit, bag, w, C, D);
}

void mhim_cuda_dropout_mask_rows(mhim_cuda_ctx *ctx, uint8_t *keep, const mhim_rng *stream, const int64_t *idx,
                                 float p, int64_t M, int64_t W) {
    (void)ctx;
    for (int64_t j = 0; j < M; j++) mhim_dropout_mask(keep + j * W, stream, (uint64_t)idx[j] * (uint64_t)W, p, W);
}

void mhim_cuda_copy(mhim_cuda_ctx *ctx, void *dst, const void *src, size_t bytes) {
    (void)ctx;
    if (bytes) memcpy(dst, src, bytes);
}

void mhim_cuda_add(mhim_cuda_ctx *ctx, float *y, const float *x, int64_t n) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void mhim_cuda_div(mhim_cuda_ctx *ctx, float *y, float divisor, int64_t n) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++) y[i] /= divisor;
}
