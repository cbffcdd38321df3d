/* mhim/ops/dsmil.h — the DSMIL aggregator used inside MHIM-MIL (modules/mhim_modules/baseline.py: class DSMIL with
 * i_classifier = Sequential(Linear(D, C)) and BClassifier(D, C, dropout_v=0, nonlinear=True, passing_v=True)).
 *
 * Host float32, row-major; dimensions int64_t: n instances, D feature dim (512), Dq query dim (128 in the original,
 * MHIM_DSMIL_QDIM), C classes. Parameter gradients ACCUMULATE (+=); activation gradients are WRITTEN (=) unless the
 * name ends in _acc (+=). Bitwise identical results for any OpenMP thread count.
 *
 * Critical instances: crit[c] = argmax_i inst[i, c]. The original takes index 0 of a descending torch.sort (and
 * torch.max for the max-instance logit), whose tie order is unspecified; here ties go to the LOWEST index, and the
 * same index serves both uses. Gradients flow only through the selected rows (the indices are constants). */
#ifndef MHIM_OPS_DSMIL_H
#define MHIM_OPS_DSMIL_H

#include <stdint.h>

#define MHIM_DSMIL_QDIM 128 /* BClassifier.q output width */

/* ---- pieces -------------------------------------------------------------------------------------------------- */

/* crit (C) = argmax over instances of inst (n, C) per class (ties: lowest index); max_logit (C) = inst[crit[c], c]
 * (torch.max(classes, 0)). max_logit may be NULL. n >= 1. */
void mhim_dsmil_critical_forward(int64_t *crit, float *max_logit, const float *inst, int64_t n, int64_t C);
/* d_inst[crit[c], c] += d_max_logit[c] (max over instances: the gradient reaches the argmax only). */
void mhim_dsmil_critical_backward_acc(float *d_inst, const float *d_max_logit, const int64_t *crit, int64_t n,
                                      int64_t C);

/* Teacher instance score for masking (forward only): score[i] = max_c inst[i, c] (torch.max(classes, -1)). */
void mhim_dsmil_instance_score(float *score, const float *inst, int64_t n, int64_t C);

/* Critical-instance attention and bag representation (BClassifier.forward after V and Q):
 *   q_max = q[crit] (C, Dq);  attn = softmax over instances (dim 0) of q · q_maxᵀ / sqrt(Dq)  (n, C)
 *   bag = attnᵀ · v  (C, D)
 * sqrt(Dq) is computed in float32 (torch.sqrt of a float32 tensor). attn and bag written. */
void mhim_dsmil_attention_forward(float *bag, float *attn, const float *q, const int64_t *crit, const float *v,
                                  int64_t n, int64_t C, int64_t Dq, int64_t D);
/* Backward for d_bag (C, D): dq (n, Dq) and dv (n, D) written; dq includes the q_max path scattered back onto the
 * critical rows. scratch: n*C + 2*C*Dq floats. */
void mhim_dsmil_attention_backward(float *dq, float *dv, const float *d_bag, float *scratch, const float *attn,
                                   const float *q, const int64_t *crit, const float *v, int64_t n, int64_t C,
                                   int64_t Dq, int64_t D);

/* Bag classifier fcc = Conv1d(C, C, kernel_size=D) on bag (1, C, D): logit[o] = b[o] + Σ_{c,d} w[o, c, d] bag[c, d].
 *   w (C, C, D) b_classifier.fcc.weight, b (C) b_classifier.fcc.bias. Backward: d_bag (C, D) written,
 *   dw, db accumulated. */
void mhim_dsmil_fcc_forward(float *logit, const float *bag, const float *w, const float *b, int64_t C, int64_t D);
void mhim_dsmil_fcc_backward(float *d_bag, float *dw, float *db, const float *d_logit, const float *bag, const float *w,
                             int64_t C, int64_t D);

/* ---- whole aggregator ------------------------------------------------------------------------------------------ */

typedef struct {
    float *inst;     /* (n, C)  i_classifier(h): instance logits */
    float *v;        /* (n, D)  relu(Linear(h)) = b_classifier.v */
    float *q_hidden; /* (n, Dq) relu(Linear(h)) inside b_classifier.q */
    float *q;        /* (n, Dq) tanh(Linear(q_hidden)) = b_classifier.q */
    float *attn;     /* (n, C)  softmax over instances */
    float *bag;      /* (C, D)  B, the bag representation (consistency-loss feature) */
    int64_t *crit;   /* (C)     critical instance per class */
} mhim_dsmil_cache;

int64_t mhim_dsmil_cache_floats(int64_t n, int64_t C, int64_t Dq, int64_t D);
/* Carve the cache from buf (mhim_dsmil_cache_floats() floats) and crit_buf (C int64). */
void mhim_dsmil_cache_bind(mhim_dsmil_cache *cache, float *buf, int64_t *crit_buf, int64_t n, int64_t C, int64_t Dq,
                           int64_t D);
int64_t mhim_dsmil_backward_scratch_floats(int64_t n, int64_t C, int64_t Dq, int64_t D);

/* DSMIL.forward(h) for h (1, n, D) (no masking inside; eval-identical since Dropout(0)):
 *   bag_logit (C) = fcc(B) (prediction_bag);  max_logit (C) = max over instances of inst (classes_bag);
 *   cache filled (B = cache->bag, teacher score via mhim_dsmil_instance_score(cache->inst)).
 * Weights (state_dict names):
 *   w_i (C, D), b_i (C)          i_classifier.0.{weight,bias}
 *   w_v (D, D), b_v (D)          b_classifier.v.1.{weight,bias}
 *   w_q1 (Dq, D), b_q1 (Dq)      b_classifier.q.0.{weight,bias}
 *   w_q2 (Dq, Dq), b_q2 (Dq)     b_classifier.q.2.{weight,bias}
 *   w_fcc (C, C, D), b_fcc (C)   b_classifier.fcc.{weight,bias} */
void mhim_dsmil_forward(float *bag_logit, float *max_logit, mhim_dsmil_cache *cache, const float *h, const float *w_i,
                        const float *b_i, const float *w_v, const float *b_v, const float *w_q1, const float *b_q1,
                        const float *w_q2, const float *b_q2, const float *w_fcc, const float *b_fcc, int64_t n,
                        int64_t C, int64_t Dq, int64_t D);

/* Backward of mhim_dsmil_forward. Upstream gradients (each may be NULL = zero): d_bag_logit (C), d_max_logit (C),
 * d_bag (C, D) (gradient reaching B directly, e.g. from the consistency loss).
 *   dh (n, D) written (NULL skips it); dw_* / db_* accumulated (all non-NULL).
 *   scratch: mhim_dsmil_backward_scratch_floats() floats. */
void mhim_dsmil_backward(float *dh, float *dw_i, float *db_i, float *dw_v, float *db_v, float *dw_q1, float *db_q1,
                         float *dw_q2, float *db_q2, float *dw_fcc, float *db_fcc, const float *d_bag_logit,
                         const float *d_max_logit, const float *d_bag, const mhim_dsmil_cache *cache, float *scratch,
                         const float *h, const float *w_i, const float *w_v, const float *w_q1, const float *w_q2,
                         const float *w_fcc, int64_t n, int64_t C, int64_t Dq, int64_t D);

#endif
