/* Discrete-time survival negative log-likelihood (see mhim/ops/loss.h). Hazards and survival are float32 like the
 * PyTorch reference (sigmoid, cumprod); logarithms and the batch mean are taken in double. */
#include "mhim/ops/loss.h"

#include <math.h>

#include "mhim/common.h"

/* S_pad[k] of one row: 1 for k = 0, else surv[k − 1]. */
static float surv_padded(const float *surv, int64_t k) { return k == 0 ? 1.0f : surv[k - 1]; }

float mhim_nll_surv_forward(float *hazards, float *surv, const float *logits, const int64_t *y, const float *c,
                            float alpha, int64_t B, int64_t C) {
    MHIM_ASSERT(B > 0 && C > 0);
    const float eps = MHIM_NLL_SURV_EPS;
    double total = 0.0;
    for (int64_t b = 0; b < B; b++) {
        MHIM_ASSERT(y[b] >= 0 && y[b] < C);
        float *h = hazards + b * C, *S = surv + b * C;
        float run = 1.0f;
        for (int64_t j = 0; j < C; j++) {
            h[j] = 1.0f / (1.0f + expf(-logits[b * C + j]));
            run *= 1.0f - h[j];
            S[j] = run;
        }
        int64_t k = y[b];
        double cb = c[b];
        double uncensored = -(1.0 - cb) * (log(fmaxf(surv_padded(S, k), eps)) + log(fmaxf(h[k], eps)));
        double censored = -cb * log(fmaxf(surv_padded(S, k + 1), eps));
        total += (1.0 - alpha) * (censored + uncensored) + alpha * uncensored;
    }
    return (float)(total / (double)B);
}

void mhim_nll_surv_backward(float *dlogits, const float *hazards, const float *surv, const int64_t *y, const float *c,
                            float alpha, float dloss, int64_t B, int64_t C) {
    const float eps = MHIM_NLL_SURV_EPS;
    double scale = (double)dloss / (double)B;
    for (int64_t b = 0; b < B; b++) {
        const float *h = hazards + b * C, *S = surv + b * C;
        float *dz = dlogits + b * C;
        int64_t k = y[b];
        /* loss_b = uncensored + (1 − alpha)·censored */
        double w_unc = 1.0 - (double)c[b], w_cen = (1.0 - (double)alpha) * (double)c[b];
        int prev_live = surv_padded(S, k) >= eps, h_live = h[k] >= eps, next_live = surv_padded(S, k + 1) >= eps;
        for (int64_t j = 0; j < C; j++) {
            double g = 0.0;
            if (j < k && prev_live) g += w_unc * h[j];
            if (j == k && h_live) g -= w_unc * (1.0 - (double)h[j]);
            if (j <= k && next_live) g += w_cen * h[j];
            dz[j] = (float)(scale * g);
        }
    }
}
