/* ABMIL on the GPU (see mhim/cuda_model.h): the front end, the attention score network (plain or gated), instance
 * softmax, attention pooling and the predictor, forward and backward from the device op table, in the order of
 * src/models/abmil.c. */
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/cuda_model.h"
#include "mhim/models/abmil.h"
#include "mhim/models/network_configs.h"
#include "model_embed.h"

#define L_HID MHIM_ABMIL_HIDDEN
#define DIM MHIM_EMBED_DIM

struct mhim_cuda_abmil {
    mhim_abmil m;               /* configuration and offsets (bound on the CPU model's layout) */
    mhim_cuda_embed_cache emb;  /* caches of the last forward */
    int64_t n;
    const float *h;
    float *pre, *hid, *ga_pre, *ga, *gb, *gg, *scores, *attn, *z;
    int cached;                 /* a forward ran since the last backward */
};

int mhim_cuda_abmil_create(mhim_cuda_abmil **out, const mhim_model *cpu_model) {
    *out = NULL;
    const mhim_model_config *c = mhim_model_get_config(cpu_model);
    if (c->kind != MHIM_MODEL_ABMIL)
        return mhim_fail("GPU ABMIL: the model is %s, expected abmil", mhim_model_kind_name(c->kind));
    mhim_cuda_abmil *net = mhim_calloc(1, sizeof *net);
    mhim_abmil_config a = mhim_registry_abmil_config(c);
    int rc = mhim_abmil_bind(&net->m, &a, mhim_model_layout(cpu_model));
    if (rc != MHIM_OK) {
        free(net);
        return rc;
    }
    *out = net;
    return MHIM_OK;
}

void mhim_cuda_abmil_free(mhim_cuda_abmil *net) { free(net); }

size_t mhim_cuda_abmil_arena_bytes(const mhim_cuda_abmil *net, int64_t n_max) {
    const int64_t C = net->m.cfg.n_classes;
    size_t bytes = mhim_cuda_embed_arena_bytes(&net->m.embed, n_max);
    bytes += 4 * mhim_cuda_block_bytes(n_max * L_HID); /* score caches (gated: 4, plain: 2) */
    /* scores, attn, z, predict logits */
    bytes += 2 * mhim_cuda_block_bytes(n_max) + mhim_cuda_block_bytes(DIM) + mhim_cuda_block_bytes(C);
    /* backward: dh, dz, dA, score-network scratch */
    bytes += mhim_cuda_block_bytes(n_max * DIM) + mhim_cuda_block_bytes(DIM) + mhim_cuda_block_bytes(n_max);
    bytes += mhim_cuda_block_bytes(2 * n_max * L_HID);
    return bytes;
}

int mhim_cuda_abmil_forward(mhim_cuda_abmil *net, mhim_cuda_ctx *ctx, const float *params, const float *x, int64_t N,
                            const int64_t *idx, int64_t n, const mhim_rng *dropout, float *logits, float *max_logits,
                            float *feat) {
    (void)max_logits; /* ABMIL has no max-instance logits */
    const mhim_abmil *m = &net->m;
    if (n < 1 || N < 1 || (!idx && n != N))
        return mhim_fail("GPU ABMIL forward: %lld kept of %lld instances (expected 1 <= kept, and kept == instances "
                         "without an index list)", (long long)n, (long long)N);
    const mhim_act act = m->cfg.da_act;
    const int keep_pre = mhim_act_needs_input(act);
    mhim_cuda_embed_forward(&net->emb, ctx, &m->embed, params, x, N, idx, n, dropout);
    net->n = n;
    net->h = net->emb.h;
    net->pre = net->hid = net->ga_pre = net->ga = net->gb = net->gg = NULL;
    net->scores = mhim_cuda_floats(ctx, n);
    if (m->cfg.gated) {
        net->ga_pre = keep_pre ? mhim_cuda_floats(ctx, n * L_HID) : NULL;
        net->ga = mhim_cuda_floats(ctx, n * L_HID);
        net->gb = mhim_cuda_floats(ctx, n * L_HID);
        net->gg = mhim_cuda_floats(ctx, n * L_HID);
        mhim_cuda_gated_scores_forward(ctx, net->scores, net->ga_pre, net->ga, net->gb, net->gg, net->h,
                                       params + m->wa, NULL, params + m->wb, NULL, params + m->wc, NULL, act, n, DIM,
                                       L_HID, 1);
    } else {
        net->pre = keep_pre ? mhim_cuda_floats(ctx, n * L_HID) : NULL;
        net->hid = mhim_cuda_floats(ctx, n * L_HID);
        mhim_cuda_abmil_scores_forward(ctx, net->scores, net->pre, net->hid, net->h, params + m->w1, NULL,
                                       params + m->w2, NULL, act, n, DIM, L_HID, 1);
    }
    net->attn = mhim_cuda_floats(ctx, n);
    mhim_cuda_softmax_instances_forward(ctx, net->attn, net->scores, NULL, n, 1);
    net->z = mhim_cuda_floats(ctx, DIM);
    mhim_cuda_attnpool_forward(ctx, net->z, net->attn, net->h, n, 1, DIM);
    if (logits)
        mhim_cuda_linear_forward(ctx, logits, net->z, params + m->pred_w, params + m->pred_b, 1, DIM,
                                 m->cfg.n_classes);
    if (feat) mhim_cuda_copy(ctx, feat, net->z, DIM * sizeof(float));
    net->cached = 1;
    return MHIM_OK;
}

void mhim_cuda_abmil_backward(mhim_cuda_abmil *net, mhim_cuda_ctx *ctx, const float *params, float *grads,
                              const float *d_logits, const float *d_max_logits, const float *d_feat) {
    (void)d_max_logits;
    const mhim_abmil *m = &net->m;
    const int64_t n = net->n, C = m->cfg.n_classes;
    MHIM_ASSERT(net->cached);
    net->cached = 0;
    float *dz = mhim_cuda_floats(ctx, DIM);
    if (d_logits)
        mhim_cuda_linear_backward(ctx, dz, grads + m->pred_w, grads + m->pred_b, d_logits, net->z,
                                  params + m->pred_w, 1, DIM, C);
    else
        mhim_cuda_memset0(ctx, dz, DIM * sizeof(float));
    if (d_feat) mhim_cuda_add(ctx, dz, d_feat, DIM);
    float *dA = mhim_cuda_floats(ctx, n), *dh = mhim_cuda_floats(ctx, n * DIM);
    mhim_cuda_attnpool_backward(ctx, dA, dh, dz, net->attn, net->h, n, 1, DIM);
    mhim_cuda_softmax_instances_backward(ctx, dA, dA, net->attn, n, 1); /* dA becomes d scores */
    if (m->cfg.gated) {
        float *scratch = mhim_cuda_floats(ctx, 2 * n * L_HID);
        mhim_cuda_gated_scores_backward_acc(ctx, dh, grads + m->wa, NULL, grads + m->wb, NULL, grads + m->wc, NULL,
                                            scratch, dA, net->h, net->ga_pre, net->ga, net->gb, net->gg,
                                            params + m->wa, params + m->wb, params + m->wc, m->cfg.da_act, n, DIM,
                                            L_HID, 1);
    } else {
        float *scratch = mhim_cuda_floats(ctx, n * L_HID);
        mhim_cuda_abmil_scores_backward_acc(ctx, dh, grads + m->w1, NULL, grads + m->w2, NULL, scratch, dA, net->h,
                                            net->pre, net->hid, params + m->w1, params + m->w2, m->cfg.da_act, n, DIM,
                                            L_HID, 1);
    }
    mhim_cuda_embed_backward(ctx, &m->embed, grads, dh, &net->emb);
}

int mhim_cuda_abmil_predict(mhim_cuda_abmil *net, mhim_cuda_ctx *ctx, const float *params, const float *x, int64_t N,
                            const mhim_rng *dropout, int attn_layer, float *logits, float *max_logits, float *feat,
                            float *map) {
    (void)attn_layer;
    (void)max_logits;
    const size_t mark = mhim_cuda_mark(ctx);
    int rc = mhim_cuda_abmil_forward(net, ctx, params, x, N, NULL, N, dropout, logits, NULL, feat);
    if (rc == MHIM_OK && map) mhim_cuda_copy(ctx, map, net->attn, (size_t)N * sizeof(float));
    net->cached = 0;
    mhim_cuda_reset(ctx, mark);
    return rc;
}
