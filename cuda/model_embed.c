/* The GPU instance front end (see cuda/model_embed.h). */
#include "model_embed.h"

#include <string.h>

#include "mhim/common.h"

size_t mhim_cuda_embed_arena_bytes(const mhim_embed *e, int64_t n_max) {
    const int64_t rows = n_max * e->cfg.dim;
    /* gathered rows, pre, h, dh, and the keep mask (bytes) */
    return mhim_cuda_block_bytes(n_max * e->cfg.input_dim) + 3 * mhim_cuda_block_bytes(rows) +
           mhim_cuda_block_bytes((rows + 3) / 4);
}

void mhim_cuda_embed_forward(mhim_cuda_embed_cache *c, mhim_cuda_ctx *ctx, const mhim_embed *e, const float *params,
                             const float *x, int64_t N, const int64_t *idx, int64_t M, const mhim_rng *dropout) {
    const int64_t D = e->cfg.input_dim, W = e->cfg.dim;
    MHIM_ASSERT(idx != NULL || M == N);
    memset(c, 0, sizeof *c);
    c->n = M;
    if (idx) {
        float *rows = mhim_cuda_floats(ctx, M * D);
        mhim_cuda_gather_rows_forward(ctx, rows, x, idx, M, N, D);
        c->x = rows;
    } else {
        c->x = x;
    }
    c->h = mhim_cuda_floats(ctx, M * W);
    if (mhim_cuda_first_layer_bf16(ctx)) {
        c->x16 = mhim_cuda_alloc(ctx, (size_t)(M * D) * sizeof(uint16_t));
        uint16_t *w16 = mhim_cuda_alloc(ctx, (size_t)(W * D) * sizeof(uint16_t));
        mhim_cuda_float_to_bf16(ctx, c->x16, c->x, M * D);
        mhim_cuda_float_to_bf16(ctx, w16, params + e->weight, W * D);
        mhim_cuda_gemm_bf16(ctx, 0, 1, M, W, D, 1.0f, c->x16, w16, 0.0f, c->h);
    } else {
        mhim_cuda_linear_forward(ctx, c->h, c->x, params + e->weight, NULL, M, D, W);
    }
    if (mhim_act_needs_input(e->cfg.act)) c->pre = mhim_cuda_floats(ctx, M * W);
    if (dropout && e->cfg.dropout != 0.0f) {
        c->keep = mhim_cuda_alloc(ctx, (size_t)(M * W));
        if (idx)
            mhim_cuda_dropout_mask_rows(ctx, c->keep, dropout, idx, e->cfg.dropout, M, W);
        else
            mhim_cuda_dropout_mask(ctx, c->keep, dropout, 0, e->cfg.dropout, M * W);
    }
    mhim_cuda_bias_act_dropout_forward(ctx, c->h, c->pre, c->h, params + e->bias, e->cfg.act, c->keep,
                                       e->cfg.dropout, M, W);
}

void mhim_cuda_embed_backward(mhim_cuda_ctx *ctx, const mhim_embed *e, float *grads, float *dh,
                              const mhim_cuda_embed_cache *c) {
    const int64_t M = c->n, D = e->cfg.input_dim, W = e->cfg.dim;
    if (c->keep) mhim_cuda_dropout_backward(ctx, dh, dh, c->keep, e->cfg.dropout, M * W);
    mhim_cuda_act_backward(ctx, e->cfg.act, dh, dh, c->pre, c->h, M * W); /* dropped entries of dh are 0 already */
    if (!c->x16) {
        mhim_cuda_linear_backward(ctx, NULL, grads + e->weight, grads + e->bias, dh, c->x, NULL, M, D, W);
        return;
    }
    uint16_t *dh16 = mhim_cuda_alloc(ctx, (size_t)(M * W) * sizeof(uint16_t));
    mhim_cuda_float_to_bf16(ctx, dh16, dh, M * W);
    mhim_cuda_gemm_bf16(ctx, 1, 0, W, D, M, 1.0f, dh16, c->x16, 1.0f, grads + e->weight); /* += dhᵀ · x */
    mhim_cuda_colsum_acc(ctx, grads + e->bias, dh, M, W);
}
