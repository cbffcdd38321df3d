/* DSMIL's own loss and evaluation combinations of its bag and max-instance logits, v1 and v2
 * (see mhim/models/dsmil.h). */
#include "mhim/models/dsmil.h"

#include <math.h>

#include "mhim/common.h"

/* Largest logit and Σ_c exp(logit_c − largest), in double. */
static double log_normaliser(double *top, const float *logits, int64_t C) {
    double t = -INFINITY, sum = 0.0;
    for (int64_t c = 0; c < C; c++) t = fmax(t, (double)logits[c]);
    for (int64_t c = 0; c < C; c++) sum += exp((double)logits[c] - t);
    *top = t;
    return sum;
}

/* CE of one logit vector for label y; d (C) = scale·(softmax − onehot) WRITTEN (d may alias logits). */
static double ce_with_grad(float *d, const float *logits, int64_t y, double scale, int64_t C) {
    double top, sum = log_normaliser(&top, logits, C);
    double loss = top + log(sum) - (double)logits[y];
    for (int64_t c = 0; c < C; c++) {
        double p = exp((double)logits[c] - top) / sum;
        d[c] = (float)(scale * (p - (c == y ? 1.0 : 0.0)));
    }
    return loss;
}

/* probs (C) = softmax(logits) (may alias). */
static void softmax_vec(float *probs, const float *logits, int64_t C) {
    double top, sum = log_normaliser(&top, logits, C);
    for (int64_t c = 0; c < C; c++) probs[c] = (float)(exp((double)logits[c] - top) / sum);
}

void mhim_dsmil_mean_logits(float *logits, const float *bag_logit, const float *max_logit, int64_t C) {
    for (int64_t c = 0; c < C; c++) logits[c] = 0.5f * bag_logit[c] + 0.5f * max_logit[c];
}

float mhim_dsmil_loss(float *d_bag_logit, float *d_max_logit, int version, const float *bag_logit,
                      const float *max_logit, int64_t y, float dloss, int64_t C) {
    MHIM_ASSERT(C >= 1 && y >= 0 && y < C && (version == 1 || version == 2));
    if (version == 1) {
        double loss = 0.5 * ce_with_grad(d_bag_logit, bag_logit, y, 0.5 * dloss, C);
        loss += 0.5 * ce_with_grad(d_max_logit, max_logit, y, 0.5 * dloss, C);
        return (float)loss;
    }
    /* v2: CE(0.5·bag + 0.5·max); the mean is built in d_max_logit, then both gradients are 0.5·dCE */
    mhim_dsmil_mean_logits(d_max_logit, bag_logit, max_logit, C);
    double loss = ce_with_grad(d_bag_logit, d_max_logit, y, 0.5 * dloss, C);
    for (int64_t c = 0; c < C; c++) d_max_logit[c] = d_bag_logit[c];
    return (float)loss;
}

void mhim_dsmil_probs(float *probs, int version, const float *bag_logit, const float *max_logit, int64_t C) {
    MHIM_ASSERT(C >= 1 && (version == 1 || version == 2));
    if (version == 2) {
        mhim_dsmil_mean_logits(probs, bag_logit, max_logit, C);
        softmax_vec(probs, probs, C);
        return;
    }
    double tb, sb = log_normaliser(&tb, bag_logit, C), tm, sm = log_normaliser(&tm, max_logit, C);
    for (int64_t c = 0; c < C; c++)
        probs[c] = (float)(0.5 * exp((double)max_logit[c] - tm) / sm + 0.5 * exp((double)bag_logit[c] - tb) / sb);
}
