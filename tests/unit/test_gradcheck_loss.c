/* Finite-difference gradient checks of the losses w.r.t. their logits (and the student side of the consistency
 * loss), plus hand-computed values for small cases. Objective = dloss · loss with a random dloss. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/ops/loss.h"
#include "test_gradcheck_basic_util.h"

typedef enum { LOSS_CE, LOSS_SOFT, LOSS_BCE, LOSS_SURV } loss_kind;

typedef struct {
    loss_kind kind;
    float *x, *cache1, *cache2; /* logits (student); caches */
    const float *teacher_or_target; /* soft CE teacher / BCE targets / survival censorship */
    const int64_t *labels;
    float temp_t, temp_s, alpha, value;
    int64_t B, C;
} loss_op;

static void loss_fwd(void *p) {
    loss_op *o = p;
    switch (o->kind) {
    case LOSS_CE: o->value = mhim_cross_entropy_forward(o->cache1, o->x, o->labels, o->B, o->C); break;
    case LOSS_SOFT:
        o->value = mhim_soft_target_ce_forward(o->cache1, o->cache2, o->x, o->teacher_or_target, o->temp_t, o->temp_s,
                                               o->B, o->C);
        break;
    case LOSS_BCE: o->value = mhim_bce_logits_forward(o->x, o->teacher_or_target, o->B * o->C); break;
    case LOSS_SURV:
        o->value = mhim_nll_surv_forward(o->cache1, o->cache2, o->x, o->labels, o->teacher_or_target, o->alpha, o->B,
                                         o->C);
        break;
    }
}

static void loss_bwd(loss_op *o, float *dx, float dloss) {
    switch (o->kind) {
    case LOSS_CE: mhim_cross_entropy_backward(dx, o->cache1, o->labels, dloss, o->B, o->C); break;
    case LOSS_SOFT: mhim_soft_target_ce_backward(dx, o->cache1, o->cache2, dloss, o->temp_s, o->B, o->C); break;
    case LOSS_BCE: mhim_bce_logits_backward(dx, o->x, o->teacher_or_target, dloss, o->B * o->C); break;
    case LOSS_SURV:
        mhim_nll_surv_backward(dx, o->cache1, o->cache2, o->labels, o->teacher_or_target, o->alpha, dloss, o->B, o->C);
        break;
    }
}

static int run_check(const char *name, loss_op *o, test_rng *r, double eps) {
    int64_t n = o->B * o->C;
    float dloss = test_uniform(r, 0.5f, 1.5f), *dx = nan_array(n);
    loss_fwd(o);
    loss_bwd(o, dx, dloss);
    int fails = check_finite(name, dx, n);
    objective_ctx ctx = {loss_fwd, o, &o->value, &dloss, 1};
    fails += gradcheck(name, o->x, n, dx, objective, &ctx, eps, 1e-2, GC_MAX_CHECKS);
    loss_fwd(o);
    free(dx);
    return fails;
}

static int test_ce(test_rng *r, int64_t B, int64_t C) {
    int64_t *y = mhim_malloc((size_t)B * sizeof(int64_t));
    for (int64_t b = 0; b < B; b++) y[b] = (b * 7 + 1) % C;
    loss_op o = {LOSS_CE, rand_array(r, B * C, -3, 3), nan_array(B * C), NULL, NULL, y, 0, 0, 0, 0, B, C};
    char name[64];
    snprintf(name, sizeof name, "cross_entropy B=%lld C=%lld", (long long)B, (long long)C);
    int fails = run_check(name, &o, r, 1e-2);
    free(y), free(o.x), free(o.cache1);
    return fails;
}

static int test_soft(test_rng *r, int64_t R, int64_t D, float temp_t, float temp_s) {
    float *teacher = rand_array(r, R * D, -0.5f, 0.5f);
    loss_op o = {LOSS_SOFT, rand_array(r, R * D, -2, 2), nan_array(R * D), nan_array(R * D), teacher, NULL,
                 temp_t, temp_s, 0, 0, R, D};
    char name[80];
    snprintf(name, sizeof name, "soft_target_ce R=%lld D=%lld Tt=%.2f Ts=%.2f", (long long)R, (long long)D,
             (double)temp_t, (double)temp_s);
    int fails = run_check(name, &o, r, 1e-2);
    free(teacher), free(o.x), free(o.cache1), free(o.cache2);
    return fails;
}

static int test_bce(test_rng *r, int64_t n) {
    float *target = mhim_malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) target[i] = i % 3 == 0 ? 1.0f : i % 3 == 1 ? 0.0f : 0.3f;
    loss_op o = {LOSS_BCE, rand_array(r, n, -4, 4), NULL, NULL, target, NULL, 0, 0, 0, 0, 1, n};
    char name[64];
    snprintf(name, sizeof name, "bce_logits n=%lld", (long long)n);
    int fails = run_check(name, &o, r, 1e-2);
    free(target), free(o.x);
    return fails;
}

/* Survival rows: y[b] = b % C with censorship alternating, so every bin is seen censored and uncensored. */
static int test_surv(test_rng *r, int64_t B, int64_t C, float alpha, float lo, float hi) {
    int64_t *y = mhim_malloc((size_t)B * sizeof(int64_t));
    float *c = mhim_malloc((size_t)B * sizeof(float));
    for (int64_t b = 0; b < B; b++) {
        y[b] = b % C;
        c[b] = (float)((b / C) % 2);
    }
    loss_op o = {LOSS_SURV, rand_array(r, B * C, lo, hi), nan_array(B * C), nan_array(B * C), c, y, 0, 0, alpha,
                 0, B, C};
    char name[80];
    snprintf(name, sizeof name, "nll_surv B=%lld C=%lld alpha=%.2f logits [%g,%g]", (long long)B, (long long)C,
             (double)alpha, (double)lo, (double)hi);
    int fails = run_check(name, &o, r, 1e-2);
    free(y), free(c), free(o.x), free(o.cache1), free(o.cache2);
    return fails;
}

/* Values computed by hand: CE of logits (0, ln 3) with target 1 = −ln(3/4); survival with zero logits (h = ½). */
static int test_known_values(void) {
    int fails = 0;
    float logits[2] = {0.0f, logf(3.0f)}, probs[2], d[2];
    int64_t target = 1;
    float ce = mhim_cross_entropy_forward(probs, logits, &target, 1, 2);
    fails += check_true("cross_entropy value -ln(3/4)", fabs(ce - (-log(0.75))) < 1e-6);
    mhim_cross_entropy_backward(d, probs, &target, 1.0f, 1, 2);
    float want_d[2] = {0.25f, -0.25f};
    fails += check_close("cross_entropy grad (1/4, -1/4)", d, want_d, 2, 1e-7, 0);
    /* C = 4, y = 2, uncensored: −log S_pad[2] − log h_2 = −2 ln ½ − ln ½ = 3 ln 2; censored: −log S_pad[3] = 3 ln 2 */
    float z[4] = {0, 0, 0, 0}, h[4], S[4], dz[4];
    int64_t y = 2;
    float unc = 0.0f, cen = 1.0f;
    float lu = mhim_nll_surv_forward(h, S, z, &y, &unc, 0.0f, 1, 4);
    fails += check_true("nll_surv uncensored value 3 ln 2", fabs(lu - 3 * log(2.0)) < 1e-6);
    mhim_nll_surv_backward(dz, h, S, &y, &unc, 0.0f, 1.0f, 1, 4);
    float want_unc[4] = {0.5f, 0.5f, -0.5f, 0.0f};
    fails += check_close("nll_surv uncensored grad (h_j, h_j, -(1-h_y), 0)", dz, want_unc, 4, 1e-7, 0);
    float lc = mhim_nll_surv_forward(h, S, z, &y, &cen, 0.0f, 1, 4);
    fails += check_true("nll_surv censored value 3 ln 2", fabs(lc - 3 * log(2.0)) < 1e-6);
    mhim_nll_surv_backward(dz, h, S, &y, &cen, 0.0f, 1.0f, 1, 4);
    float want_cen[4] = {0.5f, 0.5f, 0.5f, 0.0f};
    fails += check_close("nll_surv censored grad (h_j for j<=y)", dz, want_cen, 4, 1e-7, 0);
    /* alpha weights the censored term by (1 − alpha) */
    float la = mhim_nll_surv_forward(h, S, z, &y, &cen, 0.4f, 1, 4);
    fails += check_true("nll_surv censored alpha=0.4 value 0.6·3 ln 2", fabs(la - 0.6 * 3 * log(2.0)) < 1e-6);
    /* a hazard of exactly 1 makes S = 0 < eps: the clamped term is constant (value −ln eps, gradient 0) */
    float zc[2] = {40.0f, 0.0f}, hc[2], Sc[2], dzc[2];
    int64_t yc = 1;
    float lclamp = mhim_nll_surv_forward(hc, Sc, zc, &yc, &cen, 0.0f, 1, 2);
    fails += check_true("nll_surv clamped value -ln(1e-7)", fabs(lclamp + log((double)MHIM_NLL_SURV_EPS)) < 1e-4);
    mhim_nll_surv_backward(dzc, hc, Sc, &yc, &cen, 0.0f, 1.0f, 1, 2);
    float zero2[2] = {0, 0};
    fails += check_close("nll_surv clamped grad 0", dzc, zero2, 2, 0, 0);
    /* soft-target CE with identical distributions: gradient 0, value = entropy */
    float s[3] = {0.1f, 0.2f, 0.3f}, t[3] = {0.01f, 0.02f, 0.03f}, ps[3], pt[3], ds[3];
    float soft = mhim_soft_target_ce_forward(ps, pt, s, t, 0.1f, 1.0f, 1, 3);
    double ent = 0;
    for (int j = 0; j < 3; j++) ent -= ps[j] * log(ps[j]);
    fails += check_true("soft_target_ce equal distributions: value = entropy", fabs(soft - ent) < 1e-6);
    mhim_soft_target_ce_backward(ds, ps, pt, 1.0f, 1.0f, 1, 3);
    float zero3[3] = {0, 0, 0};
    fails += check_close("soft_target_ce equal distributions: grad 0", ds, zero3, 3, 1e-7, 0);
    return fails;
}

int main(void) {
    test_rng r = {4242};
    int fails = 0;
    fails += test_ce(&r, 1, 2);
    fails += test_ce(&r, 3, 4);
    fails += test_soft(&r, 1, 512, MHIM_CONSISTENCY_TEMP_T, MHIM_CONSISTENCY_TEMP_S);
    fails += test_soft(&r, 2, 16, MHIM_CONSISTENCY_TEMP_T, MHIM_CONSISTENCY_TEMP_S);
    fails += test_soft(&r, 3, 7, 0.5f, 2.0f);
    fails += test_bce(&r, 2);
    fails += test_bce(&r, 9);
    fails += test_surv(&r, 8, 4, 0.0f, -2, 2);
    fails += test_surv(&r, 6, 3, 0.4f, -2, 2);
    fails += test_surv(&r, 4, 4, 0.0f, 3, 6); /* high hazards: S far below 1 */
    fails += test_known_values();
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
