/* Masked softmax along the instance axis and along rows (see mhim/ops/softmax.h). Both layouts share one strided
 * kernel: a group of `len` elements at stride `stride`. */
#include "mhim/ops/softmax.h"

#include <math.h>

#include "mhim/ops/act.h"
#include "ops/fastmath.h"
#include "ops/vecmath.h"

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

/* Blocks of MHIM_SUM_LANES exponentials summed in float lanes before they are added to the double lanes: a float
 * lane holds at most this many terms (all in [0, 1]), so its rounding error is at most 7·2^−24 of its own sum. */
#define SOFTMAX_FLOAT_BLOCKS 8

/* Unmasked contiguous row (attention matrices): the same result structure as softmax_group, with the exponentials
 * vectorised (mhim_fast_expf_nonpos; one thread owns the row, so the result does not depend on the thread count).
 * Three passes: the maximum (a vector max reduction: exact, so its order does not matter); the exponentials, stored
 * and summed in the same pass over MHIM_SUM_LANES fixed lanes (element j in lane j % MHIM_SUM_LANES): float lanes
 * over SOFTMAX_FLOAT_BLOCKS blocks of MHIM_SUM_LANES elements at a time, each block sum then added to double lanes,
 * the row's last (len mod MHIM_SUM_LANES) terms added to the double lanes directly, the lanes added as the fixed tree
 * of mhim_lanes_total; the scaling by 1/Σ. Probabilities within 2^−20 relative where normal (docs/numerics.md). */
MHIM_CLONE_INLINE void softmax_row(float *y, const float *x, int64_t len) {
    float max = -INFINITY; /* the largest element (NaN ignored, as in softmax_group) */
#pragma omp simd reduction(max : max)
    for (int64_t j = 0; j < len; j++) max = x[j] > max ? x[j] : max;
    if (max == -INFINITY) {
        for (int64_t j = 0; j < len; j++) y[j] = 0.0f;
        return;
    }
    mhim_lanes lane = {{{0}}};
    int64_t j = 0;
    while (j + MHIM_SUM_LANES <= len) {
        float part[MHIM_SUM_LANES] = {0};
        for (int b = 0; b < SOFTMAX_FLOAT_BLOCKS && j + MHIM_SUM_LANES <= len; b++, j += MHIM_SUM_LANES) {
#pragma omp simd
            for (int k = 0; k < MHIM_SUM_LANES; k++) {
                const float e = mhim_fast_expf_nonpos(x[j + k] - max);
                y[j + k] = e;
                part[k] += e;
            }
        }
        for (int q = 0; q < 4; q++) {
            mhim_v8d v;
            mhim_load8_double(&v, part + 8 * q);
            lane.v[q] += v;
        }
    }
    for (int k = 0; j < len; j++, k++) {
        y[j] = mhim_fast_expf_nonpos(x[j] - max);
        mhim_lanes_add_one(&lane, k, y[j]);
    }
    const float inv = (float)(1.0 / mhim_lanes_total(&lane));
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
