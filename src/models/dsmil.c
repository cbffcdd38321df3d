/* DSMIL as MHIM wraps it: parameter spec, binding, initialisation, student forward/backward and teacher
 * (see mhim/models/dsmil.h). */
#include "mhim/models/dsmil.h"

#include <math.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/linear.h"

#define DIM MHIM_EMBED_DIM
#define DQ MHIM_DSMIL_QDIM

static mhim_embed_config embed_config(const mhim_dsmil_config *cfg) {
    return (mhim_embed_config){cfg->input_dim, DIM, cfg->act, cfg->dropout, cfg->version};
}

int mhim_dsmil_config_check(const mhim_dsmil_config *cfg) {
    mhim_embed_config ec = embed_config(cfg);
    int rc = mhim_embed_config_check(&ec);
    if (rc != MHIM_OK) return rc;
    if (cfg->n_classes < 1) return mhim_fail("DSMIL n_classes %lld: expected >= 1", (long long)cfg->n_classes);
    if (cfg->teacher_score != MHIM_DSMIL_SCORE_INSTANCE && cfg->teacher_score != MHIM_DSMIL_SCORE_ATTENTION)
        return mhim_fail("DSMIL teacher score %d: expected instance (0) or attention (1)", (int)cfg->teacher_score);
    return MHIM_OK;
}

int64_t mhim_dsmil_param_spec(const mhim_dsmil_config *cfg, mhim_param_spec *rows) {
    if (!rows) return MHIM_DSMIL_SPEC_ROWS;
    const int64_t C = cfg->n_classes;
    mhim_embed_config ec = embed_config(cfg);
    mhim_embed_param_spec(&ec, rows);
    mhim_param_spec *r = rows + MHIM_EMBED_SPEC_ROWS;
    *r++ = (mhim_param_spec){"online_encoder.i_classifier.0.weight", 2, {C, DIM}};
    *r++ = (mhim_param_spec){"online_encoder.i_classifier.0.bias", 1, {C}};
    *r++ = (mhim_param_spec){"online_encoder.b_classifier.q.0.weight", 2, {DQ, DIM}};
    *r++ = (mhim_param_spec){"online_encoder.b_classifier.q.0.bias", 1, {DQ}};
    *r++ = (mhim_param_spec){"online_encoder.b_classifier.q.2.weight", 2, {DQ, DQ}};
    *r++ = (mhim_param_spec){"online_encoder.b_classifier.q.2.bias", 1, {DQ}};
    *r++ = (mhim_param_spec){"online_encoder.b_classifier.v.1.weight", 2, {DIM, DIM}};
    *r++ = (mhim_param_spec){"online_encoder.b_classifier.v.1.bias", 1, {DIM}};
    *r++ = (mhim_param_spec){"online_encoder.b_classifier.fcc.weight", 3, {C, C, DIM}};
    *r++ = (mhim_param_spec){"online_encoder.b_classifier.fcc.bias", 1, {C}};
    *r++ = (mhim_param_spec){"predictor.weight", 2, {C, DIM}};
    *r++ = (mhim_param_spec){"predictor.bias", 1, {C}};
    MHIM_ASSERT(r - rows == MHIM_DSMIL_SPEC_ROWS);
    return MHIM_DSMIL_SPEC_ROWS;
}

int mhim_dsmil_layout(mhim_param_layout *L, const mhim_dsmil_config *cfg) {
    int rc = mhim_dsmil_config_check(cfg);
    if (rc != MHIM_OK) return rc;
    mhim_param_spec rows[MHIM_DSMIL_SPEC_ROWS];
    return mhim_param_layout_init(L, rows, mhim_dsmil_param_spec(cfg, rows));
}

/* Pointers to the offset fields after the front end, in spec order (as in mhim_dsmil_init_params). */
static void offset_slots(mhim_dsmil *m, int64_t **slots) {
    int64_t *all[] = {&m->w_i,  &m->b_i,  &m->w_q1,  &m->b_q1,  &m->w_q2,   &m->b_q2,
                      &m->w_v,  &m->b_v,  &m->w_fcc, &m->b_fcc, &m->pred_w, &m->pred_b};
    memcpy(slots, all, sizeof all);
}

int mhim_dsmil_bind(mhim_dsmil *m, const mhim_dsmil_config *cfg, const mhim_param_layout *L) {
    int rc = mhim_dsmil_config_check(cfg);
    if (rc != MHIM_OK) return rc;
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    mhim_embed_config ec = embed_config(cfg);
    rc = mhim_embed_bind(&m->embed, &ec, L);
    mhim_param_spec rows[MHIM_DSMIL_SPEC_ROWS];
    mhim_dsmil_param_spec(cfg, rows);
    int64_t *slots[MHIM_DSMIL_SPEC_ROWS - MHIM_EMBED_SPEC_ROWS];
    offset_slots(m, slots);
    for (int64_t i = MHIM_EMBED_SPEC_ROWS; i < MHIM_DSMIL_SPEC_ROWS && rc == MHIM_OK; i++)
        rc = mhim_model_param_offset(slots[i - MHIM_EMBED_SPEC_ROWS], L, &rows[i]);
    return rc;
}

void mhim_dsmil_init_params(const mhim_dsmil *m, float *params, uint64_t seed) {
    mhim_param_spec rows[MHIM_DSMIL_SPEC_ROWS];
    mhim_dsmil_param_spec(&m->cfg, rows);
    const int64_t offsets[MHIM_DSMIL_SPEC_ROWS - MHIM_EMBED_SPEC_ROWS] = {
        m->w_i, m->b_i, m->w_q1, m->b_q1, m->w_q2, m->b_q2, m->w_v, m->b_v, m->w_fcc, m->b_fcc, m->pred_w, m->pred_b};
    mhim_embed_init_params(&m->embed, params, seed, 0);
    const float conv_bound = (float)(1.0 / sqrt((double)(m->cfg.n_classes * DIM)));
    for (int64_t i = MHIM_EMBED_SPEC_ROWS; i < MHIM_DSMIL_SPEC_ROWS; i++) {
        const mhim_param_spec *r = &rows[i];
        float *t = params + offsets[i - MHIM_EMBED_SPEC_ROWS];
        int64_t numel = 1;
        for (int d = 0; d < r->ndim; d++) numel *= r->shape[d];
        if (strstr(r->name, ".fcc."))
            mhim_init_uniform(t, numel, conv_bound, seed, (uint32_t)i); /* Conv1d keeps PyTorch's default init */
        else if (r->ndim == 2)
            mhim_init_xavier_normal(t, r->shape[0], r->shape[1], seed, (uint32_t)i);
        else
            memset(t, 0, (size_t)numel * sizeof(float));
    }
}

size_t mhim_dsmil_arena_bytes(const mhim_dsmil_config *cfg, int64_t n_max) {
    mhim_embed_config ec = embed_config(cfg);
    const int64_t C = cfg->n_classes;
    size_t bytes = mhim_embed_arena_bytes(&ec, n_max);
    bytes += mhim_arena_floats_size(mhim_dsmil_cache_floats(n_max, C, DQ, DIM));
    bytes += mhim_arena_align((size_t)C * sizeof(int64_t)) + 2 * mhim_arena_floats_size(C);
    /* backward: dh and the aggregator scratch */
    bytes += mhim_arena_floats_size(n_max * DIM);
    bytes += mhim_arena_floats_size(mhim_dsmil_backward_scratch_floats(n_max, C, DQ, DIM));
    return bytes;
}

void mhim_dsmil_head_forward(mhim_dsmil_model_cache *c, mhim_arena *arena, const mhim_dsmil *m, const float *params,
                             const float *h, int64_t n) {
    const int64_t C = m->cfg.n_classes;
    MHIM_ASSERT(n >= 1);
    memset(c, 0, sizeof *c);
    c->h = h;
    c->n = n;
    float *buf = mhim_arena_floats(arena, mhim_dsmil_cache_floats(n, C, DQ, DIM));
    int64_t *crit = mhim_arena_i64(arena, C);
    mhim_dsmil_cache_bind(&c->agg, buf, crit, n, C, DQ, DIM);
    c->bag_logit = mhim_arena_floats(arena, C);
    c->max_logit = mhim_arena_floats(arena, C);
    const float *p = params;
    mhim_dsmil_forward(c->bag_logit, c->max_logit, &c->agg, h, p + m->w_i, p + m->b_i, p + m->w_v, p + m->b_v,
                       p + m->w_q1, p + m->b_q1, p + m->w_q2, p + m->b_q2, p + m->w_fcc, p + m->b_fcc, n, C, DQ, DIM);
}

void mhim_dsmil_head_backward(const mhim_dsmil *m, const float *params, float *grads, float *dh,
                              const float *d_bag_logit, const float *d_max_logit, const float *d_B,
                              const mhim_dsmil_model_cache *c, mhim_arena *arena) {
    const int64_t n = c->n, C = m->cfg.n_classes;
    size_t mark = mhim_arena_mark(arena);
    float *scratch = mhim_arena_floats(arena, mhim_dsmil_backward_scratch_floats(n, C, DQ, DIM));
    const float *p = params;
    float *g = grads;
    mhim_dsmil_backward(dh, g + m->w_i, g + m->b_i, g + m->w_v, g + m->b_v, g + m->w_q1, g + m->b_q1, g + m->w_q2,
                        g + m->b_q2, g + m->w_fcc, g + m->b_fcc, d_bag_logit, d_max_logit, d_B, &c->agg, scratch,
                        c->h, p + m->w_i, p + m->w_v, p + m->w_q1, p + m->w_q2, p + m->w_fcc, n, C, DQ, DIM);
    mhim_arena_reset(arena, mark);
}

void mhim_dsmil_model_forward(mhim_dsmil_model_cache *c, mhim_arena *arena, const mhim_dsmil *m,
                              const float *params, const float *x, int64_t N, const int64_t *idx, int64_t n,
                              const mhim_rng *dropout_stream) {
    mhim_embed_cache emb;
    mhim_embed_forward(&emb, arena, &m->embed, params, x, N, idx, n, dropout_stream);
    mhim_dsmil_head_forward(c, arena, m, params, emb.h, n);
    c->emb = emb;
}

void mhim_dsmil_model_backward(const mhim_dsmil *m, const float *params, float *grads, const float *d_bag_logit,
                               const float *d_max_logit, const float *d_B, const mhim_dsmil_model_cache *c,
                               mhim_arena *arena) {
    size_t mark = mhim_arena_mark(arena);
    float *dh = mhim_arena_floats(arena, c->n * DIM);
    mhim_dsmil_head_backward(m, params, grads, dh, d_bag_logit, d_max_logit, d_B, c, arena);
    mhim_embed_backward(&m->embed, grads, dh, &c->emb);
    mhim_arena_reset(arena, mark);
}

void mhim_dsmil_teacher_forward(float *B, float *score, mhim_arena *arena, const mhim_dsmil *m, const float *params,
                                const float *x, int64_t N, const mhim_rng *dropout_stream) {
    const int64_t C = m->cfg.n_classes;
    size_t mark = mhim_arena_mark(arena);
    mhim_dsmil_model_cache c;
    mhim_dsmil_model_forward(&c, arena, m, params, x, N, NULL, N, dropout_stream);
    memcpy(B, c.agg.bag, (size_t)(C * DIM) * sizeof(float));
    /* max over classes of the instance logits or of the attention: the same row-maximum */
    mhim_dsmil_instance_score(score, m->cfg.teacher_score == MHIM_DSMIL_SCORE_INSTANCE ? c.agg.inst : c.agg.attn, N,
                              C);
    mhim_arena_reset(arena, mark);
}
