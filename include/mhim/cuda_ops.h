/* mhim/cuda_ops.h — the CUDA backend: a device context (stream, cuBLAS handle, one-allocation arena) and the op
 * table with the same contracts as the CPU ops of the mhim/ops headers (compiled only with MHIM_USE_CUDA=ON).
 *
 * Every op is mhim_cuda_<cpu op name>(ctx, <the CPU op's arguments>): same argument order, shapes, accumulation
 * rule (parameter gradients +=, activation gradients =, `_acc` +=), NULL rules and constants; the pointers are
 * DEVICE pointers. Ops are asynchronous on the context's stream and never allocate; scratch is passed in (sizes as
 * the CPU op unless stated) or carved from the arena. Differences from the CPU ops, all documented per op:
 *   - losses write their value to a device float (`loss`) instead of returning it (no sync inside a step);
 *   - integer labels/indices are device int64 arrays; out-of-range indices trap the kernel (a caller bug, as the
 *     CPU's abort);
 *   - GEMMs run on cuBLAS in fp32 with TF32 off (CUBLAS_PEDANTIC_MATH); reductions use fixed-order block trees in
 *     double, so results are deterministic run to run but differ from the CPU in the last bits (tolerances in
 *     docs/gpu.md). Dropout masks are bit-identical to mhim_dropout_mask (same Philox stream layout).
 * Errors: context creation returns MHIM_OK or MHIM_EINPUT with an mhim_fail message (no device, bad ordinal,
 * arena does not fit); a failing CUDA call inside an op is a bug or a lost device and aborts with its message. */
#ifndef MHIM_CUDA_OPS_H
#define MHIM_CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "mhim/ops/act.h"
#include "mhim/optim.h"
#include "mhim/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- context, arena, transfers ------------------------------------------------------------------------------ */

typedef struct mhim_cuda_ctx mhim_cuda_ctx;

/* Open device `device` (CUDA ordinal), create its compute and copy streams and a cuBLAS handle (fp32, TF32 off),
 * and reserve an arena of arena_bytes (one cudaMalloc). *out is set on success. */
int mhim_cuda_ctx_create(mhim_cuda_ctx **out, int device, size_t arena_bytes);
/* Wait for outstanding work and release everything (NULL is a no-op). */
void mhim_cuda_ctx_destroy(mhim_cuda_ctx *ctx);
/* Ordinal of the device this process should use: the node-local rank (OMPI_COMM_WORLD_LOCAL_RANK, else
 * SLURM_LOCALID, else 0) modulo the visible device count. MHIM_EINPUT with a message when no device is usable. */
int mhim_cuda_local_device(int *device);

/* Arena: 256-byte aligned blocks (never NULL; dies with the arena size and the request when it does not fit). */
void *mhim_cuda_alloc(mhim_cuda_ctx *ctx, size_t bytes);
float *mhim_cuda_floats(mhim_cuda_ctx *ctx, int64_t n);
int64_t *mhim_cuda_i64(mhim_cuda_ctx *ctx, int64_t n);
size_t mhim_cuda_mark(const mhim_cuda_ctx *ctx);
void mhim_cuda_reset(mhim_cuda_ctx *ctx, size_t mark); /* release every block carved after mark */
size_t mhim_cuda_arena_peak(const mhim_cuda_ctx *ctx);

/* Copies on the compute stream (ordered with the ops). Host memory may be pageable; download waits for the
 * copy to finish, upload does not (the host buffer must stay valid until the next mhim_cuda_sync). */
void mhim_cuda_upload(mhim_cuda_ctx *ctx, void *dev, const void *host, size_t bytes);
void mhim_cuda_download(mhim_cuda_ctx *ctx, void *host, const void *dev, size_t bytes);
void mhim_cuda_memset0(mhim_cuda_ctx *ctx, void *dev, size_t bytes);
void mhim_cuda_sync(mhim_cuda_ctx *ctx);
/* Device-to-device copy, y (n) += x (n) and y (n) /= divisor (IEEE division, as the host's) on the compute stream
 * (cuda/model_ops.cu). */
void mhim_cuda_copy(mhim_cuda_ctx *ctx, void *dst, const void *src, size_t bytes);
void mhim_cuda_add(mhim_cuda_ctx *ctx, float *y, const float *x, int64_t n);
void mhim_cuda_div(mhim_cuda_ctx *ctx, float *y, float divisor, int64_t n);

/* Row-major c (M,N) = alpha·op(a)·op(b) + beta·c on cuBLAS (as the CPU's mhim_gemm). */
void mhim_cuda_gemm(mhim_cuda_ctx *ctx, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *a, const float *b, float beta, float *c);
/* Per-head batch of the same GEMM: `batch` matrices at the given strides (floats). */
void mhim_cuda_gemm_batched(mhim_cuda_ctx *ctx, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                            float alpha, const float *a, int64_t stride_a, const float *b, int64_t stride_b,
                            float beta, float *c, int64_t stride_c, int64_t batch);
/* bf16 first layer (--precision=bf16): off by default; when on, the GPU networks' front end converts its input rows,
 * its weight and the gradient of its output to bf16 and runs the two first-layer GEMMs (forward and weight gradient)
 * as mhim_cuda_gemm_bf16; everything else stays fp32. */
void mhim_cuda_set_first_layer_bf16(mhim_cuda_ctx *ctx, int on);
int mhim_cuda_first_layer_bf16(const mhim_cuda_ctx *ctx);
/* out (n) = bf16 bits of in (n), the rounding of mhim_float_to_bf16 (same bits). */
void mhim_cuda_float_to_bf16(mhim_cuda_ctx *ctx, uint16_t *out, const float *in, int64_t n);
/* Row-major c (M,N) = alpha·op(a)·op(b) + beta·c with a, b bf16 and c fp32: products exact, sums in fp32
 * (cublasGemmEx, CUBLAS_COMPUTE_32F on tensor cores; the summation order is cuBLAS's). */
void mhim_cuda_gemm_bf16(mhim_cuda_ctx *ctx, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                         const uint16_t *a, const uint16_t *b, float beta, float *c);
/* Arena bytes of the bf16 copies one front-end forward + backward needs on up to n_max rows: the rows
 * (n_max, input_dim), the weight (dim, input_dim) and the output gradient (n_max, dim), 256-byte blocks each. */
static inline size_t mhim_cuda_bf16_first_layer_bytes(int64_t n_max, int64_t input_dim, int64_t dim) {
    const int64_t counts[3] = {n_max * input_dim, dim * input_dim, n_max * dim};
    size_t bytes = 0;
    for (int i = 0; i < 3; i++) bytes += ((size_t)counts[i] * 2 + 255) / 256 * 256;
    return bytes;
}
/* out (n) = fp16 bits in (n) widened to float (bags cached in fp16 storage). */
void mhim_cuda_half_to_float(mhim_cuda_ctx *ctx, float *out, const uint16_t *in, int64_t n);
/* dst (C) += Σ_rows src (N, C) in double, in a fixed chunked order (bias gradients; partials in the context's own 1 MiB scratch). */
void mhim_cuda_colsum_acc(mhim_cuda_ctx *ctx, float *dst, const float *src, int64_t N, int64_t C);

/* ---- linear, activations, dropout (mhim/ops/linear.h, act.h, dropout.h) -------------------------------------- */

void mhim_cuda_linear_forward(mhim_cuda_ctx *ctx, float *out, const float *inp, const float *weight,
                              const float *bias, int64_t N, int64_t C, int64_t OC);
void mhim_cuda_linear_backward(mhim_cuda_ctx *ctx, float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, int64_t N, int64_t C, int64_t OC);
void mhim_cuda_linear_backward_acc(mhim_cuda_ctx *ctx, float *dinp, float *dweight, float *dbias, const float *dout,
                                   const float *inp, const float *weight, int64_t N, int64_t C, int64_t OC);

void mhim_cuda_act_forward(mhim_cuda_ctx *ctx, mhim_act act, float *out, const float *inp, int64_t n);
void mhim_cuda_act_backward(mhim_cuda_ctx *ctx, mhim_act act, float *dinp, const float *dout, const float *inp,
                            const float *out, int64_t n);

/* Value i of stream r computed by the device generator's code compiled for the host (equals mhim_rng_u32_at; lets
 * builds without a GPU test the device Philox). */
uint32_t mhim_cuda_rng_u32_host(const mhim_rng *r, uint64_t i);
/* keep (n) device bytes, identical to mhim_dropout_mask(keep, stream, first, p, n). */
void mhim_cuda_dropout_mask(mhim_cuda_ctx *ctx, uint8_t *keep, const mhim_rng *stream, uint64_t first, float p,
                            int64_t n);
/* keep (M, W) device bytes for gathered rows: row j equals mhim_dropout_mask(keep + j·W, stream, idx[j]·W, p, W)
 * (idx device int64), the mask the CPU front end draws for the kept instance idx[j] (cuda/model_ops.cu). */
void mhim_cuda_dropout_mask_rows(mhim_cuda_ctx *ctx, uint8_t *keep, const mhim_rng *stream, const int64_t *idx,
                                 float p, int64_t M, int64_t W);
void mhim_cuda_dropout_forward(mhim_cuda_ctx *ctx, float *out, const uint8_t *keep, const float *inp, float p,
                               int64_t n);
void mhim_cuda_dropout_backward(mhim_cuda_ctx *ctx, float *dinp, const float *dout, const uint8_t *keep, float p,
                                int64_t n);
/* The first layer's epilogue in one pass over lin (N, C) = the GEMM output without bias: v = lin + bias (bias may be
 * NULL), pre = v when pre is not NULL (GELU's backward reads it), h = act(v), then h = h · keep · 1/(1-p) when keep is
 * not NULL: the arithmetic of linear_forward's bias + act_forward + dropout_forward. h may alias lin. With keep, act
 * must be ReLU or GELU: their backward (dropout backward first) needs only pre, or the sign of h, which dropout keeps. */
void mhim_cuda_bias_act_dropout_forward(mhim_cuda_ctx *ctx, float *h, float *pre, const float *lin, const float *bias,
                                        mhim_act act, const uint8_t *keep, float p, int64_t N, int64_t C);

/* ---- normalisation, softmax, gather (mhim/ops/norm.h, softmax.h, gather.h) ------------------------------------ */

void mhim_cuda_layernorm_forward(mhim_cuda_ctx *ctx, float *out, float *mean, float *rstd, const float *inp,
                                 const float *weight, const float *bias, int64_t N, int64_t C);
void mhim_cuda_layernorm_backward(mhim_cuda_ctx *ctx, float *dinp, float *dweight, float *dbias, const float *dout,
                                  const float *inp, const float *weight, const float *mean, const float *rstd,
                                  int64_t N, int64_t C);
void mhim_cuda_layernorm_backward_acc(mhim_cuda_ctx *ctx, float *dinp, float *dweight, float *dbias,
                                      const float *dout, const float *inp, const float *weight, const float *mean,
                                      const float *rstd, int64_t N, int64_t C);

void mhim_cuda_softmax_instances_forward(mhim_cuda_ctx *ctx, float *out, const float *inp, const uint8_t *keep,
                                         int64_t N, int64_t K);
void mhim_cuda_softmax_instances_backward(mhim_cuda_ctx *ctx, float *dinp, const float *dout, const float *out,
                                          int64_t N, int64_t K);
void mhim_cuda_softmax_rows_forward(mhim_cuda_ctx *ctx, float *out, const float *inp, const uint8_t *keep, int64_t R,
                                    int64_t L);
void mhim_cuda_softmax_rows_backward(mhim_cuda_ctx *ctx, float *dinp, const float *dout, const float *out, int64_t R,
                                     int64_t L);

/* idx (M) device int64. The scatter walks j in order per column: bit-identical to the CPU. */
void mhim_cuda_gather_rows_forward(mhim_cuda_ctx *ctx, float *out, const float *x, const int64_t *idx, int64_t M,
                                   int64_t N, int64_t D);
void mhim_cuda_gather_rows_backward(mhim_cuda_ctx *ctx, float *dx, const float *dout, const int64_t *idx, int64_t M,
                                    int64_t N, int64_t D);
void mhim_cuda_gather_rows_backward_acc(mhim_cuda_ctx *ctx, float *dx, const float *dout, const int64_t *idx,
                                        int64_t M, int64_t N, int64_t D);

/* ---- attention pooling and ABMIL scores (mhim/ops/attnpool.h) ------------------------------------------------ */

void mhim_cuda_attnpool_forward(mhim_cuda_ctx *ctx, float *z, const float *A, const float *h, int64_t N, int64_t K,
                                int64_t D);
void mhim_cuda_attnpool_backward(mhim_cuda_ctx *ctx, float *dA, float *dh, const float *dz, const float *A,
                                 const float *h, int64_t N, int64_t K, int64_t D);
void mhim_cuda_attnpool_backward_acc(mhim_cuda_ctx *ctx, float *dA, float *dh, const float *dz, const float *A,
                                     const float *h, int64_t N, int64_t K, int64_t D);

void mhim_cuda_abmil_scores_forward(mhim_cuda_ctx *ctx, float *s, float *pre, float *hid, const float *h,
                                    const float *W1, const float *b1, const float *W2, const float *b2, mhim_act act,
                                    int64_t N, int64_t D, int64_t L, int64_t K);
void mhim_cuda_abmil_scores_backward(mhim_cuda_ctx *ctx, float *dh, float *dW1, float *db1, float *dW2, float *db2,
                                     float *scratch, const float *ds, const float *h, const float *pre,
                                     const float *hid, const float *W1, const float *W2, mhim_act act, int64_t N,
                                     int64_t D, int64_t L, int64_t K);
void mhim_cuda_abmil_scores_backward_acc(mhim_cuda_ctx *ctx, float *dh, float *dW1, float *db1, float *dW2,
                                         float *db2, float *scratch, const float *ds, const float *h,
                                         const float *pre, const float *hid, const float *W1, const float *W2,
                                         mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K);

void mhim_cuda_gated_scores_forward(mhim_cuda_ctx *ctx, float *s, float *a_pre, float *a, float *b, float *g,
                                    const float *h, const float *Wa, const float *ba, const float *Wb,
                                    const float *bb, const float *Wc, const float *bc, mhim_act act, int64_t N,
                                    int64_t D, int64_t L, int64_t K);
void mhim_cuda_gated_scores_backward(mhim_cuda_ctx *ctx, float *dh, float *dWa, float *dba, float *dWb, float *dbb,
                                     float *dWc, float *dbc, float *scratch, const float *ds, const float *h,
                                     const float *a_pre, const float *a, const float *b, const float *g,
                                     const float *Wa, const float *Wb, const float *Wc, mhim_act act, int64_t N,
                                     int64_t D, int64_t L, int64_t K);
void mhim_cuda_gated_scores_backward_acc(mhim_cuda_ctx *ctx, float *dh, float *dWa, float *dba, float *dWb,
                                         float *dbb, float *dWc, float *dbc, float *scratch, const float *ds,
                                         const float *h, const float *a_pre, const float *a, const float *b,
                                         const float *g, const float *Wa, const float *Wb, const float *Wc,
                                         mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K);

/* ---- losses (mhim/ops/loss.h): the loss value goes to the device float *loss ----------------------------------- */

void mhim_cuda_cross_entropy_forward(mhim_cuda_ctx *ctx, float *loss, float *probs, const float *logits,
                                     const int64_t *target, int64_t B, int64_t C);
void mhim_cuda_cross_entropy_backward(mhim_cuda_ctx *ctx, float *dlogits, const float *probs, const int64_t *target,
                                      float dloss, int64_t B, int64_t C);
void mhim_cuda_soft_target_ce_forward(mhim_cuda_ctx *ctx, float *loss, float *p_student, float *p_teacher,
                                      const float *student, const float *teacher, float temp_t, float temp_s,
                                      int64_t R, int64_t D);
void mhim_cuda_soft_target_ce_backward(mhim_cuda_ctx *ctx, float *dstudent, const float *p_student,
                                       const float *p_teacher, float dloss, float temp_s, int64_t R, int64_t D);
void mhim_cuda_bce_logits_forward(mhim_cuda_ctx *ctx, float *loss, const float *logits, const float *targets,
                                  int64_t n);
void mhim_cuda_bce_logits_backward(mhim_cuda_ctx *ctx, float *dlogits, const float *logits, const float *targets,
                                   float dloss, int64_t n);
void mhim_cuda_nll_surv_forward(mhim_cuda_ctx *ctx, float *loss, float *hazards, float *surv, const float *logits,
                                const int64_t *y, const float *c, float alpha, int64_t B, int64_t C);
void mhim_cuda_nll_surv_backward(mhim_cuda_ctx *ctx, float *dlogits, const float *hazards, const float *surv,
                                 const int64_t *y, const float *c, float alpha, float dloss, int64_t B, int64_t C);

/* ---- Nyström pieces (mhim/ops/nystrom.h) ---------------------------------------------------------------------- */

void mhim_cuda_nystrom_landmarks_forward(mhim_cuda_ctx *ctx, float *out, const float *x, int64_t heads, int64_t m,
                                         int64_t l, int64_t dh);
void mhim_cuda_nystrom_landmarks_backward_acc(mhim_cuda_ctx *ctx, float *dx, const float *dout, int64_t heads,
                                              int64_t m, int64_t l, int64_t dh);
/* Scratch of the device pseudo-inverse (all heads at once, unlike the CPU's per-head scratch). */
int64_t mhim_cuda_nystrom_pinv_forward_scratch_floats(int64_t heads, int64_t m);
int64_t mhim_cuda_nystrom_pinv_backward_scratch_floats(int64_t heads, int64_t m);
/* z (ITERS+1, H, m, m) and norm (2) device outputs as mhim_nystrom_pinv_forward. */
void mhim_cuda_nystrom_pinv_forward(mhim_cuda_ctx *ctx, float *z, float *norm, float *scratch, const float *a,
                                    int64_t heads, int64_t m);
void mhim_cuda_nystrom_pinv_backward(mhim_cuda_ctx *ctx, float *da, const float *dpinv, const float *z,
                                     const float *norm, float *scratch, const float *a, int64_t heads, int64_t m);
void mhim_cuda_nystrom_res_conv_rows_acc(mhim_cuda_ctx *ctx, float *out, int64_t ld, const float *v, const float *w,
                                         int64_t heads, int64_t T, int64_t dh, int64_t t0, int64_t rows);
void mhim_cuda_nystrom_res_conv_backward_acc(mhim_cuda_ctx *ctx, float *dv, float *dw, const float *dout,
                                             const float *v, const float *w, int64_t heads, int64_t T, int64_t dh);

/* ---- PPEG (mhim/ops/ppeg.h; scratch sizes as mhim_ppeg_*_scratch_floats) -------------------------------------- */

void mhim_cuda_ppeg_forward(mhim_cuda_ctx *ctx, float *out, float *scratch, const float *x, const float *w0,
                            const float *b0, const float *w1, const float *b1, const float *w2, const float *b2,
                            int64_t M, int64_t dim);
void mhim_cuda_ppeg_backward(mhim_cuda_ctx *ctx, float *dx, float *dw0, float *db0, float *dw1, float *db1,
                             float *dw2, float *db2, const float *dout, float *scratch, const float *x,
                             const float *w0, const float *w1, const float *w2, int64_t M, int64_t dim);

/* ---- DSMIL pieces (mhim/ops/dsmil.h; crit is a device int64 array) ------------------------------------------- */

void mhim_cuda_dsmil_critical_forward(mhim_cuda_ctx *ctx, int64_t *crit, float *max_logit, const float *inst,
                                      int64_t n, int64_t C);
void mhim_cuda_dsmil_critical_backward_acc(mhim_cuda_ctx *ctx, float *d_inst, const float *d_max_logit,
                                           const int64_t *crit, int64_t n, int64_t C);
void mhim_cuda_dsmil_instance_score(mhim_cuda_ctx *ctx, float *score, const float *inst, int64_t n, int64_t C);
void mhim_cuda_dsmil_attention_forward(mhim_cuda_ctx *ctx, float *bag, float *attn, const float *q,
                                       const int64_t *crit, const float *v, int64_t n, int64_t C, int64_t Dq,
                                       int64_t D);
void mhim_cuda_dsmil_attention_backward(mhim_cuda_ctx *ctx, float *dq, float *dv, const float *d_bag,
                                        float *scratch, const float *attn, const float *q, const int64_t *crit,
                                        const float *v, int64_t n, int64_t C, int64_t Dq, int64_t D);
void mhim_cuda_dsmil_fcc_forward(mhim_cuda_ctx *ctx, float *logit, const float *bag, const float *w, const float *b,
                                 int64_t C, int64_t D);
void mhim_cuda_dsmil_fcc_backward(mhim_cuda_ctx *ctx, float *d_bag, float *dw, float *db, const float *d_logit,
                                  const float *bag, const float *w, int64_t C, int64_t D);
/* DSMIL's v1 class loss (mhim_dsmil_loss, version 1): *loss = 0.5·CE(bag) + 0.5·CE(max) for the device label
 * *target, d_bag / d_max (C) = 0.5·dloss·(softmax − onehot) written; one thread, in double as the CPU. */
void mhim_cuda_dsmil_loss_v1(mhim_cuda_ctx *ctx, float *loss, float *d_bag, float *d_max, const float *bag_logit,
                             const float *max_logit, const int64_t *target, float dloss, int64_t C);

/* ---- optimiser and teacher (mhim/optim.h; o->step already advanced by mhim_adam_begin_step) ------------------- */

void mhim_cuda_adam_update(mhim_cuda_ctx *ctx, const mhim_adam *o, float *param, const float *grad, float *m,
                           float *v, int64_t n);
void mhim_cuda_ema_update(mhim_cuda_ctx *ctx, float *teacher, const float *student, int64_t n, double momentum);
/* *norm (device float) = ||grad||_2 (fixed-order double sum), as mhim_grad_norm. */
void mhim_cuda_grad_norm(mhim_cuda_ctx *ctx, float *norm, const float *grad, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
