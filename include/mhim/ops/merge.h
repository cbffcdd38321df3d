/* mhim/ops/merge.h — the MHIM-v2 Merge (global recycle) module's recycling branch, MCA with the global queries
 * (original modules/mhim_modules/merge.py, spec v2 §3.5):
 *
 *   Kh, Vh = split_heads(LN_m(Xm) W_kvᵀ)   (first I outputs = K, last I = V; I = heads·dim_head)
 *   Qh     = split_heads(LN_m(G) W_qᵀ)     (same LayerNorm for both)
 *   Att_h  = Dropout(softmax_row(Qh Khᵀ · dim_head^-0.5))          (k, M) per head
 *   Z      = Dropout(concat_h(Att_h Vh) W_outᵀ + b_out)             (k, dim)
 * Xm (M, dim) are the randomly masked rows, M >= 0 (M == 0: empty key set, the context is 0 and Z = Dropout(b_out)).
 * G (k, dim) = the global queries (no gradient). The EMA of G and the shuffle around this op are mhim/v2.h's.
 *
 * Tensors (state_dict order of the original Merge: its own Parameters first, then norm, then attn):
 *   merge.global_q_mm (1, k, dim), merge.global_q (1, k, dim) (alias of the same Parameter), merge.norm.weight,
 *   merge.norm.bias (dim), merge.attn.to_kv.weight (2I, dim), merge.attn.to_q.weight (I, dim),
 *   merge.attn.to_out.0.weight (dim, I), merge.attn.to_out.0.bias (dim).
 * Dropout masks are inputs (1 byte per element, 1 = keep; NULL = no dropout): attention (heads, k, M), output
 * (k, dim). Parameter gradients ACCUMULATE (+=); temporaries come from the caller's arena. */
#ifndef MHIM_OPS_MERGE_H
#define MHIM_OPS_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "mhim/arena.h"
#include "mhim/params.h"

#define MHIM_MERGE_SPEC_ROWS 8

typedef struct {
    int64_t dim;      /* token width (512 in MHIM) */
    int64_t heads;    /* 8 in MHIM */
    int64_t dim_head; /* 64 in MHIM */
    int64_t k;        /* global queries (--merge_k), >= 1 */
} mhim_merge_shape;

/* MHIM's Merge: dim 512, 8 heads of 64, k queries. */
mhim_merge_shape mhim_merge_shape_default(int64_t k);
/* Write the MHIM_MERGE_SPEC_ROWS spec rows (static names, state_dict order). All extents must be >= 1. */
void mhim_merge_param_spec(const mhim_merge_shape *s, mhim_param_spec *rows);

/* Offsets of the Merge tensors inside any buffer of a layout. */
typedef struct {
    mhim_merge_shape s;
    int64_t g, g_alias, norm_w, norm_b, w_kv, w_q, w_out, b_out;
} mhim_merge;

/* Resolve the offsets in L (which may hold more tensors). MHIM_EINPUT naming a missing or mis-shaped key. */
int mhim_merge_bind(mhim_merge *m, const mhim_merge_shape *s, const mhim_param_layout *L);
/* The original initialisation: Xavier-normal linears, zero bias, LayerNorm 1/0, G ~ U(±sqrt(6/(3·256 + dim)))
 * (VPT init; alias = copy). Spec row i draws from stream (seed, 0, first_index + i, MHIM_RNG_INIT, 0). */
void mhim_merge_init_params(const mhim_merge *m, float *params, uint64_t seed, uint32_t first_index);

/* Forward caches, all in the arena of the forward. */
typedef struct {
    int64_t M;                       /* masked rows */
    const float *xm;                 /* (M, dim) the caller's input (must stay alive until the backward) */
    float *lnx, *mean_x, *rstd_x;    /* LN_m(Xm) and its row statistics */
    float *lng, *mean_g, *rstd_g;    /* LN_m(G) and its row statistics (of the G seen by the forward) */
    float *kv;                       /* (M, 2I) */
    float *q;                        /* (k, I) */
    float *att;                      /* (heads, k, M) softmax */
    float *attd;                     /* (heads, k, M) after the attention dropout (== att when no mask) */
    float *ctx;                      /* (k, I) concat_h(Attd_h V_h) */
    const uint8_t *keep_att, *keep_out; /* masks of the forward (or NULL) */
} mhim_merge_cache;

/* Arena bytes of one forward + backward with up to m_max masked rows (linear in m_max). */
size_t mhim_merge_arena_bytes(const mhim_merge_shape *s, int64_t m_max);

/* Z (k, dim) written from Xm (M, dim) and the queries in params (+ m->g). p = dropout probability of both masks. */
void mhim_merge_forward(mhim_merge_cache *c, mhim_arena *arena, const mhim_merge *m, const float *params,
                        const float *xm, int64_t M, const uint8_t *keep_att, const uint8_t *keep_out, float p,
                        float *z);
/* Backward for dz (k, dim): dxm (M, dim) WRITTEN, parameter gradients += (LN_m, to_kv, to_q, to_out; none for G).
 * The LN_m weight gradient of the query path uses the G currently in params with the forward's statistics (what
 * PyTorch does after the in-place EMA of G, spec Q4). Scratch from the arena, released before returning. */
void mhim_merge_backward(const mhim_merge *m, const float *params, float *grads, float *dxm, const float *dz, float p,
                         const mhim_merge_cache *c, mhim_arena *arena);

#endif
