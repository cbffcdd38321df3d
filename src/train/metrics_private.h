/* Helpers shared by the metric sources (src/train/metrics_*.c). */
#ifndef MHIM_TRAIN_METRICS_PRIVATE_H
#define MHIM_TRAIN_METRICS_PRIVATE_H

#include <stdint.h>

#include "mhim/metrics.h"

/* n >= 1, labels 0/1, finite scores; *n_pos = number of label-1 cases. MHIM_EINPUT with a message. */
int mhim_metrics_check_binary(const int *labels, const double *scores, int64_t n, int64_t *n_pos);
/* Exact ROC-AUC of already-checked binary input with 0 < n_pos < n. */
double mhim_metrics_auc_counts(const int *labels, const double *scores, int64_t n, int64_t n_pos);

/* The input checks of mhim_cls_metrics_compute. */
int mhim_metrics_check_cls(const int *labels, const double *logits, int64_t n, int n_classes, mhim_cls_mode mode);
/* mhim_cls_metrics_compute on checked input. */
void mhim_metrics_cls_point(const int *labels, const double *logits, int64_t n, int n_classes, mhim_cls_mode mode,
                            mhim_cls_metrics *out);
/* Input checks of mhim_concordance_index except the "no comparable pair" rule. */
int mhim_metrics_check_surv(const int *event, const double *time, const double *estimate, int64_t n);
/* Concordance index of checked input; MHIM_EINPUT (no message) when every case is censored or no pair
 * is comparable, so that callers can word the message. */
int mhim_metrics_cindex_point(const int *event, const double *time, const double *estimate, int64_t n,
                              double tied_tol, mhim_cindex *out);

#endif
