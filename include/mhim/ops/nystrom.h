/* mhim/ops/nystrom.h — Nyström self-attention of TransMIL as vendored by MHIM-MIL
 * (modules/nystrom_attention.py, class NystromAttention, residual=True, no attention mask).
 *
 * Host float32, row-major; dimensions int64_t. Parameter gradients ACCUMULATE (+=); activation gradients are
 * WRITTEN (=). Per bag (batch 1). Notation for every function below:
 *   n  tokens (cls + instances), D model dim, H heads, dh dim_head, I = H*dh inner dim, m landmarks,
 *   p  = (n % m) ? m - n % m : 0   front zero-padding rows,  np = n + p,  l = np / m  (= ceil(n/m)).
 * Per-head tensors are stored head-major: (H, rows, cols), contiguous per head.
 *
 * Bitwise identical results for any OpenMP thread count (row loops and fixed-order reductions only; GEMMs through
 * cblas_sgemm with a fixed OpenBLAS thread count). */
#ifndef MHIM_OPS_NYSTROM_H
#define MHIM_OPS_NYSTROM_H

#include <stdint.h>

#define MHIM_NYSTROM_PINV_ITERS 6  /* pinv_iterations */
#define MHIM_NYSTROM_RES_KERNEL 33 /* residual_conv_kernel: Conv2d kernel (33,1), padding (16,0) */

/* ---- derived sizes ---------------------------------------------------------------------------------------- */

/* The query scaling of NystromAttention, dim_head ** -0.5 (a Python float applied to a float32 tensor). */
float mhim_nystrom_q_scale(int64_t dim_head);
/* Front padding p and padded length np for n tokens and m landmarks (n >= 1, m >= 1). */
int64_t mhim_nystrom_pad(int64_t n, int64_t m);
int64_t mhim_nystrom_padded_len(int64_t n, int64_t m);
/* The padded query rows [*first, *first + *rows) whose a1 a layer computes when its caller reads the first out_rows
 * of n output rows (mhim_nystrom_forward): every padded row for out_rows = n, else the out_rows output rows. */
void mhim_nystrom_a1_span(int64_t n, int64_t m, int64_t out_rows, int64_t *first, int64_t *rows);

/* Validate the dimensions of one layer: n >= 1, D, H, dh, m >= 1. Returns MHIM_OK, or MHIM_EINPUT with a
 * message naming the bad dimension. The ops themselves assert the same conditions. */
int mhim_nystrom_check_dims(int64_t n, int64_t dim, int64_t heads, int64_t dim_head, int64_t landmarks);

/* ---- whole layer -------------------------------------------------------------------------------------------- */

/* Activations kept by mhim_nystrom_forward for the backward and for the attention export. Every pointer is
 * carved from one caller buffer of mhim_nystrom_cache_floats() floats by mhim_nystrom_cache_bind(). */
typedef struct {
    float *q, *k, *v;       /* (H, np, dh) projections of the padded input, q already scaled by dh^-0.5;
                               rows 0..p-1 are the zero padding. v rows p+1.. are the instance values. With
                               out_rows < n, q only for rows [p, p + out_rows) */
    float *q_land, *k_land; /* (H, m, dh) landmark means */
    float *a1;              /* (H, np, m) softmax(q k_landᵀ); with out_rows < n only rows [p, p + out_rows) */
    float *a2;              /* (H, m, m)  softmax(q_land k_landᵀ) */
    float *a3;              /* (H, m, np) softmax(q_land kᵀ) */
    float *z;               /* (ITERS+1, H, m, m) pseudo-inverse iterates Z_0..Z_ITERS of a2; the last is pinv(a2) */
    float *pinv_inter;      /* (ITERS, H, 3, m, m) each iteration's Y, U2, U3 (mhim_nystrom_pinv_forward) */
    float *pinv_norm;       /* (2) max row abs-sum and max column abs-sum of a2 over all heads */
    float *a3v;             /* (H, m, dh) a3 · v */
    float *za3v;            /* (H, m, dh) pinv(a2) · a3v */
    float *merged;          /* (n, I) attention output of the real rows, heads merged (input of to_out); the
                               first out_rows rows */
} mhim_nystrom_cache;

int64_t mhim_nystrom_cache_floats(int64_t n, int64_t heads, int64_t dim_head, int64_t landmarks);
void mhim_nystrom_cache_bind(mhim_nystrom_cache *cache, float *buf, int64_t n, int64_t heads, int64_t dim_head,
                             int64_t landmarks);
/* Floats of scratch needed by mhim_nystrom_forward / mhim_nystrom_backward (contents undefined on return). */
int64_t mhim_nystrom_forward_scratch_floats(int64_t n, int64_t dim, int64_t heads, int64_t dim_head,
                                            int64_t landmarks);
int64_t mhim_nystrom_backward_scratch_floats(int64_t n, int64_t dim, int64_t heads, int64_t dim_head,
                                             int64_t landmarks);

/* NystromAttention(dim=D, dim_head=dh, heads=H, num_landmarks=m, pinv_iterations=6, residual=True,
 * residual_conv_kernel=33)(x) in eval mode, i.e. without the to_out Dropout (it is element-wise after the crop, so
 * the caller applies it to `out`):
 *   x ← F.pad(x, (0,0,p,0));  q,k,v = to_qkv(x).chunk(3);  q *= dh^-0.5
 *   q_land, k_land = segment sums of l consecutive rows / l      (padding rows included)
 *   a1, a2, a3 = softmax(q k_landᵀ), softmax(q_land k_landᵀ), softmax(q_land kᵀ)   (pad keys take part in a3;
 *                mhim_nystrom_softmax_rows: logits floored at max − 87)
 *   o = a1 · (pinv6(a2) · (a3 · v)) + res_conv(v);  out = to_out(merge_heads(o))[-n:]
 *                (the original multiplies (a1 · pinv6(a2)) · (a3 · v): the same product associated so that no
 *                n × m × m GEMM is needed; results differ by float rounding only, docs/numerics.md)
 *   out_rows             how many leading rows of out the caller reads (1 ≤ out_rows ≤ n): n for a whole layer,
 *                        1 where only the cls row goes on (TransMIL's second layer). Then q, a1, its product
 *                        with pinv · a3v, the residual conv, the merge and to_out are computed for those rows
 *                        only (the q and a1 rows of the others are left unset in the cache), and q_land is the
 *                        segment means of x projected by the q block of w_qkv and scaled (to_qkv has no bias:
 *                        the same math as the means of q, rounded differently); k, v, a2, a3 and the
 *                        pseudo-inverse always cover every row. out_rows = n computes every row as before,
 *                        bitwise.
 *   out    (out_rows, D) written
 *   cache  filled (see mhim_nystrom_cache)
 *   scratch             mhim_nystrom_forward_scratch_floats() floats
 *   x      (n, D)       input tokens (already layer-normed)
 *   w_qkv  (3I, D)      to_qkv.weight (rows [0,I) q, [I,2I) k, [2I,3I) v; row h*dh+d inside a block)
 *   w_out  (D, I)       to_out.0.weight      b_out (D)  to_out.0.bias
 *   w_res  (H, 33)      res_conv.weight (H,1,33,1) flattened */
void mhim_nystrom_forward(float *out, mhim_nystrom_cache *cache, float *scratch, const float *x, const float *w_qkv,
                          const float *w_out, const float *b_out, const float *w_res, int64_t n, int64_t dim,
                          int64_t heads, int64_t dim_head, int64_t landmarks, int64_t out_rows);

/* Backward of mhim_nystrom_forward for dout (out_rows, D) — the gradient of the output rows the forward computed
 * (the rest are taken as zero; out_rows as given to the forward) — through the unrolled pseudo-inverse iterations
 * and its normaliser (PyTorch's full max() splits the gradient evenly among tied maxima).
 *   dx (n, D) written (NULL skips it); dw_qkv (3I, D), dw_out (D, I), db_out (D), dw_res (H, 33) accumulated.
 *   scratch: mhim_nystrom_backward_scratch_floats() floats. */
void mhim_nystrom_backward(float *dx, float *dw_qkv, float *dw_out, float *db_out, float *dw_res, const float *dout,
                           const mhim_nystrom_cache *cache, float *scratch, const float *x, const float *w_qkv,
                           const float *w_out, const float *w_res, int64_t n, int64_t dim, int64_t heads,
                           int64_t dim_head, int64_t landmarks, int64_t out_rows);

/* Attention map exported with return_attn=True (forward only; the teacher never back-propagates it):
 *   r = a1[:, p, :] (the cls row);  attn = (r · pinv(a2)) · a3;  attn[:, n' - (n-1):]
 *   attn (H, n-1) written: per head, the cls token's attention to the n-1 instance tokens, not renormalised
 *   (entries can be negative); the residual convolution is not part of it. n = 1 writes nothing.
 *   scratch: m floats. */
void mhim_nystrom_cls_attention(float *attn, const mhim_nystrom_cache *cache, float *scratch, int64_t n, int64_t heads,
                                int64_t landmarks);

/* ---- pieces (used by the layer, exposed for the gradient checks and the CUDA backend) ---------------------------- */

/* Landmark means over consecutive segments: out[h, j] = (Σ_{r<l} x[h, j*l + r]) / l.
 *   out (H, m, dh) written; x (H, m*l, dh). Backward: dx[h, j*l+r] += dout[h, j] / l (accumulates). */
void mhim_nystrom_landmarks_forward(float *out, const float *x, int64_t heads, int64_t m, int64_t l, int64_t dh);
/* The same means over the layer's input rows before the projection: out (m, dim) written, out[j] = Σ of the rows
 * of segment j of the front-padded x (n, dim) / l, the p padding rows counting as zero (n tokens, p, l as above).
 * Projected by W_q (to_qkv has no bias) and scaled, they are the landmark queries. */
void mhim_nystrom_segment_means(float *out, const float *x, int64_t n, int64_t dim, int64_t m);
/* The landmark queries from those means: q_land (H, m, dh) written, the heads of seg (m, dim) · w_qᵀ times
 * dh^-0.5 (w_q: the q block (I, dim) of to_qkv); q_seg: (m, I) floats of scratch. */
void mhim_nystrom_landmark_queries(float *q_land, float *q_seg, const float *seg, const float *w_q, int64_t m,
                                   int64_t dim, int64_t heads, int64_t dim_head);
void mhim_nystrom_landmarks_backward_acc(float *dx, const float *dout, int64_t heads, int64_t m, int64_t l, int64_t dh);

/* moore_penrose_iter_pinv(a, 6) for a (H, m, m):
 *   s = max over all heads and rows of Σ_j|a_ij|  ·  max over all heads and columns of Σ_i|a_ij|
 *   Z_0 = aᵀ / s;  Z_{t+1} = 0.25 · Z_t (13I − U3),  U3 = 13I − Y U2,  U2 = 15I − Y(7I − Y),  Y = a Z_t
 *   z     (ITERS+1, H, m, m) written: all iterates, pinv = z + ITERS*H*m*m
 *   inter (ITERS, H, 3, m, m) written when not NULL: each iteration's Y, U2, U3 (the backward then reads them
 *         instead of recomputing them: 3 of its 11 GEMMs per iteration)
 *   norm  (2) written: the two maxima
 *   scratch mhim_nystrom_pinv_forward_scratch_floats() floats (3·m·m per head: the heads run in parallel). */
int64_t mhim_nystrom_pinv_forward_scratch_floats(int64_t heads, int64_t m);
void mhim_nystrom_pinv_forward(float *z, float *inter, float *norm, float *scratch, const float *a, int64_t heads,
                               int64_t m);
/* Backward for dpinv (H, m, m) = gradient of the last iterate: da (H, m, m) written. inter: the forward's
 * intermediates, or NULL to recompute them (bitwise the same result).
 * scratch: mhim_nystrom_pinv_backward_scratch_floats() floats (9·m·m per head). */
int64_t mhim_nystrom_pinv_backward_scratch_floats(int64_t heads, int64_t m);
void mhim_nystrom_pinv_backward(float *da, const float *dpinv, const float *z, const float *inter, const float *norm,
                                float *scratch, const float *a, int64_t heads, int64_t m);

/* Logits below the row max + MHIM_NYSTROM_SOFTMAX_FLOOR are raised to it in the attention softmaxes (training
 * and the row-blocked TransMIL evaluation forward alike): e^−87 ≈ 1.6e−38 is below any float sum's resolution and
 * still a normal float. */
#define MHIM_NYSTROM_SOFTMAX_FLOOR (-87.0f)

/* Row softmax of the attention maps, in place on a (R, L): a[r] = softmax(a[r]) with logits below max − 87 raised
 * to max − 87 (their weight, < 2e−38, stays far below float resolution; it keeps the vectorised exp on its fast
 * path). Sums in double, a fixed order per build. The floor changes nothing in the backward: it is
 * mhim_softmax_rows_backward (mhim/ops/softmax.h). */
void mhim_nystrom_softmax_rows(float *a, int64_t R, int64_t L);

/* Residual depthwise convolution along the sequence (res_conv: Conv2d(H, H, (33,1), padding=(16,0), groups=H,
 * bias=False) applied to v (1, H, np, dh)):
 *   out[h,t,c] += Σ_{j<33} w[h,j] · v[h, t+j-16, c]   (zero outside [0, T))   — out ACCUMULATES
 *   Backward: dv[h,s,c] += Σ_j w[h,j] · dout[h, s-j+16, c] and dw[h,j] += Σ_{t,c} dout[h,t,c] · v[h,t+j-16,c]. */
void mhim_nystrom_res_conv_forward_acc(float *out, const float *v, const float *w, int64_t heads, int64_t T,
                                       int64_t dh);
/* Rows [t0, t0 + rows) of the same convolution (0 <= t0, t0 + rows <= T), added into a heads-merged layout:
 *   out[r·ld + h·dh + c] += Σ_{j<33} w[h,j] · v[h, t0+r+j-16, c]   — the same sum order as the full forward, so
 *   the row-blocked evaluation forward matches it bitwise. */
void mhim_nystrom_res_conv_rows_acc(float *out, int64_t ld, const float *v, const float *w, int64_t heads, int64_t T,
                                    int64_t dh, int64_t t0, int64_t rows);
void mhim_nystrom_res_conv_backward_acc(float *dv, float *dw, const float *dout, const float *v, const float *w,
                                        int64_t heads, int64_t T, int64_t dh);
/* The same backward when dout is zero outside rows [t0, t0 + rows) of every head (0 <= t0, t0 + rows <= T; a layer
 * whose caller reads only some output rows): dout is read on those rows only, dv is added on the rows they reach
 * ([t0 − 16, t0 + rows + 16) ∩ [0, T)), dw sums over those rows. Equal to the whole backward on such a dout (the
 * skipped products are exact zeros; bitwise up to the sign of zero when dh is a multiple of 16, as the dot lanes
 * then follow the column). */
void mhim_nystrom_res_conv_backward_rows_acc(float *dv, float *dw, const float *dout, const float *v, const float *w,
                                             int64_t heads, int64_t T, int64_t dh, int64_t t0, int64_t rows);

#endif
