/* The Merge recycling branch (MCA of the global queries over the masked rows), see mhim/ops/merge.h. Per-head
 * products use strided GEMMs (mhim_gemm_ld) on the packed (rows, heads·dim_head) projections. */
#include "mhim/ops/merge.h"

#include <math.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/models/embed.h"
#include "mhim/ops/dropout.h"
#include "mhim/ops/linear.h"
#include "mhim/ops/norm.h"
#include "mhim/ops/softmax.h"
#include "ops/gemm.h"

static const char *const MERGE_KEYS[MHIM_MERGE_SPEC_ROWS] = {
    "merge.global_q_mm",       "merge.global_q",           "merge.norm.weight",          "merge.norm.bias",
    "merge.attn.to_kv.weight", "merge.attn.to_q.weight",   "merge.attn.to_out.0.weight", "merge.attn.to_out.0.bias"};

mhim_merge_shape mhim_merge_shape_default(int64_t k) { return (mhim_merge_shape){MHIM_EMBED_DIM, 8, 64, k}; }

void mhim_merge_param_spec(const mhim_merge_shape *s, mhim_param_spec *rows) {
    const int64_t D = s->dim, IW = s->heads * s->dim_head;
    MHIM_ASSERT(D > 0 && IW > 0 && s->k > 0);
    const int ndim[MHIM_MERGE_SPEC_ROWS] = {3, 3, 1, 1, 2, 2, 2, 1};
    const int64_t shapes[MHIM_MERGE_SPEC_ROWS][3] = {{1, s->k, D}, {1, s->k, D}, {D}, {D}, {2 * IW, D},
                                                     {IW, D},       {D, IW},       {D}};
    for (int i = 0; i < MHIM_MERGE_SPEC_ROWS; i++) {
        rows[i] = (mhim_param_spec){MERGE_KEYS[i], ndim[i], {0}};
        for (int d = 0; d < ndim[i]; d++) rows[i].shape[d] = shapes[i][d];
    }
}

int mhim_merge_bind(mhim_merge *m, const mhim_merge_shape *s, const mhim_param_layout *L) {
    mhim_param_spec rows[MHIM_MERGE_SPEC_ROWS];
    mhim_merge_param_spec(s, rows);
    m->s = *s;
    int64_t *slots[MHIM_MERGE_SPEC_ROWS] = {&m->g, &m->g_alias, &m->norm_w, &m->norm_b,
                                            &m->w_kv, &m->w_q, &m->w_out, &m->b_out};
    for (int i = 0; i < MHIM_MERGE_SPEC_ROWS; i++) {
        int rc = mhim_model_param_offset(slots[i], L, &rows[i]);
        if (rc != MHIM_OK) return rc;
    }
    return MHIM_OK;
}

void mhim_merge_init_params(const mhim_merge *m, float *params, uint64_t seed, uint32_t first_index) {
    const int64_t D = m->s.dim, IW = m->s.heads * m->s.dim_head, kD = m->s.k * D;
    const float bound = (float)sqrt(6.0 / (double)(3 * 16 * 16 + D));
    mhim_init_uniform(params + m->g, kD, bound, seed, first_index);
    memcpy(params + m->g_alias, params + m->g, (size_t)kD * sizeof(float));
    for (int64_t d = 0; d < D; d++) {
        params[m->norm_w + d] = 1.0f;
        params[m->norm_b + d] = 0.0f;
        params[m->b_out + d] = 0.0f;
    }
    mhim_init_xavier_normal(params + m->w_kv, 2 * IW, D, seed, first_index + 4);
    mhim_init_xavier_normal(params + m->w_q, IW, D, seed, first_index + 5);
    mhim_init_xavier_normal(params + m->w_out, D, IW, seed, first_index + 6);
}

size_t mhim_merge_arena_bytes(const mhim_merge_shape *s, int64_t m_max) {
    const int64_t D = s->dim, IW = s->heads * s->dim_head, k = s->k, M = m_max > 0 ? m_max : 0;
    const int64_t hkm = s->heads * k * M;
    size_t b = mhim_arena_floats_size(M * D) + 2 * mhim_arena_floats_size(M);   /* lnx, stats */
    b += mhim_arena_floats_size(k * D) + 2 * mhim_arena_floats_size(k);         /* lng, stats */
    b += mhim_arena_floats_size(M * 2 * IW) + 2 * mhim_arena_floats_size(k * IW); /* kv, q, ctx */
    b += 2 * mhim_arena_floats_size(hkm);                                       /* att, attd */
    /* backward scratch: dz', dctx, dkv, dq, dattd, dlnx, dlng, dG */
    b += 2 * mhim_arena_floats_size(k * D) + mhim_arena_floats_size(M * 2 * IW) + 2 * mhim_arena_floats_size(k * IW);
    b += mhim_arena_floats_size(k * M) + mhim_arena_floats_size(M * D) + 2 * mhim_arena_floats_size(k * D);
    return b;
}

void mhim_merge_forward(mhim_merge_cache *c, mhim_arena *arena, const mhim_merge *m, const float *params,
                        const float *xm, int64_t M, const uint8_t *keep_att, const uint8_t *keep_out, float p,
                        float *z) {
    const int64_t D = m->s.dim, H = m->s.heads, dh = m->s.dim_head, IW = H * dh, k = m->s.k;
    const float scale = (float)(1.0 / sqrt((double)dh));
    MHIM_ASSERT(M >= 0);
    memset(c, 0, sizeof *c);
    c->M = M;
    c->xm = xm;
    c->keep_att = keep_att;
    c->keep_out = keep_out;
    c->lnx = mhim_arena_floats(arena, M * D);
    c->mean_x = mhim_arena_floats(arena, M);
    c->rstd_x = mhim_arena_floats(arena, M);
    c->lng = mhim_arena_floats(arena, k * D);
    c->mean_g = mhim_arena_floats(arena, k);
    c->rstd_g = mhim_arena_floats(arena, k);
    c->kv = mhim_arena_floats(arena, M * 2 * IW);
    c->q = mhim_arena_floats(arena, k * IW);
    c->att = mhim_arena_floats(arena, H * k * M);
    c->attd = mhim_arena_floats(arena, H * k * M);
    c->ctx = mhim_arena_floats(arena, k * IW);

    const float *nw = params + m->norm_w, *nb = params + m->norm_b;
    if (M > 0) mhim_layernorm_forward(c->lnx, c->mean_x, c->rstd_x, xm, nw, nb, M, D);
    mhim_layernorm_forward(c->lng, c->mean_g, c->rstd_g, params + m->g, nw, nb, k, D);
    mhim_linear_forward(c->kv, c->lnx, params + m->w_kv, NULL, M, D, 2 * IW);
    mhim_linear_forward(c->q, c->lng, params + m->w_q, NULL, k, D, IW);
    if (M == 0) {
        memset(c->ctx, 0, (size_t)(k * IW) * sizeof(float)); /* empty key set: zero context */
    } else {
        for (int64_t h = 0; h < H; h++) {
            float *att = c->att + h * k * M, *attd = c->attd + h * k * M;
            mhim_gemm_ld(0, 1, k, M, dh, scale, c->q + h * dh, IW, c->kv + h * dh, 2 * IW, 0.0f, att, M);
            mhim_softmax_rows_forward(att, att, NULL, k, M);
            if (keep_att)
                mhim_dropout_forward(attd, keep_att + h * k * M, att, p, k * M);
            else
                memcpy(attd, att, (size_t)(k * M) * sizeof(float));
            mhim_gemm_ld(0, 0, k, dh, M, 1.0f, attd, M, c->kv + IW + h * dh, 2 * IW, 0.0f, c->ctx + h * dh, IW);
        }
    }
    mhim_linear_forward(z, c->ctx, params + m->w_out, params + m->b_out, k, IW, D);
    if (keep_out) mhim_dropout_forward(z, keep_out, z, p, k * D);
}

void mhim_merge_backward(const mhim_merge *m, const float *params, float *grads, float *dxm, const float *dz, float p,
                         const mhim_merge_cache *c, mhim_arena *arena) {
    const int64_t D = m->s.dim, H = m->s.heads, dh = m->s.dim_head, IW = H * dh, k = m->s.k, M = c->M;
    const float scale = (float)(1.0 / sqrt((double)dh));
    const size_t mark = mhim_arena_mark(arena);
    float *dzp = mhim_arena_floats(arena, k * D), *dctx = mhim_arena_floats(arena, k * IW);
    float *dkv = mhim_arena_floats(arena, M * 2 * IW), *dq = mhim_arena_floats(arena, k * IW);
    float *datt = mhim_arena_floats(arena, k * M), *dlnx = mhim_arena_floats(arena, M * D);
    float *dlng = mhim_arena_floats(arena, k * D), *dg = mhim_arena_floats(arena, k * D);

    if (c->keep_out)
        mhim_dropout_backward(dzp, dz, c->keep_out, p, k * D);
    else
        memcpy(dzp, dz, (size_t)(k * D) * sizeof(float));
    mhim_linear_backward(dctx, grads + m->w_out, grads + m->b_out, dzp, c->ctx, params + m->w_out, k, IW, D);
    memset(dq, 0, (size_t)(k * IW) * sizeof(float));
    for (int64_t h = 0; h < H && M > 0; h++) {
        const float *att = c->att + h * k * M, *attd = c->attd + h * k * M;
        const float *dctx_h = dctx + h * dh, *k_h = c->kv + h * dh, *v_h = c->kv + IW + h * dh;
        /* dV_h = Attdᵀ dctx_h ; dAttd = dctx_h V_hᵀ */
        mhim_gemm_ld(1, 0, M, dh, k, 1.0f, attd, M, dctx_h, IW, 0.0f, dkv + IW + h * dh, 2 * IW);
        mhim_gemm_ld(0, 1, k, M, dh, 1.0f, dctx_h, IW, v_h, 2 * IW, 0.0f, datt, M);
        if (c->keep_att) mhim_dropout_backward(datt, datt, c->keep_att + h * k * M, p, k * M);
        mhim_softmax_rows_backward(datt, datt, att, k, M);
        /* dots = scale · Q_h K_hᵀ */
        mhim_gemm_ld(0, 0, k, dh, M, scale, datt, M, k_h, 2 * IW, 0.0f, dq + h * dh, IW);
        mhim_gemm_ld(1, 0, M, dh, k, scale, datt, M, c->q + h * dh, IW, 0.0f, dkv + h * dh, 2 * IW);
    }
    mhim_linear_backward(dlnx, grads + m->w_kv, NULL, dkv, c->lnx, params + m->w_kv, M, D, 2 * IW);
    mhim_linear_backward(dlng, grads + m->w_q, NULL, dq, c->lng, params + m->w_q, k, D, IW);
    const float *nw = params + m->norm_w;
    if (M > 0)
        mhim_layernorm_backward(dxm, grads + m->norm_w, grads + m->norm_b, dlnx, c->xm, nw, c->mean_x, c->rstd_x, M,
                                D);
    mhim_layernorm_backward(dg, grads + m->norm_w, grads + m->norm_b, dlng, params + m->g, nw, c->mean_g, c->rstd_g, k,
                            D);
    mhim_arena_reset(arena, mark);
}
