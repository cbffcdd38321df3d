/* Thread-count knob and fixed-order reductions (see mhim/threads.h). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "mhim/threads.h"

#include <cblas.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef MHIM_HAVE_OPENMP
#include <omp.h>
#endif

#include "mhim/common.h"
#include "mhim/log.h"

static int chosen_threads = 1;

/* Positive integer from the start of `text` (up to ',' or end); 0 if malformed. */
static int parse_count(const char *text) {
    errno = 0;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (errno || end == text || (*end != '\0' && *end != ',') || v < 1 || v > 4096) return 0;
    return (int)v;
}

/* Count from environment variable `name`, or 0 if unset/malformed (warns on malformed). */
static int env_count(const char *name) {
    const char *text = getenv(name);
    if (!text || !*text) return 0;
    int v = parse_count(text);
    if (!v) MHIM_WARN("ignoring %s='%s': expected a positive thread count", name, text);
    return v;
}

static int usable_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

int mhim_threads_init(int n) {
    const char *source = "argument";
    if (n <= 0 && (n = env_count("SLURM_CPUS_PER_TASK")) > 0) source = "SLURM_CPUS_PER_TASK";
    if (n <= 0 && (n = env_count("OMP_NUM_THREADS")) > 0) source = "OMP_NUM_THREADS";
    if (n <= 0) {
        n = usable_cpus();
        source = "usable CPUs";
    }
#ifdef MHIM_HAVE_OPENMP
    omp_set_dynamic(0);
    omp_set_num_threads(n);
#endif
    openblas_set_num_threads(n);
    chosen_threads = n;
    const char *policy = getenv("OMP_WAIT_POLICY");
    const char *timeout = getenv("OPENBLAS_THREAD_TIMEOUT");
    MHIM_INFO("threads: %d (from %s) for OpenMP and OpenBLAS; OMP_WAIT_POLICY=%s, OPENBLAS_THREAD_TIMEOUT=%s", n,
              source, policy ? policy : "(unset)", timeout ? timeout : "(unset)");
    static int warned;
    if (n > 1 && !policy && !warned++)
        MHIM_WARN("OMP_WAIT_POLICY is not set: idle OpenMP threads spin while OpenBLAS runs GEMMs (up to 1.6x "
                  "slower GEMMs); export OMP_WAIT_POLICY=passive before starting mhim");
    return n;
}

int mhim_threads_count(void) { return chosen_threads; }

/* Parallel only when the work is worth a fork/join; the result does not depend on it. */
#define SUM_PARALLEL_MIN 65536

double mhim_sum_fixed(const float *x, int64_t n) {
    double part[MHIM_SUM_PARTS];
#pragma omp parallel for schedule(static) if (n >= SUM_PARALLEL_MIN)
    for (int p = 0; p < MHIM_SUM_PARTS; p++) {
        int64_t lo = n * p / MHIM_SUM_PARTS, hi = n * (p + 1) / MHIM_SUM_PARTS;
        double s = 0;
        for (int64_t i = lo; i < hi; i++) s += x[i];
        part[p] = s;
    }
    double total = 0;
    for (int p = 0; p < MHIM_SUM_PARTS; p++) total += part[p];
    return total;
}

double mhim_sumsq_fixed(const float *x, int64_t n) {
    double part[MHIM_SUM_PARTS];
#pragma omp parallel for schedule(static) if (n >= SUM_PARALLEL_MIN)
    for (int p = 0; p < MHIM_SUM_PARTS; p++) {
        int64_t lo = n * p / MHIM_SUM_PARTS, hi = n * (p + 1) / MHIM_SUM_PARTS;
        double s = 0;
        for (int64_t i = lo; i < hi; i++) s += (double)x[i] * x[i];
        part[p] = s;
    }
    double total = 0;
    for (int p = 0; p < MHIM_SUM_PARTS; p++) total += part[p];
    return total;
}

void mhim_colsum_acc(float *out, const float *x, int64_t rows, int64_t cols) {
    int64_t blocks = (cols + MHIM_COLSUM_BLOCK - 1) / MHIM_COLSUM_BLOCK;
#pragma omp parallel for schedule(static) if (rows * cols >= SUM_PARALLEL_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        int64_t j0 = b * MHIM_COLSUM_BLOCK, j1 = MHIM_MIN(cols, j0 + MHIM_COLSUM_BLOCK);
        double acc[MHIM_COLSUM_BLOCK] = {0};
        for (int64_t i = 0; i < rows; i++) {
            const float *row = x + i * cols;
            for (int64_t j = j0; j < j1; j++) acc[j - j0] += row[j];
        }
        for (int64_t j = j0; j < j1; j++) out[j] += (float)acc[j - j0];
    }
}
