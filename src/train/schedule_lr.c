/* Learning-rate schedules replaying torch/timm arithmetic in double (see mhim/schedule.h). */
#include <math.h>

#include "mhim/common.h"
#include "mhim/schedule.h"

int mhim_lr_schedule_init(mhim_lr_schedule *s, mhim_lr_kind kind, double base_lr, double min_lr, int64_t period,
                          double gamma) {
    if (!(base_lr > 0) || !isfinite(base_lr))
        return mhim_fail("learning rate %g: expected a finite value > 0", base_lr);
    if ((kind == MHIM_LR_COSINE || kind == MHIM_LR_COSINE_TIMM) && !(min_lr >= 0 && min_lr <= base_lr))
        return mhim_fail("minimum learning rate %g: expected 0 <= min_lr <= lr (%g)", min_lr, base_lr);
    if (kind != MHIM_LR_CONST && period < 1)
        return mhim_fail("learning-rate schedule period %lld: expected >= 1 (epochs, or iterations with per-iteration "
                         "stepping)",
                         (long long)period);
    if (kind == MHIM_LR_STEP && !(gamma > 0 && isfinite(gamma)))
        return mhim_fail("step schedule gamma %g: expected a finite value > 0", gamma);
    s->kind = kind;
    s->base_lr = base_lr;
    s->min_lr = min_lr;
    s->gamma = gamma;
    s->period = period;
    s->t = 0;
    s->lr = base_lr;
    return MHIM_OK;
}

/* torch CosineAnnealingLR.get_lr for last_epoch = t >= 1, given the previous lr. */
static double cosine_torch_next(const mhim_lr_schedule *s, int64_t t, double prev) {
    double T = (double)s->period, eta_min = s->min_lr;
    if ((t - 1 - s->period) % (2 * s->period) == 0)
        return prev + (s->base_lr - eta_min) * (1 - cos(M_PI / T)) / 2;
    return (1 + cos(M_PI * (double)t / T)) / (1 + cos(M_PI * (double)(t - 1) / T)) * (prev - eta_min) + eta_min;
}

/* timm CosineLRScheduler._get_lr(t) with warmup_t = 0, cycle_mul = 1, cycle_decay = 1, cycle_limit = 1. */
static double cosine_timm_at(const mhim_lr_schedule *s, int64_t t) {
    int64_t cycle = t / s->period;
    if (cycle >= 1) return s->min_lr;
    double t_curr = (double)(t - s->period * cycle), t_i = (double)s->period;
    return s->min_lr + 0.5 * (s->base_lr - s->min_lr) * (1 + cos(M_PI * t_curr / t_i));
}

double mhim_lr_schedule_step(mhim_lr_schedule *s) {
    int64_t t = ++s->t;
    switch (s->kind) {
    case MHIM_LR_CONST: break;
    case MHIM_LR_COSINE: s->lr = cosine_torch_next(s, t, s->lr); break;
    case MHIM_LR_COSINE_TIMM: s->lr = cosine_timm_at(s, t); break;
    case MHIM_LR_STEP:
        if (t % s->period == 0) s->lr = s->lr * s->gamma;
        break;
    }
    return s->lr;
}

double mhim_lr_schedule_seek(mhim_lr_schedule *s, int64_t t) {
    MHIM_ASSERT(t >= 0);
    s->t = 0;
    s->lr = s->base_lr;
    while (s->t < t) mhim_lr_schedule_step(s);
    return s->lr;
}
