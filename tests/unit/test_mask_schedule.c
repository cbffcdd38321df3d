/* r_h'(t) of --mrh_sche (spec v1 §4.6): cosine from r_h to 0 over num_epoch·iters iterations, at t = 0, mid and
 * end, against hand-worked values and numpy's utils.cosine_scheduler, and the mask sizes they imply. */
#include <math.h>
#include <stdio.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/mask.h"

static int expect(const char *name, double ratio_h, int64_t epochs, int64_t iters, int64_t t, double want) {
    double got = -1;
    int rc = mhim_mask_ratio_h_at(ratio_h, 1, epochs, iters, t, &got);
    /* 1e-18 absolute: near t = T, 1 + cos(.) cancels and one ulp of cos (libm vs numpy) is ~5e-19 */
    int ok = rc == MHIM_OK && fabs(got - want) <= 1e-15 * fabs(want) + 1e-18;
    printf("%s %-44s t=%lld got %.17g want %.17g\n", ok ? "ok  " : "FAIL", name, (long long)t, got, want);
    return !ok;
}

int main(void) {
    int fails = 0;
    /* r_h = 0.03, 2 epochs x 3 iterations: T = 6, r_h'(t) = 0.015 (1 + cos(pi t / 6)). */
    fails += expect("T=6 t=0: r_h", 0.03, 2, 3, 0, 0.03);
    fails += expect("T=6 t=1: 0.015 (1 + sqrt(3)/2)", 0.03, 2, 3, 1, 0.015 * (1 + sqrt(3.0) / 2));
    fails += expect("T=6 t=2: 0.015 * 1.5", 0.03, 2, 3, 2, 0.0225);
    fails += expect("T=6 t=3 (mid): r_h / 2", 0.03, 2, 3, 3, 0.015);
    fails += expect("T=6 t=4: 0.015 * 0.5", 0.03, 2, 3, 4, 0.0075);
    fails += expect("T=6 t=5 (end): 0.015 (1 - sqrt(3)/2)", 0.03, 2, 3, 5, 0.015 * (1 - sqrt(3.0) / 2));
    /* The C16 ABMIL run: r_h = 0.01, 200 epochs x 270 bags; numpy values (repr). */
    fails += expect("C16 t=0", 0.01, 200, 270, 0, 0.01);
    fails += expect("C16 t=1", 0.01, 200, 270, 1, 0.009999999991538404);
    fails += expect("C16 t=27000 (mid)", 0.01, 200, 270, 27000, 0.005);
    fails += expect("C16 t=35640 (early stop at epoch 132)", 0.01, 200, 270, 35640, 0.002591231629491423);
    fails += expect("C16 t=53999 (end)", 0.01, 200, 270, 53999, 8.461595313313809e-12);

    /* Mask sizes at N = 15702 (the log's bag): K = ceil(N r_h') = 158, 79, 41, and still 1 at the very end. */
    const int64_t ts[4] = {0, 27000, 35640, 53999}, want_k[4] = {158, 79, 41, 1};
    for (int i = 0; i < 4; i++) {
        double r;
        mhim_mask_ratio_h_at(0.01, 1, 200, 270, ts[i], &r);
        int64_t k = (int64_t)ceil(15702.0 * r);
        char label[80];
        snprintf(label, sizeof label, "C16 N=15702 t=%lld: K = %lld", (long long)ts[i], (long long)want_k[i]);
        fails += check_true(label, k == want_k[i]);
    }

    double r = -1;
    fails += check_true("unscheduled: r_h at any t", mhim_mask_ratio_h_at(0.02, 0, 0, 0, 123456, &r) == MHIM_OK &&
                                                         r == 0.02);
    fails += check_true("t = T rejected", mhim_mask_ratio_h_at(0.01, 1, 2, 3, 6, &r) == MHIM_EINPUT);
    printf("     %s\n", mhim_error());
    fails += check_true("t < 0 rejected", mhim_mask_ratio_h_at(0.01, 1, 2, 3, -1, &r) == MHIM_EINPUT);
    fails += check_true("0 iterations per epoch rejected", mhim_mask_ratio_h_at(0.01, 1, 2, 0, 0, &r) == MHIM_EINPUT);
    printf("%s\n", fails ? "FAILED" : "PASSED");
    return fails ? 1 : 0;
}
