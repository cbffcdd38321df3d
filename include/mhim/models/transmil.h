/* mhim/models/transmil.h — TransMIL as MHIM uses it: the embedding front end followed by SAttention
 * (v1 modules/satten.py, v2 modules/mhim_modules/baseline.py; pos='ppeg', peg_k=7, pos_pos=0) and the predictor.
 *
 *   h = dp(act(x W_eᵀ + b_e))[keep]                      (mhim/models/embed.h; only the kept rows are embedded)
 *   T = [cls ; h]                                          (n = n_keep + 1 tokens, dim 512)
 *   T = T + Dropout0.1(Nys1(LN1(T)))                       TransLayer 1 (no MLP block)
 *   T[1:] = PPEG(T[1:])                                    the cls token bypasses PPEG
 *   T = T + Dropout0.1(Nys2(LN2(T)))                       TransLayer 2
 *   feat = LN(T)[0];  logits = feat W_pᵀ + b_p
 * Nys = NystromAttention(512, dim_head 64, heads H, 256 landmarks, 6 pinv iterations, residual conv 33), see
 * mhim/ops/nystrom.h (front zero padding to a multiple of the landmarks, pads inside the landmark means and the
 * third softmax, pinv normaliser over all heads). Only row 0 of the final LayerNorm is computed (the others are
 * never used).
 *
 * Kept instances: keep[0..n_keep) lists instance indices IN THE ORDER THE MODEL SEES THEM (ascending or the
 * original's CPython set order; the masking code decides); TransMIL depends on that order (landmark segments,
 * residual conv, PPEG grid). keep == NULL means all N instances in bag order.
 *
 * State_dict keys (v1 prefix "patch_to_emb.0.", v2 "feature.0."; both then):
 *   online_encoder.cls_token (1,1,512), online_encoder.norm.{weight,bias},
 *   online_encoder.layer{1,2}.norm.{weight,bias}, .attn.to_qkv.weight (3·64H, 512), .attn.to_out.0.weight
 *   (512, 64H), .attn.to_out.0.bias, .attn.res_conv.weight (H,1,33,1),
 *   online_encoder.pos_embedding.proj{,1,2}.{weight (512,1,k,k), bias} (k = 7, 5, 3), predictor.{weight,bias}.
 *
 * Dropout (train mode, one stream with purpose MHIM_RNG_DROPOUT): the front end draws values [0, N·512) (by original
 * instance index); the to_out Dropout(0.1) of layer L draws values MHIM_TRANSMIL_DROPOUT_BAND·L + [0, n·512)
 * (by token position). A NULL stream is eval mode.
 *
 * Memory: every activation lives in the caller's arena (sized by the *_arena_bytes functions, linear in the bag
 * size: Nyström never forms an n × n matrix). Parameters and gradients are flat buffers of the layout built from
 * mhim_transmil_param_spec; gradients ACCUMULATE (+=). */
#ifndef MHIM_MODELS_TRANSMIL_H
#define MHIM_MODELS_TRANSMIL_H

#include <stddef.h>
#include <stdint.h>

#include "mhim/arena.h"
#include "mhim/models/embed.h"
#include "mhim/params.h"
#include "mhim/rng.h"

#define MHIM_TRANSMIL_DIM_HEAD 64               /* dim // 8, whatever the head count */
#define MHIM_TRANSMIL_LANDMARKS 256             /* dim // 2 */
#define MHIM_TRANSMIL_ATTN_DROPOUT 0.1f         /* Dropout after each layer's to_out */
#define MHIM_TRANSMIL_SPEC_ROWS 25              /* state_dict entries */
#define MHIM_TRANSMIL_DROPOUT_BAND (1ULL << 44) /* stream values reserved per dropout layer */

/* Output rows of TransLayer l's attention branch (l = 0, 1) that the model reads, for n tokens: every row of the
 * first layer, the cls row of the second (only it reaches the final LayerNorm), so the second layer's a1 rows,
 * output product, to_out and their backward are computed for that row only (mhim_nystrom_forward's out_rows). */
static inline int64_t mhim_transmil_branch_rows(int l, int64_t n) { return l == 0 ? n : 1; }

typedef struct {
    mhim_embed_config embed; /* input_dim, dim (512), act, dropout (0.25), version (1 | 2) */
    int64_t n_classes;       /* predictor outputs, >= 1 */
    int64_t heads;           /* --n_heads: 8 (2 for the TCGA runs) */
    int64_t dim_head;        /* MHIM_TRANSMIL_DIM_HEAD in MHIM (smaller only in tests) */
    int64_t landmarks;       /* MHIM_TRANSMIL_LANDMARKS in MHIM (smaller only in tests) */
} mhim_transmil_config;

/* The configuration MHIM builds: dim 512, dim_head 64, 256 landmarks, front-end dropout 0.25. */
mhim_transmil_config mhim_transmil_config_default(int version, int64_t input_dim, int64_t n_classes, int64_t heads,
                                                  mhim_act act);
/* MHIM_OK, or MHIM_EINPUT with a message naming the bad field. */
int mhim_transmil_config_check(const mhim_transmil_config *cfg);

/* Write the MHIM_TRANSMIL_SPEC_ROWS spec rows in the original state_dict order (names are static strings). */
void mhim_transmil_param_spec(const mhim_transmil_config *cfg, mhim_param_spec *rows);

/* Offsets of every tensor inside any buffer of the layout (parameters, gradients, teacher, Adam moments). */
typedef struct {
    int64_t norm_w, norm_b, w_qkv, w_out, b_out, w_res;
} mhim_transmil_layer;

typedef struct {
    mhim_transmil_config cfg;
    mhim_embed embed;
    int64_t cls_token, norm_w, norm_b;
    mhim_transmil_layer layer[2];
    int64_t ppeg_w[3], ppeg_b[3]; /* proj (7x7), proj1 (5x5), proj2 (3x3) */
    int64_t pred_w, pred_b;
} mhim_transmil;

/* Check cfg and resolve the offsets in L. MHIM_EINPUT naming the key (and both shapes) when a tensor is missing
 * or mis-shaped. */
int mhim_transmil_bind(mhim_transmil *m, const mhim_transmil_config *cfg, const mhim_param_layout *L);

/* The original initialisation: Xavier-normal linears with zero bias, LayerNorms 1/0, cls token N(0,1), convs with
 * PyTorch's default U(±1/sqrt(fan_in)) (weights and biases). Tensor i of the spec draws from stream
 * (seed, 0, i, MHIM_RNG_INIT, 0); bias streams use their own index. */
void mhim_transmil_init_params(const mhim_transmil *m, float *params, uint64_t seed);

/* Arena bytes for one training step (mhim_transmil_forward + mhim_transmil_backward) on up to n_max kept
 * instances, and for one mhim_transmil_teacher_forward on up to n_max instances. Both linear in n_max. */
size_t mhim_transmil_arena_bytes(const mhim_transmil_config *cfg, int64_t n_max);
size_t mhim_transmil_teacher_arena_bytes(const mhim_transmil_config *cfg, int64_t n_max);

/* What the backward needs (all in the arena of the forward; valid until that arena is reset past it). */
typedef struct {
    int64_t n; /* tokens: n_keep + 1 */
    mhim_embed_cache embed;
    float *tok0;      /* (n, dim) [cls ; h]: input of LN1 */
    float *ln_out[2]; /* (n, dim) LN1(tok0), LN2(tok2): inputs of the Nyström layers */
    float *ln_mean[2], *ln_rstd[2];
    float *tok1;                    /* (n, dim) after layer 1: input of PPEG (rows 1..) */
    float *tok2;                    /* (n, dim) after PPEG: input of LN2 */
    float *cls_out;                 /* (dim) row 0 after layer 2: input of the final LayerNorm */
    float *final_mean, *final_rstd; /* (1) */
    float *feat;                    /* (dim) the bag feature LN(T)[0] */
    float *nys_buf[2];              /* Nyström caches (mhim_nystrom_cache_floats) */
    uint8_t *keep_attn[2];          /* (branch rows · dim) to_out dropout masks, NULL in eval mode */
} mhim_transmil_cache;

/* Student forward on the rows keep[0..n_keep) of the bag x (N, input_dim) (keep NULL: all, n_keep == N).
 *   logits (n_classes) written; feat (dim) written when not NULL (also kept in cache->feat).
 *   dropout_stream: NULL = eval mode, else train mode (see above).
 * MHIM_EINPUT (nothing written) when n_keep < 1. Indices outside [0, N) are a caller bug and abort. The arena must
 * hold mhim_transmil_arena_bytes(cfg, n_keep) free bytes; x must stay alive until the backward when keep == NULL. */
int mhim_transmil_forward(mhim_transmil_cache *cache, mhim_arena *arena, const mhim_transmil *m, const float *params,
                          const float *x, int64_t N, const int64_t *keep, int64_t n_keep,
                          const mhim_rng *dropout_stream, float *logits, float *feat);

/* Backward of the last forward for d_logits (n_classes) and d_feat (dim) (either may be NULL = zero): every
 * parameter gradient += into grads. Uses arena scratch beyond the forward's blocks and releases it. */
void mhim_transmil_backward(const mhim_transmil *m, float *grads, const float *params, const mhim_transmil_cache *cache,
                            mhim_arena *arena, const float *d_logits, const float *d_feat);

/* The encoder and predictor alone on instance tokens h (n_tokens, dim) that the caller produced (v2 puts Merge
 * between the front end and the encoder; h must stay alive until the backward). Dropout of the two to_out layers
 * as in the student forward (bands 1 and 2 of dropout_stream). cache->embed stays empty. MHIM_EINPUT when
 * n_tokens < 1. The backward WRITES dh (n_tokens, dim) and += the parameter gradients (no front end). */
int mhim_transmil_head_forward(mhim_transmil_cache *cache, mhim_arena *arena, const mhim_transmil *m,
                               const float *params, const float *h, int64_t n_tokens, const mhim_rng *dropout_stream,
                               float *logits, float *feat);
void mhim_transmil_head_backward(const mhim_transmil *m, float *grads, float *dh, const float *params,
                                 const mhim_transmil_cache *cache, mhim_arena *arena, const float *d_logits,
                                 const float *d_feat);

/* Outputs of the teacher forward; any pointer may be NULL (not computed when that saves work). */
typedef struct {
    int attn_layer; /* which layer's attention goes to attn: 0 (layer 1) or 1 / -1 (layer 2) */
    float *feat;    /* (dim)               bag feature LN(T)[0] (the consistency target) */
    float *logits;  /* (n_classes)         predictor(feat) */
    float *attn;    /* (H, n_keep)         per-head cls-row attention of layer attn_layer, NOT renormalised
                       (can be negative, the residual conv is not part of it); head fusion is the masking's */
    float *values;  /* (H, n_keep, dim_head) layer-1 values of the instance tokens (v2 returns them as `act`) */
    float *scores;  /* (n_keep)            v2 attn2score: max_c softmax_c(W_p u_i + b_p[0]) with
                       u = Dropout0.1(to_out₁(concat_h(attn0_h,i · values_h,i))), layer-1 attention */
} mhim_transmil_teacher_out;

/* Forward without caches for the backward (teacher / evaluation / prediction), same arguments as the student
 * forward. In train mode the score path draws its to_out dropout from band 3 of the stream. MHIM_EINPUT when
 * n_keep < 1 or attn_layer is not 0, 1 or -1. Releases its arena blocks before returning. */
int mhim_transmil_teacher_forward(mhim_transmil_teacher_out *out, mhim_arena *arena, const mhim_transmil *m,
                                  const float *params, const float *x, int64_t N, const int64_t *keep, int64_t n_keep,
                                  const mhim_rng *dropout_stream);

/* Evaluation-only forward (eval mode, no dropout) for prediction and full-bag teacher outputs: the numbers of the
 * eval-mode forward (same formulas, blocked sums: logits within ~1e-5 of mhim_transmil_forward) at a fraction of
 * the memory. Nothing is cached for a backward, every n × landmarks attention product is computed in blocks of
 * 1024 rows, layer 2 computes its cls row only, and PPEG runs in place, so the arena holds the tokens (n, dim), one
 * layer's keys and values (2·n·H·dh floats) and fixed-size blocks: mhim_transmil_eval_arena_bytes(cfg, n_keep) ≈
 * 4·n·(dim + 2·H·dh) bytes + about 45 MB (0.63 GiB for 100k instances with 8 heads).
 * Outputs as mhim_transmil_teacher_out (attn of either layer, values, v2 scores, feat, logits; NULL = skipped).
 * MHIM_EINPUT when n_keep < 1 or attn_layer is not 0, 1 or -1. Releases its arena blocks before returning. */
size_t mhim_transmil_eval_arena_bytes(const mhim_transmil_config *cfg, int64_t n_max);
int mhim_transmil_eval_forward(mhim_transmil_teacher_out *out, mhim_arena *arena, const mhim_transmil *m,
                               const float *params, const float *x, int64_t N, const int64_t *keep, int64_t n_keep);

#endif
