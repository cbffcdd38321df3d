/* Thread-count selection (argument > SLURM_CPUS_PER_TASK > OMP_NUM_THREADS > CPUs) and the fixed-order
 * reductions of mhim/threads.h: exact against a reference, bitwise identical for 1, 2 and 3 threads. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/threads.h"

#ifdef MHIM_HAVE_OPENMP
#include <omp.h>
#endif

static int max_threads(void) {
#ifdef MHIM_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static int test_selection(void) {
    int fails = 0;
    unsetenv("SLURM_CPUS_PER_TASK");
    unsetenv("OMP_NUM_THREADS");
    int n = mhim_threads_init(3);
    fails += check_true("explicit argument wins", n == 3 && mhim_threads_count() == 3);
    fails += check_true("OpenMP and OpenBLAS follow the argument", max_threads() == 3 && openblas_get_num_threads() == 3);
    setenv("OMP_NUM_THREADS", "2,1", 1);
    fails += check_true("OMP_NUM_THREADS (first entry of a list) when no argument", mhim_threads_init(0) == 2);
    setenv("SLURM_CPUS_PER_TASK", "4", 1);
    fails += check_true("SLURM_CPUS_PER_TASK before OMP_NUM_THREADS", mhim_threads_init(-1) == 4);
    setenv("SLURM_CPUS_PER_TASK", "four", 1);
    fails += check_true("malformed SLURM_CPUS_PER_TASK is skipped", mhim_threads_init(0) == 2);
    setenv("OMP_NUM_THREADS", "0", 1);
    unsetenv("SLURM_CPUS_PER_TASK");
    n = mhim_threads_init(0);
    fails += check_true("fallback to the usable CPUs (>= 1)", n >= 1 && mhim_threads_count() == n);
    unsetenv("OMP_NUM_THREADS");
    return fails;
}

static int test_reductions(void) {
    int fails = 0;
    test_rng rng = {12345};
    const int64_t n = 300007, rows = 1001, cols = 130;
    float *x = malloc(n * sizeof *x);
    test_fill_uniform(&rng, x, n, -1.0f, 1.0f);
    /* Values that cancel badly in float: the double accumulation keeps them exact. */
    x[0] = 1e8f, x[1] = 1.0f, x[2] = -1e8f;
    long double want = 0, want_sq = 0; /* 64-bit mantissa reference */
    for (int64_t i = 0; i < n; i++) want += x[i], want_sq += (long double)x[i] * x[i];
    double sum[3], sumsq[3];
    float *col[3];
    for (int t = 0; t < 3; t++) {
        mhim_threads_init(t + 1);
        sum[t] = mhim_sum_fixed(x, n);
        sumsq[t] = mhim_sumsq_fixed(x, n);
        col[t] = calloc(cols, sizeof(float));
        for (int64_t j = 0; j < cols; j++) col[t][j] = 0.25f; /* accumulates into existing values */
        mhim_colsum_acc(col[t], x, rows, cols);
    }
    printf("sum %.17g (reference %.17Lg), sumsq %.17g (reference %.17Lg)\n", sum[0], want, sumsq[0], want_sq);
    fails += check_true("sum_fixed matches the long double reference to 1e-9 relative",
                        fabsl(sum[0] - want) <= 1e-9L * fabsl(want) + 1e-9L);
    fails += check_true("sumsq_fixed matches the long double reference to 1e-12 relative",
                        fabsl(sumsq[0] - want_sq) <= 1e-12L * want_sq);
    fails += check_true("sum/sumsq bitwise equal for 1, 2, 3 threads",
                        sum[0] == sum[1] && sum[1] == sum[2] && sumsq[0] == sumsq[1] && sumsq[1] == sumsq[2]);
    float *ref = malloc(cols * sizeof *ref);
    for (int64_t j = 0; j < cols; j++) {
        double s = 0;
        for (int64_t i = 0; i < rows; i++) s += x[i * cols + j];
        ref[j] = 0.25f + (float)s;
    }
    fails += check_close("colsum_acc vs double reference", col[0], ref, cols, 0, 0);
    fails += check_true("colsum_acc bitwise equal for 1, 2, 3 threads",
                        !memcmp(col[0], col[1], cols * sizeof(float)) && !memcmp(col[1], col[2], cols * sizeof(float)));
    fails += check_true("empty sums are 0", mhim_sum_fixed(x, 0) == 0 && mhim_sumsq_fixed(x, 0) == 0);
    float one = 0;
    mhim_colsum_acc(&one, x, 1, 1);
    fails += check_true("colsum of one element", one == x[0]);
    fails += check_true("sum of fewer elements than parts", mhim_sum_fixed(x + 3, 5) ==
                                                               (double)x[3] + x[4] + x[5] + x[6] + x[7]);
    for (int t = 0; t < 3; t++) free(col[t]);
    free(ref);
    free(x);
    return fails;
}

int main(void) {
    int fails = test_selection() + test_reductions();
    printf("%s: %d failure(s)\n", __FILE__, fails);
    return fails ? 1 : 0;
}
