/* mhim/schedule.h — learning-rate schedules (per epoch or per iteration) and the per-iteration
 * cosine schedule of the original code (mask ratio r_h, teacher momentum mm).
 *
 * LR schedules reproduce the values of the PyTorch/timm schedulers the original code uses,
 * including torch's recursive (not closed-form) CosineAnnealingLR, all in double:
 *   MHIM_LR_CONST       lr(t) = base
 *   MHIM_LR_COSINE      torch.optim.lr_scheduler.CosineAnnealingLR(T_max = period, eta_min = min_lr)
 *                       (v1; recursive form: lr(t) = (1+cos(pi t/T))/(1+cos(pi (t-1)/T)) * (lr(t-1)-eta_min)
 *                       + eta_min, with torch's special case when (t-1-T) % 2T == 0)
 *   MHIM_LR_COSINE_TIMM timm CosineLRScheduler(t_initial = period, lr_min = min_lr, warmup_t = 0,
 *                       cycle_limit = 1): lr_min + 0.5(base-lr_min)(1+cos(pi t/period)), lr_min for t >= period (v2)
 *   MHIM_LR_STEP        torch StepLR(step_size = period, gamma): lr *= gamma when t > 0 and t % period == 0
 * t counts scheduler steps: epochs (stepped once per epoch, v1/v2 default) or iterations
 * (`lr_supi`: period = num_epoch * iterations per epoch, stepped once per iteration). */
#ifndef MHIM_SCHEDULE_H
#define MHIM_SCHEDULE_H

#include <stdint.h>

typedef enum { MHIM_LR_CONST, MHIM_LR_COSINE, MHIM_LR_COSINE_TIMM, MHIM_LR_STEP } mhim_lr_kind;

typedef struct {
    mhim_lr_kind kind;
    double base_lr, min_lr, gamma;
    int64_t period;
    int64_t t;  /* scheduler steps taken */
    double lr;  /* learning rate for step t (= base_lr at t = 0) */
} mhim_lr_schedule;

/* Set up a schedule at t = 0. Fails (MHIM_EINPUT) on base_lr <= 0 or not finite, min_lr < 0 or
 * > base_lr (cosine kinds), period < 1 (cosine and step kinds), gamma <= 0 (step). */
int mhim_lr_schedule_init(mhim_lr_schedule *s, mhim_lr_kind kind, double base_lr, double min_lr, int64_t period,
                          double gamma);
/* scheduler.step(): t += 1; returns the new lr (also in s->lr). */
double mhim_lr_schedule_step(mhim_lr_schedule *s);
/* Replay from t = 0 to `t` (>= 0), e.g. when resuming; returns lr(t). O(t). */
double mhim_lr_schedule_seek(mhim_lr_schedule *s, int64_t t);

/* utils.cosine_scheduler(base, final, epochs, niter_per_ep, warmup_epochs, start_warmup_value):
 * T = epochs*niter_per_ep values, in double. The first W = warmup_epochs*niter_per_ep values are
 * numpy.linspace(start_warmup, base, W); the rest are final + 0.5(base-final)(1+cos(pi i/(T-W))),
 * i = 0..T-W-1. Fails (MHIM_EINPUT) on epochs < 1, niter_per_ep < 1, warmup_epochs < 0 or > epochs. */
int mhim_cosine_schedule_check(int64_t epochs, int64_t niter_per_ep, int64_t warmup_epochs);
/* Value t (0 <= t < epochs*niter_per_ep) of the schedule above (arguments already checked). */
double mhim_cosine_schedule_at(double base, double final, int64_t epochs, int64_t niter_per_ep,
                               int64_t warmup_epochs, double start_warmup, int64_t t);
/* All T values into out[T]; returns the check's status (out untouched on failure). */
int mhim_cosine_schedule(double *out, double base, double final, int64_t epochs, int64_t niter_per_ep,
                         int64_t warmup_epochs, double start_warmup);

#endif
