/* Aggregation across folds with numpy's float64 arithmetic (np.sum / np.mean / np.std). */
#include <math.h>
#include <stdlib.h>

#include "mhim/common.h"
#include "mhim/metrics.h"

#define NUMPY_PAIRWISE_BLOCK 128

/* numpy's pairwise_sum_DOUBLE: sequential below 8 values, 8 accumulators up to 128 values
 * (combined as ((r0+r1)+(r2+r3)) + ((r4+r5)+(r6+r7)), then the remainder), halves above. */
static double pairwise_sum(const double *x, int64_t n, int64_t stride) {
    if (n < 8) {
        double res = 0.;
        for (int64_t i = 0; i < n; i++) res += x[i * stride];
        return res;
    }
    if (n <= NUMPY_PAIRWISE_BLOCK) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = x[j * stride];
        int64_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += x[(i + j) * stride];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += x[i * stride];
        return res;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(x, n2, stride) + pairwise_sum(x + n2 * stride, n - n2, stride);
}

double mhim_numpy_sum(const double *x, int64_t n, int64_t stride) { return pairwise_sum(x, n, stride); }

void mhim_numpy_mean_std(const double *x, int64_t n, int64_t stride, int ddof, double *mean, double *std) {
    MHIM_ASSERT(n >= 1 && ddof >= 0 && n > ddof);
    double m = pairwise_sum(x, n, stride) / (double)n;
    /* np.var: the squared deviations are summed in the same pairwise order. */
    double *dev = mhim_malloc((size_t)n * sizeof *dev);
    for (int64_t i = 0; i < n; i++) {
        double d = x[i * stride] - m;
        dev[i] = d * d;
    }
    *mean = m;
    *std = sqrt(pairwise_sum(dev, n, 1) / (double)(n - ddof));
    free(dev);
}
