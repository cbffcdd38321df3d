/* train/engine_v2.h — the MHIM-v2 protocol inside the training engine (spec mhim_v2.md §4.2-§5): the v2 LR
 * schedule, the v2 evaluation (macro metrics from argmax logits, bootstrap at test) and model selection on the v2
 * metric (AUC for binary tasks, macro accuracy for n_classes > 2), with the best teacher selected separately. */
#ifndef MHIM_TRAIN_ENGINE_V2_H
#define MHIM_TRAIN_ENGINE_V2_H

#include <stdint.h>

#include "train/engine_internal.h"

#define ENGINE_V2_LR_MIN 1e-7 /* timm CosineLRScheduler lr_min of the original */
#define ENGINE_V2_MAX_BINS 16 /* survival time bins the step supports (the original uses 4) */

typedef struct {
    int bin_metric; /* --bin_metric: binary metrics of logits[:, 1] */
    int64_t fold;   /* keys the bootstrap resamples */
    int64_t n_boot; /* 0 = point estimates (validation), else resamples (--num_bootstrap at test) */
    int merged;     /* --merge_test on the student: forward_test appends the merge_k recycled tokens */
} engine_v2_eval_opts;

/* v2 --model=mhim: bind the Merge companion to n's model, size n's arena for the v2 passes on up to max_inst
 * instances, set the v2 masking. MHIM_EINPUT naming the option on bad merge/mask settings. */
int engine_v2_attach(engine_net *n, const mhim_config *cfg, int64_t max_inst);
void engine_v2_detach(engine_net *n);

/* The gradients of one v2 step into n->grads: MHIM (n->v2 set), or mhim_pure on a survival task, on bag x (N, dim)
 * with label y (spec §4.1); stats as engine_step_grad (kept = encoder tokens n_keep + merge_k, cl = the aux
 * consistency loss). engine_step_apply then takes the Adam step (G excluded) and the EMA. */
int engine_v2_step_grad(engine_net *n, const engine_step_ctx *ctx, const float *x, int64_t N, int64_t y,
                        engine_step_stats *st);

/* Evaluate params (eval mode, full bags, no masking) on bags[0..nb) with the v2 metrics: s gets the point estimates
 * (n_boot == 0) or the bootstrap means; boot_std (may be NULL) the bootstrap stds (zero without bootstrap). In s,
 * acc = macro accuracy, acc05 = acc_micro (no threshold in v2, thr = NaN), loss = mean CE of the logits.
 * MHIM_EINPUT when a set holds one class only or a value is not finite (mhim/metrics.h). */
int engine_v2_evaluate(engine_net *n, engine_data *d, const engine_standardizer *z, const float *params,
                       const int64_t *bags, int64_t nb, const engine_v2_eval_opts *o, mhim_eval_scores *s,
                       mhim_eval_scores *boot_std);

/* The model-selection / early-stopping metric of v2 (best_idx): AUC for 2 classes, macro accuracy above, the
 * C-index (kept in s->auc) for survival. */
double engine_v2_select_metric(const mhim_eval_scores *s, int64_t n_classes, int survival);

/* Survival risk of one bag's logits (C time bins): −Σ_j S_j with h = σ(z), S = cumprod(1 − h), in float32 as the
 * original (torch), returned as double. */
double engine_v2_survival_risk(const float *logits, int64_t C);

#endif
