/* The network buffers of a run and one training step: `--model=pure` (CE on the whole bag) and `--model=mhim`
 * (spec mhim_v1.md §4.2: teacher forward -> get_mask -> student on the kept instances -> CE + cl_alpha·consistency
 * -> backward -> Adam -> EMA), plus the evaluation pass (eval mode, full bags). Nothing is allocated per step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/log.h"
#include "mhim/metrics.h"
#include "mhim/ops/loss.h"
#include "train/engine_device.h"
#include "train/engine_internal.h"
#include "mhim/v2.h"
#include "train/engine_v2.h"

#define PURE_DROPOUT 0.25f /* --model=pure builds MHIM with the class default dropout (spec §1.1) */
#define TEMP_S 1.0f        /* student temperature of the consistency loss (not an option in v1) */

int engine_net_create(engine_net *n, const mhim_config *cfg, int64_t input_dim, int64_t n_classes, int64_t max_inst,
                      int64_t max_bags) {
    memset(n, 0, sizeof *n);
    mhim_model_config mc;
    int rc = mhim_model_config_from_options(&mc, cfg);
    if (rc != MHIM_OK) return rc;
    mc.input_dim = input_dim;
    mc.n_classes = n_classes;
    n->mhim = !strcmp(cfg->model, "mhim");
    if (!n->mhim) mc.dropout = PURE_DROPOUT;
    rc = mhim_model_create(&n->model, &mc);
    if (rc == MHIM_OK) rc = engine_teacher_bind(&n->tnet, n->model, cfg->attn_layer);
    if (rc != MHIM_OK) return rc;
    n->L = mhim_model_layout(n->model);
    n->tea_same = n->mhim && cfg->tea_type && !strcmp(cfg->tea_type, "same");
    n->student = mhim_params_alloc(n->L);
    n->grads = mhim_params_alloc(n->L);
    n->step_grads = mhim_calloc((size_t)(n->L->total + ENGINE_STEP_EXTRA), sizeof(float));
    n->adam_m = mhim_params_alloc(n->L);
    n->adam_v = mhim_params_alloc(n->L);
    n->best_student = mhim_params_alloc(n->L);
    if (n->mhim) {
        n->teacher = n->tea_same ? n->student : mhim_params_alloc(n->L);
        n->best_teacher = mhim_params_alloc(n->L);
    }
    mhim_opt_kind kind = cfg->opt && !strcmp(cfg->opt, "adamw") ? MHIM_OPT_ADAMW : MHIM_OPT_ADAM;
    mhim_adam_init(&n->adam, kind, cfg->lr, cfg->weight_decay);
    size_t bytes = mhim_model_train_arena_bytes(n->model, max_inst);
    bytes = MHIM_MAX(bytes, mhim_model_predict_arena_bytes(n->model, max_inst));
    bytes = MHIM_MAX(bytes, engine_teacher_arena_bytes(&n->tnet, max_inst));
    mhim_arena_init(&n->arena, "training step", bytes);
    n->feat_size = mhim_model_feat_size(n->model);
    n->map_rows = mhim_model_map_rows(n->model);
    n->C = n_classes;
    size_t fs = (size_t)n->feat_size * sizeof(float);
    n->feat_t = mhim_malloc(fs);
    n->feat_s = mhim_malloc(fs);
    n->d_feat = mhim_malloc(fs);
    n->p_s = mhim_malloc(fs);
    n->p_t = mhim_malloc(fs);
    n->map = mhim_malloc((size_t)(n->map_rows * max_inst) * sizeof(float));
    n->probs = mhim_malloc((size_t)(4 * n_classes) * sizeof(float));
    n->keep = mhim_malloc((size_t)max_inst * sizeof(int64_t));
    n->eval_p = mhim_malloc((size_t)MHIM_MAX(max_bags, 1) * sizeof(double));
    n->eval_y = mhim_malloc((size_t)MHIM_MAX(max_bags, 1) * sizeof(int));
    n->eval_buf = mhim_malloc((size_t)(3 * MHIM_MAX(max_bags, 1)) * sizeof(double));
    n->xbuf = mhim_malloc((size_t)(max_inst * input_dim) * sizeof(float));
    n->mask = (mhim_mask_config){cfg->mask_ratio, cfg->mask_ratio_l, cfg->mask_ratio_h, cfg->mask_ratio_hr,
                                 cfg->msa_fusion && !strcmp(cfg->msa_fusion, "mean") ? MHIM_MASK_FUSION_MEAN
                                                                                     : MHIM_MASK_FUSION_VOTE,
                                 cfg->kept_order && !strcmp(cfg->kept_order, "cpython") ? MHIM_KEEP_CPYTHON_SET
                                                                                        : MHIM_KEEP_ASCENDING};
    mhim_mask_workspace_init(&n->mws, MHIM_MAX(max_inst, 1));
    n->survival = mhim_config_is_survival(cfg);
    if (n->mhim && cfg->version == 2) return engine_v2_attach(n, cfg, max_inst);
    return n->mhim ? mhim_mask_config_check(&n->mask) : MHIM_OK;
}

void engine_net_free(engine_net *n) {
    engine_device_detach(n);
    if (n->v2) engine_v2_detach(n);
    if (n->teacher != n->student) mhim_params_free(n->teacher);
    mhim_params_free(n->student);
    mhim_params_free(n->grads);
    free(n->step_grads);
    free(n->eval_buf);
    mhim_params_free(n->adam_m);
    mhim_params_free(n->adam_v);
    mhim_params_free(n->best_student);
    mhim_params_free(n->best_teacher);
    mhim_arena_free(&n->arena);
    free(n->feat_t);
    free(n->feat_s);
    free(n->d_feat);
    free(n->p_s);
    free(n->p_t);
    free(n->map);
    free(n->probs);
    free(n->keep);
    free(n->eval_p);
    free(n->eval_y);
    free(n->xbuf);
    if (n->mws.n_max) mhim_mask_workspace_free(&n->mws);
    mhim_model_free(n->model);
    memset(n, 0, sizeof *n);
}

/* Adam over the tensors that receive a gradient: DSMIL's predictor never does (torch skips grad None), nor v2's
 * global queries G (requires_grad=False; they move by the Merge EMA only). */
static void adam_step(engine_net *n, const float *grads) {
    int dsmil = mhim_model_get_config(n->model)->kind == MHIM_MODEL_DSMIL;
    int64_t g0 = 0, g1 = 0;
    if (n->v2) mhim_v2_frozen_range(n->v2, &g0, &g1);
    mhim_adam_begin_step(&n->adam);
    for (int64_t t = 0; t < n->L->count; t++) {
        const mhim_param_entry *e = &n->L->entries[t];
        if (dsmil && !strncmp(e->name, "predictor.", 10)) continue;
        if (e->offset >= g0 && e->offset < g1) continue;
        mhim_adam_update(&n->adam, n->student + e->offset, grads + e->offset, n->adam_m + e->offset,
                         n->adam_v + e->offset, e->numel);
    }
}

double engine_step_loss_scale(const engine_step_ctx *ctx) {
    return 1.0 / (double)(ctx->accum_bags > 0 ? ctx->accum_bags : MHIM_MAX(ctx->cfg->accumulation_steps, 1));
}

int engine_step_finish(engine_step_stats *st, const engine_step_ctx *ctx, int64_t N, int64_t kept) {
    if (!isfinite(st->loss))
        return mhim_fail("training diverged: loss %g at epoch %d on bag %lld (lower --lr, or check the features)",
                         st->loss, ctx->epoch, (long long)ctx->bag);
    st->patches = N;
    st->kept = kept;
    return MHIM_OK;
}

int engine_step_grad(engine_net *n, const engine_step_ctx *ctx, const float *x, int64_t N, int64_t y,
                     engine_step_stats *st) {
    const mhim_config *cfg = ctx->cfg;
    const int64_t C = n->C;
    const uint32_t ep = (uint32_t)ctx->epoch, bag = (uint32_t)ctx->bag;
    const int use_cl = n->mhim && cfg->cl_alpha != 0.0;
    const int64_t *idx = NULL;
    int64_t kept = N;
    int rc;
    if (n->dev) return engine_device_step_grad(n, ctx, x, N, y, st);
    if (n->v2 || n->survival) return engine_v2_step_grad(n, ctx, x, N, y, st);
    memset(st, 0, sizeof *st);
    mhim_params_zero(n->L, n->grads);
    if (n->mhim) {
        mhim_rng tdrop = mhim_rng_stream(ctx->seed, ep, bag, MHIM_RNG_DROPOUT, 1);
        rc = engine_teacher_forward(&n->tnet, &n->arena, n->teacher, x, N, &tdrop, n->feat_t, n->map);
        if (rc != MHIM_OK) return rc;
        if (ctx->given_keep) {
            if (ctx->given_len < 1 || ctx->given_len > N)
                return mhim_fail("training step: %lld given kept ids for a bag of %lld instances",
                                 (long long)ctx->given_len, (long long)N);
            memcpy(n->keep, ctx->given_keep, (size_t)ctx->given_len * sizeof *n->keep);
            kept = ctx->given_len;
        } else {
            mhim_mask_stats ms;
            rc = mhim_mask_select(&n->mask, ctx->r_h, n->map, n->map_rows, N, (mhim_mask_key){ctx->seed, ep, bag},
                                  &n->mws, n->keep, &ms);
            if (rc != MHIM_OK) return rc;
            kept = ms.len_keep;
            st->guarded = ms.guarded;
        }
        idx = n->keep;
    }
    mhim_rng sdrop = mhim_rng_stream(ctx->seed, ep, bag, MHIM_RNG_DROPOUT, 0);
    float *logits = n->probs, *max_logits = n->probs + C, *d_logits = n->probs + 2 * C, *d_max = n->probs + 3 * C;
    mhim_model_out out = {logits, max_logits, use_cl ? n->feat_s : NULL};
    rc = mhim_model_forward(n->model, &n->arena, n->student, x, N, idx, kept, &sdrop, &out);
    if (rc != MHIM_OK) return rc;
    const double scale = engine_step_loss_scale(ctx);
    float cls = mhim_model_class_loss(n->model, &out, y, (float)(cfg->cls_alpha * scale), d_logits, d_max);
    st->cls = cls;
    st->loss = cfg->cls_alpha * cls;
    if (use_cl) {
        const int64_t R = n->feat_size / MHIM_EMBED_DIM;
        float cl = mhim_soft_target_ce_forward(n->p_s, n->p_t, n->feat_s, n->feat_t, (float)cfg->temp_t, TEMP_S, R,
                                               MHIM_EMBED_DIM);
        mhim_soft_target_ce_backward(n->d_feat, n->p_s, n->p_t, (float)(cfg->cl_alpha * scale), TEMP_S, R,
                                     MHIM_EMBED_DIM);
        st->cl = cl;
        st->loss += cfg->cl_alpha * cl;
    }
    mhim_model_backward(n->model, &n->arena, n->student, n->grads, d_logits, d_max, use_cl ? n->d_feat : NULL);
    mhim_arena_reset(&n->arena, 0);
    return engine_step_finish(st, ctx, N, kept);
}

void engine_step_apply(engine_net *n, const float *grads, double mm) {
    if (n->dev) { /* the gradients are the device copy of n->grads or of n->step_grads (the step sum) */
        MHIM_ASSERT(grads == n->grads || grads == n->step_grads);
        engine_device_step_apply(n, grads == n->step_grads, mm);
        return;
    }
    adam_step(n, grads);
    if (n->mhim && !n->tea_same) mhim_ema_update(n->teacher, n->student, n->L->total, mm);
}

int engine_step(engine_net *n, const engine_step_ctx *ctx, const float *x, int64_t N, int64_t y,
                engine_step_stats *st) {
    int rc = engine_step_grad(n, ctx, x, N, y, st);
    if (rc == MHIM_OK) engine_step_apply(n, n->grads, ctx->mm);
    return rc;
}

int engine_evaluate(engine_net *n, engine_data *d, const engine_standardizer *z, const mhim_dp_ops *dp,
                    const float *params, const int64_t *bags, int64_t nb, double thr_fixed, mhim_eval_scores *s) {
    const int rank = dp ? dp->rank : 0, size = dp ? dp->size : 1;
    double *bp = n->eval_buf, *by = n->eval_buf + nb, *bl = n->eval_buf + 2 * nb;
    const int64_t C = n->C;
    float *logits = n->probs, *max_logits = n->probs + C, *probs = n->probs + 2 * C;
    mhim_model_out out = {logits, max_logits, NULL};
    mhim_bag_view view = MHIM_BAG_VIEW_INIT;
    double loss = 0;
    int rc = MHIM_OK;
    memset(n->eval_buf, 0, (size_t)(3 * nb) * sizeof(double));
    if (n->dev) engine_device_set_eval_params(n, params);
    for (int64_t i = rank; i < nb && rc == MHIM_OK; i += size) {
        const float *x;
        int64_t N;
        rc = engine_bag_get(d, z, bags[i], &view, n->xbuf, &x, &N);
        if (rc == MHIM_OK)
            rc = n->dev ? engine_device_predict(n, bags[i], x, N, &out)
                        : mhim_model_predict(n->model, &n->arena, params, x, N, &out, NULL);
        if (rc != MHIM_OK) break;
        mhim_model_probs(n->model, &out, probs);
        int64_t y = d->bag_label[bags[i]];
        double mx = logits[0], sum = 0;
        for (int64_t c = 1; c < C; c++) mx = fmax(mx, logits[c]);
        for (int64_t c = 0; c < C; c++) sum += exp(logits[c] - mx);
        bl[i] = mx + log(sum) - logits[y];
        bp[i] = C > 1 ? probs[1] : probs[0];
        by[i] = (double)y;
    }
    mhim_bag_view_free(&view);
    if (rc != MHIM_OK) return rc;
    if (size > 1) { /* each bag was scored by one rank, the others add zeros: the sum is exact */
        rc = dp->sum_f64(dp->ctx, n->eval_buf, 3 * nb);
        if (rc != MHIM_OK) return rc;
    }
    for (int64_t i = 0; i < nb; i++) {
        loss += bl[i];
        n->eval_p[i] = bp[i];
        n->eval_y[i] = (int)by[i];
    }
    mhim_five_scores fs, f05;
    rc = isnan(thr_fixed) ? mhim_five_scores_youden(n->eval_y, n->eval_p, nb, &fs)
                          : mhim_five_scores_at(n->eval_y, n->eval_p, nb, thr_fixed, &fs);
    if (rc == MHIM_OK) rc = mhim_five_scores_at(n->eval_y, n->eval_p, nb, 0.5, &f05);
    if (rc != MHIM_OK) return rc;
    *s = (mhim_eval_scores){fs.accuracy, fs.auc, fs.precision, fs.recall, fs.fscore, fs.threshold,
                            f05.accuracy, f05.fscore, nb ? loss / (double)nb : 0.0, 0.0, fs.accuracy};
    return MHIM_OK;
}
