/* Finite-difference gradient checks of the attention ops: masked softmax over instances and rows, attention
 * pooling, and the ABMIL score networks (plain and gated). Masks cover none / random / all-but-one / all masked;
 * shapes include N = 1. See test_gradcheck_basic_util.h for the objective and the accumulation bookkeeping. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/ops/attnpool.h"
#include "mhim/ops/softmax.h"
#include "test_gradcheck_basic_util.h"

static const char *MASK_NAMES[] = {"unmasked", "random mask", "all-but-one masked", "all masked"};

/* ---- softmax ----------------------------------------------------------------------------------------------- */

typedef struct {
    int rows; /* 1: row softmax over (R, L); 0: instance softmax over (N, K) */
    float *out, *x;
    const uint8_t *keep;
    int64_t a, b;
} softmax_op;

static void softmax_fwd(void *p) {
    softmax_op *o = p;
    if (o->rows)
        mhim_softmax_rows_forward(o->out, o->x, o->keep, o->a, o->b);
    else
        mhim_softmax_instances_forward(o->out, o->x, o->keep, o->a, o->b);
}

/* Instance layout: groups are the K columns of (a=N, b=K), masked along N. Row layout: groups are the R rows of
 * (a=R, b=L), masked along L. */
static int test_softmax(test_rng *r, int rows, int64_t a, int64_t b, int mask_kind) {
    int64_t n = a * b, group_len = rows ? b : a, groups = rows ? a : b;
    uint8_t *keep = mask_kind ? keep_mask(r, group_len, mask_kind) : NULL;
    softmax_op o = {rows, mhim_malloc((size_t)n * sizeof(float)), rand_array(r, n, -4, 4), keep, a, b};
    float *w = rand_array(r, n, -1, 1), *dx = nan_array(n);
    softmax_fwd(&o);
    if (rows)
        mhim_softmax_rows_backward(dx, w, o.out, a, b);
    else
        mhim_softmax_instances_backward(dx, w, o.out, a, b);
    char name[128];
    snprintf(name, sizeof name, "softmax_%s %lldx%lld %s", rows ? "rows" : "instances", (long long)a, (long long)b,
             MASK_NAMES[mask_kind]);
    int fails = check_finite(name, dx, n);
    objective_ctx ctx = {softmax_fwd, &o, o.out, w, n};
    fails += gradcheck(name, o.x, n, dx, objective, &ctx, 1e-2, 1e-2, GC_MAX_CHECKS);
    softmax_fwd(&o);
    /* masked entries are exactly 0 (value and gradient); each group sums to 1, or to 0 when all masked */
    int exact = 1;
    double worst_sum = 0;
    for (int64_t g = 0; g < groups; g++) {
        double sum = 0;
        for (int64_t j = 0; j < group_len; j++) {
            int64_t i = rows ? g * b + j : j * b + g;
            if (keep && !keep[j] && (o.out[i] != 0.0f || dx[i] != 0.0f)) exact = 0;
            sum += o.out[i];
        }
        double want = mask_kind == 3 ? 0.0 : 1.0;
        worst_sum = fmax(worst_sum, fabs(sum - want));
    }
    char sub[160];
    snprintf(sub, sizeof sub, "%s: masked entries exactly 0", name);
    fails += check_true(sub, exact);
    snprintf(sub, sizeof sub, "%s: group sums (err %.1e)", name, worst_sum);
    fails += check_true(sub, worst_sum < 1e-6);
    free(keep), free(o.out), free(o.x), free(w), free(dx);
    return fails;
}

/* ---- attention pooling ------------------------------------------------------------------------------------- */

typedef struct {
    float *z, *A, *h;
    int64_t N, K, D;
} pool_op;

static void pool_fwd(void *p) {
    pool_op *o = p;
    mhim_attnpool_forward(o->z, o->A, o->h, o->N, o->K, o->D);
}

static int test_attnpool(test_rng *r, int64_t N, int64_t K, int64_t D, int accumulate) {
    pool_op o = {mhim_malloc((size_t)(K * D) * sizeof(float)), rand_array(r, N * K, 0, 1), rand_array(r, N * D, -1, 1),
                 N, K, D};
    float *w = rand_array(r, K * D, -1, 1), *dA = nan_array(N * K);
    float *dh0 = accumulate ? rand_array(r, N * D, -1, 1) : nan_array(N * D), *dh = copy_array(dh0, N * D);
    pool_fwd(&o);
    if (accumulate)
        mhim_attnpool_backward_acc(dA, dh, w, o.A, o.h, N, K, D);
    else
        mhim_attnpool_backward(dA, dh, w, o.A, o.h, N, K, D);
    char name[96], sub[128];
    snprintf(name, sizeof name, "attnpool%s N=%lld K=%lld D=%lld", accumulate ? "_acc" : "", (long long)N,
             (long long)K, (long long)D);
    int fails = check_finite(name, dA, N * K) + check_finite(name, dh, N * D);
    if (accumulate) subtract(dh, dh0, N * D);
    objective_ctx ctx = {pool_fwd, &o, o.z, w, K * D};
    snprintf(sub, sizeof sub, "%s dA", name);
    fails += gradcheck(sub, o.A, N * K, dA, objective, &ctx, 1e-2, 1e-2, GC_MAX_CHECKS);
    snprintf(sub, sizeof sub, "%s dh", name);
    fails += gradcheck(sub, o.h, N * D, dh, objective, &ctx, 1e-2, 1e-2, GC_MAX_CHECKS);
    free(o.z), free(o.A), free(o.h), free(w), free(dA), free(dh0), free(dh);
    return fails;
}

static int test_attnpool_empty(void) {
    float z[6] = {NAN, NAN, NAN, NAN, NAN, NAN}, zero[6] = {0};
    mhim_attnpool_forward(z, NULL, NULL, 0, 2, 3);
    return check_close("attnpool N=0 gives z = 0", z, zero, 6, 0, 0);
}

/* ---- ABMIL scores ------------------------------------------------------------------------------------------ */

typedef struct {
    int gated;
    mhim_act act;
    float *s, *pre, *hid, *b, *g; /* plain: pre/hid; gated: pre = a_pre, hid = a, b, g */
    float *h, *W1, *b1, *W2, *b2, *Wb, *bb;
    int64_t N, D, L, K;
} scores_op;

static void scores_fwd(void *p) {
    scores_op *o = p;
    if (o->gated)
        mhim_gated_scores_forward(o->s, o->pre, o->hid, o->b, o->g, o->h, o->W1, o->b1, o->Wb, o->bb, o->W2, o->b2,
                                  o->act, o->N, o->D, o->L, o->K);
    else
        mhim_abmil_scores_forward(o->s, o->pre, o->hid, o->h, o->W1, o->b1, o->W2, o->b2, o->act, o->N, o->D, o->L,
                                  o->K);
}

/* Parameters of the score networks in a fixed order (W1/Wa, b1/ba, W2/Wc, b2/bc, Wb, bb). */
enum { P_W1, P_B1, P_W2, P_B2, P_WB, P_BB, P_COUNT };

static int test_scores(test_rng *r, int gated, mhim_act act, const char *act_name, int64_t N, int64_t D, int64_t L,
                       int64_t K, int biases, int keep_pre, int accumulate, double eps) {
    int64_t NL = N * L;
    scores_op o = {gated, act, mhim_malloc((size_t)(N * K) * sizeof(float)),
                   keep_pre ? mhim_malloc((size_t)NL * sizeof(float)) : NULL, mhim_malloc((size_t)NL * sizeof(float)),
                   gated ? mhim_malloc((size_t)NL * sizeof(float)) : NULL,
                   gated ? mhim_malloc((size_t)NL * sizeof(float)) : NULL, rand_array(r, N * D, -1, 1),
                   rand_array(r, L * D, -0.6f, 0.6f), biases ? rand_array(r, L, -0.3f, 0.3f) : NULL,
                   rand_array(r, K * L, -0.6f, 0.6f), biases ? rand_array(r, K, -0.3f, 0.3f) : NULL,
                   gated ? rand_array(r, L * D, -0.6f, 0.6f) : NULL,
                   gated && biases ? rand_array(r, L, -0.3f, 0.3f) : NULL, N, D, L, K};
    float *params[P_COUNT] = {o.W1, o.b1, o.W2, o.b2, o.Wb, o.bb};
    int64_t sizes[P_COUNT] = {L * D, L, K * L, K, L * D, L};
    static const char *names[P_COUNT] = {"W1", "b1", "W2", "b2", "Wb", "bb"};
    float *grad0[P_COUNT] = {0}, *grad[P_COUNT] = {0};
    for (int p = 0; p < P_COUNT; p++)
        if (params[p]) {
            grad0[p] = rand_array(r, sizes[p], -1, 1);
            grad[p] = copy_array(grad0[p], sizes[p]);
        }
    float *w = rand_array(r, N * K, -1, 1), *scratch = nan_array((gated ? 2 : 1) * NL);
    float *dh0 = accumulate ? rand_array(r, N * D, -1, 1) : nan_array(N * D), *dh = copy_array(dh0, N * D);
    scores_fwd(&o);
    if (gated && accumulate)
        mhim_gated_scores_backward_acc(dh, grad[P_W1], grad[P_B1], grad[P_WB], grad[P_BB], grad[P_W2], grad[P_B2],
                                       scratch, w, o.h, o.pre, o.hid, o.b, o.g, o.W1, o.Wb, o.W2, act, N, D, L, K);
    else if (gated)
        mhim_gated_scores_backward(dh, grad[P_W1], grad[P_B1], grad[P_WB], grad[P_BB], grad[P_W2], grad[P_B2], scratch,
                                   w, o.h, o.pre, o.hid, o.b, o.g, o.W1, o.Wb, o.W2, act, N, D, L, K);
    else if (accumulate)
        mhim_abmil_scores_backward_acc(dh, grad[P_W1], grad[P_B1], grad[P_W2], grad[P_B2], scratch, w, o.h, o.pre,
                                       o.hid, o.W1, o.W2, act, N, D, L, K);
    else
        mhim_abmil_scores_backward(dh, grad[P_W1], grad[P_B1], grad[P_W2], grad[P_B2], scratch, w, o.h, o.pre, o.hid,
                                   o.W1, o.W2, act, N, D, L, K);
    char name[128], sub[160];
    snprintf(name, sizeof name, "%s_scores%s %s N=%lld D=%lld L=%lld K=%lld bias=%d", gated ? "gated" : "abmil",
             accumulate ? "_acc" : "", act_name, (long long)N, (long long)D, (long long)L, (long long)K, biases);
    int fails = check_finite(name, dh, N * D);
    if (accumulate) subtract(dh, dh0, N * D);
    objective_ctx ctx = {scores_fwd, &o, o.s, w, N * K};
    snprintf(sub, sizeof sub, "%s dh", name);
    fails += gradcheck(sub, o.h, N * D, dh, objective, &ctx, eps, 1e-2, GC_MAX_CHECKS);
    for (int p = 0; p < P_COUNT; p++) {
        if (!params[p]) continue;
        subtract(grad[p], grad0[p], sizes[p]);
        snprintf(sub, sizeof sub, "%s d%s", name, gated && p == P_W1   ? "Wa"
                                                  : gated && p == P_B1 ? "ba"
                                                  : gated && p == P_W2 ? "Wc"
                                                  : gated && p == P_B2 ? "bc"
                                                                       : names[p]);
        fails += gradcheck(sub, params[p], sizes[p], grad[p], objective, &ctx, eps, 1e-2, GC_MAX_CHECKS);
    }
    for (int p = 0; p < P_COUNT; p++) free(grad0[p]), free(grad[p]), free(params[p]);
    free(o.s), free(o.pre), free(o.hid), free(o.b), free(o.g), free(o.h), free(w), free(scratch), free(dh0), free(dh);
    return fails;
}

int main(void) {
    test_rng r = {777};
    int fails = 0;
    for (int kind = 0; kind < 4; kind++) {
        fails += test_softmax(&r, 0, 1, 1, kind == 1 ? 0 : kind); /* N = 1 */
        fails += test_softmax(&r, 0, 37, 1, kind);
        fails += test_softmax(&r, 0, 23, 3, kind);
        fails += test_softmax(&r, 1, 5, 19, kind);
        fails += test_softmax(&r, 1, 1, 2, kind);
    }
    fails += test_attnpool(&r, 1, 1, 9, 0);
    fails += test_attnpool(&r, 17, 1, 12, 0);
    fails += test_attnpool(&r, 13, 3, 8, 1);
    fails += test_attnpool_empty();
    /* ReLU's kink: a smaller step keeps finite differences on one side */
    fails += test_scores(&r, 0, MHIM_ACT_RELU, "relu", 11, 10, 6, 1, 0, 0, 0, 1e-3);
    fails += test_scores(&r, 0, MHIM_ACT_GELU, "gelu", 1, 8, 5, 1, 0, 1, 0, 1e-2);
    fails += test_scores(&r, 0, MHIM_ACT_TANH, "tanh", 9, 7, 4, 2, 1, 0, 1, 1e-2);
    fails += test_scores(&r, 0, MHIM_ACT_GELU, "gelu", 6, 5, 3, 1, 1, 1, 1, 1e-2);
    fails += test_scores(&r, 1, MHIM_ACT_RELU, "relu", 10, 9, 6, 1, 0, 0, 0, 1e-3);
    fails += test_scores(&r, 1, MHIM_ACT_TANH, "tanh", 1, 6, 4, 1, 1, 0, 0, 1e-2);
    fails += test_scores(&r, 1, MHIM_ACT_GELU, "gelu", 8, 7, 5, 2, 1, 1, 1, 1e-2);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
