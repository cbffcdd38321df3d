/* The MHIM-v2 companion object: options, binding, the frozen G range, Merge initialisation, the encoder heads, the
 * teacher forward and the evaluation forward (see mhim/v2.h). The student step is v2_student.c. */
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/models/network_configs.h"
#include "models/v2_private.h"

int mhim_v2_options_check(const mhim_v2_options *o) {
    if (!(o->merge_ratio >= 0.0 && o->merge_ratio <= 1.0))
        return mhim_fail("--merge_ratio=%g: expected the kept fraction in [0, 1] (0.8 or 0.9 in the v2 recipes)",
                         o->merge_ratio);
    if (!(o->merge_mm >= 0.0 && o->merge_mm < 1.0))
        return mhim_fail("--merge_mm=%g: expected the global-query momentum in [0, 1) (0.9999 in the v2 recipes; "
                         "1.0 crashes the original)", o->merge_mm);
    return MHIM_OK;
}

int mhim_v2_options_from_config(mhim_v2_options *o, const mhim_config *cfg) {
    o->merge_ratio = cfg->merge_ratio;
    o->merge_mm = cfg->merge_mm;
    return mhim_v2_options_check(o);
}

int mhim_v2_create(mhim_v2 **out, const mhim_model *model, const mhim_v2_options *o) {
    *out = NULL;
    const mhim_model_config *mc = mhim_model_get_config(model);
    if (mc->version != 2 || mc->merge_k < 1)
        return mhim_fail("mhim v2: the model needs version 2 and the Merge module (--merge_enable, --merge_k >= 1), "
                         "got version %d merge_k %lld", mc->version, (long long)mc->merge_k);
    int rc = mhim_v2_options_check(o);
    if (rc != MHIM_OK) return rc;
    mhim_v2 *v = mhim_calloc(1, sizeof *v);
    v->cfg = *mc;
    v->opt = *o;
    v->layout = mhim_model_layout(model);
    mhim_merge_shape ms = mhim_merge_shape_default(mc->merge_k);
    rc = mhim_merge_bind(&v->merge, &ms, v->layout);
    if (rc == MHIM_OK) switch (mc->kind) {
        case MHIM_MODEL_ABMIL: {
            mhim_abmil_config c = mhim_registry_abmil_config(mc);
            rc = mhim_abmil_bind(&v->net.abmil, &c, v->layout);
            v->embed = &v->net.abmil.embed;
            break;
        }
        case MHIM_MODEL_TRANSMIL: {
            mhim_transmil_config c = mhim_registry_transmil_config(mc);
            rc = mhim_transmil_bind(&v->net.transmil, &c, v->layout);
            v->embed = &v->net.transmil.embed;
            break;
        }
        case MHIM_MODEL_DSMIL: {
            mhim_dsmil_config c = mhim_registry_dsmil_config(mc);
            rc = mhim_dsmil_bind(&v->net.dsmil, &c, v->layout);
            v->embed = &v->net.dsmil.embed;
            break;
        }
        default: rc = mhim_fail("mhim v2: unknown model kind %d", (int)mc->kind);
        }
    if (rc != MHIM_OK) {
        free(v);
        return rc;
    }
    *out = v;
    return MHIM_OK;
}

void mhim_v2_free(mhim_v2 *v) { free(v); }

void mhim_v2_frozen_range(const mhim_v2 *v, int64_t *begin, int64_t *end) {
    const int64_t kD = v->merge.s.k * v->merge.s.dim;
    const int64_t a = v->merge.g, b = v->merge.g_alias;
    *begin = a < b ? a : b;
    *end = (a > b ? a : b) + kD;
    MHIM_ASSERT(*end - *begin <= 2 * kD + MHIM_PARAM_ALIGN); /* adjacent in the layout (spec rows 0 and 1) */
}

void mhim_v2_init_merge_params(const mhim_param_layout *L, float *params, uint64_t seed) {
    const mhim_param_entry *g = mhim_param_find(L, "merge.global_q_mm");
    MHIM_ASSERT(g && g->ndim == 3);
    mhim_merge_shape s = mhim_merge_shape_default(g->shape[1]);
    mhim_merge m;
    MHIM_ASSERT(mhim_merge_bind(&m, &s, L) == MHIM_OK);
    mhim_merge_init_params(&m, params, seed, 100); /* streams 100.. : clear of every network's own tensor indices */
}

int64_t mhim_v2_score_rows(const mhim_v2 *v) {
    return v->cfg.kind == MHIM_MODEL_TRANSMIL && !v->cfg.attn2score ? v->cfg.heads : 1;
}

size_t mhim_v2_head_arena_bytes(const mhim_v2 *v, int64_t n) {
    switch (v->cfg.kind) {
    case MHIM_MODEL_ABMIL: return mhim_abmil_arena_bytes(&v->net.abmil.cfg, n);
    case MHIM_MODEL_TRANSMIL: return mhim_transmil_arena_bytes(&v->net.transmil.cfg, n);
    case MHIM_MODEL_DSMIL: return mhim_dsmil_arena_bytes(&v->net.dsmil.cfg, n);
    }
    return 0;
}

void mhim_v2_head_forward(mhim_v2 *v, mhim_arena *arena, const float *params, const float *tok, int64_t n,
                          const mhim_rng *dropout, float *logits, float *feat) {
    const int64_t C = v->cfg.n_classes, D = MHIM_EMBED_DIM;
    switch (v->cfg.kind) {
    case MHIM_MODEL_ABMIL: {
        mhim_abmil_cache *c = &v->head.abmil;
        mhim_abmil_head_forward(c, arena, &v->net.abmil, params, tok, n);
        memcpy(logits, c->logits, (size_t)C * sizeof(float));
        if (feat) memcpy(feat, c->z, (size_t)D * sizeof(float));
        break;
    }
    case MHIM_MODEL_TRANSMIL: {
        int rc = mhim_transmil_head_forward(&v->head.transmil, arena, &v->net.transmil, params, tok, n, dropout,
                                            logits, feat);
        MHIM_ASSERT(rc == MHIM_OK); /* n >= merge_k >= 1 by construction */
        break;
    }
    case MHIM_MODEL_DSMIL: {
        mhim_dsmil_model_cache *c = &v->head.dsmil;
        mhim_dsmil_head_forward(c, arena, &v->net.dsmil, params, tok, n);
        mhim_dsmil_mean_logits(logits, c->bag_logit, c->max_logit, C);
        if (feat) memcpy(feat, c->agg.bag, (size_t)(C * D) * sizeof(float));
        break;
    }
    }
}

size_t mhim_v2_teacher_arena_bytes(const mhim_v2 *v, int64_t n_max) {
    const int64_t N = n_max > 1 ? n_max : 1;
    size_t b = mhim_arena_floats_size(v->cfg.n_classes * MHIM_EMBED_DIM) + mhim_arena_floats_size(N);
    if (v->cfg.kind == MHIM_MODEL_TRANSMIL) return b + mhim_transmil_teacher_arena_bytes(&v->net.transmil.cfg, N);
    return b + mhim_v2_head_arena_bytes(v, N) + mhim_arena_floats_size(N * v->cfg.n_classes);
}

int mhim_v2_teacher_forward(mhim_v2 *v, mhim_arena *arena, const float *params, const float *x, int64_t N,
                            const mhim_rng *dropout, const mhim_v2_teacher_out *out) {
    if (N < 1) return mhim_fail("mhim v2 teacher: empty bag (no instance)");
    const size_t mark = mhim_arena_mark(arena);
    const int64_t feat = v->cfg.kind == MHIM_MODEL_DSMIL ? v->cfg.n_classes * MHIM_EMBED_DIM : MHIM_EMBED_DIM;
    float *target = out->target ? out->target : mhim_arena_floats(arena, feat);
    int rc = MHIM_OK;
    switch (v->cfg.kind) {
    case MHIM_MODEL_ABMIL: {
        float *attn = v->cfg.attn2score ? mhim_arena_floats(arena, N) : out->scores;
        mhim_abmil_teacher_forward(target, attn, v->cfg.attn2score ? out->scores : NULL, arena, &v->net.abmil, params,
                                   x, N, dropout);
        break;
    }
    case MHIM_MODEL_TRANSMIL: {
        mhim_transmil_teacher_out t = {.attn_layer = 0, .feat = target};
        if (v->cfg.attn2score)
            t.scores = out->scores;
        else
            t.attn = out->scores;
        rc = mhim_transmil_teacher_forward(&t, arena, &v->net.transmil, params, x, N, NULL, N, dropout);
        break;
    }
    case MHIM_MODEL_DSMIL:
        mhim_dsmil_teacher_forward(target, out->scores, arena, &v->net.dsmil, params, x, N, dropout);
        break;
    }
    mhim_arena_reset(arena, mark);
    return rc;
}

size_t mhim_v2_eval_arena_bytes(const mhim_v2 *v, int64_t n_max) {
    const int64_t N = n_max > 1 ? n_max : 1, k = v->merge.s.k;
    return mhim_v2_head_arena_bytes(v, N + k) + mhim_embed_arena_bytes(&v->embed->cfg, N) +
           mhim_arena_floats_size((N + k) * MHIM_EMBED_DIM) + mhim_merge_arena_bytes(&v->merge.s, N);
}

int mhim_v2_eval_forward(mhim_v2 *v, mhim_arena *arena, const float *params, const float *x, int64_t N, float *logits,
                         float *feat) {
    if (N < 1) return mhim_fail("mhim v2 evaluation: empty bag (no instance)");
    const size_t mark = mhim_arena_mark(arena);
    mhim_embed_cache ec;
    mhim_embed_forward(&ec, arena, v->embed, params, x, N, NULL, N, NULL);
    mhim_v2_head_forward(v, arena, params, ec.h, N, NULL, logits, feat);
    v->cached = 0;
    mhim_arena_reset(arena, mark);
    return MHIM_OK;
}

int mhim_v2_eval_forward_merged(mhim_v2 *v, mhim_arena *arena, const float *params, const float *x, int64_t N,
                                float *logits, float *feat) {
    if (N < 1) return mhim_fail("mhim v2 evaluation (--merge_test): empty bag (no instance)");
    const int64_t D = MHIM_EMBED_DIM, k = v->merge.s.k;
    const size_t mark = mhim_arena_mark(arena);
    mhim_embed_cache ec;
    mhim_embed_forward(&ec, arena, v->embed, params, x, N, NULL, N, NULL);
    /* Merge.eval: concat(h, MCA(LN_m(h), LN_m(G))), no dropout, G untouched */
    float *tok = mhim_arena_floats(arena, (N + k) * D);
    memcpy(tok, ec.h, (size_t)(N * D) * sizeof(float));
    mhim_merge_cache mc;
    mhim_merge_forward(&mc, arena, &v->merge, params, ec.h, N, NULL, NULL, MHIM_V2_MERGE_DROPOUT, tok + N * D);
    mhim_v2_head_forward(v, arena, params, tok, N + k, NULL, logits, feat);
    v->cached = 0;
    mhim_arena_reset(arena, mark);
    return MHIM_OK;
}
