/* Global-norm gradient clipping and the EMA teacher update (see mhim/optim.h). */
#include <math.h>

#include "mhim/optim.h"
#include "mhim/threads.h"
#include "ops/vecmath.h"

float mhim_grad_norm(const float *grad, int64_t n) { return (float)sqrt(mhim_sumsq_fixed(grad, n)); }

MHIM_SIMD_CLONES_WIDE float mhim_clip_grad_norm(float *grad, int64_t n, double max_norm) {
    float total = mhim_grad_norm(grad, n);
    if (!isfinite(total)) return total;
    float coef = (float)max_norm / (total + (float)MHIM_CLIP_EPS);
    if (coef < 1.0f) {
#pragma omp parallel for schedule(static) if (n >= MHIM_OPTIM_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) grad[i] = grad[i] * coef;
    }
    return total;
}

MHIM_SIMD_CLONES_WIDE void mhim_ema_update(float *teacher, const float *student, int64_t n, double momentum) {
    const float m = (float)momentum, one_minus_m = (float)(1.0 - momentum);
#pragma omp parallel for schedule(static) if (n >= MHIM_OPTIM_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        float t = teacher[i] * m;
        teacher[i] = t + one_minus_m * student[i];
    }
}
