/* TransMIL forward passes: the student forward (caches for the backward), the teacher / evaluation forward
 * (attention export, v2 attn2score), and the arena sizes of both (see mhim/models/transmil.h). */
#include "mhim/models/transmil.h"

#include <math.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/dropout.h"
#include "mhim/ops/linear.h"
#include "mhim/ops/norm.h"
#include "mhim/ops/nystrom.h"
#include "mhim/ops/ppeg.h"
#include "models/transmil_scores.h"

/* The larger of a and b. */
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Scratch floats of the forward beyond the caches: the larger of the Nyström and PPEG scratch (the Nyström one
 * also serves mhim_nystrom_cls_attention, which needs `landmarks` floats). */
static int64_t forward_scratch_floats(const mhim_transmil_config *cfg, int64_t n) {
    const int64_t D = cfg->embed.dim;
    return max64(mhim_nystrom_forward_scratch_floats(n, D, cfg->heads, cfg->dim_head, cfg->landmarks),
                 max64(mhim_ppeg_forward_scratch_floats(n - 1, D), cfg->landmarks));
}

/* Backward scratch (mhim_transmil_backward): two rows of dim, three (n, dim) gradient buffers and the larger of
 * the Nyström and PPEG backward scratch. */
static size_t backward_scratch_bytes(const mhim_transmil_config *cfg, int64_t n) {
    const int64_t D = cfg->embed.dim;
    return 2 * mhim_arena_floats_size(D) + 3 * mhim_arena_floats_size(n * D) +
           mhim_arena_floats_size(
               max64(mhim_nystrom_backward_scratch_floats(n, D, cfg->heads, cfg->dim_head, cfg->landmarks),
                     mhim_ppeg_backward_scratch_floats(n - 1, D)));
}

size_t mhim_transmil_arena_bytes(const mhim_transmil_config *cfg, int64_t n_max) {
    const int64_t n = max64(n_max, 1) + 1, D = cfg->embed.dim;
    const int64_t nys = mhim_nystrom_cache_floats(n, cfg->heads, cfg->dim_head, cfg->landmarks);
    size_t kept = mhim_embed_arena_bytes(&cfg->embed, n - 1);
    kept += 5 * mhim_arena_floats_size(n * D);                                       /* tok0, ln_out x2, tok1, tok2 */
    kept += 4 * mhim_arena_floats_size(n);                                           /* LayerNorm statistics */
    kept += 2 * mhim_arena_floats_size(nys) + mhim_arena_align((size_t)(n * D)) + /* caches, the to_out masks */
            mhim_arena_align((size_t)(mhim_transmil_branch_rows(1, n) * D));
    kept += 2 * mhim_arena_floats_size(D) + 2 * mhim_arena_floats_size(1);           /* cls_out, feat, stats */
    const size_t fwd = mhim_arena_floats_size(n * D) + mhim_arena_floats_size(forward_scratch_floats(cfg, n));
    const size_t bwd = backward_scratch_bytes(cfg, n);
    return kept + (fwd > bwd ? fwd : bwd);
}

size_t mhim_transmil_teacher_arena_bytes(const mhim_transmil_config *cfg, int64_t n_max) {
    const int64_t n = max64(n_max, 1) + 1, D = cfg->embed.dim;
    size_t b = mhim_embed_arena_bytes(&cfg->embed, n - 1);
    b += 4 * mhim_arena_floats_size(n * D) + 2 * mhim_arena_floats_size(n); /* tok, ln, out, tok2; stats */
    b += mhim_arena_floats_size(mhim_nystrom_cache_floats(n, cfg->heads, cfg->dim_head, cfg->landmarks));
    b += mhim_arena_align((size_t)(n * D)); /* dropout mask */
    b += mhim_arena_floats_size(forward_scratch_floats(cfg, n));
    b += mhim_arena_floats_size(cfg->heads * n);                        /* layer-1 attention */
    b += 3 * mhim_arena_floats_size(D) + 2 * mhim_arena_floats_size(1); /* cls row, feat, LN stats */
    b += mhim_transmil_attn2score_bytes(cfg, n); /* context, projection, its mask, class logits */
    return b;
}

/* Keep mask of the to_out dropout of `band` (1, 2: layers; 3: the attn2score projection) for rows*dim values. */
static uint8_t *attn_dropout_mask(mhim_arena *arena, const mhim_rng *stream, uint64_t band, int64_t count) {
    uint8_t *keep = mhim_arena_alloc(arena, (size_t)count);
    mhim_dropout_mask(keep, stream, band * MHIM_TRANSMIL_DROPOUT_BAND, MHIM_TRANSMIL_ATTN_DROPOUT, count);
    return keep;
}

/* tok (n, D) = [cls ; h]. */
static void build_tokens(float *tok, const mhim_transmil *m, const float *params, const float *h, int64_t n) {
    const int64_t D = m->cfg.embed.dim;
    memcpy(tok, params + m->cls_token, (size_t)D * sizeof(float));
    memcpy(tok + D, h, (size_t)((n - 1) * D) * sizeof(float));
}

/* Attention branch of TransLayer `l` on tokens t (n, D): ln = LN(t) (statistics cached), o = Nys(ln) (its first
 * mhim_transmil_branch_rows(l, n) rows) with its cache bound to nys_buf; keep != NULL applies the to_out dropout
 * to o. */
static void attention_branch(float *o, float *ln, float *mean, float *rstd, float *nys_buf, const uint8_t *keep,
                             float *scratch, const float *t, const mhim_transmil *m, const float *params, int l,
                             int64_t n) {
    const mhim_transmil_config *cfg = &m->cfg;
    const mhim_transmil_layer *ly = &m->layer[l];
    const int64_t D = cfg->embed.dim;
    mhim_nystrom_cache nc;
    mhim_nystrom_cache_bind(&nc, nys_buf, n, cfg->heads, cfg->dim_head, cfg->landmarks);
    mhim_layernorm_forward(ln, mean, rstd, t, params + ly->norm_w, params + ly->norm_b, n, D);
    const int64_t rows = mhim_transmil_branch_rows(l, n);
    mhim_nystrom_forward(o, &nc, scratch, ln, params + ly->w_qkv, params + ly->w_out, params + ly->b_out,
                         params + ly->w_res, n, D, cfg->heads, cfg->dim_head, cfg->landmarks, rows);
    if (keep) mhim_dropout_forward(o, keep, o, MHIM_TRANSMIL_ATTN_DROPOUT, rows * D);
}

/* y += x element-wise. */
static void add_inplace(float *y, const float *x, int64_t count) {
#pragma omp parallel for schedule(static) if (count >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < count; i++) y[i] += x[i];
}

/* out[0] = t[0]; out[1..n) = PPEG(t[1..n)). */
static void position_encoding(float *out, float *scratch, const float *t, const mhim_transmil *m, const float *params,
                              int64_t n) {
    const int64_t D = m->cfg.embed.dim;
    memcpy(out, t, (size_t)D * sizeof(float));
    mhim_ppeg_forward(out + D, scratch, t + D, params + m->ppeg_w[0], params + m->ppeg_b[0], params + m->ppeg_w[1],
                      params + m->ppeg_b[1], params + m->ppeg_w[2], params + m->ppeg_b[2], n - 1, D);
}

/* MHIM_EINPUT (message) for an empty bag or kept set; a NULL keep must mean all N instances (caller contract). */
static int check_bag(int64_t N, const int64_t *keep, int64_t n_keep) {
    if (n_keep < 1 || N < 1)
        return mhim_fail("transmil: a bag needs at least one (kept) instance, got %lld of %lld", (long long)n_keep,
                         (long long)N);
    MHIM_ASSERT(keep != NULL || n_keep == N);
    return MHIM_OK;
}

/* Everything after the front end: tokens [cls ; h] (h = n − 1 rows, kept as given) through both layers to logits. */
static void forward_tokens(mhim_transmil_cache *c, mhim_arena *arena, const mhim_transmil *m, const float *params,
                           const float *h, int64_t n, const mhim_rng *dropout_stream, float *logits, float *feat) {
    const mhim_transmil_config *cfg = &m->cfg;
    const int64_t D = cfg->embed.dim;
    const int64_t nys = mhim_nystrom_cache_floats(n, cfg->heads, cfg->dim_head, cfg->landmarks);
    c->n = n;
    c->tok0 = mhim_arena_floats(arena, n * D);
    build_tokens(c->tok0, m, params, h, n);
    for (int l = 0; l < 2; l++) {
        c->ln_out[l] = mhim_arena_floats(arena, n * D);
        c->ln_mean[l] = mhim_arena_floats(arena, n);
        c->ln_rstd[l] = mhim_arena_floats(arena, n);
        c->nys_buf[l] = mhim_arena_floats(arena, nys);
        if (dropout_stream)
            c->keep_attn[l] =
                attn_dropout_mask(arena, dropout_stream, (uint64_t)l + 1, mhim_transmil_branch_rows(l, n) * D);
    }
    c->tok1 = mhim_arena_floats(arena, n * D);
    c->tok2 = mhim_arena_floats(arena, n * D);
    c->cls_out = mhim_arena_floats(arena, D);
    c->feat = mhim_arena_floats(arena, D);
    c->final_mean = mhim_arena_floats(arena, 1);
    c->final_rstd = mhim_arena_floats(arena, 1);

    const size_t mark = mhim_arena_mark(arena);
    float *o = mhim_arena_floats(arena, n * D);
    float *scratch = mhim_arena_floats(arena, forward_scratch_floats(cfg, n));
    attention_branch(o, c->ln_out[0], c->ln_mean[0], c->ln_rstd[0], c->nys_buf[0], c->keep_attn[0], scratch, c->tok0, m,
                     params, 0, n);
    memcpy(c->tok1, c->tok0, (size_t)(n * D) * sizeof(float));
    add_inplace(c->tok1, o, n * D);
    position_encoding(c->tok2, scratch, c->tok1, m, params, n);
    attention_branch(o, c->ln_out[1], c->ln_mean[1], c->ln_rstd[1], c->nys_buf[1], c->keep_attn[1], scratch, c->tok2, m,
                     params, 1, n);
    for (int64_t d = 0; d < D; d++) c->cls_out[d] = c->tok2[d] + o[d]; /* only the cls row is read later */
    mhim_layernorm_forward(c->feat, c->final_mean, c->final_rstd, c->cls_out, params + m->norm_w, params + m->norm_b, 1,
                           D);
    mhim_linear_forward(logits, c->feat, params + m->pred_w, params + m->pred_b, 1, D, cfg->n_classes);
    if (feat) memcpy(feat, c->feat, (size_t)D * sizeof(float));
    mhim_arena_reset(arena, mark);
}

int mhim_transmil_forward(mhim_transmil_cache *c, mhim_arena *arena, const mhim_transmil *m, const float *params,
                          const float *x, int64_t N, const int64_t *keep, int64_t n_keep,
                          const mhim_rng *dropout_stream, float *logits, float *feat) {
    int rc = check_bag(N, keep, n_keep);
    if (rc != MHIM_OK) return rc;
    memset(c, 0, sizeof *c);
    mhim_embed_forward(&c->embed, arena, &m->embed, params, x, N, keep, n_keep, dropout_stream);
    forward_tokens(c, arena, m, params, c->embed.h, n_keep + 1, dropout_stream, logits, feat);
    return MHIM_OK;
}

int mhim_transmil_head_forward(mhim_transmil_cache *c, mhim_arena *arena, const mhim_transmil *m, const float *params,
                               const float *h, int64_t n_tokens, const mhim_rng *dropout_stream, float *logits,
                               float *feat) {
    if (n_tokens < 1)
        return mhim_fail("transmil: the encoder needs at least one instance token, got %lld", (long long)n_tokens);
    memset(c, 0, sizeof *c);
    forward_tokens(c, arena, m, params, h, n_tokens + 1, dropout_stream, logits, feat);
    return MHIM_OK;
}

/* v2 get_pseudo_score_trans, see models/transmil_scores.h. */
void mhim_transmil_attn2score_rows(float *scores, mhim_arena *arena, const mhim_transmil *m, const float *params,
                                   const float *attn, const float *v, int64_t pad, int64_t n_keep, int64_t i0,
                                   int64_t rows, const mhim_rng *stream) {
    const mhim_transmil_config *cfg = &m->cfg;
    const int64_t H = cfg->heads, dh = cfg->dim_head, I = H * dh, D = cfg->embed.dim, C = cfg->n_classes;
    const int64_t np = pad + n_keep + 1;
    const size_t mark = mhim_arena_mark(arena);
    float *ctx = mhim_arena_floats(arena, rows * I);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t h = 0; h < H; h++) {
            const float a = attn[h * n_keep + i0 + r], *vr = v + (h * np + pad + 1 + i0 + r) * dh;
            for (int64_t d = 0; d < dh; d++) ctx[r * I + h * dh + d] = a * vr[d];
        }
    float *u = mhim_arena_floats(arena, rows * D);
    mhim_linear_forward(u, ctx, params + m->layer[0].w_out, params + m->layer[0].b_out, rows, I, D);
    if (stream) {
        uint8_t *keep = mhim_arena_alloc(arena, (size_t)(rows * D));
        mhim_dropout_mask(keep, stream, 3 * MHIM_TRANSMIL_DROPOUT_BAND + (uint64_t)(i0 * D),
                          MHIM_TRANSMIL_ATTN_DROPOUT, rows * D);
        mhim_dropout_forward(u, keep, u, MHIM_TRANSMIL_ATTN_DROPOUT, rows * D);
    }
    float *cam = mhim_arena_floats(arena, rows * C);
    mhim_linear_forward(cam, u, params + m->pred_w, NULL, rows, D, C);
    const float b0 = params[m->pred_b];
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *c = cam + r * C;
        float top = c[0] + b0;
        for (int64_t k = 1; k < C; k++) top = c[k] + b0 > top ? c[k] + b0 : top;
        double sum = 0.0;
        for (int64_t k = 0; k < C; k++) sum += exp((double)(c[k] + b0 - top));
        scores[r] = (float)(1.0 / sum); /* the largest probability: exp(0) / Σ */
    }
    mhim_arena_reset(arena, mark);
}

size_t mhim_transmil_attn2score_bytes(const mhim_transmil_config *cfg, int64_t rows) {
    const int64_t D = cfg->embed.dim;
    return mhim_arena_floats_size(rows * cfg->heads * cfg->dim_head) + mhim_arena_floats_size(rows * D) +
           mhim_arena_align((size_t)(rows * D)) + mhim_arena_floats_size(rows * cfg->n_classes);
}

void mhim_transmil_copy_values(float *values, const float *v, int64_t H, int64_t pad, int64_t n_keep, int64_t dh) {
    const int64_t np = pad + n_keep + 1;
    for (int64_t h = 0; h < H; h++)
        memcpy(values + h * n_keep * dh, v + (h * np + pad + 1) * dh, (size_t)(n_keep * dh) * sizeof(float));
}

int mhim_transmil_teacher_forward(mhim_transmil_teacher_out *out, mhim_arena *arena, const mhim_transmil *m,
                                  const float *params, const float *x, int64_t N, const int64_t *keep, int64_t n_keep,
                                  const mhim_rng *dropout_stream) {
    int rc = check_bag(N, keep, n_keep);
    if (rc != MHIM_OK) return rc;
    if (out->attn_layer != 0 && out->attn_layer != 1 && out->attn_layer != -1)
        return mhim_fail("transmil attn_layer %d: expected 0 (first layer) or -1 (last layer)", out->attn_layer);
    const mhim_transmil_config *cfg = &m->cfg;
    const int64_t n = n_keep + 1, D = cfg->embed.dim, H = cfg->heads, lm = cfg->landmarks;
    const int64_t pad = mhim_nystrom_pad(n, lm);
    const int want_l1 = out->attn && out->attn_layer == 0, want_l2 = out->attn && out->attn_layer != 0;

    const size_t mark = mhim_arena_mark(arena);
    mhim_embed_cache ec;
    mhim_embed_forward(&ec, arena, &m->embed, params, x, N, keep, n_keep, dropout_stream);
    float *tok = mhim_arena_floats(arena, n * D), *tok2 = mhim_arena_floats(arena, n * D);
    float *ln = mhim_arena_floats(arena, n * D), *o = mhim_arena_floats(arena, n * D);
    float *mean = mhim_arena_floats(arena, n), *rstd = mhim_arena_floats(arena, n);
    float *nys_buf = mhim_arena_floats(arena, mhim_nystrom_cache_floats(n, H, cfg->dim_head, lm));
    float *scratch = mhim_arena_floats(arena, forward_scratch_floats(cfg, n));
    uint8_t *mask = dropout_stream ? mhim_arena_alloc(arena, (size_t)(n * D)) : NULL;
    mhim_nystrom_cache nc;
    mhim_nystrom_cache_bind(&nc, nys_buf, n, H, cfg->dim_head, lm);
    build_tokens(tok, m, params, ec.h, n);

    /* layer 1 (its attention and values are read from the cache before layer 2 reuses it) */
    if (mask) mhim_dropout_mask(mask, dropout_stream, MHIM_TRANSMIL_DROPOUT_BAND, MHIM_TRANSMIL_ATTN_DROPOUT, n * D);
    attention_branch(o, ln, mean, rstd, nys_buf, mask, scratch, tok, m, params, 0, n);
    if (want_l1 || out->scores) {
        float *attn1 = want_l1 ? out->attn : mhim_arena_floats(arena, H * n_keep);
        mhim_nystrom_cls_attention(attn1, &nc, scratch, n, H, lm);
        if (out->scores)
            mhim_transmil_attn2score_rows(out->scores, arena, m, params, attn1, nc.v, pad, n_keep, 0, n_keep,
                                          dropout_stream);
    }
    if (out->values) mhim_transmil_copy_values(out->values, nc.v, H, pad, n_keep, cfg->dim_head);
    add_inplace(tok, o, n * D);
    position_encoding(tok2, scratch, tok, m, params, n);

    /* layer 2: only the cls row of its output is used */
    if (mask) mhim_dropout_mask(mask, dropout_stream, 2 * MHIM_TRANSMIL_DROPOUT_BAND, MHIM_TRANSMIL_ATTN_DROPOUT, D);
    attention_branch(o, ln, mean, rstd, nys_buf, NULL, scratch, tok2, m, params, 1, n);
    if (mask) mhim_dropout_forward(o, mask, o, MHIM_TRANSMIL_ATTN_DROPOUT, D);
    if (want_l2) mhim_nystrom_cls_attention(out->attn, &nc, scratch, n, H, lm);
    if (out->feat || out->logits) {
        float *cls = mhim_arena_floats(arena, D), *feat = mhim_arena_floats(arena, D);
        for (int64_t d = 0; d < D; d++) cls[d] = tok2[d] + o[d];
        mhim_layernorm_forward(feat, mean, rstd, cls, params + m->norm_w, params + m->norm_b, 1, D);
        if (out->feat) memcpy(out->feat, feat, (size_t)D * sizeof(float));
        if (out->logits)
            mhim_linear_forward(out->logits, feat, params + m->pred_w, params + m->pred_b, 1, D, cfg->n_classes);
    }
    mhim_arena_reset(arena, mark);
    return MHIM_OK;
}
