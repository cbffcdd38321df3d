/* The GPU network of a CPU model's kind (see mhim/cuda_model.h): a switch over ABMIL, DSMIL and TransMIL
 * (cuda/model_transmil.h). */
#include <stdlib.h>

#include "mhim/common.h"
#include "mhim/cuda_model.h"
#include "model_transmil.h"

struct mhim_cuda_net {
    mhim_model_kind kind;
    union {
        mhim_cuda_abmil *abmil;
        mhim_cuda_dsmil *dsmil;
        mhim_cuda_transmil *transmil;
    } u;
};

int mhim_cuda_net_create(mhim_cuda_net **out, const mhim_model *cpu_model) {
    *out = NULL;
    const mhim_model_kind kind = mhim_model_get_config(cpu_model)->kind;
    mhim_cuda_net *net = mhim_calloc(1, sizeof *net);
    net->kind = kind;
    int rc;
    switch (kind) {
    case MHIM_MODEL_ABMIL: rc = mhim_cuda_abmil_create(&net->u.abmil, cpu_model); break;
    case MHIM_MODEL_DSMIL: rc = mhim_cuda_dsmil_create(&net->u.dsmil, cpu_model); break;
    case MHIM_MODEL_TRANSMIL: rc = mhim_cuda_transmil_create(&net->u.transmil, cpu_model); break;
    default: rc = mhim_fail("GPU network: model kind %d: expected abmil, transmil or dsmil", (int)kind);
    }
    if (rc != MHIM_OK) {
        free(net);
        return rc;
    }
    *out = net;
    return MHIM_OK;
}

void mhim_cuda_net_free(mhim_cuda_net *net) {
    if (!net) return;
    switch (net->kind) {
    case MHIM_MODEL_ABMIL: mhim_cuda_abmil_free(net->u.abmil); break;
    case MHIM_MODEL_DSMIL: mhim_cuda_dsmil_free(net->u.dsmil); break;
    case MHIM_MODEL_TRANSMIL: mhim_cuda_transmil_free(net->u.transmil); break;
    }
    free(net);
}

size_t mhim_cuda_net_arena_bytes(const mhim_cuda_net *net, int64_t n_max) {
    switch (net->kind) {
    case MHIM_MODEL_ABMIL: return mhim_cuda_abmil_arena_bytes(net->u.abmil, n_max);
    case MHIM_MODEL_DSMIL: return mhim_cuda_dsmil_arena_bytes(net->u.dsmil, n_max);
    case MHIM_MODEL_TRANSMIL: return mhim_cuda_transmil_arena_bytes(net->u.transmil, n_max);
    }
    return 0;
}

int mhim_cuda_net_forward(mhim_cuda_net *net, mhim_cuda_ctx *ctx, const float *params, const float *x, int64_t N,
                          const int64_t *idx, int64_t n, const mhim_rng *dropout, float *logits, float *max_logits,
                          float *feat) {
    switch (net->kind) {
    case MHIM_MODEL_ABMIL:
        return mhim_cuda_abmil_forward(net->u.abmil, ctx, params, x, N, idx, n, dropout, logits, max_logits, feat);
    case MHIM_MODEL_DSMIL:
        return mhim_cuda_dsmil_forward(net->u.dsmil, ctx, params, x, N, idx, n, dropout, logits, max_logits, feat);
    case MHIM_MODEL_TRANSMIL:
        return mhim_cuda_transmil_forward(net->u.transmil, ctx, params, x, N, idx, n, dropout, logits, max_logits,
                                          feat);
    }
    return mhim_fail("GPU network: model kind %d", (int)net->kind);
}

void mhim_cuda_net_backward(mhim_cuda_net *net, mhim_cuda_ctx *ctx, const float *params, float *grads,
                            const float *d_logits, const float *d_max_logits, const float *d_feat) {
    switch (net->kind) {
    case MHIM_MODEL_ABMIL:
        mhim_cuda_abmil_backward(net->u.abmil, ctx, params, grads, d_logits, d_max_logits, d_feat);
        break;
    case MHIM_MODEL_DSMIL:
        mhim_cuda_dsmil_backward(net->u.dsmil, ctx, params, grads, d_logits, d_max_logits, d_feat);
        break;
    case MHIM_MODEL_TRANSMIL:
        mhim_cuda_transmil_backward(net->u.transmil, ctx, params, grads, d_logits, d_max_logits, d_feat);
        break;
    }
}

int mhim_cuda_net_predict(mhim_cuda_net *net, mhim_cuda_ctx *ctx, const float *params, const float *x, int64_t N,
                          const mhim_rng *dropout, int attn_layer, float *logits, float *max_logits, float *feat,
                          float *map) {
    switch (net->kind) {
    case MHIM_MODEL_ABMIL:
        return mhim_cuda_abmil_predict(net->u.abmil, ctx, params, x, N, dropout, attn_layer, logits, max_logits, feat,
                                       map);
    case MHIM_MODEL_DSMIL:
        return mhim_cuda_dsmil_predict(net->u.dsmil, ctx, params, x, N, dropout, attn_layer, logits, max_logits, feat,
                                       map);
    case MHIM_MODEL_TRANSMIL:
        return mhim_cuda_transmil_predict(net->u.transmil, ctx, params, x, N, dropout, attn_layer, logits,
                                          max_logits, feat, map);
    }
    return mhim_fail("GPU network: model kind %d", (int)net->kind);
}
