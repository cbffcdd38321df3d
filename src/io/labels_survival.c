/* Survival discretisation of the original v2 (`survival_label`): 4 quantile bins of the event
 * time over uncensored cases, reproduced with numpy's default ("linear") quantile arithmetic. */
#include <stdlib.h>

#include "io/labels_private.h"
#include "mhim/common.h"

#define SURV_BINS 4
#define SURV_EPS 1e-6

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* np.quantile(sorted, q, method="linear") on n >= 1 sorted values: virtual index (n-1)q, then
 * numpy's _lerp (a + d*t, or b - d*(1-t) when t >= 0.5). */
static double numpy_quantile(const double *sorted, int64_t n, double q) {
    double virtual_index = (double)(n - 1) * q;
    int64_t below = (int64_t)virtual_index; /* floor: the index is >= 0 */
    if (below >= n - 1) return sorted[n - 1];
    double t = virtual_index - (double)below;
    double a = sorted[below], b = sorted[below + 1], diff = b - a;
    return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

int mhim_survival_bins(const char *path, const double *event, const int *status, int64_t n, double edges[5],
                       int *bins) {
    int64_t n_events = 0;
    for (int64_t i = 0; i < n; i++) n_events += status[i] == 1;
    if (n_events == 0)
        return mhim_fail("%s: no uncensored case (Status = 1); survival bins are quartiles of the event "
                         "times of uncensored cases",
                         path);
    double *uncensored = mhim_malloc(sizeof(double) * (size_t)n_events);
    double lo = event[0], hi = event[0];
    for (int64_t i = 0, k = 0; i < n; i++) {
        if (status[i] == 1) uncensored[k++] = event[i];
        lo = event[i] < lo ? event[i] : lo;
        hi = event[i] > hi ? event[i] : hi;
    }
    qsort(uncensored, (size_t)n_events, sizeof(double), cmp_double);
    for (int b = 0; b <= SURV_BINS; b++) edges[b] = numpy_quantile(uncensored, n_events, b * (1.0 / SURV_BINS));
    free(uncensored);
    for (int b = 0; b < SURV_BINS; b++)
        if (!(edges[b] < edges[b + 1]))
            return mhim_fail("%s: the quartiles of the uncensored event times repeat (%.17g at bins %d and %d); "
                             "4 survival bins need more distinct Event values among Status = 1 rows",
                             path, edges[b], b, b + 1);
    edges[0] = lo - SURV_EPS;
    edges[SURV_BINS] = hi + SURV_EPS;
    for (int b = 0; b < SURV_BINS; b++)
        if (!(edges[b] < edges[b + 1]))
            return mhim_fail("%s: survival bin edges are not increasing after widening to the Event range", path);
    for (int64_t i = 0; i < n; i++) {
        int bin = 0;
        while (bin + 1 < SURV_BINS && event[i] >= edges[bin + 1]) bin++;
        bins[i] = bin;
    }
    return MHIM_OK;
}
