/* Finite-difference checks of the PPEG backward for token counts that exercise every padding rule: M = 1 (1x1
 * grid padded to 7x7), 3 (wrap copy + zero padding), 7, 13, 50 (8x8 grid with 14 wrap-around copies), 49 (exact
 * 7x7). Objective: Σ out·w with fixed random w, evaluated in double. */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/ops/ppeg.h"

#define EPS    1e-2
#define TOL    1e-2
#define CHECKS 60
#define DIM    3

typedef struct {
    int64_t M;
    float *x, *w[3], *b[3], *out, *w_obj, *scratch;
} pp_ctx;

static double pp_objective(void *p) {
    pp_ctx *c = p;
    mhim_ppeg_forward(c->out, c->scratch, c->x, c->w[0], c->b[0], c->w[1], c->b[1], c->w[2], c->b[2], c->M, DIM);
    return test_dot(c->out, c->w_obj, c->M * DIM);
}

static float *rand_buf(test_rng *r, int64_t n, float lo, float hi) {
    float *x = mhim_malloc((size_t)n * sizeof(float));
    test_fill_uniform(r, x, n, lo, hi);
    return x;
}

static int check_ppeg(test_rng *r, int64_t M) {
    static const int64_t ks[3] = {MHIM_PPEG_K0, MHIM_PPEG_K1, MHIM_PPEG_K2};
    pp_ctx c = {.M = M};
    c.x = rand_buf(r, M * DIM, -1, 1);
    float *dw[3], *db[3];
    for (int k = 0; k < 3; k++) {
        c.w[k] = rand_buf(r, DIM * ks[k] * ks[k], -0.5f, 0.5f);
        c.b[k] = rand_buf(r, DIM, -0.5f, 0.5f);
        dw[k] = mhim_calloc((size_t)(DIM * ks[k] * ks[k]), sizeof(float));
        db[k] = mhim_calloc(DIM, sizeof(float));
    }
    c.out = mhim_malloc((size_t)(M * DIM) * sizeof(float));
    c.w_obj = rand_buf(r, M * DIM, -1, 1);
    c.scratch = mhim_malloc((size_t)mhim_ppeg_backward_scratch_floats(M, DIM) * sizeof(float));
    float *dx = mhim_malloc((size_t)(M * DIM) * sizeof(float));
    mhim_ppeg_backward(dx, dw[0], db[0], dw[1], db[1], dw[2], db[2], c.w_obj, c.scratch, c.x, c.w[0], c.w[1], c.w[2], M,
                       DIM);
    char name[64];
    snprintf(name, sizeof name, "ppeg M=%lld dx", (long long)M);
    int fails = gradcheck(name, c.x, M * DIM, dx, pp_objective, &c, EPS, TOL, CHECKS);
    for (int k = 0; k < 3; k++) {
        snprintf(name, sizeof name, "ppeg M=%lld d proj%s.weight", (long long)M, k ? (k == 1 ? "1" : "2") : "");
        fails += gradcheck(name, c.w[k], DIM * ks[k] * ks[k], dw[k], pp_objective, &c, EPS, TOL, CHECKS);
        snprintf(name, sizeof name, "ppeg M=%lld d proj%s.bias", (long long)M, k ? (k == 1 ? "1" : "2") : "");
        fails += gradcheck(name, c.b[k], DIM, db[k], pp_objective, &c, EPS, TOL, CHECKS);
    }
    for (int k = 0; k < 3; k++) free(c.w[k]), free(c.b[k]), free(dw[k]), free(db[k]);
    free(c.x), free(c.out), free(c.w_obj), free(c.scratch), free(dx);
    return fails;
}

int main(void) {
    test_rng r = {.s = 77};
    int fails = 0;
    fails += check_true("ppeg side(1) = 7", mhim_ppeg_side(1) == 7);
    fails += check_true("ppeg side(49) = 7", mhim_ppeg_side(49) == 7);
    fails += check_true("ppeg side(50) = 8", mhim_ppeg_side(50) == 8);
    fails += check_true("ppeg side(65) = 9", mhim_ppeg_side(65) == 9);
    const int64_t counts[] = {1, 3, 7, 13, 49, 50};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(counts); i++) fails += check_ppeg(&r, counts[i]);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
