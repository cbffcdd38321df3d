/* mhim/schedule.h against the values of torch 1.13 CosineAnnealingLR / StepLR, timm's CosineLRScheduler
 * formula and the original utils.cosine_scheduler (numpy), all float64 (fixtures/optim/schedules.h5), plus
 * resume (seek) and input validation. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "mhim/common.h"
#include "mhim/schedule.h"

/* The fixture reader hands out float32; schedules are compared in float64, read here directly. */
static double *read_f64(const char *file, const char *dataset, int64_t *count) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f < 0 ? -1 : H5Dopen2(f, dataset, H5P_DEFAULT);
    double *out = NULL;
    if (d >= 0) {
        hid_t space = H5Dget_space(d);
        *count = (int64_t)H5Sget_simple_extent_npoints(space);
        H5Sclose(space);
        out = malloc((size_t)(*count > 0 ? *count : 1) * sizeof *out);
        if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) free(out), out = NULL;
        H5Dclose(d);
    }
    if (f >= 0) H5Fclose(f);
    if (!out) printf("FAIL cannot read %s:%s\n", file, dataset);
    return out;
}

/* Fails when some |got - want| > atol, printing the first such value; reports how many are bit-exact. */
static int compare_f64(const char *name, const double *got, const double *want, int64_t n, double atol) {
    int64_t bad = -1, exact = 0;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double err = fabs(got[i] - want[i]), rel = want[i] != 0 ? err / fabs(want[i]) : err;
        exact += got[i] == want[i];
        if (rel > worst) worst = rel;
        if (!(err <= atol) && bad < 0) bad = i;
    }
    if (bad >= 0) {
        printf("FAIL %-40s n=%lld first mismatch [%lld] got %.17g want %.17g (max rel %.3e)\n", name, (long long)n,
               (long long)bad, got[bad], want[bad], worst);
        return 1;
    }
    printf("ok   %-40s n=%lld bit-exact %lld/%lld max rel %.3e\n", name, (long long)n, (long long)exact, (long long)n,
           worst);
    return 0;
}

static const char *file = "fixtures/optim/schedules.h5";

static int test_lr_schedules(fixture *fx) {
    const char *cases[] = {"cosine_v1", "cosine_min", "cosine_iter", "step_v1", "step_small", "timm_v2"};
    int fails = 0;
    for (size_t c = 0; c < MHIM_ARRAY_LEN(cases); c++) {
        char key[96];
        snprintf(key, sizeof key, "%s/values", cases[c]);
        int64_t n = 0;
        double *want = read_f64(file, key, &n);
        if (!want) {
            fails++;
            continue;
        }
        mhim_lr_kind kind = !strncmp(cases[c], "cosine", 6) ? MHIM_LR_COSINE
                            : !strncmp(cases[c], "step", 4) ? MHIM_LR_STEP
                                                             : MHIM_LR_COSINE_TIMM;
#define ATTR(a) (snprintf(key, sizeof key, "%s/%s", cases[c], a), fixture_scalar(fx, key))
        mhim_lr_schedule s;
        int rc = mhim_lr_schedule_init(&s, kind, ATTR("base_lr"), ATTR("min_lr"), (int64_t)ATTR("period"),
                                       ATTR("gamma"));
#undef ATTR
        double *got = malloc((size_t)n * sizeof *got);
        for (int64_t t = 0; t < n; t++) got[t] = t == 0 ? s.lr : mhim_lr_schedule_step(&s);
        /* Exact for the recursive torch schedules (same double operations); the timm formula too. */
        fails += check_true(cases[c], rc == MHIM_OK);
        fails += compare_f64(cases[c], got, want, n, 0.0);
        double resumed = mhim_lr_schedule_seek(&s, n / 2);
        snprintf(key, sizeof key, "%s: seek(t) replays to the same lr", cases[c]);
        fails += check_true(key, resumed == want[n / 2] && s.t == n / 2 && mhim_lr_schedule_step(&s) == want[n / 2 + 1]);
        free(got);
        free(want);
    }
    mhim_lr_schedule s;
    mhim_lr_schedule_init(&s, MHIM_LR_CONST, 2e-4, 0, 0, 0);
    mhim_lr_schedule_step(&s);
    fails += check_true("const schedule keeps the base lr", mhim_lr_schedule_step(&s) == 2e-4);
    return fails;
}

static int test_cosine_scheduler(fixture *fx) {
    const char *cases[] = {"mrh", "mm", "mm_v2", "warmup", "warmup_one_iter", "all_warmup"};
    int fails = 0;
    for (size_t c = 0; c < MHIM_ARRAY_LEN(cases); c++) {
        char key[128];
        snprintf(key, sizeof key, "cosine_scheduler/%s/values", cases[c]);
        int64_t n = 0;
        double *want = read_f64(file, key, &n);
        if (!want) {
            fails++;
            continue;
        }
#define ATTR(a) (snprintf(key, sizeof key, "cosine_scheduler/%s/%s", cases[c], a), fixture_scalar(fx, key))
        double base = ATTR("base"), final = ATTR("final"), start = ATTR("start_warmup");
        int64_t epochs = (int64_t)ATTR("epochs"), niter = (int64_t)ATTR("niter_per_ep"),
                warm = (int64_t)ATTR("warmup_epochs");
#undef ATTR
        double *got = malloc((size_t)n * sizeof *got);
        int rc = mhim_cosine_schedule(got, base, final, epochs, niter, warm, start);
        snprintf(key, sizeof key, "cosine_scheduler %s", cases[c]);
        fails += check_true(key, rc == MHIM_OK && n == epochs * niter);
        /* numpy's SIMD cos differs from libm's by up to 2 ulp (1 ulp on 2151 of the 3400 values of "mrh"), and
         * 0.5(base-final)(1+cos) carries that absolute error: allow 2^-50 |base-final| (+ 1 ulp of final). */
        double atol = ldexp(fabs(base - final), -50) + ldexp(fabs(final), -52);
        fails += rc == MHIM_OK ? compare_f64(key, got, want, n, atol) : 1;
        free(got);
        free(want);
    }
    return fails;
}

static int expect_fail(const char *what, int rc) {
    printf("%s -> %s\n", what, mhim_error());
    return check_true(what, rc == MHIM_EINPUT && mhim_error()[0]);
}

static int test_validation(void) {
    mhim_lr_schedule s;
    double out[4];
    int fails = 0;
    fails += expect_fail("rejects lr 0", mhim_lr_schedule_init(&s, MHIM_LR_COSINE, 0, 0, 10, 0));
    fails += expect_fail("rejects T_max 0", mhim_lr_schedule_init(&s, MHIM_LR_COSINE, 1e-3, 0, 0, 0));
    fails += expect_fail("rejects eta_min > lr", mhim_lr_schedule_init(&s, MHIM_LR_COSINE_TIMM, 1e-3, 1e-2, 5, 0));
    fails += expect_fail("rejects gamma 0", mhim_lr_schedule_init(&s, MHIM_LR_STEP, 1e-3, 0, 5, 0));
    fails += expect_fail("rejects NaN lr", mhim_lr_schedule_init(&s, MHIM_LR_CONST, NAN, 0, 0, 0));
    fails += expect_fail("rejects 0 iterations per epoch", mhim_cosine_schedule(out, 1, 0, 2, 0, 0, 0));
    fails += expect_fail("rejects 0 epochs", mhim_cosine_schedule(out, 1, 0, 0, 2, 0, 0));
    fails += expect_fail("rejects warm-up longer than training", mhim_cosine_schedule(out, 1, 0, 2, 2, 3, 0));
    return fails;
}

int main(void) {
    fixture *fx = fixture_open(file);
    if (!fx) return 1;
    int fails = test_lr_schedules(fx) + test_cosine_scheduler(fx) + test_validation();
    fixture_close(fx);
    printf("%s: %d failure(s)\n", __FILE__, fails);
    return fails ? 1 : 0;
}
