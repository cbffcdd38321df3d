/* Adam and AdamW over flat buffers, in PyTorch 1.13's float32 operation order (see mhim/optim.h). */
#include <math.h>

#include "mhim/common.h"
#include "mhim/optim.h"
#include "ops/vecmath.h"

void mhim_adam_init(mhim_adam *o, mhim_opt_kind kind, double lr, double weight_decay) {
    o->kind = kind;
    o->lr = lr;
    o->beta1 = MHIM_ADAM_BETA1;
    o->beta2 = MHIM_ADAM_BETA2;
    o->eps = MHIM_ADAM_EPS;
    o->weight_decay = weight_decay;
    o->step = 0;
}

void mhim_adam_begin_step(mhim_adam *o) { o->step++; }

MHIM_SIMD_CLONES_WIDE void mhim_adam_update(const mhim_adam *o, float *param, const float *grad, float *m, float *v,
                                            int64_t n) {
    MHIM_ASSERT(o->step >= 1);
    /* Scalars are Python floats in torch (double), rounded to float inside each tensor op. */
    double bias_correction1 = 1.0 - pow(o->beta1, (double)o->step);
    double bias_correction2 = 1.0 - pow(o->beta2, (double)o->step);
    const float step_size = (float)(-(o->lr / bias_correction1));
    const float bc2_sqrt = (float)sqrt(bias_correction2);
    const float b1 = (float)o->beta1, one_minus_b1 = (float)(1.0 - o->beta1);
    const float b2 = (float)o->beta2, one_minus_b2 = (float)(1.0 - o->beta2);
    const float eps = (float)o->eps;
    const int coupled = o->kind == MHIM_OPT_ADAM && o->weight_decay != 0.0;
    const float wd = (float)o->weight_decay;
    const int decoupled = o->kind == MHIM_OPT_ADAMW && o->weight_decay != 0.0;
    const float shrink = (float)(1.0 - o->lr * o->weight_decay);
#pragma omp parallel for schedule(static) if (n >= MHIM_OPTIM_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        float p = param[i], g = grad[i];
        if (coupled) g = g + wd * p;       /* grad.add(param, alpha=wd) */
        if (decoupled) p = p * shrink;     /* param.mul_(1 - lr*wd) */
        float mi = m[i] * b1;              /* exp_avg.mul_(b1).add_(grad, alpha=1-b1) */
        mi = mi + one_minus_b1 * g;
        float vi = v[i] * b2;              /* exp_avg_sq.mul_(b2).addcmul_(grad, grad, value=1-b2) */
        vi = vi + one_minus_b2 * g * g;
        float denom = sqrtf(vi) / bc2_sqrt; /* (exp_avg_sq.sqrt() / bc2_sqrt).add_(eps) */
        denom = denom + eps;
        p = p + step_size * mi / denom;    /* param.addcdiv_(exp_avg, denom, value=-step_size) */
        m[i] = mi;
        v[i] = vi;
        param[i] = p;
    }
}

void mhim_adam_step(mhim_adam *o, float *param, const float *grad, float *m, float *v, int64_t n) {
    mhim_adam_begin_step(o);
    mhim_adam_update(o, param, grad, m, v, n);
}
