/* mhim/metrics.h — evaluation metrics of the original programs, per fold and across folds.
 *
 * v1 (utils.five_scores, binary only): exact ROC-AUC (sklearn roc_auc_score, ties count 1/2), the ROC
 * curve of sklearn roc_curve(drop_intermediate=True) and its Youden-optimal threshold (first argmin of
 * fpr - tpr, i.e. the highest score value maximising TPR - FPR), then accuracy, precision, recall and F1
 * (average='binary', 0 when undefined) of pred = [score >= threshold]; or the same at a fixed threshold.
 * v2 (engines/metrics.py, torchmetrics): macro accuracy (= balanced accuracy), one-vs-rest macro AUC,
 * macro precision/recall/F1, Cohen's kappa and micro accuracy from logits (argmax), optionally the
 * `bin_metric` binary variant; Harrell's censored concordance index (sksurv concordance_index_censored);
 * bootstrap means and unbiased standard deviations over resampled slide lists.
 * Across folds: numpy mean and population std (ddof = 0), with numpy's summation order.
 *
 * Scores, logits, times and estimates are double (exact copies of the model's float32 outputs); labels
 * are class indices. All functions validate their input and fail with MHIM_EINPUT and one message naming
 * the argument, the row and what was expected (docs/metrics.md lists every rule and quirk). */
#ifndef MHIM_METRICS_H
#define MHIM_METRICS_H

#include <stdint.h>

/* ---- v1: utils.five_scores ---------------------------------------------------------------- */

/* sklearn roc_curve(y, score, pos_label=1, drop_intermediate=True): n_points points, descending
 * thresholds. Point 0 is (0, 0) with threshold = max score + 1 (sklearn 1.2). fps/tps are the counts
 * of negatives/positives with score >= threshold; fpr = fps / n_neg, tpr = tps / n_pos. */
typedef struct {
    int64_t n_points;
    int64_t *fps, *tps;  /* n_points each (owned) */
    double *thresholds;  /* n_points (owned) */
    int64_t n_pos, n_neg;
} mhim_roc_curve;

/* The ROC curve of labels[n] (0/1) and scores[n] (finite). Fails when n < 1, a label is not 0/1, a
 * score is not finite, or only one class is present (the curve is undefined; the original crashes in
 * roc_auc_score). Free with mhim_roc_curve_free. */
int mhim_roc_curve_compute(const int *labels, const double *scores, int64_t n, mhim_roc_curve *out);
void mhim_roc_curve_free(mhim_roc_curve *c);
/* Index of the Youden-optimal point: first argmin of fps/n_neg - tps/n_pos, in double. */
int64_t mhim_roc_youden_index(const mhim_roc_curve *c);

/* Exact ROC-AUC = (#(pos > neg) + 0.5 #(pos == neg)) / (n_pos n_neg). Same checks as the curve. */
int mhim_roc_auc(const int *labels, const double *scores, int64_t n, double *auc);

typedef struct {
    double accuracy, auc, precision, recall, fscore;
    double threshold;          /* the threshold used */
    int64_t tp, fp, tn, fn;    /* confusion counts of pred = [score >= threshold] */
} mhim_five_scores;

/* five_scores(labels, scores) with the Youden threshold of this same set. Scores must be
 * probabilities (finite, in [0, 1]; see docs/metrics.md for why). Errors as mhim_roc_curve_compute. */
int mhim_five_scores_youden(const int *labels, const double *scores, int64_t n, mhim_five_scores *out);
/* five_scores(labels, scores, threshold_optimal=threshold): a fixed threshold (0.5, or the validation
 * threshold with --best_thr_val). threshold must be finite. */
int mhim_five_scores_at(const int *labels, const double *scores, int64_t n, double threshold,
                        mhim_five_scores *out);

/* ---- v2: engines/metrics.py ---------------------------------------------------------------- */

typedef enum {
    MHIM_CLS_MACRO = 0,  /* default: multiclass torchmetrics metrics, average='macro' */
    MHIM_CLS_BINARY = 1  /* --bin_metric with 2 classes: binary metrics of logits[:, 1] (sigmoid, > 0.5) */
} mhim_cls_mode;

typedef struct {
    double acc;        /* "Acc": macro accuracy (mean per-class recall); binary mode: accuracy */
    double auc;        /* "AUC": macro one-vs-rest ROC-AUC; binary mode: ROC-AUC of column 1 */
    double precision;  /* "Precision" (macro or binary) */
    double recall;     /* "Recall" */
    double f1;         /* "F1" */
    double ck;         /* "CK": Cohen's kappa (NaN when undefined, as torchmetrics) */
    double acc_micro;  /* "Acc_micro": plain accuracy */
} mhim_cls_metrics;

/* Point estimates from logits[n * n_classes] (row-major) and labels[n] in [0, n_classes). Softmax
 * (binary mode: sigmoid) is applied only when some value lies outside [0, 1] (torchmetrics rule).
 * Fails when n < 1, n_classes < 2 (binary mode: != 2), a label is out of range or a logit not finite. */
int mhim_cls_metrics_compute(const int *labels, const double *logits, int64_t n, int n_classes, mhim_cls_mode mode,
                             mhim_cls_metrics *out);

typedef struct {
    double cindex;
    int64_t concordant, discordant, tied_risk, tied_time;
} mhim_cindex;

/* sksurv concordance_index_censored(event, time, estimate, tied_tol): pairs (i, j) with event[i] and
 * (time[j] > time[i], or time[j] == time[i] and j censored); concordant when estimate[i] > estimate[j],
 * a tie when |estimate[i] - estimate[j]| <= tied_tol (counts 1/2). event[i] is 0/1. Fails on non-finite
 * times or estimates, when every case is censored ("All samples are censored") or when no pair is
 * comparable — the cases where sksurv raises. */
int mhim_concordance_index(const int *event, const double *time, const double *estimate, int64_t n,
                           double tied_tol, mhim_cindex *out);
#define MHIM_CINDEX_TIED_TOL 1e-8 /* the original's tied_tol */

/* ---- bootstrap (v2 test metrics) ------------------------------------------------------------ */

/* The original seeds its resampling generator with fold + 7784414403328510413; the same constant keys
 * our Philox streams, so resamples depend on the fold and the set size only, not on the run seed. */
#define MHIM_BOOTSTRAP_SEED_BASE 7784414403328510413ULL

/* Resample b of a set of n cases for fold `fold`: idx[n] drawn uniformly with replacement from the
 * Philox stream (seed = MHIM_BOOTSTRAP_SEED_BASE + fold, epoch 0, bag b, bootstrap purpose). The
 * indices of torch.multinomial are NOT reproduced (docs/metrics.md). n >= 1. */
void mhim_bootstrap_indices(int64_t fold, int64_t b, int64_t n, int64_t *idx);

/* Mean and unbiased std (ddof = 1; NaN when n_boot == 1, as torch.std) over n_boot resamples. */
typedef struct {
    mhim_cls_metrics mean, std;
} mhim_cls_bootstrap;
typedef struct {
    double mean, std;
} mhim_cindex_bootstrap;

/* v2 classification metrics on n_boot resamples (torchmetrics BootStrapper, multinomial sampling):
 * each resample is scored as mhim_cls_metrics_compute does, including the per-resample softmax rule.
 * Inputs are checked once as there; n_boot >= 1. */
int mhim_cls_metrics_bootstrap(const int *labels, const double *logits, int64_t n, int n_classes,
                               mhim_cls_mode mode, int64_t fold, int64_t n_boot, mhim_cls_bootstrap *out);
/* Concordance index on n_boot resamples. Fails, naming the resample, when a resample has no event or
 * no comparable pair (where the original raises). */
int mhim_cindex_bootstrap_compute(const int *event, const double *time, const double *estimate, int64_t n,
                                  double tied_tol, int64_t fold, int64_t n_boot, mhim_cindex_bootstrap *out);

/* ---- aggregation across folds ---------------------------------------------------------------- */

/* numpy float64 sum of x[0], x[stride], ... (n values) in numpy's pairwise order (blocks of 8
 * accumulators up to 128 values, halves above). */
double mhim_numpy_sum(const double *x, int64_t n, int64_t stride);
/* np.mean and np.std(ddof=ddof) of x[0], x[stride], ... (n > ddof >= 0 values) with numpy's arithmetic:
 * across folds the original uses ddof = 0 (population std); bootstrap stds use ddof = 1. */
void mhim_numpy_mean_std(const double *x, int64_t n, int64_t stride, int ddof, double *mean, double *std);

#endif
