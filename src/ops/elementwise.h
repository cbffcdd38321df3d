/* src/ops/elementwise.h — run a serial element-wise kernel over an array, split across threads in fixed spans.
 *
 * Below MHIM_OPS_PARALLEL_MIN elements the kernel runs once on the calling thread without touching OpenMP (so
 * per-row calls from inside a parallel loop cost nothing extra); above, the array is cut into spans of
 * MHIM_SPAN elements from index 0 (a multiple of MHIM_SIMD_BLOCK, so block-wise kernels see the same blocks either
 * way) and each thread takes a contiguous range of spans (static schedule). */
#ifndef MHIM_OPS_ELEMENTWISE_H
#define MHIM_OPS_ELEMENTWISE_H

#include <stdint.h>

#include "mhim/common.h"
#include "mhim/ops/act.h"
#include "ops/vecmath.h"

#define MHIM_SPAN (64 * MHIM_SIMD_BLOCK)

/* out[i] = f(a[i], b[i]) for i < n over one span: out, a (and b when used) of n elements. */
typedef void (*mhim_span_fn)(float *out, const float *a, const float *b, int64_t n);

static inline void mhim_spans_run(mhim_span_fn f, float *out, const float *a, const float *b, int64_t n) {
    if (n < MHIM_OPS_PARALLEL_MIN) {
        if (n > 0) f(out, a, b, n);
        return;
    }
    const int64_t spans = (n + MHIM_SPAN - 1) / MHIM_SPAN;
#pragma omp parallel for schedule(static)
    for (int64_t s = 0; s < spans; s++) {
        const int64_t i0 = s * MHIM_SPAN;
        f(out + i0, a + i0, b ? b + i0 : NULL, MHIM_MIN(MHIM_SPAN, n - i0));
    }
}

#endif
