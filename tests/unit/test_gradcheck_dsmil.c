/* Finite-difference checks of the DSMIL backward: the critical-instance attention and the bag classifier on their
 * own, then the whole aggregator (all three upstream gradients: bag logits, max-instance logits and the bag
 * representation B) for n in {1, 3, 7, 13, 50}, D = 16, Dq = 8, C = 2 (and C = 3 once). Also checks the critical
 * index tie rule (lowest index). Objective: Σ out·w with fixed random w, evaluated in double. */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/ops/dsmil.h"

#define EPS 1e-3
#define TOL 1e-2
/* The whole aggregator has ReLUs on n*D pre-activations; with n = 50 about one of them lies within EPS of its kink,
 * which costs ~1e-2 on the bias gradients of that layer. Wiring errors show up as O(1) differences. */
#define TOL_WHOLE 2e-2
#define CHECKS    60

static float *rand_buf(test_rng *r, int64_t n, float lo, float hi) {
    float *x = mhim_malloc((size_t)n * sizeof(float));
    test_fill_uniform(r, x, n, lo, hi);
    return x;
}

static float *zeros(int64_t n) { return mhim_calloc((size_t)n, sizeof(float)); }

/* ---- attention + fcc pieces -------------------------------------------------------------------------------- */

typedef struct {
    int64_t n, C, Dq, D;
    int64_t crit[4];
    float *q, *v, *attn, *bag, *w_bag, *wf, *bf, *logit, *w_logit;
} at_ctx;

static double at_objective(void *p) {
    at_ctx *c = p;
    mhim_dsmil_attention_forward(c->bag, c->attn, c->q, c->crit, c->v, c->n, c->C, c->Dq, c->D);
    mhim_dsmil_fcc_forward(c->logit, c->bag, c->wf, c->bf, c->C, c->D);
    return test_dot(c->bag, c->w_bag, c->C * c->D) + test_dot(c->logit, c->w_logit, c->C);
}

static int check_pieces(test_rng *r, int64_t n) {
    at_ctx c = {.n = n, .C = 2, .Dq = 8, .D = 16};
    const int64_t nq = n * c.Dq, nv = n * c.D, nb = c.C * c.D, nw = c.C * c.C * c.D;
    c.crit[0] = n - 1, c.crit[1] = n / 2;
    c.q = rand_buf(r, nq, -1, 1), c.v = rand_buf(r, nv, -1, 1);
    c.attn = zeros(n * c.C), c.bag = zeros(nb), c.logit = zeros(c.C);
    c.w_bag = rand_buf(r, nb, -1, 1), c.w_logit = rand_buf(r, c.C, -1, 1);
    c.wf = rand_buf(r, nw, -0.5f, 0.5f), c.bf = rand_buf(r, c.C, -0.5f, 0.5f);
    at_objective(&c);
    float *dbag = zeros(nb), *dwf = zeros(nw), *dbf = zeros(c.C), *dq = zeros(nq), *dv = zeros(nv);
    float *scratch = zeros(n * c.C + 2 * c.C * c.Dq);
    mhim_dsmil_fcc_backward(dbag, dwf, dbf, c.w_logit, c.bag, c.wf, c.C, c.D);
    for (int64_t j = 0; j < nb; j++) dbag[j] += c.w_bag[j];
    mhim_dsmil_attention_backward(dq, dv, dbag, scratch, c.attn, c.q, c.crit, c.v, n, c.C, c.Dq, c.D);
    char name[64];
    int fails = 0;
    snprintf(name, sizeof name, "dsmil attention n=%lld dq", (long long)n);
    fails += gradcheck(name, c.q, nq, dq, at_objective, &c, EPS, TOL, CHECKS);
    snprintf(name, sizeof name, "dsmil attention n=%lld dv", (long long)n);
    fails += gradcheck(name, c.v, nv, dv, at_objective, &c, EPS, TOL, CHECKS);
    snprintf(name, sizeof name, "dsmil fcc n=%lld dw", (long long)n);
    fails += gradcheck(name, c.wf, nw, dwf, at_objective, &c, EPS, TOL, CHECKS);
    snprintf(name, sizeof name, "dsmil fcc n=%lld db", (long long)n);
    fails += gradcheck(name, c.bf, c.C, dbf, at_objective, &c, EPS, TOL, CHECKS);
    free(c.q), free(c.v), free(c.attn), free(c.bag), free(c.logit), free(c.w_bag), free(c.w_logit), free(c.wf);
    free(c.bf), free(dbag), free(dwf), free(dbf), free(dq), free(dv), free(scratch);
    return fails;
}

/* ---- whole aggregator ---------------------------------------------------------------------------------------- */

enum { P_WI, P_BI, P_WV, P_BV, P_WQ1, P_BQ1, P_WQ2, P_BQ2, P_WF, P_BF, NPARAM };
static const char *const param_names[NPARAM] = {
    "i_classifier.0.weight",   "i_classifier.0.bias",   "b_classifier.v.1.weight", "b_classifier.v.1.bias",
    "b_classifier.q.0.weight", "b_classifier.q.0.bias", "b_classifier.q.2.weight", "b_classifier.q.2.bias",
    "b_classifier.fcc.weight", "b_classifier.fcc.bias"};

typedef struct {
    int64_t n, C, Dq, D;
    float *h, *p[NPARAM], *bag_logit, *max_logit, *w_bag_logit, *w_max_logit, *w_bag, *cache_buf;
    int64_t crit[4];
    mhim_dsmil_cache cache;
} ds_ctx;

static double ds_objective(void *p) {
    ds_ctx *c = p;
    mhim_dsmil_forward(c->bag_logit, c->max_logit, &c->cache, c->h, c->p[P_WI], c->p[P_BI], c->p[P_WV], c->p[P_BV],
                       c->p[P_WQ1], c->p[P_BQ1], c->p[P_WQ2], c->p[P_BQ2], c->p[P_WF], c->p[P_BF], c->n, c->C, c->Dq,
                       c->D);
    return test_dot(c->bag_logit, c->w_bag_logit, c->C) + test_dot(c->max_logit, c->w_max_logit, c->C) +
           test_dot(c->cache.bag, c->w_bag, c->C * c->D);
}

static int check_whole(test_rng *r, int64_t n, int64_t C) {
    ds_ctx c = {.n = n, .C = C, .Dq = 8, .D = 16};
    const int64_t D = c.D, Dq = c.Dq;
    const int64_t sizes[NPARAM] = {C * D, C, D * D, D, Dq * D, Dq, Dq * Dq, Dq, C * C * D, C};
    c.h = rand_buf(r, n * D, -1, 1);
    float *g[NPARAM];
    for (int k = 0; k < NPARAM; k++) {
        c.p[k] = rand_buf(r, sizes[k], -0.5f, 0.5f);
        g[k] = zeros(sizes[k]);
    }
    c.bag_logit = zeros(C), c.max_logit = zeros(C);
    c.w_bag_logit = rand_buf(r, C, -1, 1), c.w_max_logit = rand_buf(r, C, -1, 1), c.w_bag = rand_buf(r, C * D, -1, 1);
    c.cache_buf = zeros(mhim_dsmil_cache_floats(n, C, Dq, D));
    mhim_dsmil_cache_bind(&c.cache, c.cache_buf, c.crit, n, C, Dq, D);
    ds_objective(&c);
    float *dh = zeros(n * D), *scratch = zeros(mhim_dsmil_backward_scratch_floats(n, C, Dq, D));
    mhim_dsmil_backward(dh, g[P_WI], g[P_BI], g[P_WV], g[P_BV], g[P_WQ1], g[P_BQ1], g[P_WQ2], g[P_BQ2], g[P_WF],
                        g[P_BF], c.w_bag_logit, c.w_max_logit, c.w_bag, &c.cache, scratch, c.h, c.p[P_WI], c.p[P_WV],
                        c.p[P_WQ1], c.p[P_WQ2], c.p[P_WF], n, C, Dq, D);
    char name[80];
    snprintf(name, sizeof name, "dsmil n=%lld C=%lld dh", (long long)n, (long long)C);
    int fails = gradcheck(name, c.h, n * D, dh, ds_objective, &c, EPS, TOL_WHOLE, CHECKS);
    for (int k = 0; k < NPARAM; k++) {
        snprintf(name, sizeof name, "dsmil n=%lld C=%lld d %s", (long long)n, (long long)C, param_names[k]);
        fails += gradcheck(name, c.p[k], sizes[k], g[k], ds_objective, &c, EPS, TOL_WHOLE, CHECKS);
    }
    for (int k = 0; k < NPARAM; k++) free(c.p[k]), free(g[k]);
    free(c.h), free(c.bag_logit), free(c.max_logit), free(c.w_bag_logit), free(c.w_max_logit), free(c.w_bag);
    free(c.cache_buf), free(dh), free(scratch);
    return fails;
}

static int check_ties(void) {
    const float inst[] = {1.0f, 0.5f, 3.0f, 0.5f, 3.0f, -1.0f, 2.0f, 0.5f}; /* (4, 2) */
    int64_t crit[2];
    float mx[2], score[4];
    mhim_dsmil_critical_forward(crit, mx, inst, 4, 2);
    const int64_t want[2] = {1, 0};
    const float want_mx[2] = {3.0f, 0.5f}, want_score[4] = {1.0f, 3.0f, 3.0f, 2.0f};
    mhim_dsmil_instance_score(score, inst, 4, 2);
    return check_equal_i64("dsmil critical ties -> lowest index", crit, want, 2) +
           check_close("dsmil max_logit", mx, want_mx, 2, 0, 0) +
           check_close("dsmil instance score = max over classes", score, want_score, 4, 0, 0);
}

int main(void) {
    test_rng r = {.s = 4242};
    int fails = check_ties();
    const int64_t counts[] = {1, 3, 7, 13, 50};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(counts); i++) fails += check_pieces(&r, counts[i]);
    for (size_t i = 0; i < MHIM_ARRAY_LEN(counts); i++) fails += check_whole(&r, counts[i], 2);
    fails += check_whole(&r, 9, 3);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
