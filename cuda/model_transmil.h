/* cuda/model_transmil.h — TransMIL on the GPU (private to cuda/ and its tests): the network of
 * mhim/models/transmil.h composed from the device ops of mhim/cuda_ops.h plus the few TransMIL-specific kernels of
 * cuda/transmil_kernels.cu declared below. Same numbers as the CPU model (mhim_model_forward / _backward /
 * mhim_transmil_teacher_forward / mhim_model_predict) up to summation order; dropout masks are bit-identical.
 *
 * Memory: every block comes from the context's arena (no cudaMalloc), linear in the bag size (Nyström: no n × n
 * matrix). Parameters and gradients are device buffers of the CPU model's flat layout (mhim_model_layout).
 * Errors: create / forward / predict return MHIM_OK or MHIM_EINPUT with an mhim_fail message; a bag larger than
 * the arena was sized for dies in mhim_cuda_alloc with the arena size and the request. */
#ifndef MHIM_CUDA_MODEL_TRANSMIL_H
#define MHIM_CUDA_MODEL_TRANSMIL_H

#include <stddef.h>
#include <stdint.h>

#include "mhim/cuda_ops.h"
#include "mhim/model.h"
#include "mhim/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mhim_cuda_transmil mhim_cuda_transmil;

/* Bind the configuration and the flat parameter layout of cpu_model (a TransMIL mhim_model; it may be freed
 * afterwards). MHIM_EINPUT naming the problem for another model kind or a v2 model with the Merge module. */
int mhim_cuda_transmil_create(mhim_cuda_transmil **out, const mhim_model *cpu_model);
void mhim_cuda_transmil_free(mhim_cuda_transmil *net); /* NULL is a no-op */
/* Device arena bytes of one training forward + backward on up to n_max kept instances, or of one predict on up to
 * n_max instances (the larger of the two; linear in n_max). */
size_t mhim_cuda_transmil_arena_bytes(const mhim_cuda_transmil *net, int64_t n_max);
/* The two parts of it: one forward + backward on up to n_max kept instances (every activation and cache kept), and
 * one predict on up to n_max instances (no caches; about a quarter of the former with 8 heads). */
size_t mhim_cuda_transmil_train_arena_bytes(const mhim_cuda_transmil *net, int64_t n_max);
size_t mhim_cuda_transmil_predict_arena_bytes(const mhim_cuda_transmil *net, int64_t n_max);

/* Student forward on kept rows idx[0..n) (device int64; NULL = all rows, n == N) of the device bag x (N, input_dim),
 * in the order given; dropout NULL = eval, else train mode with exactly the CPU model's dropout masks (same Philox
 * stream/counters as the CPU forward). Caches are carved from the ctx arena (the caller marks before and resets after
 * the backward); x must stay alive until the backward. logits (C) written, feat (512) written when not NULL (device);
 * max_logits unused (may be NULL). MHIM_EINPUT (nothing written) when N < 1, n < 1, or idx == NULL with n != N. */
int mhim_cuda_transmil_forward(mhim_cuda_transmil *net, mhim_cuda_ctx *ctx, const float *params, const float *x,
                               int64_t N, const int64_t *idx, int64_t n, const mhim_rng *dropout, float *logits,
                               float *max_logits, float *feat);
/* Backward of the last forward; d_* device, each may be NULL (= 0); parameter gradients ACCUMULATE into grads.
 * Scratch is carved past the forward's caches and released before returning. */
void mhim_cuda_transmil_backward(mhim_cuda_transmil *net, mhim_cuda_ctx *ctx, const float *params, float *grads,
                                 const float *d_logits, const float *d_max_logits, const float *d_feat);
/* Whole-bag forward without caches kept (the MHIM teacher in eval or train mode via dropout, and evaluation), the
 * tokens updated in place layer by layer, a1 / a3 (np × landmarks) one head at a time:
 * logits (C), feat (512) (each may be NULL) and map (heads, N) (may be NULL) device = per-head cls-row attention of
 * layer attn_layer (0 = layer 1, 1 or -1 = layer 2), as mhim_transmil_teacher_forward's attn / mhim_model_predict's
 * map. Does not disturb the caches of the last student forward; releases its arena blocks before returning.
 * MHIM_EINPUT when N < 1 or attn_layer is not 0, 1 or -1. */
int mhim_cuda_transmil_predict(mhim_cuda_transmil *net, mhim_cuda_ctx *ctx, const float *params, const float *x,
                               int64_t N, const mhim_rng *dropout, int attn_layer, float *logits, float *max_logits,
                               float *feat, float *map);

/* ---- TransMIL kernels (cuda/transmil_kernels.cu); device pointers, asynchronous on the context's stream ---------- */

/* out (n) = a + b element-wise (out may alias a or b). */
void mhim_cuda_transmil_add(mhim_cuda_ctx *ctx, float *out, const float *a, const float *b, int64_t n);
/* Nyström head split of qkv (n, 3I) into the padded head-major q, k, v (H, pad + n, dh): rows below pad are zero,
 * q is multiplied by scale (I = H·dh; q columns [0, I), k [I, 2I), v [2I, 3I), column h·dh + d of a block). */
void mhim_cuda_transmil_split_heads(mhim_cuda_ctx *ctx, float *q, float *k, float *v, const float *qkv, int64_t n,
                                    int64_t heads, int64_t dh, int64_t pad, float scale);
/* merged (rows, I)[t, h·dh + d] = o (H, pad + n, dh)[h, pad + t, d] (the first rows real rows, heads merged;
 * 1 <= rows <= n). */
void mhim_cuda_transmil_merge_heads(mhim_cuda_ctx *ctx, float *merged, const float *o, int64_t rows, int64_t n,
                                    int64_t heads, int64_t dh, int64_t pad);
/* Inverse of the merge for gradients: d_o (H, pad + n, dh) = the dmerged (rows, I) rows at pad.., zero on the pad
 * rows and on the real rows from rows on. */
void mhim_cuda_transmil_unmerge_heads(mhim_cuda_ctx *ctx, float *d_o, const float *dmerged, int64_t rows, int64_t n,
                                      int64_t heads, int64_t dh, int64_t pad);
/* Gradient of the split: dqkv (n, 3I) = [scale·dq | dk | dv] of the real rows of (H, pad + n, dh). */
void mhim_cuda_transmil_merge_qkv_grad(mhim_cuda_ctx *ctx, float *dqkv, const float *dq, const float *dk,
                                       const float *dv, int64_t n, int64_t heads, int64_t dh, int64_t pad,
                                       float scale);
/* mhim_nystrom_cls_attention on device caches: r[h] = a1_cls[h·a1_stride .. + m) · pinv[h] (a1_cls: the cls row's
 * softmax(q k_landᵀ) of head 0, the next head's a1_stride floats on; scratch: heads·m floats), then
 * attn (H, n − 1)[h, i] = r[h] · a3[h, :, pad + 1 + i]. pinv (H, m, m), a3 (H, m, np), np = pad + n.
 * Both dot products summed in index order in float (as the CPU). n == 1 writes nothing. */
void mhim_cuda_transmil_cls_attention(mhim_cuda_ctx *ctx, float *attn, float *scratch, const float *a1_cls,
                                      int64_t a1_stride, const float *pinv, const float *a3, int64_t n,
                                      int64_t heads, int64_t m, int64_t pad);

#ifdef __cplusplus
}
#endif
#endif
