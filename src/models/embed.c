/* The shared instance front end h = dp(act(x W_eᵀ + b_e)) and the model initialisers (see mhim/models/embed.h). */
#include "mhim/models/embed.h"

#include <math.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/dropout.h"
#include "mhim/ops/gather.h"
#include "mhim/ops/linear.h"
#include "mhim/threads.h"
#include "ops/gemm_bf16.h"

/* The process-wide switch of the bf16 first layer (mhim_embed_set_bf16). */
static int first_layer_bf16;

void mhim_embed_set_bf16(int on) {
    MHIM_ASSERT(!on || mhim_gemm_bf16_available());
    first_layer_bf16 = on != 0;
}

int mhim_embed_config_check(const mhim_embed_config *cfg) {
    if (cfg->input_dim < 1)
        return mhim_fail("model input_dim %lld: expected >= 1 (the feature width of the bags, e.g. 1024)",
                         (long long)cfg->input_dim);
    if (cfg->dim < 1) return mhim_fail("model embedding width %lld: expected >= 1", (long long)cfg->dim);
    if (cfg->act != MHIM_ACT_RELU && cfg->act != MHIM_ACT_GELU)
        return mhim_fail("model act: expected relu or gelu (the front end accepts no other activation)");
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return mhim_fail("model dropout %g: expected a probability in [0, 1)", (double)cfg->dropout);
    if (cfg->version != 1 && cfg->version != 2)
        return mhim_fail("model version %d: expected 1 (MHIM-MIL) or 2 (MHIM-v2)", cfg->version);
    return MHIM_OK;
}

int mhim_model_param_offset(int64_t *offset, const mhim_param_layout *L, const mhim_param_spec *row) {
    const mhim_param_entry *e = mhim_param_find(L, row->name);
    if (!e) return mhim_fail("model parameters: key '%s' is missing from the parameter layout", row->name);
    int same = e->ndim == row->ndim;
    for (int d = 0; same && d < row->ndim; d++) same = e->shape[d] == row->shape[d];
    if (!same) {
        mhim_param_entry want = {.ndim = row->ndim};
        memcpy(want.shape, row->shape, sizeof want.shape);
        char got_s[96], want_s[96];
        return mhim_fail("model parameters: key '%s' has shape %s, expected %s", row->name,
                         mhim_param_shape_str(e, got_s, sizeof got_s), mhim_param_shape_str(&want, want_s, sizeof want_s));
    }
    *offset = e->offset;
    return MHIM_OK;
}

void mhim_embed_param_spec(const mhim_embed_config *cfg, mhim_param_spec *rows) {
    int v1 = cfg->version == 1;
    rows[0] = (mhim_param_spec){v1 ? "patch_to_emb.0.weight" : "feature.0.weight", 2, {cfg->dim, cfg->input_dim}};
    rows[1] = (mhim_param_spec){v1 ? "patch_to_emb.0.bias" : "feature.0.bias", 1, {cfg->dim}};
}

int mhim_embed_bind(mhim_embed *e, const mhim_embed_config *cfg, const mhim_param_layout *L) {
    int rc = mhim_embed_config_check(cfg);
    if (rc != MHIM_OK) return rc;
    mhim_param_spec rows[MHIM_EMBED_SPEC_ROWS];
    mhim_embed_param_spec(cfg, rows);
    e->cfg = *cfg;
    rc = mhim_model_param_offset(&e->weight, L, &rows[0]);
    if (rc == MHIM_OK) rc = mhim_model_param_offset(&e->bias, L, &rows[1]);
    return rc;
}

/* Stream of tensor `tensor_index` for initialisation. */
static mhim_rng init_stream(uint64_t seed, uint32_t tensor_index) {
    return mhim_rng_stream(seed, 0, tensor_index, MHIM_RNG_INIT, 0);
}

void mhim_init_xavier_normal(float *w, int64_t fan_out, int64_t fan_in, uint64_t seed, uint32_t tensor_index) {
    mhim_init_normal(w, fan_out * fan_in, (float)sqrt(2.0 / (double)(fan_in + fan_out)), seed, tensor_index);
}

void mhim_init_normal(float *w, int64_t n, float std, uint64_t seed, uint32_t tensor_index) {
    mhim_rng r = init_stream(seed, tensor_index);
    mhim_rng_fill_normal(&r, 0, w, n, 0.0f, std);
}

void mhim_init_uniform(float *w, int64_t n, float bound, uint64_t seed, uint32_t tensor_index) {
    mhim_rng r = init_stream(seed, tensor_index);
    mhim_rng_fill_uniform(&r, 0, w, n, -bound, bound);
}

void mhim_embed_init_params(const mhim_embed *e, float *params, uint64_t seed, uint32_t tensor_index) {
    mhim_init_xavier_normal(params + e->weight, e->cfg.dim, e->cfg.input_dim, seed, tensor_index);
    memset(params + e->bias, 0, (size_t)e->cfg.dim * sizeof(float));
}

size_t mhim_embed_arena_bytes(const mhim_embed_config *cfg, int64_t n_max) {
    int64_t rows = n_max * cfg->dim;
    size_t bytes = mhim_arena_floats_size(n_max * cfg->input_dim); /* gathered input rows */
    bytes += 3 * mhim_arena_floats_size(rows);                      /* pre (GELU), act, h */
    bytes += mhim_arena_align((size_t)rows);                        /* keep mask */
    return bytes;
}

/* The front end's element-wise tail, one row of W at a time while it is in cache:
 * pre[j] += b_e, act[j] = act(pre[j]), keep[j] = the row's dropout mask, h[j] = dropout(act[j]).
 * pre is (M, W) GEMM output; act may alias pre (ReLU); keep and h are NULL without dropout. Rows are independent, so
 * the result does not depend on the thread count; each step is the op the unfused sequence would call, on the row. */
static void embed_rows_forward(float *pre, float *act, uint8_t *keep, float *h, const float *bias, mhim_act a,
                               const int64_t *idx, int64_t M, int64_t W, const mhim_rng *dropout_stream, float p) {
#pragma omp parallel for schedule(static) if (M * W >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t j = 0; j < M; j++) {
        float *pre_j = pre + j * W, *act_j = act + j * W;
        for (int64_t c = 0; c < W; c++) pre_j[c] += bias[c];
        mhim_act_forward(a, act_j, pre_j, W);
        if (!keep) continue;
        const uint64_t row = (uint64_t)(idx ? idx[j] : j);
        mhim_dropout_mask(keep + j * W, dropout_stream, row * (uint64_t)W, p, W);
        mhim_dropout_forward(h + j * W, keep + j * W, act_j, p, W);
    }
}

void mhim_embed_forward(mhim_embed_cache *cache, mhim_arena *arena, const mhim_embed *e, const float *params,
                        const float *x, int64_t N, const int64_t *idx, int64_t M, const mhim_rng *dropout_stream) {
    const int64_t D = e->cfg.input_dim, W = e->cfg.dim;
    MHIM_ASSERT(idx != NULL || M == N);
    memset(cache, 0, sizeof *cache);
    cache->n = M;
    if (idx) {
        float *rows = mhim_arena_floats(arena, M * D);
        mhim_gather_rows_forward(rows, x, idx, M, N, D);
        cache->x = rows;
    } else {
        cache->x = x;
    }
    /* x W_eᵀ by the GEMM alone; the bias joins the element-wise row pass (one pass over the (M, W) output) */
    float *pre = mhim_arena_floats(arena, M * W);
    if (first_layer_bf16)
        mhim_gemm_bf16(0, 1, M, W, D, 1.0f, cache->x, params + e->weight, 0.0f, pre);
    else
        mhim_linear_forward(pre, cache->x, params + e->weight, NULL, M, D, W);
    if (mhim_act_needs_input(e->cfg.act)) {
        cache->pre = pre;
        cache->act = mhim_arena_floats(arena, M * W);
    } else {
        cache->act = pre; /* ReLU's backward reads only its output: compute it in place */
    }
    const int dropout = dropout_stream && e->cfg.dropout != 0.0f;
    float *h = cache->act;
    if (dropout) {
        cache->keep = mhim_arena_alloc(arena, (size_t)(M * W));
        h = mhim_arena_floats(arena, M * W);
    }
    embed_rows_forward(pre, cache->act, cache->keep, h, params + e->bias, e->cfg.act, idx, M, W, dropout_stream,
                       e->cfg.dropout);
    cache->h = h;
}

/* Bias gradient columns summed per task (as mhim_colsum_acc). */
#define EMBED_COL_BLOCK MHIM_COLSUM_BLOCK

/* Rows ahead of the current one whose column block is prefetched: the walk down a column block steps W floats at a
 * time, a stride the hardware prefetchers do not follow, so without it every row's first load waits on memory. */
#define EMBED_PREFETCH_ROWS 12

/* Prefetch the column block [at, at + width) of the arrays the backward row pass reads and writes. */
static inline void prefetch_block(const float *dh, const uint8_t *keep, const float *pre, const float *act, int64_t at,
                                  int64_t width) {
    for (int64_t c = 0; c < width; c += 16) { /* 16 floats: one 64-byte line */
        __builtin_prefetch(dh + at + c, 1);
        __builtin_prefetch(act + at + c);
        if (pre) __builtin_prefetch(pre + at + c);
    }
    if (keep) __builtin_prefetch(keep + at);
}

/* dh ← act'(·) ⊙ dropout'(dh) in place, and dbias += Σ_rows dh, in one pass: each task owns EMBED_COL_BLOCK
 * columns and walks the rows in order, summing in double and rounding once (mhim_colsum_acc's order, so the bias
 * gradient is bitwise that of the unfused sequence and independent of the thread count). */
static void embed_rows_backward(float *dh, float *dbias, const mhim_embed *e, const mhim_embed_cache *cache) {
    const int64_t M = cache->n, W = e->cfg.dim;
    const int64_t blocks = (W + EMBED_COL_BLOCK - 1) / EMBED_COL_BLOCK;
#pragma omp parallel for schedule(static) if (M * W >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t c0 = b * EMBED_COL_BLOCK, width = MHIM_MIN(EMBED_COL_BLOCK, W - c0);
        double part[EMBED_COL_BLOCK] = {0};
        for (int64_t j = 0; j < M; j++) {
            const int64_t at = j * W + c0;
            if (j + EMBED_PREFETCH_ROWS < M)
                prefetch_block(dh, cache->keep, cache->pre, cache->act, at + EMBED_PREFETCH_ROWS * W, width);
            float *g = dh + at;
            if (cache->keep) mhim_dropout_backward(g, g, cache->keep + at, e->cfg.dropout, width);
            mhim_act_backward(e->cfg.act, g, g, cache->pre ? cache->pre + at : NULL, cache->act + at, width);
            for (int64_t c = 0; c < width; c++) part[c] += g[c];
        }
        for (int64_t c = 0; c < width; c++) dbias[c0 + c] += (float)part[c];
    }
}

void mhim_embed_backward(const mhim_embed *e, float *grads, float *dh, const mhim_embed_cache *cache) {
    const int64_t M = cache->n, D = e->cfg.input_dim, W = e->cfg.dim;
    embed_rows_backward(dh, grads + e->bias, e, cache);
    if (first_layer_bf16) /* dW_e (W, D) += dhᵀ (W, M) · x (M, D) */
        mhim_gemm_bf16(1, 0, W, D, M, 1.0f, dh, cache->x, 1.0f, grads + e->weight);
    else
        mhim_linear_backward(NULL, grads + e->weight, NULL, dh, cache->x, NULL, M, D, W);
}
