/* cuda/model_embed.h — the instance front end h = dp(act(x W_eᵀ + b_e)) on the GPU, shared by the GPU networks
 * (the device counterpart of mhim/models/embed.h: same configuration, offsets and dropout masks). Private to cuda/. */
#ifndef MHIM_CUDA_MODEL_EMBED_H
#define MHIM_CUDA_MODEL_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "mhim/cuda_ops.h"
#include "mhim/models/embed.h"

/* Bytes of one arena block of n floats (or n/2 int64s): the device arena rounds blocks up to 256 bytes. */
static inline size_t mhim_cuda_block_bytes(int64_t n) { return ((size_t)n * sizeof(float) + 255) / 256 * 256; }

typedef struct {
    int64_t n;         /* rows embedded */
    const float *x;    /* (n, input_dim) the gathered rows, or the bag itself */
    uint16_t *x16;     /* (n, input_dim) x in bf16 for the weight gradient (bf16 first layer), else NULL */
    float *pre;        /* (n, dim) pre-activation (GELU only, else NULL) */
    uint8_t *keep;     /* (n, dim) dropout mask, NULL in eval mode */
    float *h;          /* (n, dim) output dp(act(pre)); ReLU's backward reads its sign (dropout keeps it) */
} mhim_cuda_embed_cache;

/* Device bytes of one forward + backward on up to n_max rows (gathered rows, pre, keep, h, dh); with the context's
 * bf16 first layer on, its bf16 copies need mhim_cuda_bf16_first_layer_bytes more (the caller adds them). */
size_t mhim_cuda_embed_arena_bytes(const mhim_embed *e, int64_t n_max);
/* Forward over rows idx[0..M) of x (N, input_dim) (device int64; NULL = all rows, M == N); dropout NULL or p == 0 =
 * no dropout, else row j uses the mask of instance idx[j] (as mhim_embed_forward). The GEMM runs without bias and
 * one fused pass adds the bias, applies the activation and the dropout (mhim_cuda_bias_act_dropout_forward). With
 * mhim_cuda_first_layer_bf16(ctx) the GEMM takes bf16 copies of the rows and the weight (fp32 sums), and the
 * backward's weight gradient bf16 copies of dh and the rows.
 * Caches come from the arena; c->h must stay unchanged until the backward. */
void mhim_cuda_embed_forward(mhim_cuda_embed_cache *c, mhim_cuda_ctx *ctx, const mhim_embed *e, const float *params,
                             const float *x, int64_t N, const int64_t *idx, int64_t M, const mhim_rng *dropout);
/* Backward for dh (n, dim), which is overwritten; weight and bias gradients ACCUMULATE into grads. */
void mhim_cuda_embed_backward(mhim_cuda_ctx *ctx, const mhim_embed *e, float *grads, float *dh,
                              const mhim_cuda_embed_cache *c);

#endif
