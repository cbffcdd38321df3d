/* Element and row kernels of the Nyström attention: sizes, landmark means and queries and the residual depthwise
 * convolution (see mhim/ops/nystrom.h). */
#include <math.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/linear.h"
#include "mhim/ops/nystrom.h"
#include "mhim/threads.h"
#include "ops/fastmath.h"
#include "ops/vecmath.h"

#define RES_HALF (MHIM_NYSTROM_RES_KERNEL / 2)

int64_t mhim_nystrom_pad(int64_t n, int64_t m) {
    MHIM_ASSERT(n >= 1 && m >= 1);
    return n % m ? m - n % m : 0;
}

int64_t mhim_nystrom_padded_len(int64_t n, int64_t m) { return n + mhim_nystrom_pad(n, m); }

void mhim_nystrom_a1_span(int64_t n, int64_t m, int64_t out_rows, int64_t *first, int64_t *rows) {
    MHIM_ASSERT(out_rows >= 1 && out_rows <= n);
    *first = out_rows == n ? 0 : mhim_nystrom_pad(n, m);
    *rows = out_rows == n ? mhim_nystrom_padded_len(n, m) : out_rows;
}

int mhim_nystrom_check_dims(int64_t n, int64_t dim, int64_t heads, int64_t dim_head, int64_t landmarks) {
    if (n < 1) return mhim_fail("nystrom attention: sequence length is %lld, expected >= 1 token", (long long)n);
    if (dim < 1 || heads < 1 || dim_head < 1 || landmarks < 1)
        return mhim_fail("nystrom attention: dim=%lld heads=%lld dim_head=%lld landmarks=%lld, expected all >= 1",
                         (long long)dim, (long long)heads, (long long)dim_head, (long long)landmarks);
    return MHIM_OK;
}

void mhim_nystrom_landmarks_forward(float *out, const float *x, int64_t heads, int64_t m, int64_t l, int64_t dh) {
#pragma omp parallel for schedule(static)
    for (int64_t hj = 0; hj < heads * m; hj++) {
        float *o = out + hj * dh;
        const float *seg = x + hj * l * dh; /* rows j*l .. j*l+l-1 of head h are contiguous */
        for (int64_t c = 0; c < dh; c++) o[c] = 0.0f;
        for (int64_t r = 0; r < l; r++)
            for (int64_t c = 0; c < dh; c++) o[c] += seg[r * dh + c];
        for (int64_t c = 0; c < dh; c++) o[c] /= (float)l;
    }
}

void mhim_nystrom_segment_means(float *out, const float *x, int64_t n, int64_t dim, int64_t m) {
    const int64_t p = mhim_nystrom_pad(n, m), l = (n + p) / m;
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < m; j++) {
        float *o = out + j * dim;
        const int64_t first = MHIM_MAX(j * l - p, 0), end = (j + 1) * l - p; /* the real rows of segment j */
        for (int64_t c = 0; c < dim; c++) o[c] = 0.0f;
        for (int64_t t = first; t < end; t++)
            for (int64_t c = 0; c < dim; c++) o[c] += x[t * dim + c];
        for (int64_t c = 0; c < dim; c++) o[c] /= (float)l;
    }
}

void mhim_nystrom_landmark_queries(float *q_land, float *q_seg, const float *seg, const float *w_q, int64_t m,
                                   int64_t dim, int64_t heads, int64_t dim_head) {
    const int64_t dh = dim_head, inner = heads * dh;
    const float scale = mhim_nystrom_q_scale(dh);
    mhim_linear_forward(q_seg, seg, w_q, NULL, m, dim, inner);
    for (int64_t h = 0; h < heads; h++)
        for (int64_t j = 0; j < m; j++)
            for (int64_t d = 0; d < dh; d++) q_land[(h * m + j) * dh + d] = q_seg[j * inner + h * dh + d] * scale;
}

void mhim_nystrom_landmarks_backward_acc(float *dx, const float *dout, int64_t heads, int64_t m, int64_t l,
                                         int64_t dh) {
#pragma omp parallel for schedule(static)
    for (int64_t hj = 0; hj < heads * m; hj++) {
        const float *g = dout + hj * dh;
        float *seg = dx + hj * l * dh;
        for (int64_t r = 0; r < l; r++)
            for (int64_t c = 0; c < dh; c++) seg[r * dh + c] += g[c] / (float)l;
    }
}

#define DOT_LANES 16

/* lane[(k0 + i) mod DOT_LANES] += a[i]·b[i] for i < len: elements k0, k0 + 1, ... of a dot product, each in the lane
 * of its index. Float products are exact in double, so a fused multiply-add rounds as the separate multiply and add:
 * every ISA copy, FMA or not, gives the same bits. */
MHIM_SIMD_CLONES_FMA static void dot_lanes_acc(double *lane, int64_t k0, const float *a, const float *b,
                                               int64_t len) {
    int64_t i = 0;
    for (; i < len && (k0 + i) % DOT_LANES; i++) lane[(k0 + i) % DOT_LANES] += (double)a[i] * b[i];
    double acc[DOT_LANES]; /* copied in and out with memcpy: GCC then vectorises the loop at every width (an
                            * element-wise copy or GNU vectors of 4 or 8 doubles gave scalar, shuffled or spilled
                            * code in some copy) */
    memcpy(acc, lane, sizeof acc);
    for (; i + DOT_LANES <= len; i += DOT_LANES)
        for (int k = 0; k < DOT_LANES; k++) acc[k] += (double)a[i + k] * b[i + k];
    memcpy(lane, acc, sizeof acc);
    for (int k = 0; i < len; i++, k++) lane[k] += (double)a[i] * b[i];
}

/* The lanes of dot_lanes_acc added in a fixed tree. */
static double dot_lanes_total(double *lane) {
    for (int w = DOT_LANES / 2; w >= 1; w /= 2)
        for (int k = 0; k < w; k++) lane[k] += lane[k + w];
    return lane[0];
}

/* Gradient rows per block of the residual convolution's weight gradient: every tap of a head reads the block's rows
 * of dout and v while they are in L2 (one pass over the head's rows instead of one per tap). */
#define RES_DW_BLOCK_ROWS 128

/* An eighth of a 64-wide head row as one 32-byte GNU vector: one register in the AVX2 and AVX-512 copies (GCC split
 * 64-byte vectors through the stack in the AVX2 copy). */
#define ROW_PARTS 8
typedef float row_part __attribute__((vector_size(64 / ROW_PARTS * sizeof(float)), aligned(4), may_alias));

/* o[0..dh) += Σ_j w[j] · src[(t + step·(j − RES_HALF))·dh + ·] over the taps whose row lies in [0, T): one output row
 * of the residual convolution (step 1) or of its transpose (step −1). Each element adds its products in tap order
 * whatever the copy; 64-wide rows (TransMIL's dim_head) keep the sums in registers. Compiled once per ISA without
 * FMA contraction, so every copy gives the same bits. */
MHIM_SIMD_CLONES_WIDE static void res_conv_row(float *o, const float *src, const float *w, int64_t t, int64_t step,
                                               int64_t T, int64_t dh) {
    if (dh == 64) {
        row_part *q = (row_part *)o, a[ROW_PARTS];
        for (int p = 0; p < ROW_PARTS; p++) a[p] = q[p];
        for (int64_t j = 0; j < MHIM_NYSTROM_RES_KERNEL; j++) {
            const int64_t r = t + step * (j - RES_HALF);
            if (r < 0 || r >= T) continue;
            const row_part *v = (const row_part *)(src + r * dh);
            const float wj = w[j];
            for (int p = 0; p < ROW_PARTS; p++) a[p] += wj * v[p];
        }
        for (int p = 0; p < ROW_PARTS; p++) q[p] = a[p];
        return;
    }
    for (int64_t j = 0; j < MHIM_NYSTROM_RES_KERNEL; j++) {
        const int64_t r = t + step * (j - RES_HALF);
        if (r < 0 || r >= T) continue;
        for (int64_t c = 0; c < dh; c++) o[c] += w[j] * src[r * dh + c];
    }
}

void mhim_nystrom_res_conv_forward_acc(float *out, const float *v, const float *w, int64_t heads, int64_t T,
                                       int64_t dh) {
#pragma omp parallel for schedule(static)
    for (int64_t ht = 0; ht < heads * T; ht++) {
        const int64_t h = ht / T;
        res_conv_row(out + ht * dh, v + h * T * dh, w + h * MHIM_NYSTROM_RES_KERNEL, ht % T, 1, T, dh);
    }
}

void mhim_nystrom_res_conv_backward_rows_acc(float *dv, float *dw, const float *dout, const float *v, const float *w,
                                             int64_t heads, int64_t T, int64_t dh, int64_t t0, int64_t rows) {
    MHIM_ASSERT(t0 >= 0 && rows >= 0 && t0 + rows <= T);
    /* dv: each (head, row) within reach of the gradient rows gathers from those rows (res_conv_row on the window
     * [t0, t0 + rows), so rows outside it are never read) */
    const int64_t s_lo = MHIM_MAX(t0 - RES_HALF, 0), s_hi = MHIM_MIN(t0 + rows + RES_HALF, T), S = s_hi - s_lo;
#pragma omp parallel for schedule(static)
    for (int64_t hs = 0; hs < heads * S; hs++) {
        const int64_t h = hs / S, s = s_lo + hs % S;
        res_conv_row(dv + (h * T + s) * dh, dout + (h * T + t0) * dh, w + h * MHIM_NYSTROM_RES_KERNEL, s - t0, -1,
                     rows, dh);
    }
    /* dw[h, j] = Σ over the gradient rows t whose shifted row t + j − RES_HALF lies in [0, T) of dout row t · v row
     * t + j − RES_HALF: one dot product over two contiguous spans, its element k in lane k mod DOT_LANES, summed over
     * blocks of rows for all the taps of a unit (a head's taps [j0, j1)). The lanes and their order do not depend on
     * the blocks or the units, so neither does the result; units: heads × enough tap groups to occupy the threads. */
    const int64_t K = MHIM_NYSTROM_RES_KERNEL;
    const int64_t groups = MHIM_MIN(K, (mhim_threads_count() + heads - 1) / heads);
#pragma omp parallel for schedule(static)
    for (int64_t u = 0; u < heads * groups; u++) {
        const int64_t h = u / groups, j0 = K * (u % groups) / groups, j1 = K * (u % groups + 1) / groups;
        double lanes[MHIM_NYSTROM_RES_KERNEL][DOT_LANES] = {{0}};
        for (int64_t b0 = t0; b0 < t0 + rows; b0 += RES_DW_BLOCK_ROWS) {
            const int64_t b1 = MHIM_MIN(b0 + RES_DW_BLOCK_ROWS, t0 + rows);
            for (int64_t j = j0; j < j1; j++) {
                const int64_t shift = j - RES_HALF;
                const int64_t t_lo = MHIM_MAX(t0, -shift), t_hi = MHIM_MIN(t0 + rows, T - shift);
                const int64_t lo = MHIM_MAX(b0, t_lo), hi = MHIM_MIN(b1, t_hi);
                if (lo < hi)
                    dot_lanes_acc(lanes[j], (lo - t_lo) * dh, dout + (h * T + lo) * dh, v + (h * T + lo + shift) * dh,
                                  (hi - lo) * dh);
            }
        }
        for (int64_t j = j0; j < j1; j++) dw[h * K + j] += (float)dot_lanes_total(lanes[j]);
    }
}

void mhim_nystrom_res_conv_backward_acc(float *dv, float *dw, const float *dout, const float *v, const float *w,
                                        int64_t heads, int64_t T, int64_t dh) {
    mhim_nystrom_res_conv_backward_rows_acc(dv, dw, dout, v, w, heads, T, dh, 0, T);
}

void mhim_nystrom_res_conv_rows_acc(float *out, int64_t ld, const float *v, const float *w, int64_t heads, int64_t T,
                                    int64_t dh, int64_t t0, int64_t rows) {
#pragma omp parallel for schedule(static)
    for (int64_t rh = 0; rh < rows * heads; rh++) {
        const int64_t r = rh / heads, h = rh % heads;
        res_conv_row(out + r * ld + h * dh, v + h * T * dh, w + h * MHIM_NYSTROM_RES_KERNEL, t0 + r, 1, T, dh);
    }
}

/* One row in place; one thread owns the row, so the result does not depend on the thread count. */
MHIM_SIMD_CLONES_FMA static void softmax_row_floor(float *y, int64_t L) {
    float max = -INFINITY; /* a vector max reduction: exact, so its order does not matter (NaN ignored) */
#pragma omp simd reduction(max : max)
    for (int64_t j = 0; j < L; j++) max = y[j] > max ? y[j] : max;
    const float lo = max + MHIM_NYSTROM_SOFTMAX_FLOOR;
#pragma omp simd
    for (int64_t j = 0; j < L; j++) y[j] = mhim_fast_expf((y[j] > lo ? y[j] : lo) - max);
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < L; j++) sum += y[j];
    const float inv = (float)(1.0 / sum);
#pragma omp simd
    for (int64_t j = 0; j < L; j++) y[j] *= inv;
}

void mhim_nystrom_softmax_rows(float *a, int64_t R, int64_t L) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++) softmax_row_floor(a + r * L, L);
}
