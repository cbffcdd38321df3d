/* One cross-validation fold (spec mhim_v1.md §5.2): epochs of pure/MHIM steps over a Philox-keyed permutation,
 * per-epoch validation, model selection on validation AUC (strict >, from save_best_model_stage), early stopping,
 * and the test of the selected student (and teacher). Writes ckp.h5 after every epoch and on a stop request. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/clock.h"
#include "mhim/common.h"
#include "mhim/log.h"
#include "mhim/schedule.h"
#include "train/engine_device.h"
#include "train/engine_internal.h"
#include "train/engine_v2.h"
#include "train/progress.h"

/* Steps of W bags (W = the data-parallel group size, or --bags_per_step alone): training position j belongs to
 * shard j % W; every epoch permutes each shard with its own stream (W = 1: the one permutation of the original);
 * step s takes bag s of every shard that still has one, so the last steps of an epoch may hold fewer bags.
 * v2 gradient accumulation (--accumulation_steps K > 1, W = 1): step s takes the K consecutive bags s·K.. of the
 * one permutation, as the original's loop; the last step takes the remainder. One step = one optimiser update. */
typedef struct {
    int64_t *train, *val, *test, *perm, *order; /* order[s * S + j]: bag j of step s (shard j at K = 1), or -1 */
    int64_t *local;                             /* this process's bags of the epoch, in visiting order */
    int64_t n_train, n_val, n_test;
    int W;                                      /* shards: bags averaged per step */
    int K;                                      /* v2 accumulation: bags summed per step (K > 1 needs W = 1) */
    int S;                                      /* bag slots per step: W · K */
    int64_t steps;                              /* steps per epoch: ceil(n_train / S) */
    engine_standardizer z;
} fold_sets;

static void sets_free(fold_sets *s) {
    free(s->train);
    free(s->val);
    free(s->test);
    free(s->perm);
    free(s->order);
    free(s->local);
    engine_standardizer_free(&s->z);
}

static int lr_schedule(const mhim_config *cfg, int64_t iters, mhim_lr_schedule *s) {
    int64_t period = cfg->lr_supi ? (int64_t)cfg->num_epoch * iters : cfg->num_epoch;
    const double lr_min = cfg->version == 2 ? ENGINE_V2_LR_MIN : 0.0; /* v2: timm cosine with lr_min */
    if (!strcmp(cfg->lr_sche, "cosine")) return mhim_lr_schedule_init(s, MHIM_LR_COSINE, cfg->lr, lr_min, period, 0.0);
    if (!strcmp(cfg->lr_sche, "step"))
        return mhim_lr_schedule_init(s, MHIM_LR_STEP, cfg->lr, 0.0, MHIM_MAX(period / 2, 1), 0.2);
    if (!strcmp(cfg->lr_sche, "const")) return mhim_lr_schedule_init(s, MHIM_LR_CONST, cfg->lr, 0.0, 1, 0.0);
    return mhim_fail("--lr_sche=%s: expected cosine, step or const", cfg->lr_sche);
}

static void scores_json(char *buf, size_t cap, const char *prefix, const mhim_eval_scores *s) {
    if (isnan(s->thr) && isnan(s->acc)) { /* v2 survival: the C-index is kept in auc */
        snprintf(buf, cap, ",\"%s_cindex\":%.6f,\"%s_loss\":%.6g", prefix, s->auc, prefix, s->loss);
        return;
    }
    if (isnan(s->thr)) { /* v2 metrics: no threshold */
        snprintf(buf, cap,
                 ",\"%s_acc\":%.6f,\"%s_auc\":%.6f,\"%s_precision\":%.6f,\"%s_recall\":%.6f,\"%s_f1\":%.6f,"
                 "\"%s_ck\":%.6f,\"%s_acc_micro\":%.6f,\"%s_loss\":%.6g",
                 prefix, s->acc, prefix, s->auc, prefix, s->prec, prefix, s->rec, prefix, s->f1, prefix,
                 isfinite(s->ck) ? s->ck : 0.0, prefix, s->acc_micro, prefix, s->loss);
        return;
    }
    snprintf(buf, cap,
             ",\"%s_accuracy\":%.6f,\"%s_auc\":%.6f,\"%s_precision\":%.6f,\"%s_recall\":%.6f,\"%s_fscore\":%.6f,"
             "\"%s_threshold\":%.6g,\"%s_loss\":%.6g",
             prefix, s->acc, prefix, s->auc, prefix, s->prec, prefix, s->rec, prefix, s->f1, prefix,
             isfinite(s->thr) ? s->thr : 1e300, prefix, s->loss);
}

/* One epoch line of metrics.jsonl and the progress line. */
static void report_epoch(engine_run *r, int epoch, int64_t iters, double lr, double mm, double r_h, double secs,
                         double eta, const mhim_eval_scores *val, const mhim_eval_scores *tval,
                         const mhim_eval_scores *test, const mhim_eval_scores *ttest) {
    const engine_cursor *c = &r->cur;
    const double n = (double)MHIM_MAX(iters, 1), kept = c->acc[3] > 0 ? c->acc[4] / c->acc[3] : 1.0;
    char line[4096], part[512];
    int len = snprintf(line, sizeof line,
                       "{\"fold\":%d,\"epoch\":%d,\"lr\":%.8g,\"momentum\":%.8g,\"mask_ratio_h\":%.6g,\"loss\":%.6g,"
                       "\"cls_loss\":%.6g,\"cl_loss\":%.6g,\"patch_num\":%.2f,\"keep_num\":%.2f,\"kept_ratio\":%.6f,"
                       "\"guarded_bags\":%.0f",
                       c->fold, epoch, lr, mm, r_h, c->acc[0] / n, c->acc[1] / n, c->acc[2] / n, c->acc[3] / n,
                       c->acc[4] / n, kept, c->acc[5]);
    const struct { const char *name; const mhim_eval_scores *s; } parts[] = {
        {"val", val}, {"teacher_val", tval}, {"test", test}, {"teacher_test", ttest}};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(parts); i++) {
        if (!parts[i].s) continue;
        scores_json(part, sizeof part, parts[i].name, parts[i].s);
        len += snprintf(line + len, sizeof line - (size_t)len, "%s", part);
    }
    snprintf(line + len, sizeof line - (size_t)len,
             ",\"best_val_auc\":%.6f,\"es_counter\":%d,\"epoch_seconds\":%.3f,\"peak_rss_mib\":%.1f}", c->best_auc,
             c->es.counter, secs, engine_peak_rss_mib());
    if (r->writer) engine_append_line(r->jsonl_path, line);
    int eta_s = (int)eta;
    engine_say(r, "[fold %d] epoch %d/%d  loss %.3E  kept %.1f%%  val auc %.4f  acc %.3f  time %.2fs  ETA %d:%02d:%02d",
               c->fold, epoch + 1, r->cfg->num_epoch, c->acc[0] / n, 100.0 * kept, val->auc, val->acc, secs,
               eta_s / 3600, eta_s / 60 % 60, eta_s % 60);
    if (tval) engine_say(r, "[fold %d]   teacher val auc %.4f  acc %.3f", c->fold, tval->auc, tval->acc);
}

/* Evaluate params (a student, or a teacher when `teacher`) on bags[0..nb) with the metrics of the run's version:
 * v1 at threshold thr (NaN = Youden), v2 with n_boot bootstrap resamples (0 = point estimates; boot_std may be
 * NULL) and, for the student with --merge_test, the recycled tokens appended. */
static int evaluate(engine_run *r, const fold_sets *s, const float *params, int teacher, const int64_t *bags,
                    int64_t nb, double thr, int64_t n_boot, mhim_eval_scores *out, mhim_eval_scores *boot_std) {
    if (r->cfg->version != 2) return engine_evaluate(&r->net, &r->data, &s->z, r->opt->dp, params, bags, nb, thr, out);
    engine_v2_eval_opts o = {r->cfg->bin_metric, r->cur.fold, n_boot, r->cfg->merge_test && !teacher};
    return engine_v2_evaluate(&r->net, &r->data, &s->z, params, bags, nb, &o, out, boot_std);
}

/* The model-selection and early-stopping score: v1 AUC, v2 its best_idx metric. */
static double select_score(const engine_run *r, const mhim_eval_scores *v) {
    return r->cfg->version == 2 ? engine_v2_select_metric(v, r->net.C, r->net.survival) : v->auc;
}

static int build_sets(engine_run *r, fold_sets *s) {
    const mhim_fold *f = &r->data.splits.folds[r->cur.fold];
    memset(s, 0, sizeof *s);
    s->n_train = engine_data_bags_of(&r->data, f->train, f->n_train, &s->train);
    s->n_test = engine_data_bags_of(&r->data, f->test, f->n_test, &s->test);
    if (f->val_is_test)
        s->n_val = engine_data_bags_of(&r->data, f->test, f->n_test, &s->val);
    else
        s->n_val = engine_data_bags_of(&r->data, f->val, f->n_val, &s->val);
    const mhim_dp_ops *dp = r->opt->dp;
    s->W = dp && dp->size > 1 ? dp->size : MHIM_MAX(r->cfg->bags_per_step, 1);
    s->K = r->cfg->version == 2 ? MHIM_MAX(r->cfg->accumulation_steps, 1) : 1;
    s->S = s->W * s->K;
    s->steps = (s->n_train + s->S - 1) / s->S;
    s->perm = mhim_malloc((size_t)MHIM_MAX(s->n_train, 1) * sizeof *s->perm);
    s->order = mhim_malloc((size_t)MHIM_MAX(s->steps * s->S, 1) * sizeof *s->order);
    s->local = mhim_malloc((size_t)MHIM_MAX(s->steps * s->S, 1) * sizeof *s->local);
    if (s->K > 1 && s->W > 1)
        return mhim_fail("--accumulation_steps=%d with %d bags per step (--bags_per_step or a data-parallel group): "
                         "use one of the two (gradient accumulation sums K consecutive bags of one process)",
                         s->K, s->W);
    if (dp && dp->size > 1 && r->cfg->bags_per_step > 1 && r->cfg->bags_per_step != dp->size)
        return mhim_fail("--bags_per_step=%d with --group_size=%d: a data-parallel group takes one bag per rank and "
                         "step (set --bags_per_step=1 or to the group size)",
                         r->cfg->bags_per_step, dp->size);
    if (s->n_train < 1 || s->n_val < 1 || s->n_test < 1)
        return mhim_fail("fold %d: %lld train, %lld val and %lld test bags (every set needs at least one bag; use "
                         "fewer --cv_fold or a larger cohort)",
                         r->cur.fold, (long long)s->n_train, (long long)s->n_val, (long long)s->n_test);
    if (f->val_is_test && r->cur.epoch == 0 && r->cur.iter == 0 && !r->cur.trained)
        MHIM_WARN("fold %d: val_ratio=0, so validation = the test fold: early stopping, model selection and the "
                  "threshold all see the test fold (the original C16 protocol; use --val_ratio>0 for an unbiased test)",
                  r->cur.fold);
    if (r->opt->standardize) engine_standardizer_fit(&s->z, &r->data, s->train, s->n_train);
    return MHIM_OK;
}

uint64_t engine_fold_seed(const mhim_config *cfg, int fold) {
    return (uint64_t)((int64_t)cfg->seed + (cfg->random_seed ? 100 * (int64_t)fold : 0));
}

/* The epoch's visiting order (fold_sets) and this process's part of it from step `from` on; returns its length. */
static int64_t epoch_order(const engine_run *r, fold_sets *s, int e, int64_t from) {
    const int W = s->W;
    const mhim_dp_ops *dp = r->opt->dp;
    for (int w = 0; w < W; w++) { /* W > 1 means K = 1: shard w fills slot w of every step */
        const int64_t nw = (s->n_train - w + W - 1) / W;
        mhim_rng sh = mhim_rng_stream(engine_fold_seed(r->cfg, r->cur.fold), (uint32_t)e, (uint32_t)r->cur.fold,
                                      MHIM_RNG_SHUFFLE, (uint32_t)w);
        mhim_rng_permutation(&sh, s->perm, nw);
        for (int64_t t = 0; t < s->steps * s->K; t++)
            s->order[t * W + w] = t < nw ? s->train[s->perm[t] * W + w] : -1;
    }
    int64_t n = 0;
    for (int64_t p = from * s->S; p < s->steps * s->S; p++)
        if (s->order[p] >= 0 && (!dp || dp->size <= 1 || p % W == dp->rank)) s->local[n++] = s->order[p];
    return n;
}

/* Accumulation (K > 1): the schedules at bag j of step t, indexed per bag as the original's
 * epoch·len(loader) + batch_idx: the high-score mask ratio for the bag, the teacher momentum of its update. */
static int accum_schedules(const mhim_config *cfg, const fold_sets *s, engine_step_ctx *ctx, int64_t t, int j) {
    const int64_t at = (int64_t)ctx->epoch * s->n_train + t * s->K + j;
    if (cfg->mm_sche) ctx->mm = mhim_cosine_schedule_at(cfg->mm, cfg->mm_final, cfg->num_epoch, s->n_train, 0, 0.0, at);
    return mhim_mask_ratio_h_at(cfg->mask_ratio_h, cfg->mrh_sche, cfg->num_epoch, s->n_train, at, &ctx->r_h);
}

/* One optimiser step over the bags of step t (this process's shards; a data-parallel group all-reduces the summed
 * gradients, the stop flag and the stats in one call; --device=cuda keeps the sum on the GPU), then Adam + EMA with
 * the gradients averaged over the step's bags (W > 1), or summed with each loss divided by the step's bag count
 * (v2 accumulation, K > 1). Returns 1 (nothing applied) when any rank was asked to stop. */
static int train_step(engine_run *r, fold_sets *s, engine_step_ctx *ctx, int64_t t, mhim_bag_view *view,
                      double add[6], int *guarded_bag) {
    engine_net *n = &r->net;
    const mhim_dp_ops *dp = r->opt->dp;
    const int W = s->W, S = s->S, group = dp && dp->size > 1;
    const int64_t total = n->L->total;
    float *acc = n->step_grads;
    int count = 0, rc = MHIM_OK;
    memset(add, 0, 6 * sizeof *add);
    *guarded_bag = -1;
    if (S > 1 && n->dev) { /* --device=cuda: the step sum stays on the GPU, the host keeps the extras */
        memset(acc + total, 0, ENGINE_STEP_EXTRA * sizeof *acc);
        engine_device_step_begin(n);
    } else if (S > 1) {
        memset(acc, 0, (size_t)(total + ENGINE_STEP_EXTRA) * sizeof *acc);
    }
    ctx->accum_bags = 0;
    for (int j = 0; s->K > 1 && j < S; j++) ctx->accum_bags += s->order[t * S + j] >= 0;
    for (int j = 0; j < S; j++) {
        const int64_t bag = s->order[t * S + j];
        if (bag < 0) continue;
        count++;
        if (group && j % W != dp->rank) continue;
        const float *x;
        int64_t N;
        engine_step_stats st;
        if (s->K > 1 && (rc = accum_schedules(r->cfg, s, ctx, t, j)) != MHIM_OK) return rc;
        ctx->bag = bag;
        ctx->censorship = (float)r->data.labels.cases[r->data.bags[bag].case_index].censorship;
        rc = engine_bag_get(&r->data, &s->z, bag, view, n->xbuf, &x, &N);
        if (rc == MHIM_OK) rc = engine_step_grad(n, ctx, x, N, r->data.bag_label[bag], &st);
        if (rc != MHIM_OK) return rc;
        if (st.guarded) *guarded_bag = (int)bag;
        const double v[6] = {st.loss, st.cls, st.cl, (double)st.patches, (double)st.kept, st.guarded};
        for (int k = 0; k < 6; k++) add[k] += v[k];
        if (S > 1 && n->dev)
            engine_device_step_add(n);
        else if (S > 1)
            for (int64_t i = 0; i < total; i++) acc[i] += n->grads[i];
    }
    if (group) {
        acc[total] = engine_stop_requested() ? 1.0f : 0.0f;
        for (int k = 0; k < 6; k++) acc[total + 1 + k] = (float)add[k];
        rc = n->dev ? engine_device_step_allreduce(n, dp) : dp->sum_f32(dp->ctx, acc, total + ENGINE_STEP_EXTRA);
        if (rc != MHIM_OK) return rc;
        if (acc[total] > 0.0f) return 1;
        for (int k = 0; k < 6; k++) add[k] = acc[total + 1 + k];
    }
    if (S == 1) {
        engine_step_apply(n, n->grads, ctx->mm);
        return MHIM_OK;
    }
    if (count > 1 && s->K == 1 && n->dev)
        engine_device_step_average(n, count);
    else if (count > 1 && s->K == 1)
        for (int64_t i = 0; i < total; i++) acc[i] /= (float)count;
    engine_step_apply(n, acc, ctx->mm);
    return MHIM_OK;
}

/* The epochs of the fold, from the cursor on. Returns 1 on a stop request (ckp.h5 written). */
static int train_epochs(engine_run *r, fold_sets *s) {
    const mhim_config *cfg = r->cfg;
    const mhim_dp_ops *dp = r->opt->dp;
    engine_cursor *c = &r->cur;
    engine_net *n = &r->net;
    const int64_t iters = s->steps;
    const int stage = (int)ceil(cfg->save_best_model_stage * cfg->num_epoch);
    mhim_lr_schedule sched;
    int rc = lr_schedule(cfg, iters, &sched);
    if (rc == MHIM_OK && n->dev) rc = engine_device_begin_fold(n, &s->z);
    if (rc != MHIM_OK) return rc;
    mhim_bag_view view = MHIM_BAG_VIEW_INIT;
    double epoch_time_sum = 0;
    int epochs_timed = 0, warned_guard = 0;
    for (; !c->trained && c->epoch < cfg->num_epoch; c->epoch++) {
        const int e = c->epoch;
        double t0 = mhim_seconds(), mm = cfg->mm, r_h = cfg->mask_ratio_h;
        mhim_lr_schedule_seek(&sched, cfg->lr_supi ? (int64_t)e * iters + c->iter : e);
        if (dp && dp->size > 1 && n->mhim && !n->tea_same) { /* group rank 0 owns the teacher */
            rc = dp->bcast_f32(dp->ctx, n->teacher, n->L->total);
            if (rc != MHIM_OK) break;
            if (n->dev) engine_device_upload_teacher(n);
        }
        int64_t n_local = epoch_order(r, s, e, c->iter);
        rc = mhim_bagstore_announce(r->data.store, s->local, n_local);
        if (rc != MHIM_OK) break;
        train_progress bar;
        train_progress_begin(&bar, c->fold, e, cfg->num_epoch, iters, c->iter);
        for (; c->iter < iters; c->iter++) {
            if ((!dp || dp->size <= 1) && engine_stop_requested()) {
                train_progress_end(&bar);
                mhim_bag_view_free(&view);
                rc = engine_save_resume(r);
                return rc == MHIM_OK ? 1 : rc;
            }
            const int64_t t = (int64_t)e * iters + c->iter;
            rc = mhim_mask_ratio_h_at(cfg->mask_ratio_h, cfg->mrh_sche, cfg->num_epoch, iters, t, &r_h);
            if (rc != MHIM_OK) break;
            if (cfg->mm_sche) mm = mhim_cosine_schedule_at(cfg->mm, cfg->mm_final, cfg->num_epoch, iters, 0, 0.0, t);
            n->adam.lr = sched.lr;
            engine_step_ctx ctx = {
                .cfg = cfg, .seed = engine_fold_seed(cfg, r->cur.fold), .epoch = e, .bag = -1, .r_h = r_h, .mm = mm};
            double add[6];
            int guarded_bag;
            rc = train_step(r, s, &ctx, c->iter, &view, add, &guarded_bag);
            if (rc == 1) {
                train_progress_end(&bar);
                mhim_bag_view_free(&view);
                rc = engine_save_resume(r);
                return rc == MHIM_OK ? 1 : rc;
            }
            if (rc != MHIM_OK) {
                train_progress_end(&bar);
                mhim_bag_view_free(&view);
                return rc;
            }
            if (guarded_bag >= 0 && !warned_guard) {
                train_progress_end(&bar);
                MHIM_WARN("fold %d epoch %d: every instance of bag %s would be masked; kept its least-attended one "
                          "(such bags are counted per epoch as guarded_bags in metrics.jsonl)",
                          c->fold, e, mhim_bagstore_name(r->data.store, guarded_bag));
                warned_guard = 1;
            }
            for (int k = 0; k < 6; k++) c->acc[k] += add[k];
            r_h = ctx.r_h, mm = ctx.mm; /* accumulation schedules them per bag: report the step's last */
            if (cfg->lr_supi) mhim_lr_schedule_step(&sched);
            train_progress_update(&bar, c->iter + 1, c->acc[0]);
        }
        train_progress_end(&bar);
        if (rc != MHIM_OK) break;
        if (n->dev) engine_device_download(n); /* evaluation, best copies and ckp.h5 read the host buffers */
        double lr_used = n->adam.lr;
        mhim_eval_scores val, tval, test, ttest;
        rc = evaluate(r, s, n->student, 0, s->val, s->n_val, NAN, 0, &val, NULL);
        if (rc == MHIM_OK && n->mhim) rc = evaluate(r, s, n->teacher, 1, s->val, s->n_val, NAN, 0, &tval, NULL);
        if (rc == MHIM_OK && cfg->always_test) {
            rc = evaluate(r, s, n->student, 0, s->test, s->n_test, NAN, 0, &test, NULL);
            if (rc == MHIM_OK && n->mhim) rc = evaluate(r, s, n->teacher, 1, s->test, s->n_test, NAN, 0, &ttest, NULL);
        }
        if (rc != MHIM_OK) break;
        const double score = select_score(r, &val);
        /* v2 selects the best teacher on its own validation score; v1 keeps the teacher of the best student */
        const int v2_teacher = cfg->version == 2 && n->mhim && select_score(r, &tval) > c->best_teacher && e >= stage;
        if (v2_teacher) {
            c->best_teacher = select_score(r, &tval);
            mhim_params_copy(n->L, n->best_teacher, n->teacher);
        }
        if (score > c->best_auc && e >= stage) {
            c->best_auc = score;
            c->best_epoch = e;
            c->best_val = val;
            mhim_params_copy(n->L, n->best_student, n->student);
            if (n->mhim && cfg->version != 2) mhim_params_copy(n->L, n->best_teacher, n->teacher);
        }
        if (c->best_epoch == e && (rc = engine_save_best(r, c->fold)) != MHIM_OK) break;
        if (v2_teacher && (rc = engine_save_best_teacher(r, c->fold, e, &tval)) != MHIM_OK) break;
        int stop = cfg->early_stopping && mhim_early_stop_update(&c->es, e, score);
        double secs = mhim_seconds() - t0;
        epoch_time_sum += secs;
        epochs_timed++;
        report_epoch(r, e, s->n_train, lr_used, mm, r_h, secs, epoch_time_sum / epochs_timed * (cfg->num_epoch - e - 1),
                     &val, n->mhim ? &tval : NULL, cfg->always_test ? &test : NULL,
                     cfg->always_test && n->mhim ? &ttest : NULL);
        if (stop) engine_say(r, "[fold %d] early stop after epoch %d (no val AUC gain for %d epochs)", c->fold, e + 1,
                             c->es.counter);
        memset(c->acc, 0, sizeof c->acc);
        c->iter = 0;
        if (stop || e + 1 == cfg->num_epoch) c->trained = 1;
        c->epoch = e + 1;
        rc = engine_save_resume(r);
        c->epoch = e;
        if (rc != MHIM_OK || stop) break;
    }
    mhim_bag_view_free(&view);
    if (rc == MHIM_OK) c->trained = 1;
    return rc;
}

int engine_run_fold(engine_run *r) {
    engine_cursor *c = &r->cur;
    engine_net *n = &r->net;
    const mhim_config *cfg = r->cfg;
    fold_sets s;
    int rc = build_sets(r, &s);
    int fresh = c->epoch == 0 && c->iter == 0 && !c->trained;
    mhim_early_stop es = c->es; /* the rules come from the options, the state from the cursor */
    mhim_early_stop_init(&c->es, cfg->es_patience, cfg->es_stop_epoch,
                         (int)ceil(cfg->save_best_model_stage * cfg->num_epoch));
    if (!fresh) {
        c->es.has_best = es.has_best;
        c->es.best = es.best;
        c->es.counter = es.counter;
    }
    if (rc == MHIM_OK && fresh) {
        engine_say(r, "[fold %d] %lld train, %lld val, %lld test bags", c->fold, (long long)s.n_train,
                   (long long)s.n_val, (long long)s.n_test);
        c->best_auc = 0.0;
        c->best_teacher = 0.0;
        c->best_epoch = -1;
        memset(&c->best_val, 0, sizeof c->best_val);
        memset(c->acc, 0, sizeof c->acc);
        mhim_params_zero(n->L, n->adam_m);
        mhim_params_zero(n->L, n->adam_v);
        n->adam.step = 0;
        rc = engine_init_fold_params(r, c->fold);
    } else if (rc == MHIM_OK) {
        rc = engine_load_best(r, c->fold, c->best_epoch >= 0, c->best_teacher > 0);
    }
    if (rc == MHIM_OK) rc = train_epochs(r, &s);
    if (rc != MHIM_OK) {
        sets_free(&s);
        return rc;
    }
    if (c->best_epoch < 0) {
        MHIM_WARN("fold %d: no epoch improved the validation AUC above 0 (from epoch %d on); testing the last model",
                  c->fold, (int)ceil(cfg->save_best_model_stage * cfg->num_epoch));
        mhim_params_copy(n->L, n->best_student, n->student);
        if (n->mhim && cfg->version != 2) mhim_params_copy(n->L, n->best_teacher, n->teacher);
        rc = engine_save_best(r, c->fold); /* a later --teacher_init run needs every fold's file */
    }
    if (rc == MHIM_OK && cfg->version == 2 && n->mhim && !(c->best_teacher > 0)) {
        MHIM_WARN("fold %d: no epoch improved the teacher's validation score above 0; testing the last teacher",
                  c->fold);
        mhim_params_copy(n->L, n->best_teacher, n->teacher);
        rc = engine_save_best_teacher(r, c->fold, -1, NULL); /* epoch -1: not a selected epoch */
    }
    /* v2 tests the best student and the best teacher each from its own file, as the original reloads them */
    if (rc == MHIM_OK && cfg->version == 2 && r->writer) rc = engine_load_best(r, c->fold, 1, n->mhim);
    if (rc != MHIM_OK) {
        sets_free(&s);
        return rc;
    }
    const int k = c->fold - r->sum->first_fold;
    double thr = cfg->best_thr_val ? c->best_val.thr : NAN;
    const int64_t n_boot = cfg->version == 2 && strstr(cfg->bootstrap_mode, "test") ? cfg->num_bootstrap : 0;
    mhim_eval_scores sstd, tstd;
    rc = evaluate(r, &s, n->best_student, 0, s.test, s.n_test, thr, n_boot, &r->sum->student[k], &sstd);
    if (rc == MHIM_OK && n->mhim)
        rc = evaluate(r, &s, n->best_teacher, 1, s.test, s.n_test, thr, n_boot, &r->sum->teacher[k], &tstd);
    sets_free(&s);
    if (rc != MHIM_OK) return rc;
    if (n_boot > 0) {
        engine_say(r, "[fold %d] test bootstrap (%lld resamples) std: acc %.4f auc %.4f f1 %.4f ck %.4f", c->fold,
                   (long long)n_boot, sstd.acc, sstd.auc, sstd.f1, sstd.ck);
        if (n->mhim)
            engine_say(r, "[fold %d] teacher test (best teacher, bootstrap mean): acc %.4f auc %.4f f1 %.4f", c->fold,
                       r->sum->teacher[k].acc, r->sum->teacher[k].auc, r->sum->teacher[k].f1);
    }
    const mhim_eval_scores *t = &r->sum->student[k];
    engine_say(r, "[fold %d] selected epoch %d: val auc %.4f | test accuracy %.4f auc %.4f precision %.4f recall %.4f "
                  "fscore %.4f",
               c->fold, c->best_epoch >= 0 ? c->best_epoch + 1 : c->epoch, c->best_val.auc, t->acc, t->auc, t->prec, t->rec, t->f1);
    r->done[k] = 1;
    return MHIM_OK;
}
