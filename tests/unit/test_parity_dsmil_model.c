/* PyTorch parity of the DSMIL model (mhim/models/dsmil.h) against the float64 reference fixtures of
 * tests/pytorch/gen_dsmil_fixtures.py (tests/fixtures/dsmil/<case>.h5): student forward (bag logits, max-instance
 * logits, B, instance logits, attention, critical instances) on all rows and on a masked, unordered subset, every
 * parameter gradient of Σ bag_logit·d_bag_logit + Σ max_logit·d_max_logit + Σ B·d_B (the predictor's is zero), the
 * v1 and v2 loss combinations with their logit gradients and evaluation probabilities, and the teacher outputs (B and
 * both instance scores) of the whole bag. Tolerances: test_parity_model_util.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/models/dsmil.h"
#include "mhim/params.h"
#include "test_parity_model_util.h"

#define DIM MHIM_EMBED_DIM

/* The loss helpers on the C logits against the reference values for both versions. */
static int check_losses(fixture *f, const char *cas, const char *variant, const float *bag_logit,
                        const float *max_logit, int64_t y, int64_t C) {
    int fails = 0;
    char name[128];
    for (int version = 1; version <= 2; version++) {
        float d_bag[8], d_max[8], probs[8], loss[1];
        loss[0] = mhim_dsmil_loss(d_bag, d_max, version, bag_logit, max_logit, y, 1.0f, C);
        mhim_dsmil_probs(probs, version, bag_logit, max_logit, C);
        const struct { const char *what; const float *got; int64_t count; } outs[] = {
            {"loss", loss, 1}, {"d_bag_logit", d_bag, C}, {"d_max_logit", d_max, C}, {"probs", probs, C}};
        for (size_t i = 0; i < MHIM_ARRAY_LEN(outs); i++) {
            snprintf(name, sizeof name, "%s/outputs/%s_v%d", variant, outs[i].what, version);
            fails += fixture_check(f, cas, name, outs[i].got, outs[i].count, FWD_ATOL, FWD_RTOL);
        }
    }
    /* dloss scales the written gradient */
    float d_bag[8], d_max[8], d_bag2[8], d_max2[8];
    mhim_dsmil_loss(d_bag, d_max, 2, bag_logit, max_logit, y, 1.0f, C);
    mhim_dsmil_loss(d_bag2, d_max2, 2, bag_logit, max_logit, y, 0.5f, C);
    for (int64_t c = 0; c < C; c++) d_bag[c] *= 0.5f;
    fails += check_close("loss gradient scales with dloss", d_bag2, d_bag, C, 1e-7, 1e-6);
    return fails;
}

static int run_variant(fixture *f, const char *cas, const char *variant, const mhim_dsmil *m,
                       const mhim_param_layout *L, const float *params, const float *x, int64_t N, mhim_arena *arena) {
    char name[128];
    const int64_t C = m->cfg.n_classes;
    int64_t n = N;
    const int64_t *idx = NULL;
    snprintf(name, sizeof name, "%s/inputs/keep_idx", variant);
    if (fixture_has(f, name)) idx = fixture_i64(f, name, &n);
    const float *up[3];
    const char *up_names[3] = {"d_bag_logit", "d_max_logit", "d_B"};
    const int64_t up_counts[3] = {C, C, C * DIM};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s/inputs/%s", variant, up_names[i]);
        up[i] = fixture_f32_n(f, name, up_counts[i]);
        if (!up[i]) return 1;
    }
    snprintf(name, sizeof name, "%s/inputs/label", variant);
    const int64_t y = (int64_t)fixture_scalar(f, name);

    int fails = 0;
    mhim_arena_reset(arena, 0);
    mhim_dsmil_model_cache c;
    mhim_dsmil_model_forward(&c, arena, m, params, x, N, idx, n, NULL);
    const struct { const char *name; const float *got; int64_t count; } outs[] = {
        {"bag_logit", c.bag_logit, C}, {"max_logit", c.max_logit, C}, {"B", c.agg.bag, C * DIM},
        {"inst", c.agg.inst, n * C},   {"attn", c.agg.attn, n * C}};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(outs); i++) {
        snprintf(name, sizeof name, "%s/outputs/%s", variant, outs[i].name);
        fails += fixture_check(f, cas, name, outs[i].got, outs[i].count, FWD_ATOL, FWD_RTOL);
    }
    snprintf(name, sizeof name, "%s/outputs/crit", variant);
    const int64_t *crit = fixture_i64(f, name, NULL);
    fails += crit ? check_equal_i64("critical instances", c.agg.crit, crit, C) : 1;
    fails += check_losses(f, cas, variant, c.bag_logit, c.max_logit, y, C);

    float *grads = mhim_params_alloc(L);
    mhim_dsmil_model_backward(m, params, grads, up[0], up[1], up[2], &c, arena);
    fails += check_grads(f, cas, variant, L, grads);
    mhim_params_free(grads);

    if (!idx) { /* the teacher sees the whole bag; both score kinds */
        float *B = malloc((size_t)(C * DIM) * sizeof(float)), *score = malloc((size_t)N * sizeof(float));
        mhim_dsmil teacher = *m;
        const char *kinds[2] = {"teacher_score_inst", "teacher_score_attn"};
        for (int k = 0; k < 2; k++) {
            teacher.cfg.teacher_score = k == 0 ? MHIM_DSMIL_SCORE_INSTANCE : MHIM_DSMIL_SCORE_ATTENTION;
            size_t mark = mhim_arena_mark(arena);
            mhim_dsmil_teacher_forward(B, score, arena, &teacher, params, x, N, NULL);
            fails += check_true("teacher forward returns the arena to its fill level", mhim_arena_mark(arena) == mark);
            snprintf(name, sizeof name, "%s/outputs/B", variant);
            fails += fixture_check(f, "teacher", name, B, C * DIM, FWD_ATOL, FWD_RTOL);
            snprintf(name, sizeof name, "%s/outputs/%s", variant, kinds[k]);
            fails += fixture_check(f, "teacher", name, score, N, FWD_ATOL, FWD_RTOL);
        }
        free(B), free(score);
    }
    return fails;
}

static int run_case(const char *cas) {
    char path[256];
    snprintf(path, sizeof path, "fixtures/dsmil/%s.h5", cas);
    fixture *f = fixture_open(path);
    if (!f) return 1;
    mhim_dsmil_config cfg = {
        .version = (int)fixture_scalar(f, "version"),
        .input_dim = (int64_t)fixture_scalar(f, "input_dim"),
        .n_classes = (int64_t)fixture_scalar(f, "classes"),
        .act = (mhim_act)fixture_scalar(f, "act_id"),
        .dropout = 0.25f, /* eval mode: dropout off in the forward */
        .teacher_score = MHIM_DSMIL_SCORE_INSTANCE,
    };
    const int64_t N = (int64_t)fixture_scalar(f, "N");
    mhim_param_layout L;
    mhim_dsmil m;
    if (mhim_dsmil_layout(&L, &cfg) != MHIM_OK || mhim_dsmil_bind(&m, &cfg, &L) != MHIM_OK) {
        printf("FAIL %s: %s\n", cas, mhim_error());
        fixture_close(f);
        return 1;
    }
    int fails = 0;
    float *params = mhim_params_alloc(&L);
    float *x = load_bag(f, N, cfg.input_dim);
    if (!x || load_params(f, &L, params)) {
        fails = 1;
    } else {
        mhim_arena arena;
        mhim_arena_init(&arena, "dsmil parity", mhim_dsmil_arena_bytes(&cfg, N));
        mhim_arena_set_poison(&arena, 1);
        const char *variants[] = {"full", "masked"};
        for (int v = 0; v < 2; v++) {
            char probe[64];
            snprintf(probe, sizeof probe, "%s/outputs/bag_logit", variants[v]);
            if (fixture_has(f, probe)) fails += run_variant(f, cas, variants[v], &m, &L, params, x, N, &arena);
        }
        printf("%s: arena peak %zu of %zu bytes\n", cas, arena.peak, arena.capacity);
        mhim_arena_free(&arena);
    }
    free(x);
    mhim_params_free(params);
    mhim_param_layout_free(&L);
    fixture_close(f);
    return fails;
}

int main(void) {
    const char *cases[] = {"dsmil_v1_n13", "dsmil_v2_gelu_c3", "dsmil_v1_n3000_d1024"};
    int fails = 0;
    for (size_t i = 0; i < MHIM_ARRAY_LEN(cases); i++) fails += run_case(cases[i]);
    printf("%s\n", fails ? "FAILED" : "all DSMIL model parity checks passed");
    return fails ? 1 : 0;
}
