/* Masked softmax along the instance axis and along rows (see mhim/ops/softmax.h). Both layouts share one strided
 * kernel: a group of `len` elements at stride `stride`. */
#include "mhim/ops/softmax.h"

#include <math.h>

#include "mhim/ops/act.h"
#include "ops/fastmath.h"
#include "ops/vecmath.h"

/* Blocks of MHIM_SUM_LANES exponentials summed in float lanes before they are added to the double lanes: a float
 * lane holds at most this many terms (all in [0, 1]), so its rounding error is at most 7·2^−24 of its own sum. */
#define SOFTMAX_FLOAT_BLOCKS 8

/* The largest kept element of the group x[0], x[stride], …, x[(len−1)·stride] (NaN ignored; −inf when nothing is
 * kept). keep indexes the group (NULL: all kept). A vector max reduction: exact, so its order does not matter. */
MHIM_CLONE_INLINE float group_max(const float *x, const uint8_t *keep, int64_t len, int64_t stride) {
    float max = -INFINITY;
#pragma omp simd reduction(max : max)
    for (int64_t j = 0; j < len; j++) {
        const float v = keep ? mhim_select(keep[j] != 0, x[j * stride], -INFINITY) : x[j * stride];
        max = v > max ? v : max;
    }
    return max;
}

/* y[j·stride] = e^(x[j·stride] − max) (0 where not kept); returns their sum. Element j goes to lane
 * j % MHIM_SUM_LANES: float lanes over SOFTMAX_FLOAT_BLOCKS blocks of MHIM_SUM_LANES elements at a time, each block
 * sum then added to double lanes, the group's last (len mod MHIM_SUM_LANES) terms added to the double lanes
 * directly (a zero-padded block), the lanes added as the fixed tree of mhim_lanes_total. */
MHIM_CLONE_INLINE double group_exp_sum(float *y, const float *x, const uint8_t *keep, int64_t len, int64_t stride,
                                       float max) {
    mhim_lanes lane = {{{0}}};
    int64_t j = 0;
    while (j + MHIM_SUM_LANES <= len) {
        float part[MHIM_SUM_LANES] = {0};
        for (int b = 0; b < SOFTMAX_FLOAT_BLOCKS && j + MHIM_SUM_LANES <= len; b++, j += MHIM_SUM_LANES) {
#pragma omp simd
            for (int k = 0; k < MHIM_SUM_LANES; k++) {
                const float *xi = x + (j + k) * stride;
                const float d = keep ? mhim_select(keep[j + k] != 0, *xi - max, -INFINITY) : *xi - max;
                const float e = mhim_fast_expf_nonpos(d);
                y[(j + k) * stride] = e;
                part[k] += e;
            }
        }
        mhim_lanes_add_floats(&lane, part);
    }
    if (j < len) {
        float tail[MHIM_SUM_LANES] = {0};
        for (int k = 0; j < len; j++, k++) {
            const float d = (!keep || keep[j]) ? x[j * stride] - max : -INFINITY;
            y[j * stride] = tail[k] = mhim_fast_expf_nonpos(d);
        }
        mhim_lanes_add_floats(&lane, tail);
    }
    return mhim_lanes_total(&lane);
}

/* Softmax of the group x[0], x[stride], …, x[(len−1)·stride] into y (same layout); keep indexes the group (NULL:
 * all kept). Three passes: the kept maximum, the exponentials of x − max (mhim_fast_expf_nonpos; masked elements
 * exactly 0) stored and summed (group_exp_sum), the scaling by 1/Σ. One thread owns the group, so the result does
 * not depend on the thread count. Probabilities within 2^−20 relative where normal (docs/numerics.md). */
MHIM_CLONE_INLINE void softmax_group(float *y, const float *x, const uint8_t *keep, int64_t len, int64_t stride) {
    const float max = group_max(x, keep, len, stride);
    if (max == -INFINITY) { /* nothing kept (or all logits −inf): zero probabilities */
        for (int64_t j = 0; j < len; j++) y[j * stride] = 0.0f;
        return;
    }
    const float inv = (float)(1.0 / group_exp_sum(y, x, keep, len, stride, max));
#pragma omp simd
    for (int64_t j = 0; j < len; j++) y[j * stride] *= inv;
}

/* softmax_group with the common cases compiled separately (the keep test and the stride then fold away): contiguous
 * groups (attention rows, the ABMIL instance softmax) unmasked and masked, strided groups (DSMIL's columns). */
MHIM_CLONE_INLINE void softmax_group_any(float *y, const float *x, const uint8_t *keep, int64_t len,
                                         int64_t stride) {
    if (stride == 1) {
        if (keep) softmax_group(y, x, keep, len, 1);
        else softmax_group(y, x, NULL, len, 1);
    } else {
        if (keep) softmax_group(y, x, keep, len, stride);
        else softmax_group(y, x, NULL, len, stride);
    }
}

/* *out = the 4 floats p[0], p[stride], p[2·stride], p[3·stride], widened to double. */
MHIM_CLONE_INLINE void load4_strided_double(mhim_v4d *out, const float *p, int64_t stride) {
    float f[4];
    for (int q = 0; q < 4; q++) f[q] = p[q * stride];
    mhim_load4_double(out, f);
}

/* dx = y ⊙ (dy − Σ dy⊙y) over one strided group. The products are exact in double (so FMA contraction cannot change
 * them); their sum runs over the fixed lanes of mhim_lanes (element j in lane j % MHIM_SUM_LANES, the tail as a
 * zero-padded block) and its fixed tree. */
MHIM_CLONE_INLINE void softmax_group_backward(float *dx, const float *dy, const float *y, int64_t len,
                                              int64_t stride) {
    mhim_lanes lane = {{{0}}};
    int64_t j = 0;
    for (; j + MHIM_SUM_LANES <= len; j += MHIM_SUM_LANES) {
        MHIM_UNROLL
        for (int q = 0; q < 8; q++) {
            mhim_v4d a, b;
            load4_strided_double(&a, dy + (j + 4 * q) * stride, stride);
            load4_strided_double(&b, y + (j + 4 * q) * stride, stride);
            lane.v[q] += a * b;
        }
    }
    if (j < len) {
        double tail[MHIM_SUM_LANES] = {0};
        for (int k = 0; j < len; j++, k++) tail[k] = (double)dy[j * stride] * y[j * stride];
        mhim_lanes_add_doubles(&lane, tail);
    }
    const float d = (float)mhim_lanes_total(&lane);
#pragma omp simd
    for (j = 0; j < len; j++) dx[j * stride] = y[j * stride] * (dy[j * stride] - d);
}

/* softmax_group_backward with the contiguous case compiled separately. */
MHIM_CLONE_INLINE void softmax_group_backward_any(float *dx, const float *dy, const float *y, int64_t len,
                                                  int64_t stride) {
    if (stride == 1) softmax_group_backward(dx, dy, y, len, 1);
    else softmax_group_backward(dx, dy, y, len, stride);
}

MHIM_SIMD_CLONES_FMA void mhim_softmax_instances_forward(float *out, const float *inp, const uint8_t *keep,
                                                          int64_t N, int64_t K) {
#pragma omp parallel for schedule(static) if (K > 1 && N * K >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t k = 0; k < K; k++) softmax_group_any(out + k, inp + k, keep, N, K);
}

MHIM_SIMD_CLONES_WIDE void mhim_softmax_instances_backward(float *dinp, const float *dout, const float *out,
                                                           int64_t N, int64_t K) {
#pragma omp parallel for schedule(static) if (K > 1 && N * K >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t k = 0; k < K; k++) softmax_group_backward_any(dinp + k, dout + k, out + k, N, K);
}

MHIM_SIMD_CLONES_FMA void mhim_softmax_rows_forward(float *out, const float *inp, const uint8_t *keep, int64_t R,
                                                     int64_t L) {
#pragma omp parallel for schedule(static) if (R > 1 && R * L >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t r = 0; r < R; r++) softmax_group_any(out + r * L, inp + r * L, keep, L, 1);
}

MHIM_SIMD_CLONES_WIDE void mhim_softmax_rows_backward(float *dinp, const float *dout, const float *out, int64_t R,
                                                      int64_t L) {
#pragma omp parallel for schedule(static) if (R > 1 && R * L >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t r = 0; r < R; r++) softmax_group_backward_any(dinp + r * L, dout + r * L, out + r * L, L, 1);
}
