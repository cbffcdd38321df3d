/* LayerNorm forward/backward (see mhim/ops/norm.h). Rows are independent (one thread per row); the parameter
 * gradients are column sums in double, in an order fixed by N and C (never by the thread count). */
#include "mhim/ops/norm.h"

#include <math.h>

#include "mhim/common.h"
#include "mhim/ops/act.h"
#include "mhim/threads.h"
#include "ops/vecmath.h"

/* Columns reduced together by one thread for dweight in the wide backward (same blocking as mhim_colsum_acc). */
#define LN_PARAM_BLOCK MHIM_COLSUM_BLOCK
/* The one-pass backward: rows up to LN_FUSED_MAX_C wide, LN_PARTS fixed row ranges. */
#define LN_FUSED_MAX_C 512
#define LN_PARTS 8
/* Row sums are taken in double over MHIM_SUM_LANES fixed lanes (element c goes to lane c % MHIM_SUM_LANES), the
 * lanes added as the fixed tree of mhim_lanes_total (src/ops/vecmath.h): a fixed summation order (independent of
 * threads and of the ISA copy) computed a vector at a time. */
#define LANES MHIM_SUM_LANES
/* Float partial sums before the double ones (docs/numerics.md): in the forward's row sums, up to LN_MOMENT_GROUPS
 * terms per lane; in the row sums of the backward, up to LN_FLOAT_GROUPS; in its dγ/dβ partials, up to LN_FLOAT_ROWS
 * rows. */
#define LN_MOMENT_GROUPS 8
#define LN_FLOAT_GROUPS 16 /* (4: 12% slower from cache, the float-to-double folds costing what the sums do) */
#define LN_FLOAT_ROWS 32 /* (8: 12% slower from cache and 5–18% at DRAM scale, the folds into double) */

/* Σ_c d_c (squares = 0) or Σ_c d_c² (squares = 1) over the row, d_c = x[c] − shift rounded to float: element c
 * goes to lane c % LANES; each lane sums up to LN_MOMENT_GROUPS of its terms in float (one block of
 * LN_MOMENT_GROUPS·LANES elements), then adds the block's float sum to its double sum; the row's last (C mod LANES)
 * terms go to the double lanes directly (a zero-padded block); the lanes are added as the fixed tree of
 * mhim_lanes_total. avx512 (a constant, 1 only in the AVX-512 copy): the float lanes as 16-wide vectors, the same
 * bits (at DRAM scale, ~15% faster there than the 8-wide lanes). */
MHIM_CLONE_INLINE double row_sum(const float *x, int64_t C, int squares, float shift, int avx512) {
    mhim_lanes s = {{{0}}};
    int64_t c = 0;
    while (c + LANES <= C) {
        if (avx512) {
            mhim_flanes16 f = {{{0}}};
            for (int b = 0; b < LN_MOMENT_GROUPS && c + LANES <= C; b++, c += LANES) {
                MHIM_UNROLL
                for (int h = 0; h < 2; h++) {
                    mhim_v16f v;
                    mhim_load16(&v, x + c + 16 * h);
                    v -= shift;
                    f.v[h] += squares ? v * v : v;
                }
            }
            mhim_lanes_add_flanes16(&s, &f);
        } else {
            mhim_flanes f = {{{0}}};
            for (int b = 0; b < LN_MOMENT_GROUPS && c + LANES <= C; b++, c += LANES) {
                MHIM_UNROLL
                for (int h = 0; h < 4; h++) {
                    mhim_v8f v;
                    mhim_load8(&v, x + c + 8 * h);
                    v -= shift;
                    f.v[h] += squares ? v * v : v;
                }
            }
            mhim_lanes_add_flanes(&s, &f);
        }
    }
    if (c < C) {
        double tail[LANES] = {0};
        for (int l = 0; c < C; c++, l++) {
            const float d = x[c] - shift;
            tail[l] = squares ? d * d : d;
        }
        mhim_lanes_add_doubles(&s, tail);
    }
    return mhim_lanes_total(&s);
}

/* The row's mean, rounded to float, and Σ_c (x[c] − mean)² (the sum of squares about the float mean), in two passes
 * of row_sum: the mean as x[0] + Σ(x − x[0])/C (the shift keeps the float terms at the scale of the row's spread
 * rather than of its mean). */
MHIM_CLONE_INLINE void row_moments(const float *x, int64_t C, float *mean, double *sq_dev, int avx512) {
    *mean = (float)((double)x[0] + row_sum(x, C, 0, x[0], avx512) / (double)C);
    *sq_dev = row_sum(x, C, 1, *mean, avx512);
}

/* Σ_c g_c and Σ_c g_c·x̂_c with g = dy·weight, x̂ = (x − m)·r and g·x̂ rounded to float. Element c goes to lane
 * c % LANES; each lane sums up to LN_FLOAT_GROUPS of its terms in float (one block of LN_FLOAT_GROUPS·LANES
 * elements), then adds the block's float sum to its double sum; the row's last (C mod LANES) terms go to the double
 * lanes directly (a zero-padded block). Error against the double sums of the same float terms: at most
 * 15·2^−24·Σ|terms| (docs/numerics.md). */
MHIM_CLONE_INLINE void row_grad_sums(const float *dy, const float *x, const float *weight, float m, float r,
                                     int64_t C, double *sum_g, double *sum_gx) {
    mhim_lanes lg = {{{0}}}, lgx = {{{0}}};
    int64_t c = 0;
    while (c + LANES <= C) {
        mhim_flanes fg = {{{0}}}, fgx = {{{0}}};
        for (int b = 0; b < LN_FLOAT_GROUPS && c + LANES <= C; b++, c += LANES) {
            MHIM_UNROLL
            for (int h = 0; h < 4; h++) {
                mhim_v8f vdy, vw, vx;
                mhim_load8(&vdy, dy + c + 8 * h);
                mhim_load8(&vw, weight + c + 8 * h);
                mhim_load8(&vx, x + c + 8 * h);
                const mhim_v8f g = vdy * vw;
                fg.v[h] += g;
                fgx.v[h] += g * ((vx - m) * r);
            }
        }
        mhim_lanes_add_flanes(&lg, &fg);
        mhim_lanes_add_flanes(&lgx, &fgx);
    }
    if (c < C) {
        double tail_g[LANES] = {0}, tail_gx[LANES] = {0};
        for (int k = 0; c < C; c++, k++) {
            const float g = dy[c] * weight[c];
            tail_g[k] = g;
            tail_gx[k] = g * ((x[c] - m) * r);
        }
        mhim_lanes_add_doubles(&lg, tail_g);
        mhim_lanes_add_doubles(&lgx, tail_gx);
    }
    *sum_g = mhim_lanes_total(&lg);
    *sum_gx = mhim_lanes_total(&lgx);
}

MHIM_SIMD_CLONES_FMA void mhim_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                                                  const float *weight, const float *bias, int64_t N, int64_t C) {
    const int avx512 = mhim_copy_is_avx512();
#pragma omp parallel for schedule(static) if (N * C >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *x = inp + i * C;
        float m;
        double sq_dev;
        if (avx512) row_moments(x, C, &m, &sq_dev, 1);
        else row_moments(x, C, &m, &sq_dev, 0);
        const float r = (float)(1.0 / sqrt(sq_dev / (double)C + (double)MHIM_LAYERNORM_EPS));
        float *y = out + i * C;
        for (int64_t c = 0; c < C; c++) y[c] = (x[c] - m) * r * weight[c] + bias[c];
        mean[i] = m;
        rstd[i] = r;
    }
}

/* Row i's input gradient dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), written or added (accumulate). */
MHIM_CLONE_INLINE void row_input_grad(float *dx, int accumulate, const float *dy, const float *x, const float *weight,
                                      float m, float r, int64_t C) {
    double sum_g, sum_gx;
    row_grad_sums(dy, x, weight, m, r, C, &sum_g, &sum_gx);
    const float mean_g = (float)(sum_g / (double)C), mean_gx = (float)(sum_gx / (double)C);
    if (accumulate)
        for (int64_t c = 0; c < C; c++) dx[c] += r * (dy[c] * weight[c] - mean_g - (x[c] - m) * r * mean_gx);
    else
        for (int64_t c = 0; c < C; c++) dx[c] = r * (dy[c] * weight[c] - mean_g - (x[c] - m) * r * mean_gx);
}

/* Row i's input gradient (as row_input_grad) and its terms of the parameter gradients, pw[c] += dy·x̂ (the product
 * rounded to float) and pb[c] += dy (float sums over up to LN_FLOAT_ROWS rows), in one pass over the row. Called with
 * a constant `accumulate`, so each case is its own loop. (Two rows per pass, sharing the loads and stores of pw and
 * pb, ran 10% faster from cache but 30% slower streaming from memory.) */
MHIM_CLONE_INLINE void row_grads(float *dx, int accumulate, float *pw, float *pb, const float *dy, const float *x,
                                 const float *weight, float m, float r, int64_t C) {
    double sum_g, sum_gx;
    row_grad_sums(dy, x, weight, m, r, C, &sum_g, &sum_gx);
    const float mean_g = (float)(sum_g / (double)C), mean_gx = (float)(sum_gx / (double)C);
    for (int64_t c = 0; c < C; c++) {
        const float g = dy[c], xhat = (x[c] - m) * r, v = r * (g * weight[c] - mean_g - xhat * mean_gx);
        dx[c] = accumulate ? dx[c] + v : v;
        pw[c] += g * xhat;
        pb[c] += g;
    }
}

/* C ≤ LN_FUSED_MAX_C: one pass. LN_PARTS fixed row ranges (bounds from N only) each compute their rows' dx and
 * their partial dweight/dbias (rows in order, double); the partials are then added in range order. The summation
 * order depends on N only, so the result is the same for any thread count. Partials: 64 KiB of stack. */
MHIM_SIMD_CLONES_WIDE static void layernorm_backward_fused(float *dinp, int accumulate, float *dweight, float *dbias,
                                                          const float *dout, const float *inp, const float *weight,
                                                          const float *mean, const float *rstd, int64_t N, int64_t C) {
    double part_w[LN_PARTS][LN_FUSED_MAX_C], part_b[LN_PARTS][LN_FUSED_MAX_C];
#pragma omp parallel for schedule(static) if (N * C >= MHIM_OPS_PARALLEL_MIN)
    for (int p = 0; p < LN_PARTS; p++) {
        double *pw = part_w[p], *pb = part_b[p];
        float fw[LN_FUSED_MAX_C], fb[LN_FUSED_MAX_C]; /* float sums over up to LN_FLOAT_ROWS rows */
        for (int64_t c = 0; c < C; c++) pw[c] = pb[c] = 0.0;
        const int64_t first = N * p / LN_PARTS, end = N * (p + 1) / LN_PARTS;
        for (int64_t i0 = first; i0 < end; i0 += LN_FLOAT_ROWS) {
            for (int64_t c = 0; c < C; c++) fw[c] = fb[c] = 0.0f;
            for (int64_t i = i0; i < MHIM_MIN(i0 + LN_FLOAT_ROWS, end); i++) {
                const float *x = inp + i * C, *dy = dout + i * C;
                if (accumulate) row_grads(dinp + i * C, 1, fw, fb, dy, x, weight, mean[i], rstd[i], C);
                else row_grads(dinp + i * C, 0, fw, fb, dy, x, weight, mean[i], rstd[i], C);
            }
            for (int64_t c = 0; c < C; c++) pw[c] += fw[c], pb[c] += fb[c];
        }
    }
    for (int64_t c = 0; c < C; c++) {
        double sw = 0.0, sb = 0.0;
        for (int p = 0; p < LN_PARTS; p++) sw += part_w[p][c], sb += part_b[p][c];
        dweight[c] += (float)sw;
        dbias[c] += (float)sb;
    }
}

/* Wider rows: a row pass for dx, then dweight and dbias in one column pass (each column summed over the rows in
 * order, in double, by the thread owning its block of columns, as mhim_colsum_acc). */
MHIM_SIMD_CLONES_WIDE static void layernorm_backward_wide(float *dinp, int accumulate, float *dweight, float *dbias,
                                                         const float *dout, const float *inp, const float *weight,
                                                         const float *mean, const float *rstd, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static) if (N * C >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < N; i++)
        row_input_grad(dinp + i * C, accumulate, dout + i * C, inp + i * C, weight, mean[i], rstd[i], C);
    int64_t blocks = (C + LN_PARAM_BLOCK - 1) / LN_PARAM_BLOCK;
#pragma omp parallel for schedule(static) if (N * C >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        int64_t c0 = b * LN_PARAM_BLOCK, width = MHIM_MIN(LN_PARAM_BLOCK, C - c0);
        double part_w[LN_PARAM_BLOCK] = {0}, part_b[LN_PARAM_BLOCK] = {0};
        for (int64_t i = 0; i < N; i++) {
            const float *x = inp + i * C + c0, *dy = dout + i * C + c0;
            float m = mean[i], r = rstd[i];
            for (int64_t c = 0; c < width; c++) {
                part_w[c] += dy[c] * ((x[c] - m) * r);
                part_b[c] += dy[c];
            }
        }
        for (int64_t c = 0; c < width; c++) {
            dweight[c0 + c] += (float)part_w[c];
            dbias[c0 + c] += (float)part_b[c];
        }
    }
}

static void layernorm_backward(float *dinp, int accumulate, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, const float *mean, const float *rstd, int64_t N,
                               int64_t C) {
    if (C <= LN_FUSED_MAX_C)
        layernorm_backward_fused(dinp, accumulate, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
    else
        layernorm_backward_wide(dinp, accumulate, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

void mhim_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                             const float *weight, const float *mean, const float *rstd, int64_t N, int64_t C) {
    layernorm_backward(dinp, 0, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

void mhim_layernorm_backward_acc(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                 const float *weight, const float *mean, const float *rstd, int64_t N, int64_t C) {
    layernorm_backward(dinp, 1, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}
