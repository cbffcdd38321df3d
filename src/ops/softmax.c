/* Masked softmax along the instance axis and along rows (see mhim/ops/softmax.h). Both layouts share one strided
 * kernel: a group of `len` elements at stride `stride`. */
#include "mhim/ops/softmax.h"

#include <math.h>

#include "mhim/ops/act.h"
#include "ops/fastmath.h"
#include "ops/vecmath.h"

#define SUM_LANES 32 /* lanes of the row sums in softmax_row */

/* Softmax of the group x[0], x[stride], …, x[(len-1)·stride] into y (same layout); keep indexes the group. */
MHIM_CLONE_INLINE void softmax_group(float *y, const float *x, const uint8_t *keep, int64_t len,
                                     int64_t stride) {
    float max = -INFINITY;
    for (int64_t j = 0; j < len; j++)
        if ((!keep || keep[j]) && x[j * stride] > max) max = x[j * stride];
    if (max == -INFINITY) { /* nothing kept (or all logits −inf): zero probabilities */
        for (int64_t j = 0; j < len; j++) y[j * stride] = 0.0f;
        return;
    }
    double sum = 0.0;
    for (int64_t j = 0; j < len; j++) {
        float e = (!keep || keep[j]) ? expf(x[j * stride] - max) : 0.0f;
        y[j * stride] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < len; j++) y[j * stride] *= inv;
}

/* Unmasked contiguous row (attention matrices): the same result structure as softmax_group, with the exponentials
 * vectorised (mhim_fast_expf; one thread owns the row, so the result does not depend on the thread count). */
MHIM_CLONE_INLINE void softmax_row(float *y, const float *x, int64_t len) {
    float lane_max[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int64_t j = 0;
    for (; j + 8 <= len; j += 8)
        for (int k = 0; k < 8; k++) lane_max[k] = x[j + k] > lane_max[k] ? x[j + k] : lane_max[k];
    float max = -INFINITY; /* the largest element (NaN ignored, as in softmax_group) */
    for (; j < len; j++) max = x[j] > max ? x[j] : max;
    for (int k = 0; k < 8; k++) max = lane_max[k] > max ? lane_max[k] : max;
    if (max == -INFINITY) {
        for (j = 0; j < len; j++) y[j] = 0.0f;
        return;
    }
#pragma omp simd
    for (j = 0; j < len; j++) y[j] = mhim_fast_expf(x[j] - max);
    /* Σ y in double over SUM_LANES fixed lanes (element j goes to lane j % SUM_LANES), lanes combined in order: a
     * fixed summation order that vectorises with enough independent chains at any vector width. */
    double lane[SUM_LANES] = {0};
    for (j = 0; j + SUM_LANES <= len; j += SUM_LANES) {
#pragma GCC unroll 32 /* the lanes become registers (rolled, GCC keeps them in memory) */
        for (int k = 0; k < SUM_LANES; k++) lane[k] += y[j + k];
    }
    for (int k = 0; j < len; j++, k++) lane[k] += y[j];
    double sum = 0.0;
    for (int k = 0; k < SUM_LANES; k++) sum += lane[k];
    const float inv = (float)(1.0 / sum);
#pragma omp simd
    for (j = 0; j < len; j++) y[j] *= inv;
}

/* dx = y ⊙ (dy − Σ dy⊙y) over one strided group. */
MHIM_CLONE_INLINE void softmax_group_backward(float *dx, const float *dy, const float *y, int64_t len,
                                              int64_t stride) {
    double dot = 0.0;
    for (int64_t j = 0; j < len; j++) dot += (double)dy[j * stride] * y[j * stride];
    float d = (float)dot;
    for (int64_t j = 0; j < len; j++) dx[j * stride] = y[j * stride] * (dy[j * stride] - d);
}

void mhim_softmax_instances_forward(float *out, const float *inp, const uint8_t *keep, int64_t N, int64_t K) {
#pragma omp parallel for schedule(static) if (N * K >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t k = 0; k < K; k++) softmax_group(out + k, inp + k, keep, N, K);
}

void mhim_softmax_instances_backward(float *dinp, const float *dout, const float *out, int64_t N, int64_t K) {
#pragma omp parallel for schedule(static) if (N * K >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t k = 0; k < K; k++) softmax_group_backward(dinp + k, dout + k, out + k, N, K);
}

MHIM_SIMD_CLONES_FMA void mhim_softmax_rows_forward(float *out, const float *inp, const uint8_t *keep, int64_t R,
                                                     int64_t L) {
#pragma omp parallel for schedule(static) if (R * L >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t r = 0; r < R; r++) {
        if (keep) softmax_group(out + r * L, inp + r * L, keep, L, 1);
        else softmax_row(out + r * L, inp + r * L, L);
    }
}

MHIM_SIMD_CLONES_WIDE void mhim_softmax_rows_backward(float *dinp, const float *dout, const float *out, int64_t R,
                                                      int64_t L) {
#pragma omp parallel for schedule(static) if (R * L >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t r = 0; r < R; r++) softmax_group_backward(dinp + r * L, dout + r * L, out + r * L, L, 1);
}
