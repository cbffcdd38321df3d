/* utils.cosine_scheduler of the original code, value by value in numpy's float64 order (see mhim/schedule.h). */
#include <math.h>

#include "mhim/common.h"
#include "mhim/schedule.h"

int mhim_cosine_schedule_check(int64_t epochs, int64_t niter_per_ep, int64_t warmup_epochs) {
    if (epochs < 1) return mhim_fail("cosine schedule: %lld epochs, expected >= 1", (long long)epochs);
    if (niter_per_ep < 1)
        return mhim_fail("cosine schedule: %lld iterations per epoch, expected >= 1 (is the training set empty?)",
                         (long long)niter_per_ep);
    if (epochs > INT64_MAX / niter_per_ep) return mhim_fail("cosine schedule: epochs x iterations overflows");
    if (warmup_epochs < 0 || warmup_epochs > epochs)
        return mhim_fail("cosine schedule: %lld warm-up epochs, expected 0..%lld", (long long)warmup_epochs,
                         (long long)epochs);
    return MHIM_OK;
}

double mhim_cosine_schedule_at(double base, double final, int64_t epochs, int64_t niter_per_ep,
                               int64_t warmup_epochs, double start_warmup, int64_t t) {
    int64_t total = epochs * niter_per_ep, warmup = warmup_epochs * niter_per_ep;
    MHIM_ASSERT(t >= 0 && t < total);
    if (t < warmup) {
        /* numpy.linspace(start, base, warmup): start + i*step with step = (base-start)/(warmup-1); last = base. */
        if (t == warmup - 1 && warmup > 1) return base;
        double step = warmup > 1 ? (base - start_warmup) / (double)(warmup - 1) : 0.0;
        return (double)t * step + start_warmup;
    }
    double i = (double)(t - warmup), len = (double)(total - warmup);
    return final + 0.5 * (base - final) * (1 + cos(M_PI * i / len));
}

int mhim_cosine_schedule(double *out, double base, double final, int64_t epochs, int64_t niter_per_ep,
                         int64_t warmup_epochs, double start_warmup) {
    int rc = mhim_cosine_schedule_check(epochs, niter_per_ep, warmup_epochs);
    if (rc != MHIM_OK) return rc;
    for (int64_t t = 0; t < epochs * niter_per_ep; t++)
        out[t] = mhim_cosine_schedule_at(base, final, epochs, niter_per_ep, warmup_epochs, start_warmup, t);
    return MHIM_OK;
}
