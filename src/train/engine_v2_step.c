/* One MHIM-v2 training step (spec mhim_v2.md §4.1): teacher forward in train mode (class-aware scores and the
 * consistency target), high-score masking, the Merge shuffle, the student forward with global recycling, CE +
 * aux_alpha · consistency, backward, Adam over every trained tensor (G excluded), teacher EMA over every tensor
 * (G included). Random choices are keyed by (seed, epoch, bag): teacher dropout sub 1, student dropout sub 0,
 * masking (mhim_mask_select_v2), Merge shuffle (MHIM_RNG_MERGE). This file computes the gradients; Adam (G excluded)
 * and the EMA are engine_step_apply's. Survival tasks train the NLL survival loss, and
 * mhim_pure survival runs take the same path without teacher and Merge. Nothing is allocated per step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/loss.h"
#include "mhim/v2.h"
#include "train/engine_v2.h"

int engine_v2_attach(engine_net *n, const mhim_config *cfg, int64_t max_inst) {
    mhim_v2_options o;
    int rc = mhim_v2_options_from_config(&o, cfg);
    if (rc == MHIM_OK) rc = mhim_v2_create(&n->v2, n->model, &o);
    if (rc != MHIM_OK) return rc;
    size_t bytes = mhim_model_predict_arena_bytes(n->model, max_inst);
    bytes = MHIM_MAX(bytes, mhim_v2_teacher_arena_bytes(n->v2, max_inst));
    bytes = MHIM_MAX(bytes, mhim_v2_train_arena_bytes(n->v2, max_inst));
    bytes = MHIM_MAX(bytes, mhim_v2_eval_arena_bytes(n->v2, max_inst));
    mhim_arena_free(&n->arena);
    mhim_arena_init(&n->arena, "v2 training step", bytes);
    n->perm = mhim_malloc((size_t)MHIM_MAX(max_inst, 1) * sizeof *n->perm);
    mhim_mask_v2_config mc = {cfg->mask_ratio_h, cfg->mask_ratio_hr,
                              cfg->kept_order && !strcmp(cfg->kept_order, "cpython") ? MHIM_KEEP_CPYTHON_SET
                                                                                     : MHIM_KEEP_ASCENDING};
    n->mask2 = mc;
    return mhim_mask_v2_config_check(&n->mask2);
}

void engine_v2_detach(engine_net *n) {
    mhim_v2_free(n->v2);
    free(n->perm);
    n->v2 = NULL;
    n->perm = NULL;
}

/* The main loss of the v2 logits (C): CE on the class, or the survival NLL (alpha 0) of the time bin y with the
 * case's censorship. d_logits (C) = weight · dloss/dlogits; cache (C) is scratch. */
static float main_loss(const engine_net *n, const engine_step_ctx *ctx, const float *logits, int64_t y, float weight,
                       float *d_logits, float *cache) {
    const int64_t C = n->C;
    if (!n->survival) {
        float loss = mhim_cross_entropy_forward(cache, logits, &y, 1, C);
        mhim_cross_entropy_backward(d_logits, cache, &y, weight, 1, C);
        return loss;
    }
    float surv[ENGINE_V2_MAX_BINS];
    MHIM_ASSERT(C <= ENGINE_V2_MAX_BINS);
    float loss = mhim_nll_surv_forward(cache, surv, logits, &y, &ctx->censorship, 0.0f, 1, C);
    mhim_nll_surv_backward(d_logits, cache, surv, &y, &ctx->censorship, 0.0f, weight, 1, C);
    return loss;
}

/* --model=mhim_pure in v2 (survival; classification keeps engine_step's pure path): the whole bag, logits as the
 * v2 engine (DSMIL 0.5·bag + 0.5·max-instance). Writes logits and fills d_bag / d_max for the model backward. */
static int pure_forward(engine_net *n, const engine_step_ctx *ctx, const float *x, int64_t N, float *logits) {
    const int64_t C = n->C;
    const int dsmil = mhim_model_get_config(n->model)->kind == MHIM_MODEL_DSMIL;
    float *bag = n->probs + C; /* model outputs land here, then combine into logits */
    mhim_rng sdrop = mhim_rng_stream(ctx->seed, (uint32_t)ctx->epoch, (uint32_t)ctx->bag, MHIM_RNG_DROPOUT, 0);
    float *max_logits = n->probs + 2 * C;
    mhim_model_out out = {bag, max_logits, NULL};
    int rc = mhim_model_forward(n->model, &n->arena, n->student, x, N, NULL, N, &sdrop, &out);
    if (rc != MHIM_OK) return rc;
    for (int64_t c = 0; c < C; c++) logits[c] = dsmil ? 0.5f * bag[c] + 0.5f * max_logits[c] : bag[c];
    return MHIM_OK;
}

int engine_v2_step_grad(engine_net *n, const engine_step_ctx *ctx, const float *x, int64_t N, int64_t y,
                   engine_step_stats *st) {
    const mhim_config *cfg = ctx->cfg;
    const int64_t C = n->C;
    const uint32_t ep = (uint32_t)ctx->epoch, bag = (uint32_t)ctx->bag;
    const int use_aux = n->v2 && cfg->aux_alpha != 0.0;
    const int dsmil = mhim_model_get_config(n->model)->kind == MHIM_MODEL_DSMIL;
    float *logits = n->probs, *d_logits = n->probs + 3 * C;
    memset(st, 0, sizeof *st);
    mhim_params_zero(n->L, n->grads);
    int rc = MHIM_OK;
    mhim_v2_student_out sout = {logits, use_aux ? n->feat_s : NULL, 0, N};
    if (n->v2) {
        mhim_rng tdrop = mhim_rng_stream(ctx->seed, ep, bag, MHIM_RNG_DROPOUT, 1);
        mhim_v2_teacher_out tout = {use_aux ? n->feat_t : NULL, n->map};
        rc = mhim_v2_teacher_forward(n->v2, &n->arena, n->teacher, x, N, &tdrop, &tout);
        if (rc != MHIM_OK) return rc;
        mhim_mask_stats ms;
        rc = mhim_mask_select_v2(&n->mask2, ctx->r_h, n->map, mhim_v2_score_rows(n->v2), N,
                                 (mhim_mask_key){ctx->seed, ep, bag}, &n->mws, n->keep, &ms);
        if (rc != MHIM_OK) return rc;
        mhim_rng merge = mhim_rng_stream(ctx->seed, ep, bag, MHIM_RNG_MERGE, 0);
        mhim_v2_merge_perm(&merge, n->perm, ms.len_keep);
        mhim_rng sdrop = mhim_rng_stream(ctx->seed, ep, bag, MHIM_RNG_DROPOUT, 0);
        rc = mhim_v2_student_forward(n->v2, &n->arena, n->student, x, N, n->keep, ms.len_keep, n->perm, &sdrop,
                                     &sout);
        st->guarded = ms.guarded;
    } else {
        rc = pure_forward(n, ctx, x, N, logits);
    }
    if (rc != MHIM_OK) return rc;

    const double scale = engine_step_loss_scale(ctx);
    float main = main_loss(n, ctx, logits, y, (float)(cfg->main_alpha * scale), d_logits, n->probs + C);
    st->cls = main;
    st->loss = cfg->main_alpha * main;
    if (use_aux) {
        const int64_t R = n->feat_size / MHIM_EMBED_DIM;
        float aux = mhim_soft_target_ce_forward(n->p_s, n->p_t, n->feat_s, n->feat_t, (float)cfg->temp_t,
                                                MHIM_CONSISTENCY_TEMP_S, R, MHIM_EMBED_DIM);
        mhim_soft_target_ce_backward(n->d_feat, n->p_s, n->p_t, (float)(cfg->aux_alpha * scale),
                                     MHIM_CONSISTENCY_TEMP_S, R, MHIM_EMBED_DIM);
        st->cl = aux;
        st->loss += cfg->aux_alpha * aux;
    }
    if (n->v2) {
        mhim_v2_student_backward(n->v2, &n->arena, n->student, n->grads, d_logits, use_aux ? n->d_feat : NULL);
    } else { /* d(0.5·bag + 0.5·max) splits evenly for DSMIL */
        float *d_bag = n->probs + C, *d_max = n->probs + 2 * C;
        for (int64_t c = 0; c < C; c++) d_bag[c] = d_max[c] = dsmil ? 0.5f * d_logits[c] : d_logits[c];
        mhim_model_backward(n->model, &n->arena, n->student, n->grads, d_bag, dsmil ? d_max : NULL, NULL);
    }
    mhim_arena_reset(&n->arena, 0);
    return engine_step_finish(st, ctx, N, sout.tokens);
}
