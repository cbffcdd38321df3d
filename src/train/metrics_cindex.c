/* Harrell's concordance index for right-censored data, as sksurv.metrics.concordance_index_censored
 * computes it (the v2 survival metric). O(n log n + comparable pairs). */
#include <math.h>
#include <stdlib.h>

#include "mhim/common.h"
#include "mhim/metrics.h"
#include "train/metrics_private.h"

typedef struct {
    double time, estimate;
    int event;
} surv_case;

static int by_time(const void *a, const void *b) {
    double x = ((const surv_case *)a)->time, y = ((const surv_case *)b)->time;
    return (x > y) - (x < y);
}

int mhim_metrics_check_surv(const int *event, const double *time, const double *estimate, int64_t n) {
    if (n < 1) return mhim_fail("metrics: %lld cases: expected at least 1", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        if (event[i] != 0 && event[i] != 1)
            return mhim_fail("metrics: event indicator of case %lld is %d: expected 0 (censored) or 1 (event)",
                             (long long)i, event[i]);
        if (!isfinite(time[i]))
            return mhim_fail("metrics: survival time of case %lld is %g: expected a finite value", (long long)i,
                             time[i]);
        if (!isfinite(estimate[i]))
            return mhim_fail("metrics: risk estimate of case %lld is %g: expected a finite value", (long long)i,
                             estimate[i]);
    }
    return MHIM_OK;
}

int mhim_metrics_cindex_point(const int *event, const double *time, const double *estimate, int64_t n,
                              double tied_tol, mhim_cindex *out) {
    surv_case *c = mhim_malloc((size_t)n * sizeof *c);
    int64_t events = 0;
    for (int64_t i = 0; i < n; i++) {
        c[i] = (surv_case){time[i], estimate[i], event[i]};
        events += event[i];
    }
    if (events == 0) {
        free(c);
        return MHIM_EINPUT;
    }
    qsort(c, (size_t)n, sizeof *c, by_time);
    int64_t conc = 0, disc = 0, tied_risk = 0, tied_time = 0, pairs = 0;
    for (int64_t start = 0; start < n;) {
        int64_t end = start + 1, censored_here = 0;
        while (end < n && c[end].time == c[start].time) end++;
        for (int64_t k = start; k < end; k++) censored_here += !c[k].event;
        /* An event is comparable with every later time and with the censored cases at its own time. */
        for (int64_t k = start; k < end; k++) {
            if (!c[k].event) continue;
            tied_time += censored_here;
            for (int64_t j = start; j < n; j++) {
                if (j < end && c[j].event) continue;
                pairs++;
                if (fabs(c[j].estimate - c[k].estimate) <= tied_tol)
                    tied_risk++;
                else if (c[j].estimate < c[k].estimate)
                    conc++;
                else
                    disc++;
            }
        }
        start = end;
    }
    free(c);
    if (pairs == 0) return MHIM_EINPUT;
    out->concordant = conc;
    out->discordant = disc;
    out->tied_risk = tied_risk;
    out->tied_time = tied_time;
    /* sksurv: (n_con + 0.5 n_ties) / comparable, with unit weights (exact half-integer numerator). */
    out->cindex = ((double)conc + 0.5 * (double)tied_risk) / (double)pairs;
    return MHIM_OK;
}

int mhim_concordance_index(const int *event, const double *time, const double *estimate, int64_t n,
                           double tied_tol, mhim_cindex *out) {
    int rc = mhim_metrics_check_surv(event, time, estimate, n);
    if (rc) return rc;
    if (!(tied_tol >= 0) || !isfinite(tied_tol))
        return mhim_fail("metrics: tied_tol %g: expected a finite value >= 0", tied_tol);
    if (mhim_metrics_cindex_point(event, time, estimate, n, tied_tol, out) == MHIM_OK) return MHIM_OK;
    for (int64_t i = 0; i < n; i++)
        if (event[i])
            return mhim_fail("metrics: no comparable pair among %lld cases (no event is followed by a later "
                             "time or by a case censored at its time): the concordance index is undefined",
                             (long long)n);
    return mhim_fail("metrics: all %lld cases are censored: the concordance index is undefined", (long long)n);
}
