/* Element and row kernels of the Nyström attention: sizes, landmark means and the residual depthwise
 * convolution (see mhim/ops/nystrom.h). */
#include <math.h>

#include "mhim/common.h"
#include "mhim/ops/nystrom.h"

#define RES_HALF (MHIM_NYSTROM_RES_KERNEL / 2)

int64_t mhim_nystrom_pad(int64_t n, int64_t m) {
    MHIM_ASSERT(n >= 1 && m >= 1);
    return n % m ? m - n % m : 0;
}

int64_t mhim_nystrom_padded_len(int64_t n, int64_t m) { return n + mhim_nystrom_pad(n, m); }

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

void mhim_nystrom_res_conv_forward_acc(float *out, const float *v, const float *w, int64_t heads, int64_t T,
                                       int64_t dh) {
#pragma omp parallel for schedule(static)
    for (int64_t ht = 0; ht < heads * T; ht++) {
        const int64_t h = ht / T, t = ht % T;
        const float *wh = w + h * MHIM_NYSTROM_RES_KERNEL, *vh = v + h * T * dh;
        float *o = out + ht * dh;
        for (int64_t j = 0; j < MHIM_NYSTROM_RES_KERNEL; j++) {
            const int64_t src = t + j - RES_HALF;
            if (src < 0 || src >= T) continue;
            for (int64_t c = 0; c < dh; c++) o[c] += wh[j] * vh[src * dh + c];
        }
    }
}

void mhim_nystrom_res_conv_backward_acc(float *dv, float *dw, const float *dout, const float *v, const float *w,
                                        int64_t heads, int64_t T, int64_t dh) {
    /* dv: each (head, row) gathers from the output rows it fed */
#pragma omp parallel for schedule(static)
    for (int64_t hs = 0; hs < heads * T; hs++) {
        const int64_t h = hs / T, s = hs % T;
        const float *wh = w + h * MHIM_NYSTROM_RES_KERNEL, *gh = dout + h * T * dh;
        float *d = dv + hs * dh;
        for (int64_t j = 0; j < MHIM_NYSTROM_RES_KERNEL; j++) {
            const int64_t t = s - j + RES_HALF;
            if (t < 0 || t >= T) continue;
            for (int64_t c = 0; c < dh; c++) d[c] += wh[j] * gh[t * dh + c];
        }
    }
    /* dw: one (head, tap) per iteration, summed over rows in order, in double */
#pragma omp parallel for schedule(static)
    for (int64_t hj = 0; hj < heads * MHIM_NYSTROM_RES_KERNEL; hj++) {
        const int64_t h = hj / MHIM_NYSTROM_RES_KERNEL, j = hj % MHIM_NYSTROM_RES_KERNEL;
        const float *gh = dout + h * T * dh, *vh = v + h * T * dh;
        double acc = 0.0;
        for (int64_t t = 0; t < T; t++) {
            const int64_t src = t + j - RES_HALF;
            if (src < 0 || src >= T) continue;
            for (int64_t c = 0; c < dh; c++) acc += (double)gh[t * dh + c] * vh[src * dh + c];
        }
        dw[hj] += (float)acc;
    }
}
