/* Binary cross-entropy on logits (see mhim/ops/loss.h). */
#include "mhim/ops/loss.h"

#include <math.h>

#include "mhim/common.h"

float mhim_bce_logits_forward(const float *logits, const float *targets, int64_t n) {
    MHIM_ASSERT(n > 0);
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double x = logits[i], y = targets[i];
        total += fmax(x, 0.0) - x * y + log1p(exp(-fabs(x)));
    }
    return (float)(total / (double)n);
}

void mhim_bce_logits_backward(float *dlogits, const float *logits, const float *targets, float dloss, int64_t n) {
    float scale = dloss / (float)n;
    for (int64_t i = 0; i < n; i++) {
        float p = 1.0f / (1.0f + expf(-logits[i]));
        dlogits[i] = scale * (p - targets[i]);
    }
}
