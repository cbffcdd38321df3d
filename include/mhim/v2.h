/* mhim/v2.h — the MHIM-v2 model side (spec v2 §3, §4.1): class-aware teacher scores, the Merge (global recycle)
 * module, the v2 student training forward/backward, and the evaluation forward.
 *
 * Object model. The network itself (layout, initialisation, checkpoints, mhim_model_predict, the plain forward of
 * mhim_pure) is the registry's mhim_model (mhim/model.h) built with mhim_model_config.merge_k > 0: its layout then
 * starts with the Merge tensors, in the original state_dict order
 *   merge.global_q_mm (1, k, 512)    global queries G: NOT trained (no gradient, excluded from Adam), EMA'd
 *   merge.global_q    (1, k, 512)    the original's alias of the same Parameter: kept equal to global_q_mm
 *   merge.norm.weight, merge.norm.bias (512)                    LN_m
 *   merge.attn.to_kv.weight (1024, 512), merge.attn.to_q.weight (512, 512)     no bias
 *   merge.attn.to_out.0.weight (512, 512), merge.attn.to_out.0.bias (512)
 * followed by the baseline's feature.0.*, online_encoder.*, predictor.* (mhim/models/abmil.h, transmil.h,
 * dsmil.h; version 2 keys).
 * mhim_pure (merge_k == 0) has no merge.* keys, as the original (Merge is nn.Identity there).
 * A mhim_v2 is the training-side companion of one mhim_model: it binds the same layout and holds the caches of
 * the last student forward. Parameters, gradients, teacher and Adam moments stay caller-owned flat buffers of
 * mhim_model_layout(model). One thread at a time per mhim_v2.
 *
 * Random choices. Dropout masks come from a stream of purpose MHIM_RNG_DROPOUT (NULL = no dropout anywhere: tests
 * and eval): front end values [0, N·512) by ORIGINAL instance index (mhim/models/embed.h); TransMIL to_out bands 1
 * and 2 (teacher attn2score projection band 3, mhim/models/transmil.h); Merge attention matrix band
 * MHIM_V2_BAND_MERGE_ATTN and Merge output band MHIM_V2_BAND_MERGE_OUT (band b = values b·2^44 + ...). The Merge
 * permutation is an explicit input (mhim_v2_merge_perm draws it from a MHIM_RNG_MERGE stream; parity fixtures pass
 * PyTorch's). Student and teacher must use different dropout streams (different sub).
 *
 * Memory: no allocation per step; every temporary comes from the caller's arena (*_arena_bytes, linear in N). */
#ifndef MHIM_V2_H
#define MHIM_V2_H

#include <stddef.h>
#include <stdint.h>

#include "mhim/arena.h"
#include "mhim/model.h"
#include "mhim/rng.h"

struct mhim_config;

#define MHIM_V2_MERGE_HEADS 8       /* MCA heads */
#define MHIM_V2_MERGE_DIM_HEAD 64   /* MCA dim_head */
#define MHIM_V2_MERGE_DROPOUT 0.1f  /* MCA Dropout on the attention matrix and on to_out */
#define MHIM_V2_BAND_MERGE_ATTN 4   /* dropout-stream band of the MCA attention-matrix mask */
#define MHIM_V2_BAND_MERGE_OUT 5    /* dropout-stream band of the MCA output mask */

/* Merge hyper-parameters (not part of the layout). */
typedef struct {
    double merge_ratio; /* fraction of the L hard-masked-kept rows that stay: n_keep = floor(L·merge_ratio) in IEEE
                           double (0.8 / 0.9 in the README grid); in [0, 1] */
    double merge_mm;    /* G momentum: G <- merge_mm·G + (1 − merge_mm)·Z during the training forward; in [0, 1)
                           (the original crashes at 1.0, spec B6) */
} mhim_v2_options;

/* --merge_ratio and --merge_mm of the training options, checked (MHIM_EINPUT naming the option). (--merge_test is
 * the engine's choice of mhim_v2_eval_forward_merged for the student.) */
int mhim_v2_options_from_config(mhim_v2_options *o, const struct mhim_config *cfg);
/* MHIM_OK, or MHIM_EINPUT naming the bad field and its allowed range. */
int mhim_v2_options_check(const mhim_v2_options *o);

typedef struct mhim_v2 mhim_v2;

/* Bind a v2 companion to `model` (which must stay alive): version 2, merge_k >= 1 (MHIM_EINPUT otherwise, naming
 * the field). */
int mhim_v2_create(mhim_v2 **out, const mhim_model *model, const mhim_v2_options *o);
void mhim_v2_free(mhim_v2 *v);

/* Floats [*begin, *end) of every buffer of the layout hold G (global_q_mm and its alias): no gradient, to be skipped
 * by the optimiser (Adam's coupled weight decay would otherwise move them), still EMA'd into the teacher. */
void mhim_v2_frozen_range(const mhim_v2 *v, int64_t *begin, int64_t *end);
/* Initialise the Merge tensors (xavier-normal linears, zero biases, LN 1/0, G ~ U(±sqrt(6/(3·256+512)))) in a
 * buffer of the layout; called by mhim_model_init_params when merge_k > 0. */
void mhim_v2_init_merge_params(const mhim_param_layout *L, float *params, uint64_t seed);

/* ---- teacher (forward_teacher, no gradient) ---------------------------------------------------------------- */

/* Rows of the teacher score map: TransMIL without attn2score = heads (vote fusion in mhim_mask_select_v2), else 1. */
int64_t mhim_v2_score_rows(const mhim_v2 *v);

typedef struct {
    float *target; /* (feat_size) written when not NULL: z_T (512; ABMIL pooled feature, TransMIL LN_f cls row) or
                      DSMIL B_T (C, 512) — the consistency target; NULL when aux_alpha == 0 */
    float *scores; /* (score_rows, N) written: attn2score class-aware scores (§3.3) per baseline, or without
                      attn2score the raw map (ABMIL softmax attention, TransMIL layer-1 per-head cls attention,
                      DSMIL max_c A) */
} mhim_v2_teacher_out;

size_t mhim_v2_teacher_arena_bytes(const mhim_v2 *v, int64_t n_max);
/* Teacher forward over the full bag x (N, input_dim) with the TEACHER's parameters; dropout as above (the original
 * runs the teacher in train mode: pass the teacher's stream), NULL = eval. MHIM_EINPUT when N < 1. The arena is
 * returned to its fill level. */
int mhim_v2_teacher_forward(mhim_v2 *v, mhim_arena *arena, const float *params, const float *x, int64_t N,
                            const mhim_rng *dropout, const mhim_v2_teacher_out *out);

/* ---- student (MHIM.forward, training) ---------------------------------------------------------------------- */

/* perm[0..L) = a uniformly random permutation of 0..L-1 from `merge_stream` (purpose MHIM_RNG_MERGE): the Merge
 * shuffle (the original's argsort(rand(L))). */
void mhim_v2_merge_perm(mhim_rng *merge_stream, int64_t *perm, int64_t L);
/* n_keep = floor(L · merge_ratio) evaluated in IEEE double, clamped to [0, L]. */
int64_t mhim_v2_merge_keep(int64_t L, double merge_ratio);

typedef struct {
    float *logits; /* (C) written: predictor logits; DSMIL 0.5·bag + 0.5·max-instance (the v2 engine's logits) */
    float *feat;   /* (feat_size) written when not NULL: the student feature of the consistency loss (z or B) */
    int64_t n_keep; /* set: rows kept by Merge (floor(L·merge_ratio)) */
    int64_t tokens; /* set: encoder sequence length n_keep + merge_k (the original's len_keep return) */
} mhim_v2_student_out;

size_t mhim_v2_train_arena_bytes(const mhim_v2 *v, int64_t n_max);
/* Student training forward: h = dp(act(x W_fᵀ + b_f)) on the kept instances keep[0..L) (ascending, from
 * mhim_mask_select_v2; L >= 0, L == 0 leaves only the recycled tokens, spec Q19), Merge.train with the shuffle
 * perm[0..L) (Xk = h[perm[:n_keep]], Xm = h[perm[n_keep:]], Z = Dropout(MCA(LN_m(Xm), LN_m(G)))), then the encoder
 * on concat(Xk, Z) and the predictor. Updates G (and its alias) IN PLACE in params during the forward, without
 * gradient, as the original (Q4: the backward then sees the updated G in LN_m's saved input). The caches stay in
 * the arena (do not reset it past them before mhim_v2_student_backward). MHIM_EINPUT (nothing written) when
 * N < 1, L > N, or the encoder would see no token (DSMIL/ABMIL/TransMIL always get >= merge_k >= 1 tokens). */
int mhim_v2_student_forward(mhim_v2 *v, mhim_arena *arena, float *params, const float *x, int64_t N,
                            const int64_t *keep, int64_t L, const int64_t *perm, const mhim_rng *dropout,
                            mhim_v2_student_out *out);
/* Backward of the last student forward for d_logits (C) and d_feat (feat_size) (either NULL = 0): every trained
 * parameter gradient += into grads (front end, Merge LN_m / to_kv / to_q / to_out, encoder, predictor; G gets none).
 * Gradients flow through Z into the recycled rows, and through the gathers into the front end. */
void mhim_v2_student_backward(mhim_v2 *v, mhim_arena *arena, const float *params, float *grads, const float *d_logits,
                              const float *d_feat);

/* ---- evaluation (forward_test) ----------------------------------------------------------------------------- */

size_t mhim_v2_eval_arena_bytes(const mhim_v2 *v, int64_t n_max);
/* forward_test on the whole bag: no dropout, no masking, no Merge (merge_test off). logits (C) as in the student
 * (DSMIL averaged); feat (feat_size) when not NULL.
 * MHIM_EINPUT when N < 1. The arena is returned to its fill level. The plain mhim_pure forward (and mhim_pure
 * training) is mhim_model_forward / mhim_model_backward over all rows. */
int mhim_v2_eval_forward(mhim_v2 *v, mhim_arena *arena, const float *params, const float *x, int64_t N, float *logits,
                         float *feat);
/* forward_test with --merge_test (the original's Merge.eval): the whole bag h (no dropout, no masking) followed by
 * the merge_k recycled tokens MCA(LN_m(h), LN_m(G)) over all N rows; the encoder on concat(h, Z) (N + merge_k
 * tokens). G is not updated. Outputs, errors and arena as mhim_v2_eval_forward (mhim_v2_eval_arena_bytes covers
 * both). The original applies it to the student only (its teacher has merge_test off). */
int mhim_v2_eval_forward_merged(mhim_v2 *v, mhim_arena *arena, const float *params, const float *x, int64_t N,
                                float *logits, float *feat);

#endif
