/* The v2 evaluation pass (spec mhim_v2.md §5): raw logits of every bag (DSMIL: 0.5·bag + 0.5·max-instance logits),
 * argmax predictions, torchmetrics macro metrics (mhim/metrics.h), optionally the deterministic bootstrap. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/metrics.h"
#include "mhim/ops/loss.h"
#include "mhim/v2.h"
#include "train/engine_v2.h"

static void from_metrics(mhim_eval_scores *s, const mhim_cls_metrics *m, double loss) {
    *s = (mhim_eval_scores){.acc = m->acc,
                            .auc = m->auc,
                            .prec = m->precision,
                            .rec = m->recall,
                            .f1 = m->f1,
                            .thr = NAN,
                            .acc05 = m->acc_micro,
                            .f1_05 = m->f1,
                            .loss = loss,
                            .ck = m->ck,
                            .acc_micro = m->acc_micro};
}

double engine_v2_survival_risk(const float *logits, int64_t C) {
    float surv = 1.0f, sum = 0.0f;
    for (int64_t c = 0; c < C; c++) {
        const float h = 1.0f / (1.0f + expf(-logits[c]));
        surv *= 1.0f - h;
        sum += surv;
    }
    return -(double)sum;
}

/* Survival figures of nb bags with logits all (nb, C): C-index (point or bootstrap mean) in s->auc, its bootstrap
 * std in boot_std->auc, the other metrics NaN. risk = −Σ_j S_j, S = cumprod(1 − σ(z)) in float as the original. */
static int survival_scores(const engine_net *n, const engine_data *d, const int64_t *bags, int64_t nb,
                           const double *all, const engine_v2_eval_opts *o, mhim_eval_scores *s,
                           mhim_eval_scores *boot_std) {
    const int64_t C = n->C;
    MHIM_ASSERT(C <= ENGINE_V2_MAX_BINS); /* survival runs have 4 bins (mhim_config_check_training) */
    double *risk = mhim_malloc((size_t)MHIM_MAX(nb, 1) * sizeof *risk);
    double *time = mhim_malloc((size_t)MHIM_MAX(nb, 1) * sizeof *time);
    int *event = mhim_malloc((size_t)MHIM_MAX(nb, 1) * sizeof *event);
    double loss = 0;
    for (int64_t i = 0; i < nb; i++) {
        const mhim_case *kase = &d->labels.cases[d->bags[bags[i]].case_index];
        float z[ENGINE_V2_MAX_BINS], h[ENGINE_V2_MAX_BINS], sv[ENGINE_V2_MAX_BINS];
        for (int64_t c = 0; c < C; c++) z[c] = (float)all[i * C + c];
        const int64_t y = d->bag_label[bags[i]];
        const float cens = (float)kase->censorship;
        loss += mhim_nll_surv_forward(h, sv, z, &y, &cens, 0.0f, 1, C);
        risk[i] = engine_v2_survival_risk(z, C);
        time[i] = kase->event_time;
        event[i] = 1 - kase->censorship;
    }
    const double nan = NAN;
    *s = (mhim_eval_scores){nan, nan, nan, nan, nan, nan, nan, nan, nb ? loss / (double)nb : 0.0, nan, nan};
    if (boot_std) *boot_std = (mhim_eval_scores){nan, 0.0, nan, nan, nan, nan, nan, nan, 0.0, nan, nan};
    int rc;
    if (o->n_boot > 0) {
        mhim_cindex_bootstrap b;
        rc = mhim_cindex_bootstrap_compute(event, time, risk, nb, MHIM_CINDEX_TIED_TOL, o->fold, o->n_boot, &b);
        s->auc = b.mean;
        if (boot_std) boot_std->auc = b.std;
    } else {
        mhim_cindex ci;
        rc = mhim_concordance_index(event, time, risk, nb, MHIM_CINDEX_TIED_TOL, &ci);
        s->auc = ci.cindex;
    }
    free(risk);
    free(time);
    free(event);
    return rc;
}

int engine_v2_evaluate(engine_net *n, engine_data *d, const engine_standardizer *z, const float *params,
                       const int64_t *bags, int64_t nb, const engine_v2_eval_opts *o, mhim_eval_scores *s,
                       mhim_eval_scores *boot_std) {
    const int64_t C = n->C;
    const int dsmil = mhim_model_get_config(n->model)->kind == MHIM_MODEL_DSMIL;
    float *logits = n->probs, *max_logits = n->probs + C;
    mhim_model_out out = {logits, max_logits, NULL};
    mhim_bag_view view = MHIM_BAG_VIEW_INIT;
    double *all = mhim_malloc((size_t)(MHIM_MAX(nb, 1) * C) * sizeof *all);
    double loss = 0;
    int rc = MHIM_OK;
    for (int64_t i = 0; i < nb && rc == MHIM_OK; i++) {
        const float *x;
        int64_t N;
        rc = engine_bag_get(d, z, bags[i], &view, n->xbuf, &x, &N);
        if (rc == MHIM_OK && n->v2 && o->merged)
            rc = mhim_v2_eval_forward_merged(n->v2, &n->arena, params, x, N, logits, NULL);
        else if (rc == MHIM_OK && n->v2)
            rc = mhim_v2_eval_forward(n->v2, &n->arena, params, x, N, logits, NULL);
        else if (rc == MHIM_OK) rc = mhim_model_predict(n->model, &n->arena, params, x, N, &out, NULL);
        if (rc != MHIM_OK) break;
        double *row = all + i * C, mx = -INFINITY, sum = 0;
        for (int64_t c = 0; c < C; c++) { /* DSMIL: 0.5·bag + 0.5·max-instance (mhim_v2_eval_forward does it) */
            row[c] = dsmil && !n->v2 ? (double)(0.5f * logits[c] + 0.5f * max_logits[c]) : (double)logits[c];
            mx = fmax(mx, row[c]);
        }
        for (int64_t c = 0; c < C; c++) sum += exp(row[c] - mx);
        const int64_t y = d->bag_label[bags[i]];
        loss += mx + log(sum) - row[y];
        n->eval_y[i] = (int)y;
    }
    mhim_bag_view_free(&view);
    if (rc == MHIM_OK && n->survival) {
        rc = survival_scores(n, d, bags, nb, all, o, s, boot_std);
    } else if (rc == MHIM_OK) {
        mhim_cls_metrics m;
        const mhim_cls_mode mode = o->bin_metric ? MHIM_CLS_BINARY : MHIM_CLS_MACRO;
        const double mean_loss = nb ? loss / (double)nb : 0.0;
        if (o->n_boot > 0) {
            mhim_cls_bootstrap b;
            rc = mhim_cls_metrics_bootstrap(n->eval_y, all, nb, (int)C, mode, o->fold, o->n_boot, &b);
            if (rc == MHIM_OK) {
                from_metrics(s, &b.mean, mean_loss);
                if (boot_std) from_metrics(boot_std, &b.std, 0.0);
            }
        } else {
            rc = mhim_cls_metrics_compute(n->eval_y, all, nb, (int)C, mode, &m);
            if (rc == MHIM_OK) from_metrics(s, &m, mean_loss);
            if (rc == MHIM_OK && boot_std) memset(boot_std, 0, sizeof *boot_std);
        }
    }
    free(all);
    return rc;
}

double engine_v2_select_metric(const mhim_eval_scores *s, int64_t n_classes, int survival) {
    return n_classes > 2 && !survival ? s->acc : s->auc;
}
