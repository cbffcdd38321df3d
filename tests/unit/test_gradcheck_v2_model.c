/* Finite-difference check of the MHIM-v2 student step (mhim/v2.h) per baseline (ABMIL, DSMIL, TransMIL): front end
 * on the hard-kept rows, Merge (shuffle, MCA of k = 2 global queries, dropout on), encoder on concat(Xk, Z),
 * predictor. N = 7 instances (D_in 5), 6 kept, merge_ratio 0.5 (3 kept + 3 recycled), train-mode dropout from fixed
 * streams, the shuffle fixed. Objective Σ logits·w_l + Σ feat·w_f with fixed random w, in double.
 *
 * The forward updates G in place (its EMA); the objective restores G before every evaluation, and the analytic
 * gradient is taken with the pre-update G as well, so the check is of the exact derivative (the in-place Q4
 * behaviour is covered by the PyTorch parity test). Every tensor but G is checked (G must get no gradient); each on
 * an objective scaled by min(1/max|analytic|, 10) as in the other model gradchecks. DSMIL's instance classifier
 * and query weights are scaled up 4x (a stable critical instance under eps, a non-flat attention). TransMIL pays
 * 256 Nyström landmarks per forward: it runs in test_gradcheck_v2_model_transmil_slow (V2_GRADCHECK_TRANSMIL),
 * 2 checks per tensor. eps 1e-3, tolerance 2e-2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/threads.h"
#include "mhim/model.h"
#include "mhim/v2.h"

#define EPS 1e-3
#define TOL 2e-2
#define MAX_SCALE 10.0
#define N_INST 7
#define D_IN 5
#define MAX_FEAT (3 * 512)

typedef struct {
    mhim_v2 *v;
    float *params, *g_saved;
    int64_t g0, g1;
    const float *x;
    const int64_t *keep, *perm;
    int64_t L, C, feat;
    const mhim_rng *dropout;
    const float *w_logits, *w_feat;
    mhim_arena *arena;
    double scale;
} ctx_t;

/* Restore the global queries (the forward moves them) and evaluate the objective. */
static double objective(void *p) {
    ctx_t *c = p;
    memcpy(c->params + c->g0, c->g_saved, (size_t)(c->g1 - c->g0) * sizeof(float));
    mhim_arena_reset(c->arena, 0);
    float logits[8], feat[MAX_FEAT];
    mhim_v2_student_out out = {.logits = logits, .feat = feat};
    MHIM_ASSERT(mhim_v2_student_forward(c->v, c->arena, c->params, c->x, N_INST, c->keep, c->L, c->perm, c->dropout,
                                        &out) == MHIM_OK);
    return c->scale * (test_dot(logits, c->w_logits, c->C) + test_dot(feat, c->w_feat, c->feat));
}

static int check_kind(mhim_model_kind kind, int64_t C, int64_t checks) {
    mhim_model_config mc = {.kind = kind, .version = 2, .input_dim = D_IN, .n_classes = C, .act = MHIM_ACT_GELU,
                            .dropout = 0.25f, .da_act = MHIM_ACT_RELU, .heads = 8, .attn2score = 1, .merge_k = 2};
    mhim_v2_options opt = {.merge_ratio = 0.5, .merge_mm = 0.9};
    mhim_model *model = NULL;
    mhim_v2 *v = NULL;
    if (mhim_model_create(&model, &mc) != MHIM_OK || mhim_v2_create(&v, model, &opt) != MHIM_OK) {
        printf("FAIL %s: %s\n", mhim_model_kind_name(kind), mhim_error());
        return 1;
    }
    const mhim_param_layout *L = mhim_model_layout(model);
    float *params = mhim_params_alloc(L), *grads = mhim_params_alloc(L);
    mhim_model_init_params(model, params, 11);
    test_rng r = {0x2c0de + (uint64_t)kind};
    for (int64_t t = 0; t < L->count; t++) { /* non-zero biases everywhere, so that every path carries gradient */
        const mhim_param_entry *e = &L->entries[t];
        const size_t len = strlen(e->name);
        if (len > 5 && !strcmp(e->name + len - 5, ".bias")) test_fill_uniform(&r, params + e->offset, e->numel, -0.1f, 0.1f);
    }
    if (kind == MHIM_MODEL_DSMIL) { /* separated instance logits (stable argmax) and a non-flat critical attention */
        const char *const spread[] = {"online_encoder.i_classifier.0.weight", "online_encoder.b_classifier.q.0.weight",
                                      "online_encoder.b_classifier.q.2.weight"};
        for (size_t t = 0; t < MHIM_ARRAY_LEN(spread); t++) {
            const mhim_param_entry *e = mhim_param_find(L, spread[t]);
            for (int64_t i = 0; i < e->numel; i++) params[e->offset + i] *= 4.0f;
        }
    }
    float x[N_INST * D_IN], w_logits[8], w_feat[MAX_FEAT];
    test_fill_uniform(&r, x, N_INST * D_IN, -1.0f, 2.0f);
    const int64_t feat = mhim_model_feat_size(model);
    test_fill_uniform(&r, w_logits, C, -1.0f, 1.0f);
    test_fill_uniform(&r, w_feat, feat, -1.0f, 1.0f);
    const int64_t keep[6] = {0, 1, 3, 4, 5, 6}, perm[6] = {4, 0, 5, 2, 1, 3};
    mhim_rng dropout = mhim_rng_stream(9, 0, 1, MHIM_RNG_DROPOUT, 0);
    int64_t g0, g1;
    mhim_v2_frozen_range(v, &g0, &g1);
    float *g_saved = mhim_malloc((size_t)(g1 - g0) * sizeof(float));
    memcpy(g_saved, params + g0, (size_t)(g1 - g0) * sizeof(float));
    mhim_arena arena;
    mhim_arena_init(&arena, "v2 gradcheck", mhim_v2_train_arena_bytes(v, N_INST));
    mhim_arena_set_poison(&arena, 1);
    ctx_t c = {v, params, g_saved, g0, g1, x, keep, perm, 6, C, feat, &dropout, w_logits, w_feat, &arena, 1.0};

    /* analytic gradient with the pre-update G (restored after the forward) */
    objective(&c);
    memcpy(params + g0, g_saved, (size_t)(g1 - g0) * sizeof(float));
    mhim_v2_student_backward(v, &arena, params, grads, w_logits, w_feat);

    int fails = 0;
    float *scaled = mhim_malloc((size_t)L->total * sizeof(float));
    for (int64_t t = 0; t < L->count; t++) {
        const mhim_param_entry *e = &L->entries[t];
        const float *g = grads + e->offset;
        double mx = 0.0;
        for (int64_t i = 0; i < e->numel; i++) mx = fmax(mx, fabs(g[i]));
        if (e->offset >= g0 && e->offset < g1) {
            fails += check_true(e->name, mx == 0.0); /* G: no gradient */
            continue;
        }
        if (!strcmp(e->name, "predictor.weight") && kind == MHIM_MODEL_DSMIL) continue; /* unused by DSMIL */
        if (!strcmp(e->name, "predictor.bias") && kind == MHIM_MODEL_DSMIL) continue;
        c.scale = mx > 0 ? fmin(1.0 / mx, MAX_SCALE) : 1.0;
        for (int64_t i = 0; i < e->numel; i++) scaled[i] = (float)(c.scale * g[i]);
        char label[160];
        snprintf(label, sizeof label, "%s %s", mhim_model_kind_name(kind), e->name);
        fails += gradcheck(label, params + e->offset, e->numel, scaled, objective, &c, EPS, TOL, checks);
        fails += check_true("the tensor receives gradient", mx > 0);
    }
    free(scaled), free(g_saved);
    mhim_arena_free(&arena);
    mhim_params_free(params), mhim_params_free(grads);
    mhim_v2_free(v);
    mhim_model_free(model);
    return fails;
}

int main(void) {
    mhim_threads_init(1); /* tiny sizes: thread start-up would dominate the many evaluations */
#ifdef V2_GRADCHECK_TRANSMIL
    int fails = check_kind(MHIM_MODEL_TRANSMIL, 2, 2);
#else
    int fails = check_kind(MHIM_MODEL_ABMIL, 2, 16);
    fails += check_kind(MHIM_MODEL_DSMIL, 3, 16);
#endif
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails != 0;
}
