/* The model registry: one interface over ABMIL, TransMIL and DSMIL (see mhim/model.h). */
#include "mhim/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/models/abmil.h"
#include "mhim/models/dsmil.h"
#include "mhim/models/embed.h"
#include "mhim/models/transmil.h"
#include "mhim/ops/loss.h"
#include "mhim/ops/merge.h"
#include "mhim/rng.h"
#include "mhim/v2.h"
#include "mhim/models/network_configs.h"

#define MAX_CLASSES 64 /* stack buffers of the loss; far above any MIL task */

struct mhim_model {
    mhim_model_config cfg;
    mhim_param_layout layout;
    union {
        mhim_abmil abmil;
        mhim_transmil transmil;
        mhim_dsmil dsmil;
    } net;
    union {
        mhim_abmil_cache abmil;
        mhim_transmil_cache transmil;
        mhim_dsmil_model_cache dsmil;
    } cache;
    int cached; /* a student forward ran since the last backward */
};

mhim_abmil_config mhim_registry_abmil_config(const mhim_model_config *c) {
    return (mhim_abmil_config){c->version, c->input_dim, c->n_classes, c->act, c->dropout, c->da_act, c->gated};
}

mhim_transmil_config mhim_registry_transmil_config(const mhim_model_config *c) {
    mhim_transmil_config t = mhim_transmil_config_default(c->version, c->input_dim, c->n_classes, c->heads, c->act);
    t.embed.dropout = c->dropout;
    return t;
}

mhim_dsmil_config mhim_registry_dsmil_config(const mhim_model_config *c) {
    mhim_dsmil_score score =
        c->version == 2 && !c->attn2score ? MHIM_DSMIL_SCORE_ATTENTION : MHIM_DSMIL_SCORE_INSTANCE;
    return (mhim_dsmil_config){c->version, c->input_dim, c->n_classes, c->act, c->dropout, score};
}

/* Build the layout from the base network's spec rows, preceded by the Merge rows when merge_k > 0 (the original
 * state_dict order: merge.* first). */
static int layout_with_merge(mhim_param_layout *L, const mhim_model_config *mc, const mhim_param_spec *base,
                             int64_t count) {
    if (mc->merge_k <= 0) return mhim_param_layout_init(L, base, count);
    mhim_param_spec rows[MHIM_MERGE_SPEC_ROWS + MHIM_TRANSMIL_SPEC_ROWS];
    MHIM_ASSERT(count <= MHIM_TRANSMIL_SPEC_ROWS);
    mhim_merge_shape ms = mhim_merge_shape_default(mc->merge_k);
    mhim_merge_param_spec(&ms, rows);
    memcpy(rows + MHIM_MERGE_SPEC_ROWS, base, (size_t)count * sizeof *rows);
    return mhim_param_layout_init(L, rows, MHIM_MERGE_SPEC_ROWS + count);
}

int mhim_model_create(mhim_model **out, const mhim_model_config *mc) {
    *out = NULL;
    if (mc->n_classes < 1 || mc->n_classes > MAX_CLASSES)
        return mhim_fail("%s: n_classes %lld: expected 1..%d", mhim_model_kind_name(mc->kind),
                         (long long)mc->n_classes, MAX_CLASSES);
    if (mc->merge_k < 0 || (mc->merge_k > 0 && mc->version != 2))
        return mhim_fail("%s: merge_k %lld: the Merge module is MHIM-v2 only (version 2, merge_k >= 1)",
                         mhim_model_kind_name(mc->kind), (long long)mc->merge_k);
    mhim_model *m = mhim_calloc(1, sizeof *m);
    m->cfg = *mc;
    mhim_param_spec rows[MHIM_TRANSMIL_SPEC_ROWS];
    int rc;
    switch (mc->kind) {
    case MHIM_MODEL_ABMIL: {
        mhim_abmil_config c = mhim_registry_abmil_config(mc);
        rc = mhim_abmil_config_check(&c);
        if (rc == MHIM_OK) rc = layout_with_merge(&m->layout, mc, rows, mhim_abmil_param_spec(&c, rows));
        if (rc == MHIM_OK) rc = mhim_abmil_bind(&m->net.abmil, &c, &m->layout);
        break;
    }
    case MHIM_MODEL_TRANSMIL: {
        mhim_transmil_config c = mhim_registry_transmil_config(mc);
        rc = mhim_transmil_config_check(&c);
        if (rc == MHIM_OK) {
            mhim_transmil_param_spec(&c, rows);
            rc = layout_with_merge(&m->layout, mc, rows, MHIM_TRANSMIL_SPEC_ROWS);
        }
        if (rc == MHIM_OK) rc = mhim_transmil_bind(&m->net.transmil, &c, &m->layout);
        break;
    }
    case MHIM_MODEL_DSMIL: {
        mhim_dsmil_config c = mhim_registry_dsmil_config(mc);
        rc = mhim_dsmil_config_check(&c);
        if (rc == MHIM_OK) rc = layout_with_merge(&m->layout, mc, rows, mhim_dsmil_param_spec(&c, rows));
        if (rc == MHIM_OK) rc = mhim_dsmil_bind(&m->net.dsmil, &c, &m->layout);
        break;
    }
    default: rc = mhim_fail("model kind %d: expected abmil, transmil or dsmil", (int)mc->kind);
    }
    if (rc != MHIM_OK) {
        mhim_model_free(m);
        return rc;
    }
    *out = m;
    return MHIM_OK;
}

void mhim_model_free(mhim_model *m) {
    if (!m) return;
    mhim_param_layout_free(&m->layout);
    free(m);
}

const mhim_model_config *mhim_model_get_config(const mhim_model *m) { return &m->cfg; }
const mhim_param_layout *mhim_model_layout(const mhim_model *m) { return &m->layout; }

uint64_t mhim_model_network_init_seed(const mhim_model_config *mc, uint64_t seed) {
    if (mc->merge_k <= 0) return seed;
    uint64_t state = seed; /* one SplitMix64 step: a key unrelated to seed (and to any nearby seed) */
    return mhim_splitmix64(&state);
}

void mhim_model_init_params(const mhim_model *m, float *params, uint64_t seed) {
    const uint64_t net = mhim_model_network_init_seed(&m->cfg, seed);
    switch (m->cfg.kind) {
    case MHIM_MODEL_ABMIL: mhim_abmil_init_params(&m->net.abmil, params, net); break;
    case MHIM_MODEL_TRANSMIL: mhim_transmil_init_params(&m->net.transmil, params, net); break;
    case MHIM_MODEL_DSMIL: mhim_dsmil_init_params(&m->net.dsmil, params, net); break;
    }
    if (m->cfg.merge_k > 0) mhim_v2_init_merge_params(&m->layout, params, seed);
}

int64_t mhim_model_feat_size(const mhim_model *m) {
    return m->cfg.kind == MHIM_MODEL_DSMIL ? m->cfg.n_classes * MHIM_EMBED_DIM : MHIM_EMBED_DIM;
}

int64_t mhim_model_map_rows(const mhim_model *m) { return m->cfg.kind == MHIM_MODEL_TRANSMIL ? m->cfg.heads : 1; }

size_t mhim_model_train_arena_bytes(const mhim_model *m, int64_t n_max) {
    switch (m->cfg.kind) {
    case MHIM_MODEL_ABMIL: return mhim_abmil_arena_bytes(&m->net.abmil.cfg, n_max);
    case MHIM_MODEL_TRANSMIL: return mhim_transmil_arena_bytes(&m->net.transmil.cfg, n_max);
    case MHIM_MODEL_DSMIL: return mhim_dsmil_arena_bytes(&m->net.dsmil.cfg, n_max);
    }
    return 0;
}

size_t mhim_model_predict_arena_bytes(const mhim_model *m, int64_t n_max) {
    if (m->cfg.kind == MHIM_MODEL_TRANSMIL) return mhim_transmil_eval_arena_bytes(&m->net.transmil.cfg, n_max);
    return mhim_model_train_arena_bytes(m, n_max);
}

int mhim_model_forward(mhim_model *m, mhim_arena *arena, const float *params, const float *x, int64_t N,
                       const int64_t *idx, int64_t n, const mhim_rng *dropout, const mhim_model_out *out) {
    const int64_t C = m->cfg.n_classes;
    if (n < 1) return mhim_fail("%s forward: the bag has no instance left", mhim_model_kind_name(m->cfg.kind));
    m->cached = 0;
    switch (m->cfg.kind) {
    case MHIM_MODEL_ABMIL: {
        mhim_abmil_cache *c = &m->cache.abmil;
        mhim_abmil_forward(c, arena, &m->net.abmil, params, x, N, idx, n, dropout);
        memcpy(out->logits, c->logits, (size_t)C * sizeof(float));
        if (out->feat) memcpy(out->feat, c->z, MHIM_EMBED_DIM * sizeof(float));
        break;
    }
    case MHIM_MODEL_TRANSMIL: {
        int rc = mhim_transmil_forward(&m->cache.transmil, arena, &m->net.transmil, params, x, N, idx, n, dropout,
                                       out->logits, out->feat);
        if (rc != MHIM_OK) return rc;
        break;
    }
    case MHIM_MODEL_DSMIL: {
        mhim_dsmil_model_cache *c = &m->cache.dsmil;
        mhim_dsmil_model_forward(c, arena, &m->net.dsmil, params, x, N, idx, n, dropout);
        memcpy(out->logits, c->bag_logit, (size_t)C * sizeof(float));
        if (out->max_logits) memcpy(out->max_logits, c->max_logit, (size_t)C * sizeof(float));
        if (out->feat) memcpy(out->feat, c->agg.bag, (size_t)(C * MHIM_EMBED_DIM) * sizeof(float));
        break;
    }
    }
    m->cached = 1;
    return MHIM_OK;
}

void mhim_model_backward(mhim_model *m, mhim_arena *arena, const float *params, float *grads, const float *d_logits,
                         const float *d_max_logits, const float *d_feat) {
    MHIM_ASSERT(m->cached);
    switch (m->cfg.kind) {
    case MHIM_MODEL_ABMIL:
        mhim_abmil_backward(&m->net.abmil, params, grads, d_logits, d_feat, &m->cache.abmil, arena);
        break;
    case MHIM_MODEL_TRANSMIL:
        mhim_transmil_backward(&m->net.transmil, grads, params, &m->cache.transmil, arena, d_logits, d_feat);
        break;
    case MHIM_MODEL_DSMIL:
        mhim_dsmil_model_backward(&m->net.dsmil, params, grads, d_logits, d_max_logits, d_feat, &m->cache.dsmil,
                                  arena);
        break;
    }
    m->cached = 0;
}

float mhim_model_class_loss(const mhim_model *m, const mhim_model_out *out, int64_t y, float weight, float *d_logits,
                            float *d_max_logits) {
    const int64_t C = m->cfg.n_classes;
    MHIM_ASSERT(y >= 0 && y < C);
    if (m->cfg.kind == MHIM_MODEL_DSMIL)
        return mhim_dsmil_loss(d_logits, d_max_logits, m->cfg.version, out->logits, out->max_logits, y, weight, C);
    float probs[MAX_CLASSES];
    float loss = mhim_cross_entropy_forward(probs, out->logits, &y, 1, C);
    mhim_cross_entropy_backward(d_logits, probs, &y, weight, 1, C);
    return loss;
}

void mhim_model_probs(const mhim_model *m, const mhim_model_out *out, float *probs) {
    const int64_t C = m->cfg.n_classes;
    if (m->cfg.kind == MHIM_MODEL_DSMIL) {
        mhim_dsmil_probs(probs, m->cfg.version, out->logits, out->max_logits, C);
        return;
    }
    double mx = out->logits[0], sum = 0;
    for (int64_t c = 1; c < C; c++) mx = fmax(mx, out->logits[c]);
    for (int64_t c = 0; c < C; c++) sum += exp(out->logits[c] - mx);
    for (int64_t c = 0; c < C; c++) probs[c] = (float)(exp(out->logits[c] - mx) / sum);
}

int mhim_model_predict(mhim_model *m, mhim_arena *arena, const float *params, const float *x, int64_t N,
                       const mhim_model_out *out, float *map) {
    if (N < 1) return mhim_fail("%s predict: empty bag", mhim_model_kind_name(m->cfg.kind));
    const int64_t C = m->cfg.n_classes;
    size_t mark = mhim_arena_mark(arena);
    int rc = MHIM_OK;
    if (m->cfg.kind == MHIM_MODEL_TRANSMIL) {
        mhim_transmil_teacher_out t = {.attn_layer = 0, .feat = out->feat, .logits = out->logits, .attn = map};
        rc = mhim_transmil_eval_forward(&t, arena, &m->net.transmil, params, x, N, NULL, N);
    } else {
        rc = mhim_model_forward(m, arena, params, x, N, NULL, N, NULL, out);
        if (rc == MHIM_OK && map && m->cfg.kind == MHIM_MODEL_ABMIL) memcpy(map, m->cache.abmil.attn, (size_t)N * sizeof(float));
        if (rc == MHIM_OK && map && m->cfg.kind == MHIM_MODEL_DSMIL) {
            const float *inst = m->cache.dsmil.agg.inst;
            for (int64_t i = 0; i < N; i++) {
                float best = inst[i * C];
                for (int64_t c = 1; c < C; c++) best = fmaxf(best, inst[i * C + c]);
                map[i] = best;
            }
        }
        m->cached = 0;
    }
    mhim_arena_reset(arena, mark);
    return rc;
}
