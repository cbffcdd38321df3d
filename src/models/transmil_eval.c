/* TransMIL evaluation forward: the eval-mode model without backward caches, every n × landmarks attention product
 * computed in row blocks (see mhim/models/transmil.h, mhim_transmil_eval_forward).
 *
 * Per Nyström layer (tokens t, n rows, p front padding rows, np = n + p, m landmarks, l = np / m):
 *   1. project: row blocks of LN(t) · W_kvᵀ, k, v kept (H, np, dh); q only as landmark means (the segment means of
 *      LN(t) projected) and its cls row;
 *   2. landmark kernel: a2 = softmax(q_land k_landᵀ), pinv(a2), r = softmax(q_cls k_landᵀ) · pinv (cls row);
 *   3. key sweeps over blocks of keys: row max / sum of a3 = softmax(q_land kᵀ) (online), then a3 · v and the
 *      exported cls attention r · a3 block by block; then za3v = pinv · a3v;
 *   4. output rows: q recomputed per row block, a1 = softmax(q k_landᵀ), a1 · za3v + res_conv(v), to_out, added to
 *      t in place (layer 2: the cls row only). The training forward's association (mhim/ops/nystrom.h).
 * So at most one block of a1 / a3 rows is alive, and the arena holds t, k and v plus fixed-size blocks. */
#include <math.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/models/transmil.h"
#include "mhim/ops/linear.h"
#include "mhim/ops/norm.h"
#include "mhim/ops/nystrom.h"
#include "mhim/ops/ppeg.h"
#include "models/transmil_scores.h"
#include "ops/fastmath.h"
#include "ops/gemm.h"
#include "ops/vecmath.h"

#define EVAL_BLOCK 1024 /* query rows or key columns per block */

/* Dimensions of one evaluation forward. */
typedef struct {
    int64_t n, D, H, dh, inner, m, p, np, l;
    float scale; /* dh^-0.5 as NystromAttention applies it */
} eval_dims;

static eval_dims dims_of(const mhim_transmil_config *cfg, int64_t n) {
    eval_dims d = {.n = n, .D = cfg->embed.dim, .H = cfg->heads, .dh = cfg->dim_head, .m = cfg->landmarks};
    d.inner = d.H * d.dh;
    d.p = mhim_nystrom_pad(n, d.m);
    d.np = n + d.p;
    d.l = d.np / d.m;
    d.scale = mhim_nystrom_q_scale(d.dh);
    return d;
}

/* What one layer keeps between its phases (arena blocks). */
typedef struct {
    float *k, *v;           /* (H, np, dh) padded keys and values */
    float *q_land, *k_land; /* (H, m, dh) */
    float *q_cls;           /* (H, dh) scaled query of the cls token */
    float *a2, *z, *norm;   /* (H, m, m), pinv iterates (ITERS+1, H, m, m), (2) */
    float *r;               /* (H, m) cls row of a1 · pinv */
    float *a3_max;          /* (H·m) row max of a3's logits */
    double *a3_sum;         /* (H·m) Σ exp(logit − max) */
    float *a3v;             /* (H, m, dh) a3 · v */
    float *za3v;            /* (H, m, dh) pinv · a3v */
} eval_layer;

/* Floats of the per-layer state (everything in eval_layer but k, v and the double sums). */
static int64_t layer_state_floats(const eval_dims *d) {
    return 4 * d->H * d->m * d->dh + d->H * d->dh + (MHIM_NYSTROM_PINV_ITERS + 2) * d->H * d->m * d->m + 2 +
           2 * d->H * d->m;
}

/* Arena bytes of the largest block phase (projection, key sweep, output rows, scores) for B rows. */
static size_t block_bytes(const mhim_transmil_config *cfg, const eval_dims *d, int64_t B) {
    const size_t ln = mhim_arena_floats_size(B * d->D) + 2 * mhim_arena_floats_size(B);
    const size_t project = mhim_arena_floats_size(d->m * d->D) + mhim_arena_floats_size(d->D) +
                           MHIM_MAX(ln + mhim_arena_floats_size(B * 2 * d->inner),
                                    mhim_arena_floats_size(d->m * d->inner));
    const size_t keys = mhim_arena_floats_size(d->H * d->m * B) + mhim_arena_floats_size(B) +
                        mhim_arena_floats_size(mhim_nystrom_pinv_forward_scratch_floats(d->H, d->m));
    const size_t rows = ln + 2 * mhim_arena_floats_size(B * d->inner) + mhim_arena_floats_size(d->H * B * d->m) +
                        mhim_arena_floats_size(B * d->D);
    const size_t scores = mhim_transmil_attn2score_bytes(cfg, B);
    return MHIM_MAX(MHIM_MAX(project, keys), MHIM_MAX(rows, scores));
}

size_t mhim_transmil_eval_arena_bytes(const mhim_transmil_config *cfg, int64_t n_max) {
    const eval_dims d = dims_of(cfg, MHIM_MAX(n_max, 1) + 1);
    const size_t tok = mhim_arena_floats_size(d.n * d.D) + 4 * mhim_arena_floats_size(d.D) +
                       2 * mhim_arena_floats_size(1); /* tokens; cls row, feature, LN statistics */
    const size_t embed = mhim_embed_arena_bytes(&cfg->embed, EVAL_BLOCK);
    const size_t ppeg = mhim_arena_floats_size(mhim_ppeg_forward_scratch_floats(d.n - 1, d.D));
    const size_t layer = 2 * mhim_arena_floats_size(d.H * d.np * d.dh) + mhim_arena_floats_size(layer_state_floats(&d)) +
                         mhim_arena_align((size_t)(d.H * d.m) * sizeof(double)) +
                         mhim_arena_floats_size(d.H * (d.n - 1)) /* layer-1 attention for the scores */ +
                         block_bytes(cfg, &d, EVAL_BLOCK);
    return tok + MHIM_MAX(MHIM_MAX(embed, ppeg), layer);
}

/* tok (n, D) = [cls ; embed(x[keep])], embedded EVAL_BLOCK rows at a time. */
static void embed_tokens(float *tok, mhim_arena *arena, const mhim_transmil *m, const float *params, const float *x,
                         int64_t N, const int64_t *keep, int64_t n_keep) {
    const int64_t D = m->cfg.embed.dim, Din = m->cfg.embed.input_dim;
    memcpy(tok, params + m->cls_token, (size_t)D * sizeof(float));
    for (int64_t r0 = 0; r0 < n_keep; r0 += EVAL_BLOCK) {
        const int64_t B = MHIM_MIN((int64_t)EVAL_BLOCK, n_keep - r0);
        const size_t mark = mhim_arena_mark(arena);
        mhim_embed_cache ec;
        if (keep) mhim_embed_forward(&ec, arena, &m->embed, params, x, N, keep + r0, B, NULL);
        else mhim_embed_forward(&ec, arena, &m->embed, params, x + r0 * Din, B, NULL, B, NULL);
        memcpy(tok + (1 + r0) * D, ec.h, (size_t)(B * D) * sizeof(float));
        mhim_arena_reset(arena, mark);
    }
}

/* ln (B, D) = LayerNorm of the token rows [r0, r0 + B) with the layer's affine parameters. */
static void layernorm_rows(float *ln, mhim_arena *arena, const float *tok, const mhim_transmil *m, const float *params,
                           int l, int64_t r0, int64_t B) {
    const int64_t D = m->cfg.embed.dim;
    float *mean = mhim_arena_floats(arena, B), *rstd = mhim_arena_floats(arena, B);
    mhim_layernorm_forward(ln, mean, rstd, tok + r0 * D, params + m->layer[l].norm_w, params + m->layer[l].norm_b, B,
                           D);
}

/* Phase 1: k, v (H, np, dh) of all rows, the landmark queries and the cls query of layer l on tokens tok. Only the
 * k and v blocks of to_qkv run on every row: to_qkv has no bias, so the landmark mean of q over a segment of l
 * padded rows is (the segment mean of LN(t), the padding rows zero) · W_qᵀ, and the cls query is LN(t₀) · W_qᵀ,
 * both times dh^-0.5 (q itself is projected again per row block in phase 4, where layer 1 needs it). */
static void project(eval_layer *s, mhim_arena *arena, const eval_dims *d, const float *tok, const mhim_transmil *m,
                    const float *params, int l) {
    const int64_t H = d->H, dh = d->dh, inner = d->inner, np = d->np, p = d->p, D = d->D, lm = d->m;
    const float *w_q = params + m->layer[l].w_qkv, *w_kv = w_q + inner * D;
    for (int64_t h = 0; h < H; h++) { /* the front padding rows; the token rows are written below */
        memset(s->k + h * np * dh, 0, (size_t)(p * dh) * sizeof(float));
        memset(s->v + h * np * dh, 0, (size_t)(p * dh) * sizeof(float));
    }
    const size_t sums_mark = mhim_arena_mark(arena);
    float *seg = mhim_arena_floats(arena, lm * D), *cls = mhim_arena_floats(arena, D); /* Σ LN rows per segment */
    memset(seg, 0, (size_t)(lm * D) * sizeof(float));
    for (int64_t r0 = 0; r0 < d->n; r0 += EVAL_BLOCK) {
        const int64_t B = MHIM_MIN((int64_t)EVAL_BLOCK, d->n - r0);
        const size_t mark = mhim_arena_mark(arena);
        float *ln = mhim_arena_floats(arena, B * D), *kv = mhim_arena_floats(arena, B * 2 * inner);
        layernorm_rows(ln, arena, tok, m, params, l, r0, B);
        if (r0 == 0) memcpy(cls, ln, (size_t)D * sizeof(float));
        mhim_linear_forward(kv, ln, w_kv, NULL, B, D, 2 * inner);
        /* k, v: each projected row read once, its heads copied to their (H, np, dh) rows */
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < B; r++) {
            const int64_t tp = p + r0 + r;
            const float *src = kv + r * 2 * inner;
            for (int64_t h = 0; h < H; h++) {
                memcpy(s->k + (h * np + tp) * dh, src + h * dh, (size_t)dh * sizeof(float));
                memcpy(s->v + (h * np + tp) * dh, src + inner + h * dh, (size_t)dh * sizeof(float));
            }
        }
        /* segment sums of LN(t), each column summed over the rows in order (threads split the columns) */
#pragma omp parallel for schedule(static)
        for (int64_t c0 = 0; c0 < D; c0 += 64)
            for (int64_t r = 0; r < B; r++) {
                const float *src = ln + r * D;
                float *dst = seg + ((p + r0 + r) / d->l) * D;
                for (int64_t c = c0; c < MHIM_MIN(c0 + 64, D); c++) dst[c] += src[c];
            }
        mhim_arena_reset(arena, mark);
    }
    for (int64_t i = 0; i < lm * D; i++) seg[i] /= (float)d->l;
    mhim_nystrom_landmark_queries(s->q_land, mhim_arena_floats(arena, lm * inner), seg, w_q, lm, D, H, dh);
    mhim_linear_forward(s->q_cls, cls, w_q, NULL, 1, D, inner);
    for (int64_t i = 0; i < inner; i++) s->q_cls[i] *= d->scale;
    mhim_arena_reset(arena, sums_mark);
    mhim_nystrom_landmarks_forward(s->k_land, s->k, H, d->m, d->l, dh);
}

/* Phase 2: a2, its pseudo-inverse and r = softmax(q_cls k_landᵀ) · pinv per head. */
static void landmark_kernel(eval_layer *s, mhim_arena *arena, const eval_dims *d) {
    const int64_t H = d->H, m = d->m, dh = d->dh;
    for (int64_t h = 0; h < H; h++)
        mhim_gemm(0, 1, m, m, dh, 1.0f, s->q_land + h * m * dh, s->k_land + h * m * dh, 0.0f, s->a2 + h * m * m);
    mhim_nystrom_softmax_rows(s->a2, H * m, m);
    const size_t mark = mhim_arena_mark(arena);
    float *tmp = mhim_arena_floats(arena, mhim_nystrom_pinv_forward_scratch_floats(H, m));
    mhim_nystrom_pinv_forward(s->z, NULL, s->norm, tmp, s->a2, H, m);
    const float *pinv = s->z + MHIM_NYSTROM_PINV_ITERS * H * m * m;
    for (int64_t h = 0; h < H; h++) {
        float *a1_cls = tmp;
        mhim_gemm(0, 1, 1, m, dh, 1.0f, s->q_cls + h * dh, s->k_land + h * m * dh, 0.0f, a1_cls);
        mhim_nystrom_softmax_rows(a1_cls, 1, m);
        mhim_gemm(0, 0, 1, m, m, 1.0f, a1_cls, pinv + h * m * m, 0.0f, s->r + h * m);
    }
    mhim_arena_reset(arena, mark);
}

/* logits (H, m, B) = q_land kᵀ for the keys [t0, t0 + B). */
static void key_logits(float *logits, const eval_layer *s, const eval_dims *d, int64_t t0, int64_t B) {
    for (int64_t h = 0; h < d->H; h++)
        mhim_gemm_ld(0, 1, d->m, B, d->dh, 1.0f, s->q_land + h * d->m * d->dh, d->dh,
                     s->k + (h * d->np + t0) * d->dh, d->dh, 0.0f, logits + h * d->m * B, B);
}

/* One block x (B) of an a3 row's logits into its online statistics: *top = max(*top, max x), *sum rescaled to the
 * new maximum plus Σ e^(max(x, top + MHIM_NYSTROM_SOFTMAX_FLOOR) − top) — the floor and the vectorised exponential
 * of mhim_nystrom_softmax_rows, so the evaluation forward rounds as the training forward does. */
MHIM_SIMD_CLONES_FMA static void a3_row_stats(const float *x, int64_t B, float *top_io, double *sum_io) {
    float top = *top_io;
#pragma omp simd reduction(max : top)
    for (int64_t j = 0; j < B; j++) top = x[j] > top ? x[j] : top;
    const float lo = top + MHIM_NYSTROM_SOFTMAX_FLOOR;
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < B; j++) sum += mhim_fast_expf((x[j] > lo ? x[j] : lo) - top);
    *sum_io = *sum_io * exp((double)*top_io - (double)top) + sum;
    *top_io = top;
}

/* x (B) = a3's probabilities of one row block from its logits, row maximum top and 1 / row sum inv. */
MHIM_SIMD_CLONES_FMA static void a3_row_probs(float *x, int64_t B, float top, float inv) {
    const float lo = top + MHIM_NYSTROM_SOFTMAX_FLOOR;
#pragma omp simd
    for (int64_t j = 0; j < B; j++) x[j] = mhim_fast_expf((x[j] > lo ? x[j] : lo) - top) * inv;
}

/* Phase 3: a3 = softmax(q_land kᵀ) over all np keys (pads included) in two sweeps: row max and sum (online
 * rescaling), then a3v = a3 · v; attn (H, n-1) = r · a3 on the instance keys when not NULL. */
static void key_sweeps(eval_layer *s, float *attn, mhim_arena *arena, const eval_dims *d) {
    const int64_t H = d->H, m = d->m, dh = d->dh, np = d->np;
    for (int64_t i = 0; i < H * m; i++) s->a3_max[i] = -INFINITY, s->a3_sum[i] = 0.0;
    const size_t mark = mhim_arena_mark(arena);
    float *logits = mhim_arena_floats(arena, H * m * EVAL_BLOCK), *row = mhim_arena_floats(arena, EVAL_BLOCK);
    for (int64_t t0 = 0; t0 < np; t0 += EVAL_BLOCK) {
        const int64_t B = MHIM_MIN((int64_t)EVAL_BLOCK, np - t0);
        key_logits(logits, s, d, t0, B);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < H * m; i++) a3_row_stats(logits + i * B, B, &s->a3_max[i], &s->a3_sum[i]);
    }
    for (int64_t t0 = 0; t0 < np; t0 += EVAL_BLOCK) {
        const int64_t B = MHIM_MIN((int64_t)EVAL_BLOCK, np - t0);
        key_logits(logits, s, d, t0, B);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < H * m; i++)
            a3_row_probs(logits + i * B, B, s->a3_max[i], (float)(1.0 / s->a3_sum[i]));
        for (int64_t h = 0; h < H; h++) {
            const float *a3h = logits + h * m * B;
            mhim_gemm(0, 0, m, dh, B, 1.0f, a3h, s->v + (h * np + t0) * dh, t0 ? 1.0f : 0.0f, s->a3v + h * m * dh);
            if (!attn) continue;
            mhim_gemm(0, 0, 1, B, m, 1.0f, s->r + h * m, a3h, 0.0f, row);
            for (int64_t j = 0; j < B; j++) /* instance keys are the padded rows p+1 .. np-1 */
                if (t0 + j > d->p) attn[h * (d->n - 1) + t0 + j - d->p - 1] = row[j];
        }
    }
    const float *pinv = s->z + MHIM_NYSTROM_PINV_ITERS * H * m * m;
    for (int64_t h = 0; h < H; h++)
        mhim_gemm(0, 0, m, dh, m, 1.0f, pinv + h * m * m, s->a3v + h * m * dh, 0.0f, s->za3v + h * m * dh);
    mhim_arena_reset(arena, mark);
}

/* Phase 4: tok[r] += to_out(merge(a1 · za3v + res_conv(v)))[r] for the token rows r < rows. */
static void output_rows(float *tok, const eval_layer *s, mhim_arena *arena, const eval_dims *d,
                        const mhim_transmil *m, const float *params, int l, int64_t rows) {
    const int64_t H = d->H, lm = d->m, dh = d->dh, inner = d->inner, D = d->D;
    const mhim_transmil_layer *ly = &m->layer[l];
    for (int64_t r0 = 0; r0 < rows; r0 += EVAL_BLOCK) {
        const int64_t B = MHIM_MIN((int64_t)EVAL_BLOCK, rows - r0);
        const size_t mark = mhim_arena_mark(arena);
        float *ln = mhim_arena_floats(arena, B * D), *q = mhim_arena_floats(arena, B * inner);
        float *a1 = mhim_arena_floats(arena, H * B * lm);
        float *merged = mhim_arena_floats(arena, B * inner), *out = mhim_arena_floats(arena, B * D);
        layernorm_rows(ln, arena, tok, m, params, l, r0, B);
        mhim_linear_forward(q, ln, params + ly->w_qkv, NULL, B, D, inner); /* the q block of to_qkv */
        for (int64_t i = 0; i < B * inner; i++) q[i] *= d->scale;
        for (int64_t h = 0; h < H; h++)
            mhim_gemm_ld(0, 1, B, lm, dh, 1.0f, q + h * dh, inner, s->k_land + h * lm * dh, dh, 0.0f,
                         a1 + h * B * lm, lm);
        mhim_nystrom_softmax_rows(a1, H * B, lm);
        for (int64_t h = 0; h < H; h++)
            mhim_gemm_ld(0, 0, B, dh, lm, 1.0f, a1 + h * B * lm, lm, s->za3v + h * lm * dh, dh, 0.0f,
                         merged + h * dh, inner);
        mhim_nystrom_res_conv_rows_acc(merged, inner, s->v, params + ly->w_res, H, d->np, dh, d->p + r0, B);
        mhim_linear_forward(out, merged, params + ly->w_out, params + ly->b_out, B, inner, D);
        for (int64_t i = 0; i < B * D; i++) tok[r0 * D + i] += out[i];
        mhim_arena_reset(arena, mark);
    }
}

/* One Nyström layer l on tok in place (rows: n for layer 1, 1 for the cls row of layer 2). attn (H, n-1) gets the
 * cls-row attention when not NULL; values / scores (layer 1 only) as in mhim_transmil_teacher_out. */
static void nystrom_layer(float *tok, mhim_arena *arena, const eval_dims *d, const mhim_transmil *m,
                          const float *params, int l, int64_t rows, float *attn, float *values, float *scores) {
    const int64_t H = d->H, n_keep = d->n - 1;
    const size_t mark = mhim_arena_mark(arena);
    eval_layer s;
    s.k = mhim_arena_floats(arena, H * d->np * d->dh);
    s.v = mhim_arena_floats(arena, H * d->np * d->dh);
    float *state = mhim_arena_floats(arena, layer_state_floats(d));
    s.q_land = state, state += H * d->m * d->dh;
    s.k_land = state, state += H * d->m * d->dh;
    s.a3v = state, state += H * d->m * d->dh;
    s.za3v = state, state += H * d->m * d->dh;
    s.q_cls = state, state += H * d->dh;
    s.a2 = state, state += H * d->m * d->m;
    s.z = state, state += (MHIM_NYSTROM_PINV_ITERS + 1) * H * d->m * d->m;
    s.norm = state, state += 2;
    s.r = state, state += H * d->m;
    s.a3_max = state;
    s.a3_sum = mhim_arena_alloc(arena, (size_t)(H * d->m) * sizeof(double));
    float *attn_all = attn;
    if (!attn_all && scores) attn_all = mhim_arena_floats(arena, H * n_keep);

    project(&s, arena, d, tok, m, params, l);
    if (values) mhim_transmil_copy_values(values, s.v, H, d->p, n_keep, d->dh);
    landmark_kernel(&s, arena, d);
    key_sweeps(&s, attn_all, arena, d);
    for (int64_t i0 = 0; scores && i0 < n_keep; i0 += EVAL_BLOCK)
        mhim_transmil_attn2score_rows(scores + i0, arena, m, params, attn_all, s.v, d->p, n_keep, i0,
                                      MHIM_MIN((int64_t)EVAL_BLOCK, n_keep - i0), NULL);
    output_rows(tok, &s, arena, d, m, params, l, rows);
    mhim_arena_reset(arena, mark);
}

int mhim_transmil_eval_forward(mhim_transmil_teacher_out *out, mhim_arena *arena, const mhim_transmil *m,
                               const float *params, const float *x, int64_t N, const int64_t *keep, int64_t n_keep) {
    if (n_keep < 1 || N < 1)
        return mhim_fail("transmil: a bag needs at least one (kept) instance, got %lld of %lld", (long long)n_keep,
                         (long long)N);
    if (out->attn_layer != 0 && out->attn_layer != 1 && out->attn_layer != -1)
        return mhim_fail("transmil attn_layer %d: expected 0 (first layer) or -1 (last layer)", out->attn_layer);
    MHIM_ASSERT(keep != NULL || n_keep == N);
    const eval_dims d = dims_of(&m->cfg, n_keep + 1);
    const int64_t D = d.D;
    const size_t mark = mhim_arena_mark(arena);
    float *tok = mhim_arena_floats(arena, d.n * D);
    embed_tokens(tok, arena, m, params, x, N, keep, n_keep);

    float *attn1 = out->attn_layer == 0 ? out->attn : NULL, *attn2 = out->attn_layer != 0 ? out->attn : NULL;
    nystrom_layer(tok, arena, &d, m, params, 0, d.n, attn1, out->values, out->scores);
    {
        const size_t ppeg_mark = mhim_arena_mark(arena);
        float *scratch = mhim_arena_floats(arena, mhim_ppeg_forward_scratch_floats(d.n - 1, D));
        mhim_ppeg_forward(tok + D, scratch, tok + D, params + m->ppeg_w[0], params + m->ppeg_b[0],
                          params + m->ppeg_w[1], params + m->ppeg_b[1], params + m->ppeg_w[2], params + m->ppeg_b[2],
                          d.n - 1, D);
        mhim_arena_reset(arena, ppeg_mark);
    }
    nystrom_layer(tok, arena, &d, m, params, 1, 1, attn2, NULL, NULL);

    float *feat = mhim_arena_floats(arena, D), *mean = mhim_arena_floats(arena, 1), *rstd = mhim_arena_floats(arena, 1);
    mhim_layernorm_forward(feat, mean, rstd, tok, params + m->norm_w, params + m->norm_b, 1, D);
    if (out->feat) memcpy(out->feat, feat, (size_t)D * sizeof(float));
    if (out->logits) mhim_linear_forward(out->logits, feat, params + m->pred_w, params + m->pred_b, 1, D, m->cfg.n_classes);
    mhim_arena_reset(arena, mark);
    return MHIM_OK;
}
