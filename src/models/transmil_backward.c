/* TransMIL backward (see mhim/models/transmil.h): predictor → final LayerNorm (cls row) → layer 2 → PPEG →
 * layer 1 → cls token and front end. Arena blocks match backward_scratch_bytes in transmil_forward.c. */
#include "mhim/models/transmil.h"

#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/dropout.h"
#include "mhim/ops/linear.h"
#include "mhim/ops/norm.h"
#include "mhim/ops/nystrom.h"
#include "mhim/ops/ppeg.h"

/* d_ln (n, D) written: gradient of layer l's attention branch input (its LayerNorm output), given the gradient
 * d_branch of the branch output (after the dropout; overwritten by the dropout backward). */
static void attention_branch_backward(float *d_ln, float *d_branch, float *scratch, const mhim_transmil *m,
                                      float *grads, const float *params, const mhim_transmil_cache *c, int l) {
    const mhim_transmil_config *cfg = &m->cfg;
    const mhim_transmil_layer *ly = &m->layer[l];
    const int64_t n = c->n, D = cfg->embed.dim, rows = mhim_transmil_branch_rows(l, n);
    if (c->keep_attn[l])
        mhim_dropout_backward(d_branch, d_branch, c->keep_attn[l], MHIM_TRANSMIL_ATTN_DROPOUT, rows * D);
    mhim_nystrom_cache nc;
    mhim_nystrom_cache_bind(&nc, c->nys_buf[l], n, cfg->heads, cfg->dim_head, cfg->landmarks);
    mhim_nystrom_backward(d_ln, grads + ly->w_qkv, grads + ly->w_out, grads + ly->b_out, grads + ly->w_res, d_branch,
                          &nc, scratch, c->ln_out[l], params + ly->w_qkv, params + ly->w_out, params + ly->w_res, n, D,
                          cfg->heads, cfg->dim_head, cfg->landmarks, rows);
}

/* The whole backward; dh (n − 1, D) == NULL continues into the front end, else the token gradient is written there. */
static void backward_tokens(const mhim_transmil *m, float *grads, const float *params, const mhim_transmil_cache *c,
                            mhim_arena *arena, const float *d_logits, const float *d_feat, float *dh) {
    const mhim_transmil_config *cfg = &m->cfg;
    const int64_t n = c->n, D = cfg->embed.dim;
    const size_t mark = mhim_arena_mark(arena);
    float *d_feat_all = mhim_arena_floats(arena, D), *d_cls = mhim_arena_floats(arena, D);
    float *ga = mhim_arena_floats(arena, n * D), *gb = mhim_arena_floats(arena, n * D);
    float *gc = mhim_arena_floats(arena, n * D);
    const int64_t nys = mhim_nystrom_backward_scratch_floats(n, D, cfg->heads, cfg->dim_head, cfg->landmarks);
    const int64_t ppeg = mhim_ppeg_backward_scratch_floats(n - 1, D);
    float *scratch = mhim_arena_floats(arena, nys > ppeg ? nys : ppeg);

    /* predictor and final LayerNorm (only the cls row feeds them) */
    if (d_feat)
        memcpy(d_feat_all, d_feat, (size_t)D * sizeof(float));
    else
        memset(d_feat_all, 0, (size_t)D * sizeof(float));
    if (d_logits)
        mhim_linear_backward_acc(d_feat_all, grads + m->pred_w, grads + m->pred_b, d_logits, c->feat,
                                 params + m->pred_w, 1, D, cfg->n_classes);
    mhim_layernorm_backward(d_cls, grads + m->norm_w, grads + m->norm_b, d_feat_all, c->cls_out, params + m->norm_w,
                            c->final_mean, c->final_rstd, 1, D);

    /* layer 2: tok3 = tok2 + branch(tok2), of which only row 0 is used (and computed) */
    memcpy(ga, d_cls, (size_t)D * sizeof(float));
    attention_branch_backward(gb, ga, scratch, m, grads, params, c, 1);
    memset(gc, 0, (size_t)(n * D) * sizeof(float));
    memcpy(gc, d_cls, (size_t)D * sizeof(float));
    mhim_layernorm_backward_acc(gc, grads + m->layer[1].norm_w, grads + m->layer[1].norm_b, gb, c->tok2,
                                params + m->layer[1].norm_w, c->ln_mean[1], c->ln_rstd[1], n, D); /* gc = d tok2 */

    /* PPEG on the instance rows (tok2[1:] = PPEG(tok1[1:])), identity on the cls row */
    memcpy(ga, gc, (size_t)D * sizeof(float));
    mhim_ppeg_backward(ga + D, grads + m->ppeg_w[0], grads + m->ppeg_b[0], grads + m->ppeg_w[1], grads + m->ppeg_b[1],
                       grads + m->ppeg_w[2], grads + m->ppeg_b[2], gc + D, scratch, c->tok1 + D, params + m->ppeg_w[0],
                       params + m->ppeg_w[1], params + m->ppeg_w[2], n - 1, D);

    /* layer 1: tok1 = tok0 + branch(tok0) */
    memcpy(gc, ga, (size_t)(n * D) * sizeof(float));
    attention_branch_backward(gb, gc, scratch, m, grads, params, c, 0);
    mhim_layernorm_backward_acc(ga, grads + m->layer[0].norm_w, grads + m->layer[0].norm_b, gb, c->tok0,
                                params + m->layer[0].norm_w, c->ln_mean[0], c->ln_rstd[0], n, D); /* ga = d tok0 */

    /* tok0 = [cls ; h] */
    float *g_cls = grads + m->cls_token;
    for (int64_t d = 0; d < D; d++) g_cls[d] += ga[d];
    if (dh)
        memcpy(dh, ga + D, (size_t)((n - 1) * D) * sizeof(float));
    else
        mhim_embed_backward(&m->embed, grads, ga + D, &c->embed);
    mhim_arena_reset(arena, mark);
}

void mhim_transmil_backward(const mhim_transmil *m, float *grads, const float *params, const mhim_transmil_cache *c,
                            mhim_arena *arena, const float *d_logits, const float *d_feat) {
    backward_tokens(m, grads, params, c, arena, d_logits, d_feat, NULL);
}

void mhim_transmil_head_backward(const mhim_transmil *m, float *grads, float *dh, const float *params,
                                 const mhim_transmil_cache *c, mhim_arena *arena, const float *d_logits,
                                 const float *d_feat) {
    backward_tokens(m, grads, params, c, arena, d_logits, d_feat, dh);
}
