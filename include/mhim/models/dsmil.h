/* mhim/models/dsmil.h — the DSMIL network as MHIM-MIL wraps it (v1 modules/mhim.py + modules/datten.py DSMIL,
 * v2 modules/mhim.py + modules/mhim_modules/baseline.py DSMIL, baseline = 'dsmil'):
 *
 *   h         = dp(act(x W_eᵀ + b_e))                   front end (mhim/models/embed.h), rows = kept instances
 *   inst      = h W_iᵀ + b_i                              (n, C) instance logits (i_classifier)
 *   bag_logit = fcc(Aᵀ V), B = Aᵀ V                       (C) and (C, 512): BClassifier (mhim/ops/dsmil.h)
 *   max_logit = max over instances of inst                (C)
 * The predictor exists (state_dict, optimiser, EMA) but never takes part in the computation.
 *
 * Losses (mhim_dsmil_loss): v1 0.5·CE(bag_logit, y) + 0.5·CE(max_logit, y); v2 CE(0.5·bag_logit + 0.5·max_logit, y).
 * Evaluation probabilities (mhim_dsmil_probs): v1 0.5·softmax(max_logit) + 0.5·softmax(bag_logit); v2
 * softmax(0.5·bag_logit + 0.5·max_logit). Consistency feature: B (C rows).
 * Teacher instance score: max over classes of inst (v1, and v2 with attn2score); v2 without attn2score: max over
 * classes of the critical-instance attention A.
 *
 * state_dict keys (tensor order = spec order):
 *   v1 "patch_to_emb.0.weight" (512, D_in), "patch_to_emb.0.bias";  v2 "feature.0.weight", "feature.0.bias"
 *   "online_encoder.i_classifier.0.weight" (C, 512), "online_encoder.i_classifier.0.bias" (C)
 *   "online_encoder.b_classifier.q.0.weight" (128, 512), ".q.0.bias" (128), ".q.2.weight" (128, 128), ".q.2.bias"
 *   "online_encoder.b_classifier.v.1.weight" (512, 512), ".v.1.bias" (512)
 *   "online_encoder.b_classifier.fcc.weight" (C, C, 512), ".fcc.bias" (C)
 *   "predictor.weight" (C, 512), "predictor.bias" (C)
 *
 * Masked forward: the student sees the kept rows idx[0..n), n >= 1 (order-invariant up to argmax ties, which go to
 * the lowest position). Parameter gradients ACCUMULATE (+=); temporaries come from the arena. */
#ifndef MHIM_MODELS_DSMIL_H
#define MHIM_MODELS_DSMIL_H

#include <stddef.h>
#include <stdint.h>

#include "mhim/arena.h"
#include "mhim/models/embed.h"
#include "mhim/ops/act.h"
#include "mhim/ops/dsmil.h"
#include "mhim/params.h"
#include "mhim/rng.h"

#define MHIM_DSMIL_SPEC_ROWS 14

/* Teacher instance score used for masking. */
typedef enum {
    MHIM_DSMIL_SCORE_INSTANCE = 0, /* max_c inst[i, c] (v1; v2 with attn2score) */
    MHIM_DSMIL_SCORE_ATTENTION = 1 /* max_c A[i, c] (v2 with attn2score off) */
} mhim_dsmil_score;

typedef struct {
    int version;       /* 1 or 2: front-end key names, loss and evaluation combination */
    int64_t input_dim; /* D_in */
    int64_t n_classes; /* C >= 1 */
    mhim_act act;      /* front end: relu | gelu */
    float dropout;     /* front-end dropout p */
    mhim_dsmil_score teacher_score;
} mhim_dsmil_config;

int mhim_dsmil_config_check(const mhim_dsmil_config *cfg);
/* Write the MHIM_DSMIL_SPEC_ROWS spec rows (state_dict order) to rows (NULL: count only); returns the count. */
int64_t mhim_dsmil_param_spec(const mhim_dsmil_config *cfg, mhim_param_spec *rows);
int mhim_dsmil_layout(mhim_param_layout *L, const mhim_dsmil_config *cfg);

/* Offsets of every tensor in the model's buffers. */
typedef struct {
    mhim_dsmil_config cfg;
    mhim_embed embed;
    int64_t w_i, b_i, w_q1, b_q1, w_q2, b_q2, w_v, b_v, w_fcc, b_fcc, pred_w, pred_b;
} mhim_dsmil;

/* Resolve the offsets in L (which may hold more tensors). MHIM_EINPUT naming a missing or mis-shaped key. */
int mhim_dsmil_bind(mhim_dsmil *m, const mhim_dsmil_config *cfg, const mhim_param_layout *L);
/* Original initialisation: Xavier-normal linear weights with zero biases (incl. the predictor); the Conv1d fcc
 * keeps PyTorch's default U(±1/sqrt(C·512)) for weight and bias. Tensor i of the spec draws from stream
 * (seed, 0, i, MHIM_RNG_INIT, 0). */
void mhim_dsmil_init_params(const mhim_dsmil *m, float *params, uint64_t seed);

typedef struct {
    mhim_embed_cache emb;   /* front-end caches (empty after mhim_dsmil_head_forward) */
    const float *h;         /* (n, 512) instance embeddings */
    int64_t n;
    mhim_dsmil_cache agg;   /* aggregator caches: inst, v, q, attn, bag (= B), crit */
    float *bag_logit;       /* (C) */
    float *max_logit;       /* (C) */
} mhim_dsmil_model_cache;

/* Arena bytes for one forward + backward over up to n_max instances (linear in n_max; covers the teacher). */
size_t mhim_dsmil_arena_bytes(const mhim_dsmil_config *cfg, int64_t n_max);

/* Student forward over the kept rows idx[0..n) of x (N, D_in) (idx == NULL: all rows, n == N); n >= 1.
 * dropout_stream NULL = eval. Results: c->bag_logit, c->max_logit, c->agg.bag (B, (C, 512)). */
void mhim_dsmil_model_forward(mhim_dsmil_model_cache *c, mhim_arena *arena, const mhim_dsmil *m,
                              const float *params, const float *x, int64_t N, const int64_t *idx, int64_t n,
                              const mhim_rng *dropout_stream);
/* Backward: upstream d_bag_logit (C), d_max_logit (C), d_B (C, 512), each may be NULL; gradients += into grads. */
void mhim_dsmil_model_backward(const mhim_dsmil *m, const float *params, float *grads, const float *d_bag_logit,
                               const float *d_max_logit, const float *d_B, const mhim_dsmil_model_cache *c,
                               mhim_arena *arena);

/* The aggregator alone on embeddings h (n, 512) the caller produced (v2 Merge sits in between); h must stay alive
 * until the backward. The backward WRITES dh (n, 512). */
void mhim_dsmil_head_forward(mhim_dsmil_model_cache *c, mhim_arena *arena, const mhim_dsmil *m, const float *params,
                             const float *h, int64_t n);
void mhim_dsmil_head_backward(const mhim_dsmil *m, const float *params, float *grads, float *dh,
                              const float *d_bag_logit, const float *d_max_logit, const float *d_B,
                              const mhim_dsmil_model_cache *c, mhim_arena *arena);

/* Teacher forward over all N instances (no gradient): B (C, 512) written; score (N) per cfg.teacher_score.
 * The arena is returned to its fill level on exit. N >= 1. */
void mhim_dsmil_teacher_forward(float *B, float *score, mhim_arena *arena, const mhim_dsmil *m, const float *params,
                                const float *x, int64_t N, const mhim_rng *dropout_stream);

/* The model's own classification loss for label y (0 <= y < C) and its gradient w.r.t. both logit vectors
 * (WRITTEN, scaled by dloss, the weight of this loss in the total): v1 0.5·CE(bag) + 0.5·CE(max); v2 CE of the
 * averaged logits. Returns the loss. */
float mhim_dsmil_loss(float *d_bag_logit, float *d_max_logit, int version, const float *bag_logit,
                      const float *max_logit, int64_t y, float dloss, int64_t C);
/* Class probabilities used for evaluation (v1: mean of the two softmaxes; v2: softmax of the mean logits). */
void mhim_dsmil_probs(float *probs, int version, const float *bag_logit, const float *max_logit, int64_t C);
/* The v2 engine's combined logits 0.5·bag_logit + 0.5·max_logit (input of every v2 loss, e.g. survival NLL). Its
 * gradient reaches both logit vectors as 0.5·d. */
void mhim_dsmil_mean_logits(float *logits, const float *bag_logit, const float *max_logit, int64_t C);

#endif
