/* mhim/models/abmil.h — the ABMIL network as MHIM-MIL wraps it (v1 modules/mhim.py + modules/datten.py, v2
 * modules/mhim.py + modules/mhim_modules/baseline.py, baseline = 'attn'):
 *
 *   h      = dp(act(x W_eᵀ + b_e))                      front end (mhim/models/embed.h), rows = kept instances
 *   s      = act_a(h W1ᵀ) w2ᵀ                            DAttention/Attention: L = 128, K = 1, no biases
 *            (gated: s = (act_a(h Waᵀ) ⊙ sigmoid(h Wbᵀ)) wcᵀ, AttentionGated, no biases)
 *   attn   = softmax over the instances of s             (n)
 *   z      = attnᵀ h                                     (512) bag feature (consistency-loss feature)
 *   logits = z W_pᵀ + b_p                                (C)   predictor
 *
 * state_dict keys (tensor order = spec order):
 *   v1 "patch_to_emb.0.weight" (512, D_in), "patch_to_emb.0.bias" (512);  v2 "feature.0.weight", "feature.0.bias"
 *   "online_encoder.attention.attention.0.weight" (128, 512), "online_encoder.attention.attention.2.weight" (1, 128)
 *   gated: "online_encoder.attention.attention_a.0.weight" (128, 512), "online_encoder.attention.attention_b.0.weight"
 *          (128, 512), "online_encoder.attention.attention_c.weight" (1, 128)
 *   "predictor.weight" (C, 512), "predictor.bias" (C)
 * v1 and v2 compute the same network; v2 adds the class-aware teacher score (attn2score, mhim_abmil_attn2score).
 *
 * Masked forward: the student sees only the kept instances idx[0..n) of the bag (the original's mask_ids[:len_keep]
 * gather); the network is invariant to their order. Parameters, gradients and the teacher are flat buffers of the
 * layout built from mhim_abmil_param_spec; parameter gradients ACCUMULATE (+=). Forward and backward allocate
 * nothing: every temporary comes from the arena (mhim_abmil_arena_bytes). */
#ifndef MHIM_MODELS_ABMIL_H
#define MHIM_MODELS_ABMIL_H

#include <stddef.h>
#include <stdint.h>

#include "mhim/arena.h"
#include "mhim/models/embed.h"
#include "mhim/ops/act.h"
#include "mhim/params.h"
#include "mhim/rng.h"

#define MHIM_ABMIL_HIDDEN 128  /* DAttention D (attention hidden width) */
#define MHIM_ABMIL_MAX_ROWS 7  /* parameter tensors of the largest variant (gated) */

typedef struct {
    int version;       /* 1 (MHIM-MIL) or 2 (MHIM-v2): front-end key names */
    int64_t input_dim; /* D_in */
    int64_t n_classes; /* C >= 1 (2 for classification, 4 hazard bins for survival) */
    mhim_act act;      /* front-end activation: relu | gelu (--act) */
    float dropout;     /* front-end dropout p (--dropout, 0.25 in MHIM) */
    mhim_act da_act;   /* attention activation: relu (default) | gelu | tanh (--da_act) */
    int gated;         /* 0: DAttention (MHIM's default), 1: the gated variant (TCGA init checkpoints) */
} mhim_abmil_config;

/* Check a configuration (MHIM_EINPUT naming the field otherwise). */
int mhim_abmil_config_check(const mhim_abmil_config *cfg);
/* Write the parameter spec rows (state_dict keys and shapes, in state_dict order) to rows (NULL: count only);
 * returns the row count (<= MHIM_ABMIL_MAX_ROWS). cfg must be valid. */
int64_t mhim_abmil_param_spec(const mhim_abmil_config *cfg, mhim_param_spec *rows);
/* Build the layout of exactly this model's parameters (MHIM_EINPUT on an invalid cfg). */
int mhim_abmil_layout(mhim_param_layout *L, const mhim_abmil_config *cfg);

/* Offsets of every tensor in the model's buffers; -1 for tensors the variant does not have. */
typedef struct {
    mhim_abmil_config cfg;
    mhim_embed embed;
    int64_t w1, w2;     /* DAttention: attention.0.weight (128, 512), attention.2.weight (1, 128) */
    int64_t wa, wb, wc; /* gated: attention_a.0.weight, attention_b.0.weight (128, 512), attention_c.weight (1, 128) */
    int64_t pred_w, pred_b;
} mhim_abmil;

/* Resolve the offsets in L (which may hold more tensors, e.g. v2's merge.*). MHIM_EINPUT naming the key when one
 * is missing or mis-shaped. */
int mhim_abmil_bind(mhim_abmil *m, const mhim_abmil_config *cfg, const mhim_param_layout *L);
/* Initialise like the original's initialize_weights: Xavier-normal linear weights, zero biases. Tensor i of the spec
 * draws from the stream (seed, 0, i, MHIM_RNG_INIT, 0). Gaps of the layout are left untouched. */
void mhim_abmil_init_params(const mhim_abmil *m, float *params, uint64_t seed);

/* Forward caches; every pointer lives in the arena. */
typedef struct {
    mhim_embed_cache emb; /* front-end caches (empty after mhim_abmil_head_forward) */
    const float *h;       /* (n, 512) the instance embeddings the encoder saw */
    int64_t n;            /* instances seen */
    float *pre;           /* (n, 128) attention pre-activation (DAttention; GELU only) */
    float *hid;           /* (n, 128) act_a(pre) (DAttention) */
    float *ga_pre, *ga, *gb, *gg; /* (n, 128) each: gated caches (a pre-activation, a, sigmoid b, a ⊙ b) */
    float *scores;        /* (n) raw attention logits s (the original's no_norm output) */
    float *attn;          /* (n) softmax attention */
    float *z;             /* (512) bag feature */
    float *logits;        /* (C) */
} mhim_abmil_cache;

/* Arena bytes for one forward + backward over up to n_max instances (linear in n_max); the teacher forward needs
 * no more than this either. */
size_t mhim_abmil_arena_bytes(const mhim_abmil_config *cfg, int64_t n_max);

/* Student forward over the kept rows idx[0..n) of the bag x (N, D_in) (idx == NULL: every row, n == N).
 * dropout_stream: NULL = eval mode, else train-mode dropout from that stream (mhim/models/embed.h). Results:
 * c->logits, c->z, c->attn (and c->scores). n == 0 gives z = 0 (empty softmax). */
void mhim_abmil_forward(mhim_abmil_cache *c, mhim_arena *arena, const mhim_abmil *m, const float *params,
                        const float *x, int64_t N, const int64_t *idx, int64_t n, const mhim_rng *dropout_stream);
/* Backward of mhim_abmil_forward. d_logits (C) and d_z (512; the gradient reaching the bag feature directly, e.g.
 * from the consistency loss) may each be NULL (= 0). Every parameter gradient += into grads. Scratch from arena
 * (released again before returning). */
void mhim_abmil_backward(const mhim_abmil *m, const float *params, float *grads, const float *d_logits,
                         const float *d_z, const mhim_abmil_cache *c, mhim_arena *arena);

/* The encoder and predictor alone, on instance embeddings h (n, 512) that the caller produced (v2 inserts Merge
 * between the front end and the encoder). c->emb is left empty; h (kept as c->h) must stay alive until the backward. */
void mhim_abmil_head_forward(mhim_abmil_cache *c, mhim_arena *arena, const mhim_abmil *m, const float *params,
                             const float *h, int64_t n);
/* Backward of mhim_abmil_head_forward: parameter gradients +=, dh (n, 512) WRITTEN. */
void mhim_abmil_head_backward(const mhim_abmil *m, const float *params, float *grads, float *dh,
                              const float *d_logits, const float *d_z, const mhim_abmil_cache *c, mhim_arena *arena);

/* Teacher forward (forward_teacher, no gradient) over all N instances with the teacher's parameters:
 *   z (512) bag feature; attn (N) softmax attention; score (N) or NULL: the v2 class-aware score (attn2score).
 * dropout_stream as in the student (the original runs the teacher in train mode). The arena is returned to its
 * fill level on exit. */
void mhim_abmil_teacher_forward(float *z, float *attn, float *score, mhim_arena *arena, const mhim_abmil *m,
                                const float *params, const float *x, int64_t N, const mhim_rng *dropout_stream);

/* v2 get_pseudo_score: score[i] = max_c softmax_c(attn[i] · (h[i] · W_p[c]) + b_p[0]) for h (n, D), attn (n),
 * W_p (C, D), b_p (C) (b_p[0] is added to every class as the original does; it cancels in the softmax).
 * scratch: n·C floats. Unlike the original, n == 1 works. */
void mhim_abmil_attn2score(float *score, float *scratch, const float *h, const float *attn, const float *pred_w,
                           const float *pred_b, int64_t n, int64_t D, int64_t C);

#endif
