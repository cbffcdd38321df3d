/* mhim/optim.h — Adam / AdamW, global-norm gradient clipping and the EMA teacher update over
 * flat float buffers (see mhim/params.h for the shared layout).
 *
 * Every update is element-wise in float32 and follows PyTorch 1.13's single-tensor code path
 * operation by operation (hyperparameters are Python floats = double, rounded to float where
 * PyTorch rounds them), so results match torch to float rounding; element loops are OpenMP
 * parallel and bitwise identical for any thread count. */
#ifndef MHIM_OPTIM_H
#define MHIM_OPTIM_H

#include <stdint.h>

#define MHIM_ADAM_BETA1 0.9
#define MHIM_ADAM_BETA2 0.999
#define MHIM_ADAM_EPS 1e-8
#define MHIM_CLIP_EPS 1e-6 /* clip_grad_norm_: coef = max_norm / (total_norm + 1e-6) */
/* The optimiser and EMA loops over the parameter buffer use several threads from this many parameters on (below it,
 * waking a second thread costs more than the loop; the results do not depend on it). */
#define MHIM_OPTIM_PARALLEL_MIN (1 << 20)

typedef enum {
    MHIM_OPT_ADAM,  /* torch.optim.Adam: coupled L2 decay (g += wd*p before the moments) */
    MHIM_OPT_ADAMW  /* torch.optim.AdamW: decoupled decay (p *= 1 - lr*wd before the step) */
} mhim_opt_kind;

typedef struct {
    mhim_opt_kind kind;
    double lr;           /* set by the schedule before each step */
    double beta1, beta2, eps, weight_decay;
    int64_t step;        /* number of steps taken (torch's state['step']) */
} mhim_adam;

/* Defaults of torch: betas (0.9, 0.999), eps 1e-8; step = 0. */
void mhim_adam_init(mhim_adam *o, mhim_opt_kind kind, double lr, double weight_decay);

/* One optimiser step over n elements: step += 1, then, per element, with g = grad:
 *   Adam : g = g + wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g;
 *   AdamW: p = p*(1 - lr*wd); then the same moments with g = grad;
 *   both : denom = sqrt(v)/sqrt(1-b2^step) + eps; p = p - (lr/(1-b1^step)) * m/denom.
 * param, m, v are updated in place (m, v start at zero); grad is read only.
 * PyTorch skips parameters whose .grad is None: to mirror that, call mhim_adam_begin_step once
 * and mhim_adam_update on the ranges of the tensors that received a gradient. */
void mhim_adam_step(mhim_adam *o, float *param, const float *grad, float *m, float *v, int64_t n);
/* step += 1 (start of an optimiser step made of several mhim_adam_update ranges). */
void mhim_adam_begin_step(mhim_adam *o);
/* The per-element update of mhim_adam_step for the current o->step (>= 1), without the increment. */
void mhim_adam_update(const mhim_adam *o, float *param, const float *grad, float *m, float *v, int64_t n);

/* torch.nn.utils.clip_grad_norm_(params, max_norm) over a flat gradient buffer (2-norm):
 * total = ||grad||_2 (double accumulation, fixed order); coef = max_norm / (total + 1e-6) in
 * float; if coef < 1 every element is multiplied by coef. Returns total (as float, before
 * clipping; inf/NaN when a gradient is not finite, in which case nothing is scaled). */
float mhim_clip_grad_norm(float *grad, int64_t n, double max_norm);

/* Global 2-norm of a flat buffer (double accumulation, fixed order), as float. */
float mhim_grad_norm(const float *grad, int64_t n);

/* EMA teacher update after the optimiser step: t = t*(float)m, then t = t + (float)(1-m)*s
 * (torch: param_t.mul_(m).add_(param_s, alpha=1-m)). */
void mhim_ema_update(float *teacher, const float *student, int64_t n, double momentum);

#endif
