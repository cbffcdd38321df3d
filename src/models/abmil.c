/* ABMIL as MHIM wraps it: parameter spec, binding, initialisation, student forward and backward
 * (see mhim/models/abmil.h). */
#include "mhim/models/abmil.h"

#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/attnpool.h"
#include "mhim/ops/linear.h"
#include "mhim/ops/softmax.h"

#define L_HID MHIM_ABMIL_HIDDEN
#define DIM MHIM_EMBED_DIM

static mhim_embed_config embed_config(const mhim_abmil_config *cfg) {
    return (mhim_embed_config){cfg->input_dim, DIM, cfg->act, cfg->dropout, cfg->version};
}

int mhim_abmil_config_check(const mhim_abmil_config *cfg) {
    mhim_embed_config ec = embed_config(cfg);
    int rc = mhim_embed_config_check(&ec);
    if (rc != MHIM_OK) return rc;
    if (cfg->n_classes < 1)
        return mhim_fail("ABMIL n_classes %lld: expected >= 1", (long long)cfg->n_classes);
    if (cfg->da_act != MHIM_ACT_RELU && cfg->da_act != MHIM_ACT_GELU && cfg->da_act != MHIM_ACT_TANH)
        return mhim_fail("ABMIL da_act: expected relu, gelu or tanh");
    if (cfg->gated != 0 && cfg->gated != 1) return mhim_fail("ABMIL gated %d: expected 0 or 1", cfg->gated);
    return MHIM_OK;
}

int64_t mhim_abmil_param_spec(const mhim_abmil_config *cfg, mhim_param_spec *rows) {
    mhim_param_spec all[MHIM_ABMIL_MAX_ROWS];
    mhim_embed_config ec = embed_config(cfg);
    mhim_embed_param_spec(&ec, all);
    int64_t k = MHIM_EMBED_SPEC_ROWS;
    if (cfg->gated) {
        all[k++] = (mhim_param_spec){"online_encoder.attention.attention_a.0.weight", 2, {L_HID, DIM}};
        all[k++] = (mhim_param_spec){"online_encoder.attention.attention_b.0.weight", 2, {L_HID, DIM}};
        all[k++] = (mhim_param_spec){"online_encoder.attention.attention_c.weight", 2, {1, L_HID}};
    } else {
        all[k++] = (mhim_param_spec){"online_encoder.attention.attention.0.weight", 2, {L_HID, DIM}};
        all[k++] = (mhim_param_spec){"online_encoder.attention.attention.2.weight", 2, {1, L_HID}};
    }
    all[k++] = (mhim_param_spec){"predictor.weight", 2, {cfg->n_classes, DIM}};
    all[k++] = (mhim_param_spec){"predictor.bias", 1, {cfg->n_classes}};
    if (rows) memcpy(rows, all, (size_t)k * sizeof *rows);
    return k;
}

int mhim_abmil_layout(mhim_param_layout *L, const mhim_abmil_config *cfg) {
    int rc = mhim_abmil_config_check(cfg);
    if (rc != MHIM_OK) return rc;
    mhim_param_spec rows[MHIM_ABMIL_MAX_ROWS];
    int64_t count = mhim_abmil_param_spec(cfg, rows);
    return mhim_param_layout_init(L, rows, count);
}

int mhim_abmil_bind(mhim_abmil *m, const mhim_abmil_config *cfg, const mhim_param_layout *L) {
    int rc = mhim_abmil_config_check(cfg);
    if (rc != MHIM_OK) return rc;
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->w1 = m->w2 = m->wa = m->wb = m->wc = -1;
    mhim_embed_config ec = embed_config(cfg);
    rc = mhim_embed_bind(&m->embed, &ec, L);
    mhim_param_spec rows[MHIM_ABMIL_MAX_ROWS];
    int64_t count = mhim_abmil_param_spec(cfg, rows), k = MHIM_EMBED_SPEC_ROWS;
    int64_t *slots[MHIM_ABMIL_MAX_ROWS] = {0};
    if (cfg->gated) {
        slots[k] = &m->wa, slots[k + 1] = &m->wb, slots[k + 2] = &m->wc;
        k += 3;
    } else {
        slots[k] = &m->w1, slots[k + 1] = &m->w2;
        k += 2;
    }
    slots[k] = &m->pred_w, slots[k + 1] = &m->pred_b;
    for (int64_t i = MHIM_EMBED_SPEC_ROWS; i < count && rc == MHIM_OK; i++)
        rc = mhim_model_param_offset(slots[i], L, &rows[i]);
    return rc;
}

void mhim_abmil_init_params(const mhim_abmil *m, float *params, uint64_t seed) {
    mhim_param_spec rows[MHIM_ABMIL_MAX_ROWS];
    int64_t count = mhim_abmil_param_spec(&m->cfg, rows);
    mhim_embed_init_params(&m->embed, params, seed, 0);
    /* the rows after the front end are linear weights in spec order, then the predictor bias */
    const int64_t gated[] = {m->wa, m->wb, m->wc, m->pred_w}, plain[] = {m->w1, m->w2, m->pred_w};
    const int64_t *weights = m->cfg.gated ? gated : plain;
    for (int64_t i = MHIM_EMBED_SPEC_ROWS; i < count - 1; i++)
        mhim_init_xavier_normal(params + weights[i - MHIM_EMBED_SPEC_ROWS], rows[i].shape[0], rows[i].shape[1], seed,
                                (uint32_t)i);
    memset(params + m->pred_b, 0, (size_t)m->cfg.n_classes * sizeof(float));
}

size_t mhim_abmil_arena_bytes(const mhim_abmil_config *cfg, int64_t n_max) {
    mhim_embed_config ec = embed_config(cfg);
    int64_t C = cfg->n_classes;
    size_t bytes = mhim_embed_arena_bytes(&ec, n_max);
    bytes += 4 * mhim_arena_floats_size(n_max * L_HID);           /* score caches (gated: 4, plain: 2) */
    bytes += 2 * mhim_arena_floats_size(n_max);                    /* scores, attn */
    bytes += mhim_arena_floats_size(DIM) + mhim_arena_floats_size(C); /* z, logits */
    /* backward (or teacher scratch): dh, score-network scratch, dA, dz */
    bytes += mhim_arena_floats_size(n_max * DIM) + mhim_arena_floats_size(2 * n_max * L_HID);
    bytes += mhim_arena_floats_size(n_max) + mhim_arena_floats_size(DIM);
    bytes += mhim_arena_floats_size(n_max * (C > 1 ? C : 1)); /* attn2score scratch */
    return bytes;
}

void mhim_abmil_head_forward(mhim_abmil_cache *c, mhim_arena *arena, const mhim_abmil *m, const float *params,
                             const float *h, int64_t n) {
    memset(c, 0, sizeof *c);
    c->n = n;
    c->h = h;
    const mhim_act act = m->cfg.da_act;
    const int keep_pre = mhim_act_needs_input(act);
    c->scores = mhim_arena_floats(arena, n);
    if (m->cfg.gated) {
        c->ga_pre = keep_pre ? mhim_arena_floats(arena, n * L_HID) : NULL;
        c->ga = mhim_arena_floats(arena, n * L_HID);
        c->gb = mhim_arena_floats(arena, n * L_HID);
        c->gg = mhim_arena_floats(arena, n * L_HID);
        mhim_gated_scores_forward(c->scores, c->ga_pre, c->ga, c->gb, c->gg, h, params + m->wa, NULL,
                                  params + m->wb, NULL, params + m->wc, NULL, act, n, DIM, L_HID, 1);
    } else {
        c->pre = keep_pre ? mhim_arena_floats(arena, n * L_HID) : NULL;
        c->hid = mhim_arena_floats(arena, n * L_HID);
        mhim_abmil_scores_forward(c->scores, c->pre, c->hid, h, params + m->w1, NULL, params + m->w2, NULL, act, n,
                                  DIM, L_HID, 1);
    }
    c->attn = mhim_arena_floats(arena, n);
    mhim_softmax_instances_forward(c->attn, c->scores, NULL, n, 1);
    c->z = mhim_arena_floats(arena, DIM);
    mhim_attnpool_forward(c->z, c->attn, h, n, 1, DIM);
    c->logits = mhim_arena_floats(arena, m->cfg.n_classes);
    mhim_linear_forward(c->logits, c->z, params + m->pred_w, params + m->pred_b, 1, DIM, m->cfg.n_classes);
}

void mhim_abmil_head_backward(const mhim_abmil *m, const float *params, float *grads, float *dh,
                              const float *d_logits, const float *d_z, const mhim_abmil_cache *c, mhim_arena *arena) {
    const int64_t n = c->n, C = m->cfg.n_classes;
    const float *h = c->h;
    size_t mark = mhim_arena_mark(arena);
    float *dz = mhim_arena_floats(arena, DIM);
    memset(dz, 0, DIM * sizeof(float));
    if (d_logits)
        mhim_linear_backward(dz, grads + m->pred_w, grads + m->pred_b, d_logits, c->z, params + m->pred_w, 1, DIM, C);
    if (d_z)
        for (int64_t j = 0; j < DIM; j++) dz[j] += d_z[j];
    float *dA = mhim_arena_floats(arena, n);
    mhim_attnpool_backward(dA, dh, dz, c->attn, h, n, 1, DIM);
    mhim_softmax_instances_backward(dA, dA, c->attn, n, 1); /* dA becomes d scores */
    if (m->cfg.gated) {
        float *scratch = mhim_arena_floats(arena, 2 * n * L_HID);
        mhim_gated_scores_backward_acc(dh, grads + m->wa, NULL, grads + m->wb, NULL, grads + m->wc, NULL, scratch, dA,
                                       h, c->ga_pre, c->ga, c->gb, c->gg, params + m->wa, params + m->wb,
                                       params + m->wc, m->cfg.da_act, n, DIM, L_HID, 1);
    } else {
        float *scratch = mhim_arena_floats(arena, n * L_HID);
        mhim_abmil_scores_backward_acc(dh, grads + m->w1, NULL, grads + m->w2, NULL, scratch, dA, h, c->pre, c->hid,
                                       params + m->w1, params + m->w2, m->cfg.da_act, n, DIM, L_HID, 1);
    }
    mhim_arena_reset(arena, mark);
}

void mhim_abmil_forward(mhim_abmil_cache *c, mhim_arena *arena, const mhim_abmil *m, const float *params,
                        const float *x, int64_t N, const int64_t *idx, int64_t n, const mhim_rng *dropout_stream) {
    mhim_embed_cache emb;
    mhim_embed_forward(&emb, arena, &m->embed, params, x, N, idx, n, dropout_stream);
    mhim_abmil_head_forward(c, arena, m, params, emb.h, n);
    c->emb = emb;
}

void mhim_abmil_backward(const mhim_abmil *m, const float *params, float *grads, const float *d_logits,
                         const float *d_z, const mhim_abmil_cache *c, mhim_arena *arena) {
    size_t mark = mhim_arena_mark(arena);
    float *dh = mhim_arena_floats(arena, c->n * DIM);
    mhim_abmil_head_backward(m, params, grads, dh, d_logits, d_z, c, arena);
    mhim_embed_backward(&m->embed, grads, dh, &c->emb);
    mhim_arena_reset(arena, mark);
}
