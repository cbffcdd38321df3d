/* Bootstrap of the v2 test metrics (torchmetrics BootStrapper with multinomial sampling): n_boot
 * resamples of the case list, each scored like the point estimate; mean and unbiased std per metric. */
#include <math.h>
#include <stdlib.h>

#include "mhim/common.h"
#include "mhim/metrics.h"
#include "mhim/rng.h"
#include "train/metrics_private.h"

void mhim_bootstrap_indices(int64_t fold, int64_t b, int64_t n, int64_t *idx) {
    MHIM_ASSERT(n >= 1 && b >= 0 && b <= UINT32_MAX);
    mhim_rng r = mhim_rng_stream(MHIM_BOOTSTRAP_SEED_BASE + (uint64_t)fold, 0, (uint32_t)b,
                                 MHIM_RNG_BOOTSTRAP, 0);
    for (int64_t k = 0; k < n; k++) idx[k] = (int64_t)mhim_rng_below(&r, (uint64_t)n);
}

/* mean and std (ddof = 1; NaN for a single resample, as torch.std) of values[n_boot]. */
static void summarize(const double *values, int64_t n_boot, double *mean, double *std) {
    if (n_boot == 1) {
        *mean = values[0];
        *std = NAN;
        return;
    }
    mhim_numpy_mean_std(values, n_boot, 1, 1, mean, std);
}

static int check_n_boot(int64_t n_boot) {
    if (n_boot < 1 || n_boot > UINT32_MAX)
        return mhim_fail("metrics: num_bootstrap %lld: expected 1 .. 4294967295", (long long)n_boot);
    return MHIM_OK;
}

#define CLS_FIELDS 7

static void cls_fields(const mhim_cls_metrics *m, double *f) {
    f[0] = m->acc, f[1] = m->auc, f[2] = m->precision, f[3] = m->recall;
    f[4] = m->f1, f[5] = m->ck, f[6] = m->acc_micro;
}

static void cls_from_fields(const double *f, mhim_cls_metrics *m) {
    *m = (mhim_cls_metrics){.acc = f[0], .auc = f[1], .precision = f[2], .recall = f[3],
                            .f1 = f[4], .ck = f[5], .acc_micro = f[6]};
}

int mhim_cls_metrics_bootstrap(const int *labels, const double *logits, int64_t n, int n_classes,
                               mhim_cls_mode mode, int64_t fold, int64_t n_boot, mhim_cls_bootstrap *out) {
    int rc = mhim_metrics_check_cls(labels, logits, n, n_classes, mode);
    if (rc == MHIM_OK) rc = check_n_boot(n_boot);
    if (rc) return rc;
    int64_t *idx = mhim_malloc((size_t)n * sizeof *idx);
    int *y = mhim_malloc((size_t)n * sizeof *y);
    double *z = mhim_malloc((size_t)(n * n_classes) * sizeof *z);
    double *values = mhim_malloc((size_t)(n_boot * CLS_FIELDS) * sizeof *values); /* [field][b] */
    for (int64_t b = 0; b < n_boot; b++) {
        mhim_bootstrap_indices(fold, b, n, idx);
        for (int64_t k = 0; k < n; k++) {
            y[k] = labels[idx[k]];
            for (int c = 0; c < n_classes; c++) z[k * n_classes + c] = logits[idx[k] * n_classes + c];
        }
        mhim_cls_metrics m;
        double f[CLS_FIELDS];
        mhim_metrics_cls_point(y, z, n, n_classes, mode, &m);
        cls_fields(&m, f);
        for (int j = 0; j < CLS_FIELDS; j++) values[j * n_boot + b] = f[j];
    }
    double mean[CLS_FIELDS], std[CLS_FIELDS];
    for (int j = 0; j < CLS_FIELDS; j++) summarize(values + j * n_boot, n_boot, &mean[j], &std[j]);
    cls_from_fields(mean, &out->mean);
    cls_from_fields(std, &out->std);
    free(idx);
    free(y);
    free(z);
    free(values);
    return MHIM_OK;
}

int mhim_cindex_bootstrap_compute(const int *event, const double *time, const double *estimate, int64_t n,
                                  double tied_tol, int64_t fold, int64_t n_boot, mhim_cindex_bootstrap *out) {
    int rc = mhim_metrics_check_surv(event, time, estimate, n);
    if (rc == MHIM_OK) rc = check_n_boot(n_boot);
    if (rc == MHIM_OK && (!(tied_tol >= 0) || !isfinite(tied_tol)))
        rc = mhim_fail("metrics: tied_tol %g: expected a finite value >= 0", tied_tol);
    if (rc) return rc;
    int64_t *idx = mhim_malloc((size_t)n * sizeof *idx);
    int *e = mhim_malloc((size_t)n * sizeof *e);
    double *t = mhim_malloc((size_t)n * sizeof *t), *r = mhim_malloc((size_t)n * sizeof *r);
    double *values = mhim_malloc((size_t)n_boot * sizeof *values);
    for (int64_t b = 0; b < n_boot && rc == MHIM_OK; b++) {
        mhim_bootstrap_indices(fold, b, n, idx);
        for (int64_t k = 0; k < n; k++) {
            e[k] = event[idx[k]];
            t[k] = time[idx[k]];
            r[k] = estimate[idx[k]];
        }
        mhim_cindex ci;
        if (mhim_metrics_cindex_point(e, t, r, n, tied_tol, &ci) == MHIM_OK)
            values[b] = ci.cindex;
        else
            rc = mhim_fail("metrics: bootstrap resample %lld of fold %lld (%lld cases) has no event or no "
                           "comparable pair, so its concordance index is undefined (the original stops there "
                           "too); the test fold has too few events: use fewer folds",
                           (long long)b, (long long)fold, (long long)n);
    }
    if (rc == MHIM_OK) summarize(values, n_boot, &out->mean, &out->std);
    free(idx);
    free(e);
    free(t);
    free(r);
    free(values);
    return rc;
}
