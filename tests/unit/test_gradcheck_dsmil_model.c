/* Finite-difference check of the assembled DSMIL model (front end + instance classifier + BClassifier): every
 * parameter tensor except the unused predictor (whose gradient must stay zero), at N = 6 instances, D_in = 5, C = 3,
 * with train-mode dropout and with a masked, unordered subset of rows. Objective Σ bag_logit·w_b +
 * Σ max_logit·w_m + Σ B·w_B with fixed random w, in double. The front end uses GELU; the BClassifier's own ReLUs
 * remain (a pre-activation within eps of its kink costs accuracy, hence the tolerance).
 *
 * Each tensor is checked on an objective scaled by min(1/max|analytic gradient| of that tensor, 10), so the
 * comparison is closer to relative (the check helper compares at an absolute floor of 1); the cap keeps the float32
 * noise of the objective (~1e-6 absolute, divided by 2·eps) below the tolerance. The query weights are scaled up 4x
 * so that the attention, and with it the query gradients, are not vanishingly small. eps = 1e-3 (the BClassifier's
 * ReLU kinks), tolerance 2e-2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/threads.h"
#include "mhim/models/dsmil.h"

#define EPS 1e-3
#define MAX_SCALE 10.0
#define TOL 2e-2
#define CHECKS 24

typedef struct {
    const mhim_dsmil *m;
    float *params;
    const float *x;
    int64_t N, n;
    const int64_t *idx;
    const mhim_rng *dropout;
    const float *w_bag_logit, *w_max_logit, *w_B;
    mhim_arena *arena;
    double scale;
} ctx_t;

static double objective(void *p) {
    ctx_t *c = p;
    mhim_arena_reset(c->arena, 0);
    const int64_t C = c->m->cfg.n_classes;
    mhim_dsmil_model_cache cache;
    mhim_dsmil_model_forward(&cache, c->arena, c->m, c->params, c->x, c->N, c->idx, c->n, c->dropout);
    return c->scale * (test_dot(cache.bag_logit, c->w_bag_logit, C) + test_dot(cache.max_logit, c->w_max_logit, C) +
                       test_dot(cache.agg.bag, c->w_B, C * MHIM_EMBED_DIM));
}

static int check_model(const char *label, const mhim_dsmil_config *cfg, const int64_t *idx, int64_t n,
                       int with_dropout) {
    const int64_t N = 6, C = cfg->n_classes;
    mhim_param_layout L;
    mhim_dsmil m;
    if (mhim_dsmil_layout(&L, cfg) != MHIM_OK || mhim_dsmil_bind(&m, cfg, &L) != MHIM_OK) {
        printf("FAIL %s: %s\n", label, mhim_error());
        return 1;
    }
    test_rng r = {0x5eed + (uint64_t)n};
    float *params = mhim_params_alloc(&L), *grads = mhim_params_alloc(&L);
    mhim_dsmil_init_params(&m, params, 7);
    /* non-zero biases, so that every path carries gradient */
    const int64_t biases[] = {m.embed.bias, m.b_i, m.b_q1, m.b_q2, m.b_v};
    const int64_t bias_sizes[] = {MHIM_EMBED_DIM, C, MHIM_DSMIL_QDIM, MHIM_DSMIL_QDIM, MHIM_EMBED_DIM};
    for (size_t t = 0; t < MHIM_ARRAY_LEN(biases); t++) test_fill_uniform(&r, params + biases[t], bias_sizes[t], -0.1f, 0.1f);
    for (int64_t k = 0; k < MHIM_DSMIL_QDIM * MHIM_EMBED_DIM; k++) params[m.w_q1 + k] *= 4.0f;
    for (int64_t k = 0; k < MHIM_DSMIL_QDIM * MHIM_DSMIL_QDIM; k++) params[m.w_q2 + k] *= 4.0f;
    float *x = mhim_malloc((size_t)(N * cfg->input_dim) * sizeof(float));
    test_fill_uniform(&r, x, N * cfg->input_dim, -1.0f, 2.0f);
    float w_bag_logit[8], w_max_logit[8];
    float *w_B = mhim_malloc((size_t)(C * MHIM_EMBED_DIM) * sizeof(float));
    test_fill_uniform(&r, w_bag_logit, C, -1.0f, 1.0f);
    test_fill_uniform(&r, w_max_logit, C, -1.0f, 1.0f);
    test_fill_uniform(&r, w_B, C * MHIM_EMBED_DIM, -1.0f, 1.0f);
    mhim_rng dropout = mhim_rng_stream(3, 0, 1, MHIM_RNG_DROPOUT, 0);
    mhim_arena arena;
    mhim_arena_init(&arena, "dsmil gradcheck", mhim_dsmil_arena_bytes(cfg, N));
    mhim_arena_set_poison(&arena, 1);

    ctx_t c = {&m, params, x, N, n, idx, with_dropout ? &dropout : NULL, w_bag_logit, w_max_logit, w_B, &arena, 1.0};
    mhim_dsmil_model_cache cache;
    mhim_dsmil_model_forward(&cache, &arena, &m, params, x, N, idx, n, c.dropout);
    mhim_dsmil_model_backward(&m, params, grads, w_bag_logit, w_max_logit, w_B, &cache, &arena);

    int fails = 0;
    for (int64_t t = 0; t < L.count; t++) {
        const mhim_param_entry *e = &L.entries[t];
        double top = 0;
        for (int64_t k = 0; k < e->numel; k++) top = fmax(top, fabs(grads[e->offset + k]));
        char name[160];
        snprintf(name, sizeof name, "%s %s (max |grad| %.2e)", label, e->name, top);
        if (strncmp(e->name, "predictor.", 10) == 0 || top == 0) {
            /* DSMIL never uses its predictor; every other tensor carries gradient here */
            fails += check_true(name, (top == 0) == (strncmp(e->name, "predictor.", 10) == 0));
            continue;
        }
        float *scaled = mhim_malloc((size_t)e->numel * sizeof(float));
        c.scale = fmin(1.0 / top, MAX_SCALE);
        for (int64_t k = 0; k < e->numel; k++) scaled[k] = (float)(grads[e->offset + k] * c.scale);
        fails += gradcheck(name, params + e->offset, e->numel, scaled, objective, &c, EPS, TOL, CHECKS);
        free(scaled);
    }
    mhim_arena_free(&arena);
    free(x), free(w_B);
    mhim_params_free(params), mhim_params_free(grads);
    mhim_param_layout_free(&L);
    return fails;
}

int main(void) {
    mhim_threads_init(1); /* tiny sizes: thread start-up would dominate the thousands of evaluations */
    const int64_t kept[] = {4, 0, 5, 2};
    mhim_dsmil_config v1 = {.version = 1, .input_dim = 5, .n_classes = 3, .act = MHIM_ACT_GELU, .dropout = 0.25f,
                            .teacher_score = MHIM_DSMIL_SCORE_INSTANCE};
    mhim_dsmil_config v2 = v1;
    v2.version = 2, v2.n_classes = 2;
    int fails = 0;
    fails += check_model("dsmil v1 all rows eval", &v1, NULL, 6, 0);
    fails += check_model("dsmil v1 kept rows dropout", &v1, kept, 4, 1);
    fails += check_model("dsmil v2 all rows dropout", &v2, NULL, 6, 1);
    fails += check_model("dsmil v2 kept rows eval", &v2, kept, 4, 0);
    printf("%s\n", fails ? "FAILED" : "all DSMIL model gradient checks passed");
    return fails ? 1 : 0;
}
