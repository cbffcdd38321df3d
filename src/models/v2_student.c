/* The MHIM-v2 student training step: front end on the hard-kept rows, Merge.train (shuffle, recycle, G EMA),
 * encoder on concat(Xk, Z), and the backward through all of it (see mhim/v2.h, spec v2 §3.5, §4.1, Appendix A). */
#include <math.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/dropout.h"
#include "mhim/optim.h"
#include "models/v2_private.h"

void mhim_v2_merge_perm(mhim_rng *merge_stream, int64_t *perm, int64_t L) {
    mhim_rng_permutation(merge_stream, perm, L);
}

int64_t mhim_v2_merge_keep(int64_t L, double merge_ratio) {
    const double kept = floor((double)L * merge_ratio);
    if (kept <= 0) return 0;
    return kept >= (double)L ? L : (int64_t)kept;
}

size_t mhim_v2_train_arena_bytes(const mhim_v2 *v, int64_t n_max) {
    const int64_t L = n_max > 0 ? n_max : 0, k = v->merge.s.k, D = MHIM_EMBED_DIM;
    const int64_t hkm = v->merge.s.heads * k * L;
    size_t b = mhim_embed_arena_bytes(&v->embed->cfg, L) + mhim_arena_align((size_t)L * sizeof(int64_t));
    b += mhim_arena_floats_size((L + k) * D) + mhim_arena_floats_size(L * D);        /* tok, xm */
    b += mhim_arena_align((size_t)hkm) + mhim_arena_align((size_t)(k * D));           /* Merge dropout masks */
    b += mhim_merge_arena_bytes(&v->merge.s, L) + mhim_v2_head_arena_bytes(v, L + k); /* Merge, encoder */
    b += mhim_arena_floats_size((L + k) * D) + 2 * mhim_arena_floats_size(L * D);    /* d_tok, dxm, dh */
    return b;
}

/* Keep mask of `count` values from band `band` of the dropout stream (Merge's own bands, clear of the front end
 * and the TransMIL layers). */
static uint8_t *band_mask(mhim_arena *arena, const mhim_rng *dropout, uint64_t band, int64_t count) {
    uint8_t *keep = mhim_arena_alloc(arena, (size_t)count);
    mhim_dropout_mask(keep, dropout, band << 44, MHIM_V2_MERGE_DROPOUT, count);
    return keep;
}

int mhim_v2_student_forward(mhim_v2 *v, mhim_arena *arena, float *params, const float *x, int64_t N,
                            const int64_t *keep, int64_t L, const int64_t *perm, const mhim_rng *dropout,
                            mhim_v2_student_out *out) {
    if (N < 1) return mhim_fail("mhim v2 student: empty bag (no instance)");
    if (L < 0 || L > N)
        return mhim_fail("mhim v2 student: %lld kept instances of a bag of %lld", (long long)L, (long long)N);
    const int64_t D = MHIM_EMBED_DIM, k = v->merge.s.k;
    const int64_t n_keep = mhim_v2_merge_keep(L, v->opt.merge_ratio), M = L - n_keep;
    v->cached = 0;
    v->L = L;
    v->n_keep = n_keep;
    v->tokens = n_keep + k;
    mhim_embed_forward(&v->emb, arena, v->embed, params, x, N, keep, L, dropout);
    v->perm = mhim_arena_i64(arena, L);
    for (int64_t j = 0; j < L; j++) {
        MHIM_ASSERT(perm[j] >= 0 && perm[j] < L);
        v->perm[j] = perm[j];
    }
    /* Xk = h[perm[:n_keep]] (random order, spec Q5), Xm = h[perm[n_keep:]] */
    v->tok = mhim_arena_floats(arena, v->tokens * D);
    v->xm = mhim_arena_floats(arena, M * D);
    for (int64_t j = 0; j < L; j++) {
        float *dst = j < n_keep ? v->tok + j * D : v->xm + (j - n_keep) * D;
        memcpy(dst, v->emb.h + v->perm[j] * D, (size_t)D * sizeof(float));
    }
    const uint8_t *keep_att = NULL, *keep_out = NULL;
    if (dropout) {
        keep_att = band_mask(arena, dropout, MHIM_V2_BAND_MERGE_ATTN, v->merge.s.heads * k * M);
        keep_out = band_mask(arena, dropout, MHIM_V2_BAND_MERGE_OUT, k * D);
    }
    float *z = v->tok + n_keep * D;
    mhim_merge_forward(&v->mc, arena, &v->merge, params, v->xm, M, keep_att, keep_out, MHIM_V2_MERGE_DROPOUT, z);
    /* G <- merge_mm·G + (1 − merge_mm)·Z in place, no gradient (the original's update_q_ema during forward) */
    mhim_ema_update(params + v->merge.g, z, k * D, v->opt.merge_mm);
    memcpy(params + v->merge.g_alias, params + v->merge.g, (size_t)(k * D) * sizeof(float));
    mhim_v2_head_forward(v, arena, params, v->tok, v->tokens, dropout, out->logits, out->feat);
    out->n_keep = n_keep;
    out->tokens = v->tokens;
    v->cached = 1;
    return MHIM_OK;
}

/* Encoder backward: d_tok (tokens, 512) written, encoder and predictor gradients +=. */
static void head_backward(mhim_v2 *v, mhim_arena *arena, const float *params, float *grads, float *d_tok,
                          const float *d_logits, const float *d_feat) {
    switch (v->cfg.kind) {
    case MHIM_MODEL_ABMIL:
        mhim_abmil_head_backward(&v->net.abmil, params, grads, d_tok, d_logits, d_feat, &v->head.abmil, arena);
        break;
    case MHIM_MODEL_TRANSMIL:
        mhim_transmil_head_backward(&v->net.transmil, grads, d_tok, params, &v->head.transmil, arena, d_logits,
                                    d_feat);
        break;
    case MHIM_MODEL_DSMIL: {
        /* logits = 0.5·bag + 0.5·max: each receives half of d_logits */
        const int64_t C = v->cfg.n_classes;
        float *d_half = d_logits ? mhim_arena_floats(arena, C) : NULL;
        for (int64_t c = 0; d_half && c < C; c++) d_half[c] = 0.5f * d_logits[c];
        mhim_dsmil_head_backward(&v->net.dsmil, params, grads, d_tok, d_half, d_half, d_feat, &v->head.dsmil, arena);
        break;
    }
    }
}

void mhim_v2_student_backward(mhim_v2 *v, mhim_arena *arena, const float *params, float *grads, const float *d_logits,
                              const float *d_feat) {
    MHIM_ASSERT(v->cached);
    const int64_t D = MHIM_EMBED_DIM, L = v->L, n_keep = v->n_keep, M = L - n_keep;
    const size_t mark = mhim_arena_mark(arena);
    float *d_tok = mhim_arena_floats(arena, v->tokens * D);
    float *dxm = mhim_arena_floats(arena, M * D), *dh = mhim_arena_floats(arena, L * D);
    head_backward(v, arena, params, grads, d_tok, d_logits, d_feat);
    mhim_merge_backward(&v->merge, params, grads, dxm, d_tok + n_keep * D, MHIM_V2_MERGE_DROPOUT, &v->mc, arena);
    /* undo the shuffle: every hard-kept row went either to Xk or to Xm exactly once */
    for (int64_t j = 0; j < L; j++) {
        const float *src = j < n_keep ? d_tok + j * D : dxm + (j - n_keep) * D;
        memcpy(dh + v->perm[j] * D, src, (size_t)D * sizeof(float));
    }
    mhim_embed_backward(v->embed, grads, dh, &v->emb);
    v->cached = 0;
    mhim_arena_reset(arena, mark);
}
