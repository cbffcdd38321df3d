/* mhim/ops/loss.h — training losses and their gradients w.r.t. the logits.
 *
 * Forward functions return the (reduced) loss and cache what the backward needs; backward functions WRITE (=) the
 * logit gradient scaled by dloss (the weight of this loss in the total, e.g. 0.5 for v1 DSMIL's two CE terms or
 * aux_alpha for the consistency loss). Reductions are taken in double in index order (thread-count invariant).
 * Labels outside their documented range and empty batches are bugs of the caller (data loading validates user
 * input) and abort. */
#ifndef MHIM_OPS_LOSS_H
#define MHIM_OPS_LOSS_H

#include <stdint.h>

/* MHIM consistency loss temperatures (v1 temp_t = 0.1 default for --model mhim, v2 temp_t 0.1; temp_s = 1). */
#define MHIM_CONSISTENCY_TEMP_T 0.1f
#define MHIM_CONSISTENCY_TEMP_S 1.0f
/* Clamp floor of the survival NLL's logarithms (NLLSurvLoss eps). */
#define MHIM_NLL_SURV_EPS 1e-7f

/* nn.CrossEntropyLoss() (mean over the batch): loss = (1/B) Σ_b [logsumexp(logits[b]) − logits[b, target[b]]].
 *   probs (B, C) cache softmax(logits) (written), logits (B, C), target (B) with 0 <= target[b] < C. */
float mhim_cross_entropy_forward(float *probs, const float *logits, const int64_t *target, int64_t B, int64_t C);
/* dlogits (B, C) = dloss · (probs − onehot(target)) / B. */
void mhim_cross_entropy_backward(float *dlogits, const float *probs, const int64_t *target, float dloss, int64_t B,
                                 int64_t C);

/* MHIM consistency loss (v1 SoftTargetCrossEntropy_v2, v2 SoftTargetCrossEntropy; teacher side detached):
 *   loss = (1/R) Σ_r Σ_d −softmax(teacher[r]/temp_t)_d · log_softmax(student[r]/temp_s)_d,
 * softmax over the feature dimension D (512); R = 1 (ABMIL/TransMIL bag feature) or C (DSMIL's (C, 512) B).
 *   p_student (R, D) cache softmax(student/temp_s), p_teacher (R, D) cache softmax(teacher/temp_t) (written);
 *   student, teacher (R, D). The teacher receives no gradient. */
float mhim_soft_target_ce_forward(float *p_student, float *p_teacher, const float *student, const float *teacher,
                                  float temp_t, float temp_s, int64_t R, int64_t D);
/* dstudent (R, D) = dloss · (p_student − p_teacher) / (R · temp_s). */
void mhim_soft_target_ce_backward(float *dstudent, const float *p_student, const float *p_teacher, float dloss,
                                  float temp_s, int64_t R, int64_t D);

/* nn.BCEWithLogitsLoss() (mean over all n elements): loss = (1/n) Σ [max(x,0) − x·y + log(1 + e^−|x|)].
 *   logits, targets (n) (targets are probabilities in [0, 1], e.g. a one-hot label). Caches nothing. */
float mhim_bce_logits_forward(const float *logits, const float *targets, int64_t n);
/* dlogits (n) = dloss · (sigmoid(x) − y) / n. */
void mhim_bce_logits_backward(float *dlogits, const float *logits, const float *targets, float dloss, int64_t n);

/* Discrete-time survival NLL (v2 NLLSurvLoss / nll_loss, mean over the batch): per row b with hazards
 * h = sigmoid(logits[b]), S_j = Π_{i<=j} (1 − h_i), S_pad = [1, S_0 .. S_{C−1}], bin y = y[b], censorship c = c[b]:
 *   uncensored = −(1 − c) · [log max(S_pad[y], eps) + log max(h_y, eps)]
 *   censored   = −c · log max(S_pad[y + 1], eps)
 *   loss_b     = (1 − alpha) · (censored + uncensored) + alpha · uncensored      (eps = MHIM_NLL_SURV_EPS)
 *   hazards (B, C), surv (B, C) caches h and S (written); logits (B, C); y (B) with 0 <= y[b] < C;
 *   c (B) censorship (1 = censored, 0 = event). v2 trains with alpha = 0. */
float mhim_nll_surv_forward(float *hazards, float *surv, const float *logits, const int64_t *y, const float *c,
                            float alpha, int64_t B, int64_t C);
/* dlogits (B, C) = dloss/B · ∂loss_b/∂logits: a clamped term (value < eps) contributes 0, as torch's clamp;
 * otherwise ∂(−log S_pad[k])/∂z_j = h_j for j < k and ∂(−log h_y)/∂z_y = −(1 − h_y). */
void mhim_nll_surv_backward(float *dlogits, const float *hazards, const float *surv, const int64_t *y, const float *c,
                            float alpha, float dloss, int64_t B, int64_t C);

#endif
