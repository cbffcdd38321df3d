/* TransMIL on the GPU: the CPU model's forward (src/models/transmil_forward.c, src/ops/nystrom.c) and backward
 * (transmil_backward.c, nystrom_backward.c) composed from the device ops, block for block in the same order, and a
 * lean predict (the same arithmetic without caches, one head's attention blocks at a time) with the attention export
 * (see cuda/model_transmil.h). */
#include "model_transmil.h"
#include "model_embed.h"

#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/models/network_configs.h"
#include "mhim/models/transmil.h"
#include "mhim/ops/nystrom.h"
#include "mhim/ops/ppeg.h"

#define DEVICE_ALIGN 256 /* block alignment of mhim_cuda_alloc */
#define ITERS MHIM_NYSTROM_PINV_ITERS

/* Activations of one forward (arena blocks). The front end's output is copied into tok0's rows 1.. */
typedef struct {
    int64_t n;              /* tokens: kept instances + 1 */
    mhim_cuda_embed_cache emb; /* the shared front end (cuda/model_embed.h) on the n − 1 kept rows */
    float *tok0;            /* (n, dim) [cls ; h] */
    float *ln[2], *ln_mean[2], *ln_rstd[2];
    float *tok1, *tok2;     /* (n, dim) after layer 1, after PPEG */
    float *cls_out, *feat;  /* (dim) row 0 after layer 2, final LayerNorm of it */
    float *final_mean, *final_rstd;
    mhim_nystrom_cache nys[2]; /* a1 (H, span rows, m) compact, merged (branch rows, I) */
    uint8_t *keep_attn[2];  /* (branch rows · dim) to_out dropout masks, NULL in eval mode */
} tm_cache;

struct mhim_cuda_transmil {
    mhim_transmil m; /* configuration and offsets into the flat layout */
    tm_cache cache;  /* of the last student forward */
    int cached;
};

/* ---- sizes --------------------------------------------------------------------------------------------------- */

static size_t fl(int64_t n) { return ((size_t)n * sizeof(float) + DEVICE_ALIGN - 1) / DEVICE_ALIGN * DEVICE_ALIGN; }
static size_t by(int64_t n) { return ((size_t)n + DEVICE_ALIGN - 1) / DEVICE_ALIGN * DEVICE_ALIGN; }
static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Dimensions of one Nyström layer on n tokens. */
typedef struct {
    int64_t n, D, H, dh, I, m, pad, np, l;
} nys_dims;

static nys_dims dims_of(const mhim_transmil_config *c, int64_t n) {
    nys_dims d = {.n = n, .D = c->embed.dim, .H = c->heads, .dh = c->dim_head, .m = c->landmarks};
    d.I = d.H * d.dh;
    d.pad = mhim_nystrom_pad(n, d.m);
    d.np = n + d.pad;
    d.l = d.np / d.m;
    return d;
}

/* The a1 rows a layer computes for its first out_rows output rows (mhim_nystrom_a1_span). */
static int64_t a1_rows_of(const nys_dims *d, int64_t out_rows) {
    int64_t first, rows;
    mhim_nystrom_a1_span(d->n, d->m, out_rows, &first, &rows);
    return rows;
}

/* The cache of one layer (mhim_nystrom_cache) whose caller reads its first out_rows output rows. */
static size_t nys_cache_bytes(const nys_dims *d, int64_t out_rows) {
    return 3 * fl(d->H * d->np * d->dh) + 2 * fl(d->H * d->m * d->dh) + fl(d->H * a1_rows_of(d, out_rows) * d->m) +
           fl(d->H * d->m * d->m) + fl(d->H * d->m * d->np) + fl((ITERS + 1) * d->H * d->m * d->m) + fl(2) +
           2 * fl(d->H * d->m * d->dh) + fl(out_rows * d->I);
}

static size_t nys_forward_bytes(const nys_dims *d) {
    return fl(d->n * 3 * d->I) + fl(d->H * d->np * d->dh) +
           fl(mhim_cuda_nystrom_pinv_forward_scratch_floats(d->H, d->m));
}

static size_t nys_backward_bytes(const nys_dims *d) {
    return fl(d->n * d->I) + fl(d->n * 3 * d->I) + 4 * fl(d->H * d->np * d->dh) + fl(d->H * d->np * d->m) +
           fl(d->H * d->m * d->np) + 4 * fl(d->H * d->m * d->dh) + 2 * fl(d->H * d->m * d->m) +
           fl(mhim_cuda_nystrom_pinv_backward_scratch_floats(d->H, d->m));
}

/* Blocks a forward keeps for the backward (the worst case: gathered rows, GELU, dropout). */
static size_t kept_bytes(const mhim_transmil_config *c, const nys_dims *d) {
    const int64_t nk = d->n - 1, D = d->D;
    size_t b = fl(nk * c->embed.input_dim) + 2 * fl(nk * D) + by(nk * D);
    b += 5 * fl(d->n * D) + 4 * fl(d->n);
    for (int l = 0; l < 2; l++) {
        const int64_t rows = mhim_transmil_branch_rows(l, d->n);
        b += by(rows * D) + nys_cache_bytes(d, rows);
    }
    return b + 2 * fl(D) + 2 * fl(1);
}

/* Scratch of the forward beyond its caches. */
static size_t forward_scratch_bytes(const nys_dims *d) {
    const size_t ppeg = fl(mhim_ppeg_forward_scratch_floats(d->n - 1, d->D));
    return fl(d->n * d->D) + max_size(nys_forward_bytes(d), ppeg);
}

static size_t backward_scratch_bytes(const nys_dims *d) {
    const size_t ppeg = fl(mhim_ppeg_backward_scratch_floats(d->n - 1, d->D));
    return 2 * fl(d->D) + 3 * fl(d->n * d->D) + max_size(nys_backward_bytes(d), ppeg);
}

size_t mhim_cuda_transmil_train_arena_bytes(const mhim_cuda_transmil *net, int64_t n_max) {
    const nys_dims d = dims_of(&net->m.cfg, (n_max > 1 ? n_max : 1) + 1);
    return kept_bytes(&net->m.cfg, &d) + max_size(forward_scratch_bytes(&d), backward_scratch_bytes(&d));
}

/* Blocks of one lean Nyström layer (lean_layer) beyond the tokens: o, v, q, k, then the largest of its phases (the
 * first layer's sizes bound the second's). */
static size_t lean_layer_bytes(const nys_dims *d) {
    const int64_t H = d->H, np = d->np, m = d->m, dh = d->dh;
    const size_t heads = 4 * fl(H * np * dh); /* o, q, k, v (H, np, dh) */
    const size_t project = fl(d->n * d->D) + 2 * fl(d->n);
    const size_t state = 2 * fl(H * m * dh) + fl(H * m * m) + fl((ITERS + 1) * H * m * m) + fl(2);
    const size_t per_head = 2 * fl(np * m) + 2 * fl(m * dh) + fl(m);
    const size_t attention =
        state + max_size(fl(mhim_cuda_nystrom_pinv_forward_scratch_floats(H, m)), per_head);
    const size_t output = 2 * fl(H * np * dh) + fl(d->n * d->I) + fl(d->n * d->D) + by(d->n * d->D); /* o, v kept */
    return max_size(heads + max_size(project, attention), output);
}

size_t mhim_cuda_transmil_predict_arena_bytes(const mhim_cuda_transmil *net, int64_t n_max) {
    const nys_dims d = dims_of(&net->m.cfg, (n_max > 1 ? n_max : 1) + 1);
    const int64_t rows = (d.n - 1) * d.D;
    const size_t embed = 2 * fl(rows) + by(rows); /* h, pre (GELU), keep (dropout) */
    const size_t ppeg = fl(mhim_ppeg_forward_scratch_floats(d.n - 1, d.D));
    const size_t tail = fl(d.D) + 2 * fl(1); /* cls row feature, its LayerNorm statistics */
    return fl(d.n * d.D) + max_size(max_size(embed, ppeg), max_size(lean_layer_bytes(&d), tail));
}

size_t mhim_cuda_transmil_arena_bytes(const mhim_cuda_transmil *net, int64_t n_max) {
    return max_size(mhim_cuda_transmil_train_arena_bytes(net, n_max),
                    mhim_cuda_transmil_predict_arena_bytes(net, n_max));
}

/* ---- create / free ------------------------------------------------------------------------------------------- */

int mhim_cuda_transmil_create(mhim_cuda_transmil **out, const mhim_model *cpu_model) {
    const mhim_model_config *mc = mhim_model_get_config(cpu_model);
    if (mc->kind != MHIM_MODEL_TRANSMIL)
        return mhim_fail("GPU TransMIL: the model is %s, expected transmil (--baseline=selfattn)",
                         mhim_model_kind_name(mc->kind));
    if (mc->merge_k > 0)
        return mhim_fail("GPU TransMIL: the v2 Merge module (merge_k=%lld) has no GPU implementation; train without "
                         "--merge_enable or on the CPU", (long long)mc->merge_k);
    mhim_transmil_config cfg = mhim_registry_transmil_config(mc);
    mhim_cuda_transmil *net = mhim_calloc(1, sizeof *net);
    int rc = mhim_transmil_bind(&net->m, &cfg, mhim_model_layout(cpu_model));
    if (rc != MHIM_OK) {
        free(net);
        return rc;
    }
    *out = net;
    return MHIM_OK;
}

void mhim_cuda_transmil_free(mhim_cuda_transmil *net) { free(net); }

/* ---- Nyström attention --------------------------------------------------------------------------------------- */

/* Carve the cache of a layer whose caller reads its first out_rows output rows: a1 holds only the a1_rows_of rows
 * (H, rows, m), merged (out_rows, I). */
static void carve_nys_cache(mhim_cuda_ctx *ctx, mhim_nystrom_cache *c, const nys_dims *d, int64_t out_rows) {
    const int64_t H = d->H, np = d->np, m = d->m, dh = d->dh;
    c->q = mhim_cuda_floats(ctx, H * np * dh);
    c->k = mhim_cuda_floats(ctx, H * np * dh);
    c->v = mhim_cuda_floats(ctx, H * np * dh);
    c->q_land = mhim_cuda_floats(ctx, H * m * dh);
    c->k_land = mhim_cuda_floats(ctx, H * m * dh);
    c->a1 = mhim_cuda_floats(ctx, H * a1_rows_of(d, out_rows) * m);
    c->a2 = mhim_cuda_floats(ctx, H * m * m);
    c->a3 = mhim_cuda_floats(ctx, H * m * np);
    c->z = mhim_cuda_floats(ctx, (ITERS + 1) * H * m * m);
    c->pinv_inter = NULL; /* the device pseudo-inverse backward recomputes its intermediates */
    c->pinv_norm = mhim_cuda_floats(ctx, 2);
    c->a3v = mhim_cuda_floats(ctx, H * m * dh);
    c->za3v = mhim_cuda_floats(ctx, H * m * dh);
    c->merged = mhim_cuda_floats(ctx, out_rows * d->I);
}

/* Per-head batch of row-major GEMMs c_h = alpha·op(a_h)·op(b_h) + beta·c_h, every operand contiguous per head. */
static void head_gemm(mhim_cuda_ctx *ctx, const nys_dims *d, int ta, int tb, int64_t M, int64_t N, int64_t K,
                      const float *a, const float *b, float beta, float *c) {
    mhim_cuda_gemm_batched(ctx, ta, tb, M, N, K, 1.0f, a, M * K, b, K * N, beta, c, M * N, d->H);
}

/* out (out_rows, D) = the first out_rows rows of NystromAttention of layer l on x (n, D) (mhim_nystrom_forward:
 * a1 and the output product for those rows only), cache c filled. */
static void nystrom_forward(mhim_cuda_ctx *ctx, float *out, mhim_nystrom_cache *c, const float *x,
                            const mhim_transmil *tm, const float *params, int l, const nys_dims *d, int64_t out_rows) {
    const mhim_transmil_layer *ly = &tm->layer[l];
    const int64_t H = d->H, n = d->n, np = d->np, m = d->m, dh = d->dh, I = d->I;
    int64_t f, r; /* the a1 rows [f, f + r) of the padded sequence */
    mhim_nystrom_a1_span(n, m, out_rows, &f, &r);
    const size_t mark = mhim_cuda_mark(ctx);
    float *qkv = mhim_cuda_floats(ctx, n * 3 * I), *o = mhim_cuda_floats(ctx, H * np * dh);
    float *pinv_scratch = mhim_cuda_floats(ctx, mhim_cuda_nystrom_pinv_forward_scratch_floats(H, m));
    mhim_cuda_linear_forward(ctx, qkv, x, params + ly->w_qkv, NULL, n, d->D, 3 * I);
    mhim_cuda_transmil_split_heads(ctx, c->q, c->k, c->v, qkv, n, H, dh, d->pad, mhim_nystrom_q_scale(dh));
    mhim_cuda_nystrom_landmarks_forward(ctx, c->q_land, c->q, H, m, d->l, dh);
    mhim_cuda_nystrom_landmarks_forward(ctx, c->k_land, c->k, H, m, d->l, dh);
    mhim_cuda_gemm_batched(ctx, 0, 1, r, m, dh, 1.0f, c->q + f * dh, np * dh, c->k_land, m * dh, 0.0f, c->a1, r * m,
                           H);                                            /* q k_landᵀ      */
    head_gemm(ctx, d, 0, 1, m, m, dh, c->q_land, c->k_land, 0.0f, c->a2); /* q_land k_landᵀ */
    head_gemm(ctx, d, 0, 1, m, np, dh, c->q_land, c->k, 0.0f, c->a3);     /* q_land kᵀ      */
    mhim_cuda_softmax_rows_forward(ctx, c->a1, c->a1, NULL, H * r, m);
    mhim_cuda_softmax_rows_forward(ctx, c->a2, c->a2, NULL, H * m, m);
    mhim_cuda_softmax_rows_forward(ctx, c->a3, c->a3, NULL, H * m, np);
    mhim_cuda_nystrom_pinv_forward(ctx, c->z, c->pinv_norm, pinv_scratch, c->a2, H, m);
    const float *pinv = c->z + ITERS * H * m * m;
    head_gemm(ctx, d, 0, 0, m, dh, np, c->a3, c->v, 0.0f, c->a3v); /* a3 · v     */
    head_gemm(ctx, d, 0, 0, m, dh, m, pinv, c->a3v, 0.0f, c->za3v); /* pinv · a3v */
    mhim_cuda_gemm_batched(ctx, 0, 0, r, dh, m, 1.0f, c->a1, r * m, c->za3v, m * dh, 0.0f, o + f * dh, np * dh,
                           H); /* a1 · za3v */
    /* merge heads of the output rows, then + res_conv(v) on those rows (the same additions in the same order as
     * adding the convolution before the merge) */
    mhim_cuda_transmil_merge_heads(ctx, c->merged, o, out_rows, n, H, dh, d->pad);
    mhim_cuda_nystrom_res_conv_rows_acc(ctx, c->merged, I, c->v, params + ly->w_res, H, np, dh, d->pad, out_rows);
    mhim_cuda_linear_forward(ctx, out, c->merged, params + ly->w_out, params + ly->b_out, out_rows, I, d->D);
    mhim_cuda_reset(ctx, mark);
}

/* dx (n, D) written, layer l's parameter gradients += (mhim_nystrom_backward) for dout (out_rows, D), the gradient
 * of the output rows the forward computed (out_rows as given to it). */
static void nystrom_backward(mhim_cuda_ctx *ctx, float *dx, const float *dout, const mhim_nystrom_cache *c,
                             const float *x, const mhim_transmil *tm, const float *params, float *grads, int l,
                             const nys_dims *d, int64_t out_rows) {
    const mhim_transmil_layer *ly = &tm->layer[l];
    const int64_t H = d->H, n = d->n, np = d->np, m = d->m, dh = d->dh, I = d->I;
    int64_t f, r; /* the a1 rows [f, f + r) the forward computed; the others carry no gradient */
    mhim_nystrom_a1_span(n, m, out_rows, &f, &r);
    const size_t mark = mhim_cuda_mark(ctx);
    float *dmerged = mhim_cuda_floats(ctx, out_rows * I), *dqkv = mhim_cuda_floats(ctx, n * 3 * I);
    float *d_o = mhim_cuda_floats(ctx, H * np * dh), *dq = mhim_cuda_floats(ctx, H * np * dh);
    float *dk = mhim_cuda_floats(ctx, H * np * dh), *dv = mhim_cuda_floats(ctx, H * np * dh);
    float *da1 = mhim_cuda_floats(ctx, H * r * m), *dza3v = mhim_cuda_floats(ctx, H * m * dh);
    float *da3v = mhim_cuda_floats(ctx, H * m * dh), *da3 = mhim_cuda_floats(ctx, H * m * np);
    float *dz = mhim_cuda_floats(ctx, H * m * m), *da2 = mhim_cuda_floats(ctx, H * m * m);
    float *dql = mhim_cuda_floats(ctx, H * m * dh), *dkl = mhim_cuda_floats(ctx, H * m * dh);
    float *pinv_scratch = mhim_cuda_floats(ctx, mhim_cuda_nystrom_pinv_backward_scratch_floats(H, m));
    const float *pinv = c->z + ITERS * H * m * m;

    /* to_out and the crop: only the output rows carry gradient */
    mhim_cuda_linear_backward(ctx, dmerged, grads + ly->w_out, grads + ly->b_out, dout, c->merged,
                              params + ly->w_out, out_rows, I, d->D);
    mhim_cuda_transmil_unmerge_heads(ctx, d_o, dmerged, out_rows, n, H, dh, d->pad);
    mhim_cuda_memset0(ctx, dv, (size_t)(H * np * dh) * sizeof(float));
    mhim_cuda_nystrom_res_conv_backward_acc(ctx, dv, grads + ly->w_res, d_o, c->v, params + ly->w_res, H, np, dh);
    /* o = a1 · za3v (rows [f, f + r));  za3v = Z · a3v;  a3v = a3 · v */
    mhim_cuda_gemm_batched(ctx, 0, 1, r, m, dh, 1.0f, d_o + f * dh, np * dh, c->za3v, m * dh, 0.0f, da1, r * m, H);
    mhim_cuda_gemm_batched(ctx, 1, 0, m, dh, r, 1.0f, c->a1, r * m, d_o + f * dh, np * dh, 0.0f, dza3v, m * dh, H);
    head_gemm(ctx, d, 0, 1, m, m, dh, dza3v, c->a3v, 0.0f, dz);
    head_gemm(ctx, d, 1, 0, m, dh, m, pinv, dza3v, 0.0f, da3v);
    head_gemm(ctx, d, 0, 1, m, np, dh, da3v, c->v, 0.0f, da3);
    head_gemm(ctx, d, 1, 0, np, dh, m, c->a3, da3v, 1.0f, dv);
    /* softmaxes of a1 and a3, then s1 = q k_landᵀ and s3 = q_land kᵀ */
    mhim_cuda_softmax_rows_backward(ctx, da1, da1, c->a1, H * r, m);
    mhim_cuda_softmax_rows_backward(ctx, da3, da3, c->a3, H * m, np);
    if (r < np) mhim_cuda_memset0(ctx, dq, (size_t)(H * np * dh) * sizeof(float));
    mhim_cuda_gemm_batched(ctx, 0, 0, r, dh, m, 1.0f, da1, r * m, c->k_land, m * dh, 0.0f, dq + f * dh, np * dh, H);
    mhim_cuda_gemm_batched(ctx, 1, 0, m, dh, r, 1.0f, da1, r * m, c->q + f * dh, np * dh, 0.0f, dkl, m * dh, H);
    head_gemm(ctx, d, 0, 0, m, dh, np, da3, c->k, 0.0f, dql);
    head_gemm(ctx, d, 1, 0, np, dh, m, da3, c->q_land, 0.0f, dk);
    /* pinv (global normaliser couples the heads), the softmax of a2 and s2 = q_land k_landᵀ */
    mhim_cuda_nystrom_pinv_backward(ctx, da2, dz, c->z, c->pinv_norm, pinv_scratch, c->a2, H, m);
    mhim_cuda_softmax_rows_backward(ctx, da2, da2, c->a2, H * m, m);
    head_gemm(ctx, d, 0, 0, m, dh, m, da2, c->k_land, 1.0f, dql);
    head_gemm(ctx, d, 1, 0, m, dh, m, da2, c->q_land, 1.0f, dkl);
    mhim_cuda_nystrom_landmarks_backward_acc(ctx, dq, dql, H, m, d->l, dh);
    mhim_cuda_nystrom_landmarks_backward_acc(ctx, dk, dkl, H, m, d->l, dh);
    /* q scaling, head merge of the real rows, to_qkv */
    mhim_cuda_transmil_merge_qkv_grad(ctx, dqkv, dq, dk, dv, n, H, dh, d->pad, mhim_nystrom_q_scale(dh));
    mhim_cuda_linear_backward(ctx, dx, grads + ly->w_qkv, NULL, dqkv, x, params + ly->w_qkv, n, d->D, 3 * I);
    mhim_cuda_reset(ctx, mark);
}

/* ---- forward ------------------------------------------------------------------------------------------------- */

/* tok0 rows 1.. = dp(act(x[idx] W_eᵀ + b_e)) (the shared front end), row 0 = the cls token. */
static void front_end_forward(mhim_cuda_ctx *ctx, tm_cache *c, const mhim_transmil *tm, const float *params,
                              const float *x, int64_t N, const int64_t *idx, const mhim_rng *dropout) {
    const int64_t M = c->n - 1, W = tm->cfg.embed.dim;
    mhim_cuda_embed_forward(&c->emb, ctx, &tm->embed, params, x, N, idx, M, dropout);
    mhim_cuda_copy(ctx, c->tok0 + W, c->emb.h, (size_t)(M * W) * sizeof(float));
    mhim_cuda_copy(ctx, c->tok0, params + tm->cls_token, (size_t)W * sizeof(float));
}

/* o (rows, D) = to_out dropout of Nys_l(LN_l(t)) with its caches (the attention branch of TransLayer l) for its
 * rows = mhim_transmil_branch_rows(l, n) output rows that the model reads. */
static void attention_branch(mhim_cuda_ctx *ctx, float *o, tm_cache *c, const float *t, const mhim_transmil *tm,
                             const float *params, int l, const nys_dims *d) {
    const mhim_transmil_layer *ly = &tm->layer[l];
    const int64_t rows = mhim_transmil_branch_rows(l, d->n);
    mhim_cuda_layernorm_forward(ctx, c->ln[l], c->ln_mean[l], c->ln_rstd[l], t, params + ly->norm_w,
                                params + ly->norm_b, d->n, d->D);
    nystrom_forward(ctx, o, &c->nys[l], c->ln[l], tm, params, l, d, rows);
    if (c->keep_attn[l]) mhim_cuda_dropout_forward(ctx, o, c->keep_attn[l], o, MHIM_TRANSMIL_ATTN_DROPOUT, rows * d->D);
}

/* The whole forward into cache c (blocks carved from the arena and kept); logits (C) and feat (when not NULL). */
static void forward_all(mhim_cuda_ctx *ctx, tm_cache *c, const mhim_transmil *tm, const float *params,
                        const float *x, int64_t N, const int64_t *idx, int64_t n_keep, const mhim_rng *dropout,
                        float *logits, float *feat) {
    const nys_dims d = dims_of(&tm->cfg, n_keep + 1);
    const int64_t n = d.n, D = d.D;
    memset(c, 0, sizeof *c);
    c->n = n;
    c->tok0 = mhim_cuda_floats(ctx, n * D);
    front_end_forward(ctx, c, tm, params, x, N, idx, dropout);
    for (int l = 0; l < 2; l++) {
        const int64_t rows = mhim_transmil_branch_rows(l, n); /* the second layer's mask: the first row of its band */
        c->ln[l] = mhim_cuda_floats(ctx, n * D);
        c->ln_mean[l] = mhim_cuda_floats(ctx, n);
        c->ln_rstd[l] = mhim_cuda_floats(ctx, n);
        carve_nys_cache(ctx, &c->nys[l], &d, rows);
        if (dropout) {
            c->keep_attn[l] = mhim_cuda_alloc(ctx, (size_t)(rows * D));
            mhim_cuda_dropout_mask(ctx, c->keep_attn[l], dropout, (uint64_t)(l + 1) * MHIM_TRANSMIL_DROPOUT_BAND,
                                   MHIM_TRANSMIL_ATTN_DROPOUT, rows * D);
        }
    }
    c->tok1 = mhim_cuda_floats(ctx, n * D);
    c->tok2 = mhim_cuda_floats(ctx, n * D);
    c->cls_out = mhim_cuda_floats(ctx, D);
    c->feat = mhim_cuda_floats(ctx, D);
    c->final_mean = mhim_cuda_floats(ctx, 1);
    c->final_rstd = mhim_cuda_floats(ctx, 1);

    const size_t mark = mhim_cuda_mark(ctx);
    float *o = mhim_cuda_floats(ctx, n * D);
    attention_branch(ctx, o, c, c->tok0, tm, params, 0, &d);
    mhim_cuda_transmil_add(ctx, c->tok1, c->tok0, o, n * D);
    /* PPEG on the instance rows; the cls row bypasses it */
    const size_t ppeg_mark = mhim_cuda_mark(ctx);
    float *ppeg_scratch = mhim_cuda_floats(ctx, mhim_ppeg_forward_scratch_floats(n - 1, D));
    mhim_cuda_copy(ctx, c->tok2, c->tok1, (size_t)(D) * sizeof(float));
    mhim_cuda_ppeg_forward(ctx, c->tok2 + D, ppeg_scratch, c->tok1 + D, params + tm->ppeg_w[0],
                           params + tm->ppeg_b[0], params + tm->ppeg_w[1], params + tm->ppeg_b[1],
                           params + tm->ppeg_w[2], params + tm->ppeg_b[2], n - 1, D);
    mhim_cuda_reset(ctx, ppeg_mark);
    attention_branch(ctx, o, c, c->tok2, tm, params, 1, &d);
    mhim_cuda_transmil_add(ctx, c->cls_out, c->tok2, o, D); /* the one row layer 2 computes */
    mhim_cuda_layernorm_forward(ctx, c->feat, c->final_mean, c->final_rstd, c->cls_out, params + tm->norm_w,
                                params + tm->norm_b, 1, D);
    if (logits)
        mhim_cuda_linear_forward(ctx, logits, c->feat, params + tm->pred_w, params + tm->pred_b, 1, D,
                                 tm->cfg.n_classes);
    if (feat) mhim_cuda_copy(ctx, feat, c->feat, (size_t)(D) * sizeof(float));
    mhim_cuda_reset(ctx, mark);
}

int mhim_cuda_transmil_forward(mhim_cuda_transmil *net, mhim_cuda_ctx *ctx, const float *params, const float *x,
                               int64_t N, const int64_t *idx, int64_t n, const mhim_rng *dropout, float *logits,
                               float *max_logits, float *feat) {
    (void)max_logits;
    if (N < 1 || n < 1)
        return mhim_fail("GPU TransMIL forward: a bag needs at least one (kept) instance, got %lld of %lld",
                         (long long)n, (long long)N);
    if (!idx && n != N)
        return mhim_fail("GPU TransMIL forward: no index list but %lld of %lld rows requested (pass idx, or n == N)",
                         (long long)n, (long long)N);
    net->cached = 0;
    forward_all(ctx, &net->cache, &net->m, params, x, N, idx, n, dropout, logits, feat);
    net->cached = 1;
    return MHIM_OK;
}

/* ---- backward ------------------------------------------------------------------------------------------------ */

/* d_ln (n, D) written for the gradient d_branch (rows, D) of the branch's output rows (to_out dropout applied in
 * place; rows = mhim_transmil_branch_rows(l, n)). */
static void attention_branch_backward(mhim_cuda_ctx *ctx, float *d_ln, float *d_branch, const tm_cache *c,
                                      const mhim_transmil *tm, const float *params, float *grads, int l,
                                      const nys_dims *d) {
    const int64_t rows = mhim_transmil_branch_rows(l, d->n);
    if (c->keep_attn[l])
        mhim_cuda_dropout_backward(ctx, d_branch, d_branch, c->keep_attn[l], MHIM_TRANSMIL_ATTN_DROPOUT, rows * d->D);
    nystrom_backward(ctx, d_ln, d_branch, &c->nys[l], c->ln[l], tm, params, grads, l, d, rows);
}

void mhim_cuda_transmil_backward(mhim_cuda_transmil *net, mhim_cuda_ctx *ctx, const float *params, float *grads,
                                 const float *d_logits, const float *d_max_logits, const float *d_feat) {
    (void)d_max_logits;
    MHIM_ASSERT(net->cached);
    const mhim_transmil *tm = &net->m;
    const tm_cache *c = &net->cache;
    const nys_dims d = dims_of(&tm->cfg, c->n);
    const int64_t n = d.n, D = d.D;
    const size_t mark = mhim_cuda_mark(ctx);
    float *d_feat_all = mhim_cuda_floats(ctx, D), *d_cls = mhim_cuda_floats(ctx, D);
    float *ga = mhim_cuda_floats(ctx, n * D), *gb = mhim_cuda_floats(ctx, n * D), *gc = mhim_cuda_floats(ctx, n * D);

    /* predictor and final LayerNorm (only the cls row feeds them) */
    if (d_feat)
        mhim_cuda_copy(ctx, d_feat_all, d_feat, (size_t)(D) * sizeof(float));
    else
        mhim_cuda_memset0(ctx, d_feat_all, (size_t)D * sizeof(float));
    if (d_logits)
        mhim_cuda_linear_backward_acc(ctx, d_feat_all, grads + tm->pred_w, grads + tm->pred_b, d_logits, c->feat,
                                      params + tm->pred_w, 1, D, tm->cfg.n_classes);
    mhim_cuda_layernorm_backward(ctx, d_cls, grads + tm->norm_w, grads + tm->norm_b, d_feat_all, c->cls_out,
                                 params + tm->norm_w, c->final_mean, c->final_rstd, 1, D);

    /* layer 2: tok3 = tok2 + branch(tok2), of which only row 0 is used (and computed) */
    mhim_cuda_copy(ctx, ga, d_cls, (size_t)(D) * sizeof(float));
    attention_branch_backward(ctx, gb, ga, c, tm, params, grads, 1, &d);
    mhim_cuda_memset0(ctx, gc, (size_t)(n * D) * sizeof(float));
    mhim_cuda_copy(ctx, gc, d_cls, (size_t)(D) * sizeof(float));
    mhim_cuda_layernorm_backward_acc(ctx, gc, grads + tm->layer[1].norm_w, grads + tm->layer[1].norm_b, gb, c->tok2,
                                     params + tm->layer[1].norm_w, c->ln_mean[1], c->ln_rstd[1], n, D);

    /* PPEG on the instance rows (tok2[1:] = PPEG(tok1[1:])), identity on the cls row */
    const size_t ppeg_mark = mhim_cuda_mark(ctx);
    float *ppeg_scratch = mhim_cuda_floats(ctx, mhim_ppeg_backward_scratch_floats(n - 1, D));
    mhim_cuda_copy(ctx, ga, gc, (size_t)(D) * sizeof(float));
    mhim_cuda_ppeg_backward(ctx, ga + D, grads + tm->ppeg_w[0], grads + tm->ppeg_b[0], grads + tm->ppeg_w[1],
                            grads + tm->ppeg_b[1], grads + tm->ppeg_w[2], grads + tm->ppeg_b[2], gc + D, ppeg_scratch,
                            c->tok1 + D, params + tm->ppeg_w[0], params + tm->ppeg_w[1], params + tm->ppeg_w[2], n - 1,
                            D);
    mhim_cuda_reset(ctx, ppeg_mark);

    /* layer 1: tok1 = tok0 + branch(tok0) */
    mhim_cuda_copy(ctx, gc, ga, (size_t)(n * D) * sizeof(float));
    attention_branch_backward(ctx, gb, gc, c, tm, params, grads, 0, &d);
    mhim_cuda_layernorm_backward_acc(ctx, ga, grads + tm->layer[0].norm_w, grads + tm->layer[0].norm_b, gb, c->tok0,
                                     params + tm->layer[0].norm_w, c->ln_mean[0], c->ln_rstd[0], n, D);

    /* tok0 = [cls ; h] */
    mhim_cuda_transmil_add(ctx, grads + tm->cls_token, grads + tm->cls_token, ga, D);
    mhim_cuda_embed_backward(ctx, &tm->embed, grads, ga + D, &c->emb); /* dh of rows 1.. (overwritten) */
    mhim_cuda_reset(ctx, mark);
    net->cached = 0;
}

/* ---- predict: the lean whole-bag forward --------------------------------------------------------------------- */

/* Single-matrix GEMM on the context (a batch of one). */
static void gemm1(mhim_cuda_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K, const float *a, const float *b,
                  float *c) {
    mhim_cuda_gemm_batched(ctx, ta, tb, M, N, K, 1.0f, a, 0, b, 0, 0.0f, c, 0, 1);
}

/* q, k, v (H, np, dh) of LN_l(tok) straight into the padded head-major layout (pad rows zero, q scaled): one
 * batched GEMM per projection over the heads' row blocks of W_qkv, no (n, 3I) block. The scale dh^-0.5 is applied as
 * the GEMM's alpha: for dim_head 64 it is 1/8, exact, so q equals the split of the full projection. */
static void lean_project(mhim_cuda_ctx *ctx, float *q, float *k, float *v, const float *tok, const mhim_transmil *tm,
                         const float *params, int l, const nys_dims *d) {
    const mhim_transmil_layer *ly = &tm->layer[l];
    const int64_t H = d->H, n = d->n, D = d->D, dh = d->dh, np = d->np, I = d->I;
    const size_t mark = mhim_cuda_mark(ctx);
    float *ln = mhim_cuda_floats(ctx, n * D), *mean = mhim_cuda_floats(ctx, n), *rstd = mhim_cuda_floats(ctx, n);
    mhim_cuda_layernorm_forward(ctx, ln, mean, rstd, tok, params + ly->norm_w, params + ly->norm_b, n, D);
    float *dst[3] = {q, k, v};
    for (int part = 0; part < 3; part++) {
        mhim_cuda_memset0(ctx, dst[part], (size_t)(H * np * dh) * sizeof(float));
        mhim_cuda_gemm_batched(ctx, 0, 1, n, dh, D, part == 0 ? mhim_nystrom_q_scale(dh) : 1.0f, ln, 0,
                               params + ly->w_qkv + part * I * D, dh * D, 0.0f, dst[part] + d->pad * dh, np * dh, H);
    }
    mhim_cuda_reset(ctx, mark);
}

/* tok (n, D) += to_out dropout of Nys_l(LN_l(tok)) on its first rows = mhim_transmil_branch_rows(l, n) rows (every
 * row of layer 1, the cls row of layer 2), without caches: the landmark matrices of all heads (the pseudo-inverse
 * couples them), then one head at a time its a3 (landmarks × np, the largest block) and a1 for the span of those rows,
 * the cls-row attention into map (H, n − 1) when not NULL. */
static void lean_layer(mhim_cuda_ctx *ctx, float *tok, float *map, const mhim_transmil *tm, const float *params,
                       int l, const mhim_rng *dropout, const nys_dims *d) {
    const mhim_transmil_layer *ly = &tm->layer[l];
    const int64_t H = d->H, n = d->n, np = d->np, m = d->m, dh = d->dh, I = d->I, D = d->D;
    const int64_t rows = mhim_transmil_branch_rows(l, n);
    int64_t f, r; /* the a1 rows [f, f + r) of the padded sequence */
    mhim_nystrom_a1_span(n, m, rows, &f, &r);
    const size_t layer_mark = mhim_cuda_mark(ctx);
    float *o = mhim_cuda_floats(ctx, H * np * dh), *v = mhim_cuda_floats(ctx, H * np * dh); /* v: res conv */
    const size_t qk_mark = mhim_cuda_mark(ctx);
    float *q = mhim_cuda_floats(ctx, H * np * dh), *k = mhim_cuda_floats(ctx, H * np * dh);
    lean_project(ctx, q, k, v, tok, tm, params, l, d);

    float *q_land = mhim_cuda_floats(ctx, H * m * dh), *k_land = mhim_cuda_floats(ctx, H * m * dh);
    float *a2 = mhim_cuda_floats(ctx, H * m * m), *z = mhim_cuda_floats(ctx, (ITERS + 1) * H * m * m);
    float *pinv_norm = mhim_cuda_floats(ctx, 2);
    mhim_cuda_nystrom_landmarks_forward(ctx, q_land, q, H, m, d->l, dh);
    mhim_cuda_nystrom_landmarks_forward(ctx, k_land, k, H, m, d->l, dh);
    head_gemm(ctx, d, 0, 1, m, m, dh, q_land, k_land, 0.0f, a2); /* q_land k_landᵀ */
    mhim_cuda_softmax_rows_forward(ctx, a2, a2, NULL, H * m, m);
    {
        const size_t mark = mhim_cuda_mark(ctx);
        float *scratch = mhim_cuda_floats(ctx, mhim_cuda_nystrom_pinv_forward_scratch_floats(H, m));
        mhim_cuda_nystrom_pinv_forward(ctx, z, pinv_norm, scratch, a2, H, m);
        mhim_cuda_reset(ctx, mark);
    }
    const float *pinv = z + ITERS * H * m * m;
    for (int64_t h = 0; h < H; h++) {
        const size_t mark = mhim_cuda_mark(ctx);
        float *a1 = mhim_cuda_floats(ctx, r * m), *a3 = mhim_cuda_floats(ctx, m * np);
        float *a3v = mhim_cuda_floats(ctx, m * dh), *za3v = mhim_cuda_floats(ctx, m * dh);
        float *cls = mhim_cuda_floats(ctx, m); /* the cls row's a1 · pinv */
        const float *qh = q + h * np * dh, *kh = k + h * np * dh, *vh = v + h * np * dh, *zh = pinv + h * m * m;
        gemm1(ctx, 0, 1, r, m, dh, qh + f * dh, k_land + h * m * dh, a1); /* q k_landᵀ */
        gemm1(ctx, 0, 1, m, np, dh, q_land + h * m * dh, kh, a3);         /* q_land kᵀ */
        mhim_cuda_softmax_rows_forward(ctx, a1, a1, NULL, r, m);
        mhim_cuda_softmax_rows_forward(ctx, a3, a3, NULL, m, np);
        if (map) mhim_cuda_transmil_cls_attention(ctx, map + h * (n - 1), cls, a1 + (d->pad - f) * m, 0, zh, a3, n,
                                                  1, m, d->pad);
        gemm1(ctx, 0, 0, m, dh, np, a3, vh, a3v);
        gemm1(ctx, 0, 0, m, dh, m, zh, a3v, za3v);
        gemm1(ctx, 0, 0, r, dh, m, a1, za3v, o + (h * np + f) * dh);
        mhim_cuda_reset(ctx, mark);
    }
    mhim_cuda_reset(ctx, qk_mark);
    float *merged = mhim_cuda_floats(ctx, rows * I);
    mhim_cuda_transmil_merge_heads(ctx, merged, o, rows, n, H, dh, d->pad);
    mhim_cuda_nystrom_res_conv_rows_acc(ctx, merged, I, v, params + ly->w_res, H, np, dh, d->pad, rows);
    float *out = mhim_cuda_floats(ctx, rows * D);
    mhim_cuda_linear_forward(ctx, out, merged, params + ly->w_out, params + ly->b_out, rows, I, D);
    if (dropout) {
        uint8_t *keep = mhim_cuda_alloc(ctx, (size_t)(rows * D));
        mhim_cuda_dropout_mask(ctx, keep, dropout, (uint64_t)(l + 1) * MHIM_TRANSMIL_DROPOUT_BAND,
                               MHIM_TRANSMIL_ATTN_DROPOUT, rows * D);
        mhim_cuda_dropout_forward(ctx, out, keep, out, MHIM_TRANSMIL_ATTN_DROPOUT, rows * D);
    }
    mhim_cuda_transmil_add(ctx, tok, tok, out, rows * D);
    mhim_cuda_reset(ctx, layer_mark);
}

int mhim_cuda_transmil_predict(mhim_cuda_transmil *net, mhim_cuda_ctx *ctx, const float *params, const float *x,
                               int64_t N, const mhim_rng *dropout, int attn_layer, float *logits, float *max_logits,
                               float *feat, float *map) {
    (void)max_logits;
    if (N < 1) return mhim_fail("GPU TransMIL predict: empty bag (N = %lld), expected >= 1 instance", (long long)N);
    if (attn_layer != 0 && attn_layer != 1 && attn_layer != -1)
        return mhim_fail("GPU TransMIL predict: attn_layer %d, expected 0 (first layer) or -1 (last layer)",
                         attn_layer);
    const mhim_transmil *tm = &net->m;
    const nys_dims d = dims_of(&tm->cfg, N + 1);
    const int64_t n = d.n, D = d.D;
    const size_t mark = mhim_cuda_mark(ctx);
    float *tok = mhim_cuda_floats(ctx, n * D); /* the tokens, updated in place layer by layer */
    {
        const size_t embed_mark = mhim_cuda_mark(ctx);
        mhim_cuda_embed_cache emb;
        mhim_cuda_embed_forward(&emb, ctx, &tm->embed, params, x, N, NULL, N, dropout);
        mhim_cuda_copy(ctx, tok + D, emb.h, (size_t)(N * D) * sizeof(float));
        mhim_cuda_copy(ctx, tok, params + tm->cls_token, (size_t)D * sizeof(float));
        mhim_cuda_reset(ctx, embed_mark);
    }
    lean_layer(ctx, tok, attn_layer == 0 ? map : NULL, tm, params, 0, dropout, &d);
    {
        /* PPEG on the instance rows in place (the device op reads only its grid copy), the cls row bypasses it */
        const size_t ppeg_mark = mhim_cuda_mark(ctx);
        float *scratch = mhim_cuda_floats(ctx, mhim_ppeg_forward_scratch_floats(n - 1, D));
        mhim_cuda_ppeg_forward(ctx, tok + D, scratch, tok + D, params + tm->ppeg_w[0], params + tm->ppeg_b[0],
                               params + tm->ppeg_w[1], params + tm->ppeg_b[1], params + tm->ppeg_w[2],
                               params + tm->ppeg_b[2], n - 1, D);
        mhim_cuda_reset(ctx, ppeg_mark);
    }
    lean_layer(ctx, tok, attn_layer != 0 ? map : NULL, tm, params, 1, dropout, &d);
    float *cls_feat = mhim_cuda_floats(ctx, D), *mean = mhim_cuda_floats(ctx, 1), *rstd = mhim_cuda_floats(ctx, 1);
    mhim_cuda_layernorm_forward(ctx, cls_feat, mean, rstd, tok, params + tm->norm_w, params + tm->norm_b, 1, D);
    if (logits)
        mhim_cuda_linear_forward(ctx, logits, cls_feat, params + tm->pred_w, params + tm->pred_b, 1, D,
                                 tm->cfg.n_classes);
    if (feat) mhim_cuda_copy(ctx, feat, cls_feat, (size_t)D * sizeof(float));
    mhim_cuda_reset(ctx, mark);
    return MHIM_OK;
}
