/* Finite-difference gradient checks of the basic ops: linear, activations, dropout, layernorm, gather.
 *
 * Every check uses the objective Σ out·w (random w, evaluated in double) and central differences on the float32
 * forward. Parameter gradients are pre-filled with random values and the pre-fill is subtracted afterwards, which
 * proves they accumulate (+=); written activation gradients are pre-filled with NaN, accumulating ones (`_acc`)
 * with random values. Shapes include N = 1 and odd sizes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "test_gradcheck_basic_util.h"
#include "mhim/common.h"
#include "mhim/ops/act.h"
#include "mhim/ops/dropout.h"
#include "mhim/ops/gather.h"
#include "mhim/ops/linear.h"
#include "mhim/ops/norm.h"

/* ---- linear ------------------------------------------------------------------------------------------------ */

typedef struct {
    float *out, *x, *W, *b;
    int64_t N, C, OC;
} linear_op;

static void linear_fwd(void *p) {
    linear_op *o = p;
    mhim_linear_forward(o->out, o->x, o->W, o->b, o->N, o->C, o->OC);
}

static int test_linear(test_rng *r, int64_t N, int64_t C, int64_t OC, int with_bias, int accumulate) {
    char name[96];
    int fails = 0;
    linear_op o = {mhim_malloc((size_t)(N * OC) * sizeof(float)), rand_array(r, N * C, -1, 1),
                   rand_array(r, OC * C, -1, 1), with_bias ? rand_array(r, OC, -1, 1) : NULL, N, C, OC};
    float *w = rand_array(r, N * OC, -1, 1);
    float *dW0 = rand_array(r, OC * C, -1, 1), *db0 = rand_array(r, OC, -1, 1);
    float *dx0 = accumulate ? rand_array(r, N * C, -1, 1) : nan_array(N * C);
    float *dW = copy_array(dW0, OC * C), *db = copy_array(db0, OC), *dx = copy_array(dx0, N * C);
    linear_fwd(&o);
    if (accumulate)
        mhim_linear_backward_acc(dx, dW, with_bias ? db : NULL, w, o.x, o.W, N, C, OC);
    else
        mhim_linear_backward(dx, dW, with_bias ? db : NULL, w, o.x, o.W, N, C, OC);
    snprintf(name, sizeof name, "linear%s N=%lld C=%lld OC=%lld bias=%d", accumulate ? "_acc" : "", (long long)N,
             (long long)C, (long long)OC, with_bias);
    fails += check_finite(name, dx, N * C);
    subtract(dW, dW0, OC * C);
    subtract(db, db0, OC);
    if (accumulate) subtract(dx, dx0, N * C);
    objective_ctx ctx = {linear_fwd, &o, o.out, w, N * OC};
    char sub[128];
    snprintf(sub, sizeof sub, "%s dx", name);
    fails += gradcheck(sub, o.x, N * C, dx, objective, &ctx, 1e-2, 1e-2, GC_MAX_CHECKS);
    snprintf(sub, sizeof sub, "%s dW", name);
    fails += gradcheck(sub, o.W, OC * C, dW, objective, &ctx, 1e-2, 1e-2, GC_MAX_CHECKS);
    if (with_bias) {
        snprintf(sub, sizeof sub, "%s db", name);
        fails += gradcheck(sub, o.b, OC, db, objective, &ctx, 1e-2, 1e-2, GC_MAX_CHECKS);
    }
    /* dinp == NULL skips the input gradient and leaves the parameter gradients unchanged */
    float *dW_skip = calloc((size_t)(OC * C), sizeof(float)), *db_skip = calloc((size_t)OC, sizeof(float));
    mhim_linear_backward(NULL, dW_skip, with_bias ? db_skip : NULL, w, o.x, o.W, N, C, OC);
    snprintf(sub, sizeof sub, "%s dW (dinp NULL)", name);
    fails += check_close(sub, dW_skip, dW, OC * C, 1e-5, 1e-5);
    free(dW_skip);
    free(db_skip);
    free(o.out), free(o.x), free(o.W), free(o.b), free(w), free(dW0), free(db0), free(dx0), free(dW), free(db),
        free(dx);
    return fails;
}

/* ---- activations ------------------------------------------------------------------------------------------- */

typedef struct {
    mhim_act act;
    float *out, *x;
    int64_t n;
} act_op;

static void act_fwd(void *p) {
    act_op *o = p;
    mhim_act_forward(o->act, o->out, o->x, o->n);
}

static int test_act(test_rng *r, mhim_act act, const char *act_name, int64_t n) {
    act_op o = {act, mhim_malloc((size_t)n * sizeof(float)), rand_array(r, n, -3, 3), n};
    for (int64_t i = 0; i < n; i++) /* keep ReLU's kink out of the finite differences */
        if (fabsf(o.x[i]) < 0.05f) o.x[i] = o.x[i] < 0 ? -0.05f : 0.05f;
    float *w = rand_array(r, n, -1, 1), *dx = nan_array(n);
    act_fwd(&o);
    mhim_act_backward(act, dx, w, o.x, o.out, n);
    char name[96];
    snprintf(name, sizeof name, "%s n=%lld dx", act_name, (long long)n);
    int fails = check_finite(name, dx, n);
    objective_ctx ctx = {act_fwd, &o, o.out, w, n};
    fails += gradcheck(name, o.x, n, dx, objective, &ctx, 1e-2, 1e-2, GC_MAX_CHECKS);
    act_fwd(&o); /* the last finite difference left out at a perturbed input */
    /* in place (out == inp, dinp == dout) gives the same numbers */
    float *inplace = copy_array(o.x, n), *dinplace = copy_array(w, n);
    mhim_act_forward(act, inplace, inplace, n);
    mhim_act_backward(act, dinplace, dinplace, o.x, inplace, n);
    snprintf(name, sizeof name, "%s in-place forward", act_name);
    fails += check_close(name, inplace, o.out, n, 0, 0);
    snprintf(name, sizeof name, "%s in-place backward", act_name);
    fails += check_close(name, dinplace, dx, n, 0, 0);
    free(inplace), free(dinplace), free(o.out), free(o.x), free(w), free(dx);
    return fails;
}

/* ---- dropout ----------------------------------------------------------------------------------------------- */

typedef struct {
    float *out, *x;
    const uint8_t *keep;
    float p;
    int64_t n;
} dropout_op;

static void dropout_fwd(void *p) {
    dropout_op *o = p;
    mhim_dropout_forward(o->out, o->keep, o->x, o->p, o->n);
}

static int test_dropout(test_rng *r, int64_t n, float p) {
    int fails = 0;
    mhim_rng stream = mhim_rng_stream(2021, 3, 7, MHIM_RNG_DROPOUT, 1);
    uint8_t *keep = mhim_malloc((size_t)n);
    mhim_dropout_mask(keep, &stream, 100, p, n);
    dropout_op o = {mhim_malloc((size_t)n * sizeof(float)), rand_array(r, n, -2, 2), keep, p, n};
    float *w = rand_array(r, n, -1, 1), *dx = nan_array(n);
    dropout_fwd(&o);
    mhim_dropout_backward(dx, w, keep, p, n);
    char name[96];
    snprintf(name, sizeof name, "dropout p=%.2f n=%lld dx", (double)p, (long long)n);
    fails += check_finite(name, dx, n);
    objective_ctx ctx = {dropout_fwd, &o, o.out, w, n};
    fails += gradcheck(name, o.x, n, dx, objective, &ctx, 1e-2, 1e-2, GC_MAX_CHECKS);
    dropout_fwd(&o); /* the last finite difference left out at a perturbed input */
    int64_t kept = 0;
    int exact = 1;
    float scale = p < 1.0f ? (float)(1.0 / (1.0 - (double)p)) : 0.0f;
    for (int64_t i = 0; i < n; i++) {
        kept += keep[i];
        if (o.out[i] != (keep[i] ? o.x[i] * scale : 0.0f)) exact = 0;
    }
    snprintf(name, sizeof name, "dropout p=%.2f out = x·keep/(1-p) exactly", (double)p);
    fails += check_true(name, exact);
    double frac = (double)kept / (double)n;
    snprintf(name, sizeof name, "dropout p=%.2f kept fraction %.4f ~ %.4f", (double)p, frac, 1.0 - p);
    fails += check_true(name, fabs(frac - (1.0 - p)) < 4.0 * sqrt(p * (1.0 - p) / (double)n) + 1e-12);
    free(keep), free(o.out), free(o.x), free(w), free(dx);
    return fails;
}

/* ---- layernorm --------------------------------------------------------------------------------------------- */

typedef struct {
    float *out, *mean, *rstd, *x, *g, *b;
    int64_t N, C;
} ln_op;

static void ln_fwd(void *p) {
    ln_op *o = p;
    mhim_layernorm_forward(o->out, o->mean, o->rstd, o->x, o->g, o->b, o->N, o->C);
}

static int test_layernorm(test_rng *r, int64_t N, int64_t C, int accumulate) {
    int fails = 0;
    ln_op o = {mhim_malloc((size_t)(N * C) * sizeof(float)), mhim_malloc((size_t)N * sizeof(float)),
               mhim_malloc((size_t)N * sizeof(float)), rand_array(r, N * C, -2, 2), rand_array(r, C, 0.5f, 1.5f),
               rand_array(r, C, -1, 1), N, C};
    float *w = rand_array(r, N * C, -1, 1);
    float *dg0 = rand_array(r, C, -1, 1), *db0 = rand_array(r, C, -1, 1);
    float *dx0 = accumulate ? rand_array(r, N * C, -1, 1) : nan_array(N * C);
    float *dg = copy_array(dg0, C), *db = copy_array(db0, C), *dx = copy_array(dx0, N * C);
    ln_fwd(&o);
    if (accumulate)
        mhim_layernorm_backward_acc(dx, dg, db, w, o.x, o.g, o.mean, o.rstd, N, C);
    else
        mhim_layernorm_backward(dx, dg, db, w, o.x, o.g, o.mean, o.rstd, N, C);
    char name[96], sub[128];
    snprintf(name, sizeof name, "layernorm%s N=%lld C=%lld", accumulate ? "_acc" : "", (long long)N, (long long)C);
    fails += check_finite(name, dx, N * C);
    subtract(dg, dg0, C);
    subtract(db, db0, C);
    if (accumulate) subtract(dx, dx0, N * C);
    objective_ctx ctx = {ln_fwd, &o, o.out, w, N * C};
    snprintf(sub, sizeof sub, "%s dx", name);
    fails += gradcheck(sub, o.x, N * C, dx, objective, &ctx, 1e-2, 1e-2, GC_MAX_CHECKS);
    snprintf(sub, sizeof sub, "%s dweight", name);
    fails += gradcheck(sub, o.g, C, dg, objective, &ctx, 1e-2, 1e-2, GC_MAX_CHECKS);
    snprintf(sub, sizeof sub, "%s dbias", name);
    fails += gradcheck(sub, o.b, C, db, objective, &ctx, 1e-2, 1e-2, GC_MAX_CHECKS);
    free(o.out), free(o.mean), free(o.rstd), free(o.x), free(o.g), free(o.b), free(w), free(dg0), free(db0),
        free(dx0), free(dg), free(db), free(dx);
    return fails;
}

/* ---- gather ------------------------------------------------------------------------------------------------ */

typedef struct {
    float *out, *x;
    const int64_t *idx;
    int64_t M, N, D;
} gather_op;

static void gather_fwd(void *p) {
    gather_op *o = p;
    mhim_gather_rows_forward(o->out, o->x, o->idx, o->M, o->N, o->D);
}

static int test_gather(test_rng *r, int64_t M, int64_t N, int64_t D, int accumulate) {
    int64_t *idx = mhim_malloc((size_t)(M > 0 ? M : 1) * sizeof(int64_t));
    for (int64_t j = 0; j < M; j++) idx[j] = (int64_t)test_uniform(r, 0, (float)N) % N; /* repeats likely */
    gather_op o = {mhim_malloc((size_t)(M > 0 ? M * D : 1) * sizeof(float)), rand_array(r, N * D, -1, 1), idx, M,
                   N, D};
    float *w = rand_array(r, M * D, -1, 1);
    float *dx0 = accumulate ? rand_array(r, N * D, -1, 1) : nan_array(N * D), *dx = copy_array(dx0, N * D);
    gather_fwd(&o);
    if (accumulate)
        mhim_gather_rows_backward_acc(dx, w, idx, M, N, D);
    else
        mhim_gather_rows_backward(dx, w, idx, M, N, D);
    char name[96];
    snprintf(name, sizeof name, "gather%s M=%lld N=%lld D=%lld dx", accumulate ? "_acc" : "", (long long)M,
             (long long)N, (long long)D);
    int fails = check_finite(name, dx, N * D);
    if (accumulate) subtract(dx, dx0, N * D);
    objective_ctx ctx = {gather_fwd, &o, o.out, w, M * D};
    fails += gradcheck(name, o.x, N * D, dx, objective, &ctx, 1e-2, 1e-2, GC_MAX_CHECKS);
    free(idx), free(o.out), free(o.x), free(w), free(dx0), free(dx);
    return fails;
}

int main(void) {
    test_rng r = {20250101};
    int fails = 0;
    fails += test_linear(&r, 1, 5, 3, 1, 0);
    fails += test_linear(&r, 13, 7, 4, 1, 0);
    fails += test_linear(&r, 9, 6, 1, 0, 0);
    fails += test_linear(&r, 11, 5, 6, 1, 1);
    fails += test_linear(&r, 200, 70, 65, 1, 0); /* more than one 64-column block in the bias reduction */
    fails += test_act(&r, MHIM_ACT_RELU, "relu", 101);
    fails += test_act(&r, MHIM_ACT_GELU, "gelu", 101);
    fails += test_act(&r, MHIM_ACT_TANH, "tanh", 101);
    fails += test_act(&r, MHIM_ACT_SIGMOID, "sigmoid", 101);
    fails += test_dropout(&r, 20000, 0.25f);
    fails += test_dropout(&r, 1000, 0.0f);
    fails += test_dropout(&r, 1000, 1.0f);
    fails += test_layernorm(&r, 1, 8, 0);
    fails += test_layernorm(&r, 7, 33, 0);
    fails += test_layernorm(&r, 5, 1, 0);
    fails += test_layernorm(&r, 6, 70, 1);
    fails += test_gather(&r, 9, 5, 4, 0);
    fails += test_gather(&r, 3, 8, 70, 1);
    fails += test_gather(&r, 0, 4, 3, 0);
    fails += test_gather(&r, 1, 1, 6, 0);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
