/* mhim/ops/attnpool.h — attention pooling z = Aᵀh and the ABMIL attention-score networks (DAttention, plain and
 * gated). The score networks are compositions of the linear/activation ops; they allocate nothing (the backward
 * takes explicit scratch). The instance softmax between scores and pooling is mhim/ops/softmax.h. */
#ifndef MHIM_OPS_ATTNPOOL_H
#define MHIM_OPS_ATTNPOOL_H

#include <stdint.h>

#include "mhim/ops/act.h"

/* Attention pooling: z = Aᵀ · h  (torch.mm(A.T, h); ABMIL's torch.mm(A, h) with A stored (N, K)).
 *   z (K, D) written, A (N, K) attention (already softmaxed), h (N, D). N may be 0 (z = 0).
 * Thin shapes (K·D ≤ 1024 forward, K ≤ 8 backward) run as single passes summed in double in an order fixed by the
 * shapes (bitwise thread-count invariant); wider ones use cblas_sgemm. */
void mhim_attnpool_forward(float *z, const float *A, const float *h, int64_t N, int64_t K, int64_t D);
/* Backward for dz (K, D):  dA (N, K) = h · dzᵀ (written),  dh (N, D) = A · dz (written). */
void mhim_attnpool_backward(float *dA, float *dh, const float *dz, const float *A, const float *h, int64_t N,
                            int64_t K, int64_t D);
/* Same, but dh += A · dz (h also feeds the score network). dA is still written. */
void mhim_attnpool_backward_acc(float *dA, float *dh, const float *dz, const float *A, const float *h, int64_t N,
                                int64_t K, int64_t D);

/* ABMIL attention scores (DAttention, gated=False): s = act(h W1ᵀ + b1) W2ᵀ + b2, the raw logits before the
 * instance softmax.  MHIM's default: act = ReLU, L = 128, K = 1, b1 = b2 = NULL (bias=False), state_dict keys
 * attention.attention.0.weight (W1) and attention.attention.2.weight (W2).
 *   s   (N, K) written           h  (N, D)
 *   pre (N, L) cache h W1ᵀ + b1  (only needed for GELU: may be NULL otherwise)
 *   hid (N, L) cache act(pre)    W1 (L, D), b1 (L) or NULL, W2 (K, L), b2 (K) or NULL */
void mhim_abmil_scores_forward(float *s, float *pre, float *hid, const float *h, const float *W1, const float *b1,
                               const float *W2, const float *b2, mhim_act act, int64_t N, int64_t D, int64_t L,
                               int64_t K);
/* Backward for ds (N, K): parameter grads += (dW1 (L, D), db1 (L), dW2 (K, L), db2 (K); NULL where absent);
 * dh (N, D) written (= ; NULL skips it); scratch (N·L floats) is overwritten. */
void mhim_abmil_scores_backward(float *dh, float *dW1, float *db1, float *dW2, float *db2, float *scratch,
                                const float *ds, const float *h, const float *pre, const float *hid, const float *W1,
                                const float *W2, mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K);
/* Same, but dh += (h also feeds the pooling). */
void mhim_abmil_scores_backward_acc(float *dh, float *dW1, float *db1, float *dW2, float *db2, float *scratch,
                                    const float *ds, const float *h, const float *pre, const float *hid,
                                    const float *W1, const float *W2, mhim_act act, int64_t N, int64_t D, int64_t L,
                                    int64_t K);

/* Gated ABMIL scores (DAttention gated=True): s = (act(h Waᵀ + ba) ⊙ sigmoid(h Wbᵀ + bb)) Wcᵀ + bc.
 * MHIM's checkpoints use act = ReLU without biases (keys attention.attention_a.0.weight, attention_b.0.weight,
 * attention_c.weight); Ilse et al.'s original uses act = tanh with biases.
 *   s (N, K) written; h (N, D); Wa, Wb (L, D); ba, bb (L) or NULL; Wc (K, L); bc (K) or NULL.
 *   caches: a_pre (N, L) = h Waᵀ + ba (GELU only, else may be NULL), a (N, L) = act(a_pre),
 *           b (N, L) = sigmoid(h Wbᵀ + bb), g (N, L) = a ⊙ b. */
void mhim_gated_scores_forward(float *s, float *a_pre, float *a, float *b, float *g, const float *h, const float *Wa,
                               const float *ba, const float *Wb, const float *bb, const float *Wc, const float *bc,
                               mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K);
/* Backward for ds (N, K): dWa, dba, dWb, dbb, dWc, dbc += (NULL where absent); dh (N, D) written (NULL skips);
 * scratch (2·N·L floats) is overwritten. */
void mhim_gated_scores_backward(float *dh, float *dWa, float *dba, float *dWb, float *dbb, float *dWc, float *dbc,
                                float *scratch, const float *ds, const float *h, const float *a_pre, const float *a,
                                const float *b, const float *g, const float *Wa, const float *Wb, const float *Wc,
                                mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K);
/* Same, but dh +=. */
void mhim_gated_scores_backward_acc(float *dh, float *dWa, float *dba, float *dWb, float *dbb, float *dWc, float *dbc,
                                    float *scratch, const float *ds, const float *h, const float *a_pre,
                                    const float *a, const float *b, const float *g, const float *Wa, const float *Wb,
                                    const float *Wc, mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K);

#endif
