/* tests/unit/test_gradcheck_basic_util.h — helpers shared by the basic-op gradient checks: the Σ out·w objective
 * around an op's forward, random/NaN arrays, and the pre-fill bookkeeping that proves the accumulation rule. */
#ifndef MHIM_TEST_GRADCHECK_BASIC_UTIL_H
#define MHIM_TEST_GRADCHECK_BASIC_UTIL_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"

#define GC_MAX_CHECKS 48

/* The op under test: forward() recomputes out from the current inputs. */
typedef struct {
    void (*forward)(void *op);
    void *op;
    const float *out;
    const float *w;
    int64_t n_out;
} objective_ctx;

static inline double objective(void *p) {
    objective_ctx *c = p;
    c->forward(c->op);
    return test_dot(c->out, c->w, c->n_out);
}

static inline float *rand_array(test_rng *r, int64_t n, float lo, float hi) {
    float *x = mhim_malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    test_fill_uniform(r, x, n, lo, hi);
    return x;
}

static inline float *nan_array(int64_t n) {
    float *x = mhim_malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = NAN;
    return x;
}

/* a[i] -= b[i]: removes a pre-fill so that only this call's contribution remains. */
static inline void subtract(float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) a[i] -= b[i];
}

static inline float *copy_array(const float *x, int64_t n) {
    float *y = mhim_malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    memcpy(y, x, (size_t)n * sizeof(float));
    return y;
}

/* Fails when any element is not finite (a NaN pre-fill that was never overwritten). */
static inline int check_finite(const char *name, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            printf("FAIL %-40s element %lld is %g (not written?)\n", name, (long long)i, x[i]);
            return 1;
        }
    return 0;
}

/* A keep mask of n bytes: kind 0 = all kept, 1 = random (at least one kept), 2 = only the last kept,
 * 3 = nothing kept. */
static inline uint8_t *keep_mask(test_rng *r, int64_t n, int kind) {
    uint8_t *keep = mhim_malloc((size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++) {
        keep[i] = kind == 0 ? 1 : kind == 1 ? test_uniform(r, 0, 1) < 0.6f : kind == 2 ? i == n - 1 : 0;
    }
    if (kind == 1 && n > 0) keep[0] = 1;
    return keep;
}

#endif
