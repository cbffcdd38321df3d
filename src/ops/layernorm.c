/* LayerNorm forward/backward (see mhim/ops/norm.h). Rows are independent (one thread per row); the parameter
 * gradients are column sums taken in row order by one thread per block of columns. */
#include "mhim/ops/norm.h"

#include <math.h>

#include "mhim/common.h"
#include "mhim/ops/act.h"
#include "mhim/threads.h"

/* Columns reduced together by one thread for dweight (same blocking as mhim_colsum_acc). */
#define LN_PARAM_BLOCK MHIM_COLSUM_BLOCK

void mhim_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                            const float *bias, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static) if (N * C >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *x = inp + i * C;
        double sum = 0.0;
        for (int64_t c = 0; c < C; c++) sum += x[c];
        double mu = sum / (double)C, var = 0.0;
        for (int64_t c = 0; c < C; c++) {
            double d = x[c] - mu;
            var += d * d;
        }
        float m = (float)mu, r = (float)(1.0 / sqrt(var / (double)C + (double)MHIM_LAYERNORM_EPS));
        float *y = out + i * C;
        for (int64_t c = 0; c < C; c++) y[c] = (x[c] - m) * r * weight[c] + bias[c];
        mean[i] = m;
        rstd[i] = r;
    }
}

static void layernorm_backward(float *dinp, int accumulate, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, const float *mean, const float *rstd,
                               int64_t N, int64_t C) {
#pragma omp parallel for schedule(static) if (N * C >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *x = inp + i * C, *dy = dout + i * C;
        float m = mean[i], r = rstd[i];
        double sum_g = 0.0, sum_gx = 0.0;
        for (int64_t c = 0; c < C; c++) {
            double g = (double)dy[c] * weight[c];
            sum_g += g;
            sum_gx += g * ((x[c] - m) * r);
        }
        float mean_g = (float)(sum_g / (double)C), mean_gx = (float)(sum_gx / (double)C);
        float *dx = dinp + i * C;
        for (int64_t c = 0; c < C; c++) {
            float v = r * (dy[c] * weight[c] - mean_g - (x[c] - m) * r * mean_gx);
            dx[c] = accumulate ? dx[c] + v : v;
        }
    }
    mhim_colsum_acc(dbias, dout, N, C);
    int64_t blocks = (C + LN_PARAM_BLOCK - 1) / LN_PARAM_BLOCK;
#pragma omp parallel for schedule(static) if (N * C >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        int64_t c0 = b * LN_PARAM_BLOCK, width = MHIM_MIN(LN_PARAM_BLOCK, C - c0);
        double part[LN_PARAM_BLOCK] = {0};
        for (int64_t i = 0; i < N; i++) {
            const float *x = inp + i * C + c0, *dy = dout + i * C + c0;
            float m = mean[i], r = rstd[i];
            for (int64_t c = 0; c < width; c++) part[c] += (double)dy[c] * ((x[c] - m) * r);
        }
        for (int64_t c = 0; c < width; c++) dweight[c0 + c] += (float)part[c];
    }
}

void mhim_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                             const float *weight, const float *mean, const float *rstd, int64_t N, int64_t C) {
    layernorm_backward(dinp, 0, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

void mhim_layernorm_backward_acc(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                 const float *weight, const float *mean, const float *rstd, int64_t N, int64_t C) {
    layernorm_backward(dinp, 1, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}
