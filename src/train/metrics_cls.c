/* v2 classification metrics (engines/metrics.py over torchmetrics): macro or binary point estimates.
 * See mhim/metrics.h and docs/metrics.md for the definitions and the torchmetrics rules reproduced. */
#include <math.h>
#include <stdlib.h>

#include "mhim/common.h"
#include "mhim/metrics.h"
#include "train/metrics_private.h"

int mhim_metrics_check_cls(const int *labels, const double *logits, int64_t n, int n_classes, mhim_cls_mode mode) {
    if (n < 1) return mhim_fail("metrics: %lld cases: expected at least 1", (long long)n);
    if (n_classes < 2) return mhim_fail("metrics: %d classes: expected at least 2", n_classes);
    if (mode == MHIM_CLS_BINARY && n_classes != 2)
        return mhim_fail("metrics: binary metrics (bin_metric) need 2 classes, got %d; turn bin_metric off",
                         n_classes);
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= n_classes)
            return mhim_fail("metrics: label of case %lld is %d: expected a class index in [0, %d)", (long long)i,
                             labels[i], n_classes);
        for (int c = 0; c < n_classes; c++)
            if (!isfinite(logits[i * n_classes + c]))
                return mhim_fail("metrics: logit %d of case %lld is %g: expected a finite value", c, (long long)i,
                                 logits[i * n_classes + c]);
    }
    return MHIM_OK;
}

static int outside_unit(double v) { return v < 0.0 || v > 1.0; }

/* Cohen's kappa from label counts r, prediction counts p and the trace (torchmetrics: 1 - sum(w*confmat) /
 * sum(w*expected) with w = 1 - I); NaN when every label and prediction is the same class (0/0). */
static double cohen_kappa(const int64_t *r, const int64_t *p, int n_classes, int64_t trace, int64_t n) {
    int64_t agree_expected = 0;
    for (int c = 0; c < n_classes; c++) agree_expected += r[c] * p[c];
    double off_observed = (double)(n - trace);
    double off_expected = ((double)n * (double)n - (double)agree_expected) / (double)n;
    return 1.0 - off_observed / off_expected;
}

/* One-vs-rest AUC of class c from probs[n * n_classes]; 0 when class c has no positive or no negative
 * case (torchmetrics returns a zero TPR or FPR curve there). `y` and `col` are scratch of n entries. */
static double ovr_auc(const int *labels, const double *probs, int64_t n, int n_classes, int c, int *y, double *col) {
    int64_t pos = 0;
    for (int64_t i = 0; i < n; i++) {
        y[i] = labels[i] == c;
        col[i] = probs[i * n_classes + c];
        pos += y[i];
    }
    return pos == 0 || pos == n ? 0.0 : mhim_metrics_auc_counts(y, col, n, pos);
}

static void macro_metrics(const int *labels, const double *logits, int64_t n, int C, mhim_cls_metrics *out) {
    int64_t *tp = mhim_calloc((size_t)C, sizeof *tp), *n_label = mhim_calloc((size_t)C, sizeof *n_label);
    int64_t *n_pred = mhim_calloc((size_t)C, sizeof *n_pred);
    int use_softmax = 0;
    for (int64_t i = 0; i < n; i++) {
        const double *z = logits + i * C;
        int pred = 0;
        for (int c = 0; c < C; c++) {
            if (z[c] > z[pred]) pred = c; /* argmax: first maximum */
            use_softmax |= outside_unit(z[c]);
        }
        n_label[labels[i]]++;
        n_pred[pred]++;
        tp[pred] += pred == labels[i];
    }
    /* Per-class scores averaged over the classes with tp + fp + fn > 0, each divided by that count. */
    int64_t weight = 0, trace = 0;
    for (int c = 0; c < C; c++) {
        weight += n_label[c] + n_pred[c] > 0;
        trace += tp[c];
    }
    double precision = 0, recall = 0, f1 = 0;
    for (int c = 0; c < C; c++) {
        if (n_label[c] + n_pred[c] == 0) continue;
        int64_t fp = n_pred[c] - tp[c], fn = n_label[c] - tp[c];
        precision += (tp[c] + fp > 0 ? (double)tp[c] / (double)(tp[c] + fp) : 0.0) / (double)weight;
        recall += (tp[c] + fn > 0 ? (double)tp[c] / (double)(tp[c] + fn) : 0.0) / (double)weight;
        f1 += (tp[c] > 0 ? 2.0 * (double)tp[c] / (double)(2 * tp[c] + fp + fn) : 0.0) / (double)weight;
    }
    out->precision = precision;
    out->recall = recall;
    out->acc = recall; /* torchmetrics macro accuracy = mean per-class recall */
    out->f1 = f1;
    out->acc_micro = (double)trace / (double)n;
    out->ck = cohen_kappa(n_label, n_pred, C, trace, n);

    double *probs = mhim_malloc((size_t)(n * C) * sizeof *probs);
    for (int64_t i = 0; i < n; i++) {
        const double *z = logits + i * C;
        double *p = probs + i * C;
        if (!use_softmax) {
            for (int c = 0; c < C; c++) p[c] = z[c];
            continue;
        }
        double zmax = z[0], total = 0;
        for (int c = 1; c < C; c++) zmax = z[c] > zmax ? z[c] : zmax;
        for (int c = 0; c < C; c++) total += p[c] = exp(z[c] - zmax);
        for (int c = 0; c < C; c++) p[c] /= total;
    }
    int *y = mhim_malloc((size_t)n * sizeof *y);
    double *col = mhim_malloc((size_t)n * sizeof *col), auc_sum = 0;
    for (int c = 0; c < C; c++) auc_sum += ovr_auc(labels, probs, n, C, c, y, col);
    out->auc = auc_sum / (double)C;
    free(y);
    free(col);
    free(probs);
    free(tp);
    free(n_label);
    free(n_pred);
}

static void binary_metrics(const int *labels, const double *logits, int64_t n, mhim_cls_metrics *out) {
    int use_sigmoid = 0;
    for (int64_t i = 0; i < n; i++) use_sigmoid |= outside_unit(logits[2 * i + 1]);
    double *p = mhim_malloc((size_t)n * sizeof *p);
    int64_t tp = 0, fp = 0, fn = 0, pos = 0;
    for (int64_t i = 0; i < n; i++) {
        double z = logits[2 * i + 1];
        p[i] = use_sigmoid ? 1.0 / (1.0 + exp(-z)) : z;
        int pred = p[i] > 0.5;
        tp += pred && labels[i];
        fp += pred && !labels[i];
        fn += !pred && labels[i];
        pos += labels[i];
    }
    int64_t trace = n - fp - fn;
    out->acc = out->acc_micro = (double)trace / (double)n;
    out->precision = tp + fp > 0 ? (double)tp / (double)(tp + fp) : 0.0;
    out->recall = tp + fn > 0 ? (double)tp / (double)(tp + fn) : 0.0;
    out->f1 = tp > 0 ? 2.0 * (double)tp / (double)(2 * tp + fp + fn) : 0.0;
    int64_t r[2] = {n - pos, pos}, q[2] = {n - tp - fp, tp + fp};
    out->ck = cohen_kappa(r, q, 2, trace, n);
    out->auc = pos == 0 || pos == n ? 0.0 : mhim_metrics_auc_counts(labels, p, n, pos);
    free(p);
}

void mhim_metrics_cls_point(const int *labels, const double *logits, int64_t n, int n_classes, mhim_cls_mode mode,
                            mhim_cls_metrics *out) {
    if (mode == MHIM_CLS_BINARY)
        binary_metrics(labels, logits, n, out);
    else
        macro_metrics(labels, logits, n, n_classes, out);
}

int mhim_cls_metrics_compute(const int *labels, const double *logits, int64_t n, int n_classes, mhim_cls_mode mode,
                             mhim_cls_metrics *out) {
    int rc = mhim_metrics_check_cls(labels, logits, n, n_classes, mode);
    if (rc) return rc;
    mhim_metrics_cls_point(labels, logits, n, n_classes, mode, out);
    return MHIM_OK;
}
