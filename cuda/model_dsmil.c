/* DSMIL on the GPU (see mhim/cuda_model.h): the front end, instance classifier, BClassifier (v, q, critical
 * instances, critical-instance attention, fcc) forward and backward from the device op table, in the order of
 * src/models/dsmil.c and src/ops/dsmil_head.c. The predictor is never used (as on the CPU). */
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/cuda_model.h"
#include "mhim/models/dsmil.h"
#include "mhim/models/network_configs.h"
#include "model_embed.h"

#define DIM MHIM_EMBED_DIM
#define DQ MHIM_DSMIL_QDIM

struct mhim_cuda_dsmil {
    mhim_dsmil m;              /* configuration and offsets (bound on the CPU model's layout) */
    mhim_cuda_embed_cache emb; /* caches of the last forward */
    int64_t n;
    const float *h;
    float *inst, *v, *qh, *q, *attn, *bag;
    int64_t *crit;
    int cached;
};

int mhim_cuda_dsmil_create(mhim_cuda_dsmil **out, const mhim_model *cpu_model) {
    *out = NULL;
    const mhim_model_config *c = mhim_model_get_config(cpu_model);
    if (c->kind != MHIM_MODEL_DSMIL)
        return mhim_fail("GPU DSMIL: the model is %s, expected dsmil", mhim_model_kind_name(c->kind));
    mhim_cuda_dsmil *net = mhim_calloc(1, sizeof *net);
    mhim_dsmil_config d = mhim_registry_dsmil_config(c); /* v1 only on the GPU: instance scores */
    int rc = mhim_dsmil_bind(&net->m, &d, mhim_model_layout(cpu_model));
    if (rc != MHIM_OK) {
        free(net);
        return rc;
    }
    *out = net;
    return MHIM_OK;
}

void mhim_cuda_dsmil_free(mhim_cuda_dsmil *net) { free(net); }

size_t mhim_cuda_dsmil_arena_bytes(const mhim_cuda_dsmil *net, int64_t n_max) {
    const int64_t C = net->m.cfg.n_classes;
    size_t bytes = mhim_cuda_embed_arena_bytes(&net->m.embed, n_max);
    /* forward: inst, v, q hidden, q, attn, bag, crit, predict logits / max logits */
    bytes += 2 * mhim_cuda_block_bytes(n_max * C) + mhim_cuda_block_bytes(n_max * DIM);
    bytes += 2 * mhim_cuda_block_bytes(n_max * DQ);
    bytes += mhim_cuda_block_bytes(C * DIM) + mhim_cuda_block_bytes(2 * C) + 2 * mhim_cuda_block_bytes(C);
    /* backward: d bag, dq, dv, attention scratch, dq hidden, d inst, dh */
    bytes += mhim_cuda_block_bytes(C * DIM) + 2 * mhim_cuda_block_bytes(n_max * DQ);
    bytes += 2 * mhim_cuda_block_bytes(n_max * DIM);
    bytes += mhim_cuda_block_bytes(n_max * C + 2 * C * DQ) + mhim_cuda_block_bytes(n_max * C);
    return bytes;
}

int mhim_cuda_dsmil_forward(mhim_cuda_dsmil *net, mhim_cuda_ctx *ctx, const float *params, const float *x, int64_t N,
                            const int64_t *idx, int64_t n, const mhim_rng *dropout, float *logits, float *max_logits,
                            float *feat) {
    const mhim_dsmil *m = &net->m;
    const int64_t C = m->cfg.n_classes;
    const float *p = params;
    if (n < 1 || N < 1 || (!idx && n != N))
        return mhim_fail("GPU DSMIL forward: %lld kept of %lld instances (expected 1 <= kept, and kept == instances "
                         "without an index list)", (long long)n, (long long)N);
    mhim_cuda_embed_forward(&net->emb, ctx, &m->embed, params, x, N, idx, n, dropout);
    net->n = n;
    const float *h = net->h = net->emb.h;
    net->inst = mhim_cuda_floats(ctx, n * C);
    mhim_cuda_linear_forward(ctx, net->inst, h, p + m->w_i, p + m->b_i, n, DIM, C);
    net->v = mhim_cuda_floats(ctx, n * DIM);
    mhim_cuda_linear_forward(ctx, net->v, h, p + m->w_v, p + m->b_v, n, DIM, DIM);
    mhim_cuda_act_forward(ctx, MHIM_ACT_RELU, net->v, net->v, n * DIM);
    net->qh = mhim_cuda_floats(ctx, n * DQ);
    mhim_cuda_linear_forward(ctx, net->qh, h, p + m->w_q1, p + m->b_q1, n, DIM, DQ);
    mhim_cuda_act_forward(ctx, MHIM_ACT_RELU, net->qh, net->qh, n * DQ);
    net->q = mhim_cuda_floats(ctx, n * DQ);
    mhim_cuda_linear_forward(ctx, net->q, net->qh, p + m->w_q2, p + m->b_q2, n, DQ, DQ);
    mhim_cuda_act_forward(ctx, MHIM_ACT_TANH, net->q, net->q, n * DQ);
    net->crit = mhim_cuda_i64(ctx, C);
    mhim_cuda_dsmil_critical_forward(ctx, net->crit, max_logits, net->inst, n, C);
    net->attn = mhim_cuda_floats(ctx, n * C);
    net->bag = mhim_cuda_floats(ctx, C * DIM);
    mhim_cuda_dsmil_attention_forward(ctx, net->bag, net->attn, net->q, net->crit, net->v, n, C, DQ, DIM);
    if (logits) mhim_cuda_dsmil_fcc_forward(ctx, logits, net->bag, p + m->w_fcc, p + m->b_fcc, C, DIM);
    if (feat) mhim_cuda_copy(ctx, feat, net->bag, (size_t)(C * DIM) * sizeof(float));
    net->cached = 1;
    return MHIM_OK;
}

void mhim_cuda_dsmil_backward(mhim_cuda_dsmil *net, mhim_cuda_ctx *ctx, const float *params, float *grads,
                              const float *d_logits, const float *d_max_logits, const float *d_feat) {
    const mhim_dsmil *m = &net->m;
    const int64_t n = net->n, C = m->cfg.n_classes;
    const float *p = params;
    float *g = grads;
    MHIM_ASSERT(net->cached);
    net->cached = 0;
    float *dbag = mhim_cuda_floats(ctx, C * DIM);
    if (d_logits)
        mhim_cuda_dsmil_fcc_backward(ctx, dbag, g + m->w_fcc, g + m->b_fcc, d_logits, net->bag, p + m->w_fcc, C, DIM);
    else
        mhim_cuda_memset0(ctx, dbag, (size_t)(C * DIM) * sizeof(float));
    if (d_feat) mhim_cuda_add(ctx, dbag, d_feat, C * DIM);
    float *dq = mhim_cuda_floats(ctx, n * DQ), *dv = mhim_cuda_floats(ctx, n * DIM);
    float *scratch = mhim_cuda_floats(ctx, n * C + 2 * C * DQ);
    mhim_cuda_dsmil_attention_backward(ctx, dq, dv, dbag, scratch, net->attn, net->q, net->crit, net->v, n, C, DQ,
                                       DIM);
    mhim_cuda_act_backward(ctx, MHIM_ACT_RELU, dv, dv, NULL, net->v, n * DIM);
    mhim_cuda_act_backward(ctx, MHIM_ACT_TANH, dq, dq, NULL, net->q, n * DQ);
    float *dqh = mhim_cuda_floats(ctx, n * DQ);
    mhim_cuda_linear_backward(ctx, dqh, g + m->w_q2, g + m->b_q2, dq, net->qh, p + m->w_q2, n, DQ, DQ);
    mhim_cuda_act_backward(ctx, MHIM_ACT_RELU, dqh, dqh, NULL, net->qh, n * DQ);
    float *dinst = mhim_cuda_floats(ctx, n * C);
    mhim_cuda_memset0(ctx, dinst, (size_t)(n * C) * sizeof(float));
    if (d_max_logits) mhim_cuda_dsmil_critical_backward_acc(ctx, dinst, d_max_logits, net->crit, n, C);
    /* h fans out into the three branches */
    float *dh = mhim_cuda_floats(ctx, n * DIM);
    mhim_cuda_linear_backward(ctx, dh, g + m->w_i, g + m->b_i, dinst, net->h, p + m->w_i, n, DIM, C);
    mhim_cuda_linear_backward_acc(ctx, dh, g + m->w_v, g + m->b_v, dv, net->h, p + m->w_v, n, DIM, DIM);
    mhim_cuda_linear_backward_acc(ctx, dh, g + m->w_q1, g + m->b_q1, dqh, net->h, p + m->w_q1, n, DIM, DQ);
    mhim_cuda_embed_backward(ctx, &m->embed, grads, dh, &net->emb);
}

int mhim_cuda_dsmil_predict(mhim_cuda_dsmil *net, mhim_cuda_ctx *ctx, const float *params, const float *x, int64_t N,
                            const mhim_rng *dropout, int attn_layer, float *logits, float *max_logits, float *feat,
                            float *map) {
    (void)attn_layer;
    const size_t mark = mhim_cuda_mark(ctx);
    int rc = mhim_cuda_dsmil_forward(net, ctx, params, x, N, NULL, N, dropout, logits, max_logits, feat);
    if (rc == MHIM_OK && map) mhim_cuda_dsmil_instance_score(ctx, map, net->inst, N, net->m.cfg.n_classes);
    net->cached = 0;
    mhim_cuda_reset(ctx, mark);
    return rc;
}
