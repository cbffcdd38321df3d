/* v1 metrics (utils.five_scores): ROC curve with sklearn's drop_intermediate rule, exact AUC, the
 * Youden threshold and the binary scores at a threshold. See mhim/metrics.h and docs/metrics.md. */
#include <math.h>
#include <stdlib.h>

#include "mhim/common.h"
#include "mhim/metrics.h"
#include "train/metrics_private.h"

typedef struct {
    double score;
    int label;
} scored_case;

/* Descending by score (order within equal scores is irrelevant: only group totals are used). */
static int by_score_desc(const void *a, const void *b) {
    double x = ((const scored_case *)a)->score, y = ((const scored_case *)b)->score;
    return (x < y) - (x > y);
}

int mhim_metrics_check_binary(const int *labels, const double *scores, int64_t n, int64_t *n_pos) {
    if (n < 1) return mhim_fail("metrics: %lld cases: expected at least 1", (long long)n);
    int64_t pos = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1)
            return mhim_fail("metrics: label of case %lld is %d: expected 0 or 1 (the v1 metrics are binary)",
                             (long long)i, labels[i]);
        if (!isfinite(scores[i]))
            return mhim_fail("metrics: score of case %lld is %g: expected a finite value", (long long)i, scores[i]);
        pos += labels[i];
    }
    *n_pos = pos;
    return MHIM_OK;
}

/* The checks of sklearn's roc_curve + roc_auc_score: both classes must be present. */
static int check_roc_input(const int *labels, const double *scores, int64_t n, int64_t *n_pos) {
    int rc = mhim_metrics_check_binary(labels, scores, n, n_pos);
    if (rc) return rc;
    if (*n_pos == 0 || *n_pos == n)
        return mhim_fail("metrics: all %lld cases have label %d: ROC-AUC and the Youden threshold need both "
                         "classes (the original stops with sklearn's 'Only one class present' error); use "
                         "folds or a validation split that contain both classes",
                         (long long)n, *n_pos == 0 ? 0 : 1);
    return MHIM_OK;
}

/* Cases sorted by descending score, grouped by distinct score: group g has threshold thr[g] and
 * cumulative counts tps[g], fps[g] of cases with score >= thr[g]. Returns the group count. */
static int64_t distinct_groups(const int *labels, const double *scores, int64_t n, double *thr, int64_t *tps,
                               int64_t *fps) {
    scored_case *c = mhim_malloc((size_t)n * sizeof *c);
    for (int64_t i = 0; i < n; i++) c[i] = (scored_case){scores[i], labels[i]};
    qsort(c, (size_t)n, sizeof *c, by_score_desc);
    int64_t m = 0, tp = 0, fp = 0;
    for (int64_t i = 0; i < n; i++) {
        tp += c[i].label;
        fp += 1 - c[i].label;
        if (i + 1 == n || c[i + 1].score != c[i].score) {
            thr[m] = c[i].score;
            tps[m] = tp;
            fps[m] = fp;
            m++;
        }
    }
    free(c);
    return m;
}

int mhim_roc_curve_compute(const int *labels, const double *scores, int64_t n, mhim_roc_curve *out) {
    int64_t n_pos = 0;
    int rc = check_roc_input(labels, scores, n, &n_pos);
    if (rc) return rc;
    double *thr = mhim_malloc((size_t)n * sizeof *thr);
    int64_t *tps = mhim_malloc((size_t)n * sizeof *tps), *fps = mhim_malloc((size_t)n * sizeof *fps);
    int64_t m = distinct_groups(labels, scores, n, thr, tps, fps);

    out->fps = mhim_malloc((size_t)(m + 1) * sizeof *out->fps);
    out->tps = mhim_malloc((size_t)(m + 1) * sizeof *out->tps);
    out->thresholds = mhim_malloc((size_t)(m + 1) * sizeof *out->thresholds);
    out->fps[0] = 0;
    out->tps[0] = 0;
    out->thresholds[0] = thr[0] + 1; /* sklearn 1.2: thresholds[0] + 1 */
    int64_t k = 1;
    for (int64_t g = 0; g < m; g++) {
        /* drop_intermediate (only when more than 2 points): keep the ends and every point where the
         * second difference of fps or tps is nonzero, i.e. where the curve changes direction. */
        if (m > 2 && g > 0 && g < m - 1 && fps[g + 1] - 2 * fps[g] + fps[g - 1] == 0 &&
            tps[g + 1] - 2 * tps[g] + tps[g - 1] == 0)
            continue;
        out->fps[k] = fps[g];
        out->tps[k] = tps[g];
        out->thresholds[k] = thr[g];
        k++;
    }
    out->n_points = k;
    out->n_pos = n_pos;
    out->n_neg = n - n_pos;
    free(thr);
    free(tps);
    free(fps);
    return MHIM_OK;
}

void mhim_roc_curve_free(mhim_roc_curve *c) {
    if (!c) return;
    free(c->fps);
    free(c->tps);
    free(c->thresholds);
    *c = (mhim_roc_curve){0};
}

int64_t mhim_roc_youden_index(const mhim_roc_curve *c) {
    /* optimal_thresh with p = 0: loss = (fpr - tpr) - 0 * tpr / (fpr + tpr + 1) = fpr - tpr exactly;
     * np.argmin returns the first minimum. fpr and tpr are divided as numpy does (float64). */
    int64_t best = 0;
    double best_loss = 0;
    for (int64_t k = 0; k < c->n_points; k++) {
        double loss = (double)c->fps[k] / (double)c->n_neg - (double)c->tps[k] / (double)c->n_pos;
        if (k == 0 || loss < best_loss) {
            best = k;
            best_loss = loss;
        }
    }
    return best;
}

int mhim_roc_auc(const int *labels, const double *scores, int64_t n, double *auc) {
    int64_t n_pos = 0;
    int rc = check_roc_input(labels, scores, n, &n_pos);
    if (rc) return rc;
    *auc = mhim_metrics_auc_counts(labels, scores, n, n_pos);
    return MHIM_OK;
}

double mhim_metrics_auc_counts(const int *labels, const double *scores, int64_t n, int64_t n_pos) {
    double *thr = mhim_malloc((size_t)n * sizeof *thr);
    int64_t *tps = mhim_malloc((size_t)n * sizeof *tps), *fps = mhim_malloc((size_t)n * sizeof *fps);
    int64_t m = distinct_groups(labels, scores, n, thr, tps, fps);
    /* Mann-Whitney: twice (#pos > neg) + #ties, accumulated per distinct score (descending). */
    int64_t twice = 0, prev_tp = 0, prev_fp = 0;
    for (int64_t g = 0; g < m; g++) {
        int64_t pos_g = tps[g] - prev_tp, neg_g = fps[g] - prev_fp;
        twice += 2 * neg_g * prev_tp + neg_g * pos_g;
        prev_tp = tps[g];
        prev_fp = fps[g];
    }
    free(thr);
    free(tps);
    free(fps);
    return (double)twice / (2.0 * (double)n_pos * (double)(n - n_pos));
}

/* Scores of pred = [score >= threshold] (five_scores' two-step assignment gives the same predictions
 * for scores in [0, 1]). AUC is filled in by the caller. */
static void scores_at(const int *labels, const double *scores, int64_t n, double threshold, mhim_five_scores *out) {
    int64_t tp = 0, fp = 0, tn = 0, fn = 0;
    for (int64_t i = 0; i < n; i++) {
        int pred = scores[i] >= threshold;
        tp += pred && labels[i];
        fp += pred && !labels[i];
        tn += !pred && !labels[i];
        fn += !pred && labels[i];
    }
    out->tp = tp;
    out->fp = fp;
    out->tn = tn;
    out->fn = fn;
    out->threshold = threshold;
    out->accuracy = (double)(tp + tn) / (double)n;
    /* precision_recall_fscore_support(average='binary'), zero_division 'warn' => 0. */
    out->precision = tp + fp > 0 ? (double)tp / (double)(tp + fp) : 0.0;
    out->recall = tp + fn > 0 ? (double)tp / (double)(tp + fn) : 0.0;
    double denom = out->precision + out->recall;
    out->fscore = 2.0 * out->precision * out->recall / (denom == 0.0 ? 1.0 : denom);
}

static int check_probabilities(const double *scores, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!(scores[i] >= 0.0 && scores[i] <= 1.0))
            return mhim_fail("metrics: score of case %lld is %g: expected a probability in [0, 1] (softmax or "
                             "sigmoid output)",
                             (long long)i, scores[i]);
    return MHIM_OK;
}

int mhim_five_scores_youden(const int *labels, const double *scores, int64_t n, mhim_five_scores *out) {
    mhim_roc_curve curve;
    int rc = mhim_roc_curve_compute(labels, scores, n, &curve);
    if (rc) return rc;
    rc = check_probabilities(scores, n);
    if (rc == MHIM_OK) {
        scores_at(labels, scores, n, curve.thresholds[mhim_roc_youden_index(&curve)], out);
        out->auc = mhim_metrics_auc_counts(labels, scores, n, curve.n_pos);
    }
    mhim_roc_curve_free(&curve);
    return rc;
}

int mhim_five_scores_at(const int *labels, const double *scores, int64_t n, double threshold,
                        mhim_five_scores *out) {
    if (!isfinite(threshold)) return mhim_fail("metrics: threshold %g: expected a finite value", threshold);
    int64_t n_pos = 0;
    int rc = check_roc_input(labels, scores, n, &n_pos);
    if (rc == MHIM_OK) rc = check_probabilities(scores, n);
    if (rc) return rc;
    scores_at(labels, scores, n, threshold, out);
    out->auc = mhim_metrics_auc_counts(labels, scores, n, n_pos);
    return MHIM_OK;
}
