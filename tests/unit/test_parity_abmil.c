/* PyTorch parity of the ABMIL model (mhim/models/abmil.h) against the float64 reference fixtures of
 * tests/pytorch/gen_abmil_fixtures.py (tests/fixtures/abmil/<case>.h5): student forward (logits, bag feature,
 * attention, raw scores) on all rows and on a masked, unordered subset of rows, every parameter gradient of
 * Σ logits·d_logits + Σ z·d_z, and the teacher outputs (bag feature, attention, v2 attn2score) of the whole bag.
 * Parameters are loaded by state_dict key, so the key names are checked too.
 *
 * Tolerances: test_parity_model_util.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "test_parity_model_util.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/models/abmil.h"
#include "mhim/params.h"


static int run_variant(fixture *f, const char *cas, const char *variant, const mhim_abmil *m,
                       const mhim_param_layout *L, const float *params, const float *x, int64_t N, mhim_arena *arena) {
    char name[256];
    const int64_t C = m->cfg.n_classes;
    int64_t n = N;
    const int64_t *idx = NULL;
    snprintf(name, sizeof name, "%s/inputs/keep_idx", variant);
    if (fixture_has(f, name)) idx = fixture_i64(f, name, &n);
    snprintf(name, sizeof name, "%s/inputs/d_logits", variant);
    const float *d_logits = fixture_f32_n(f, name, C);
    snprintf(name, sizeof name, "%s/inputs/d_z", variant);
    const float *d_z = fixture_f32_n(f, name, MHIM_EMBED_DIM);
    if (!d_logits || !d_z || (strcmp(variant, "masked") == 0 && !idx)) return 1;

    int fails = 0;
    mhim_arena_reset(arena, 0);
    mhim_abmil_cache c;
    mhim_abmil_forward(&c, arena, m, params, x, N, idx, n, NULL);
    const struct { const char *name; const float *got; int64_t count; } outs[] = {
        {"logits", c.logits, C}, {"z", c.z, MHIM_EMBED_DIM}, {"attn", c.attn, n}, {"scores", c.scores, n}};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(outs); i++) {
        snprintf(name, sizeof name, "%s/outputs/%s", variant, outs[i].name);
        fails += fixture_check(f, cas, name, outs[i].got, outs[i].count, FWD_ATOL, FWD_RTOL);
    }
    float *grads = mhim_params_alloc(L);
    mhim_abmil_backward(m, params, grads, d_logits, d_z, &c, arena);
    fails += check_grads(f, cas, variant, L, grads);
    mhim_params_free(grads);

    if (!idx) { /* the teacher sees the whole bag */
        float *z = mhim_malloc(MHIM_EMBED_DIM * sizeof(float)), *attn = mhim_malloc((size_t)N * sizeof(float));
        float *score = mhim_malloc((size_t)N * sizeof(float));
        size_t mark = mhim_arena_mark(arena);
        mhim_abmil_teacher_forward(z, attn, score, arena, m, params, x, N, NULL);
        fails += check_true("teacher forward returns the arena to its fill level", mhim_arena_mark(arena) == mark);
        snprintf(name, sizeof name, "%s/outputs/z", variant);
        fails += fixture_check(f, "teacher", name, z, MHIM_EMBED_DIM, FWD_ATOL, FWD_RTOL);
        snprintf(name, sizeof name, "%s/outputs/attn", variant);
        fails += fixture_check(f, "teacher", name, attn, N, FWD_ATOL, FWD_RTOL);
        snprintf(name, sizeof name, "%s/outputs/teacher_score", variant);
        fails += fixture_check(f, "teacher", name, score, N, FWD_ATOL, FWD_RTOL);
        free(z), free(attn), free(score);
    }
    return fails;
}

static int run_case(const char *cas) {
    char path[256];
    snprintf(path, sizeof path, "fixtures/abmil/%s.h5", cas);
    fixture *f = fixture_open(path);
    if (!f) return 1;
    mhim_abmil_config cfg = {
        .version = (int)fixture_scalar(f, "version"),
        .input_dim = (int64_t)fixture_scalar(f, "input_dim"),
        .n_classes = (int64_t)fixture_scalar(f, "classes"),
        .act = (mhim_act)fixture_scalar(f, "act_id"),
        .dropout = 0.25f, /* eval mode: dropout off in the forward */
        .da_act = (mhim_act)fixture_scalar(f, "da_act_id"),
        .gated = (int)fixture_scalar(f, "gated"),
    };
    const int64_t N = (int64_t)fixture_scalar(f, "N");
    mhim_param_layout L;
    mhim_abmil m;
    if (mhim_abmil_layout(&L, &cfg) != MHIM_OK || mhim_abmil_bind(&m, &cfg, &L) != MHIM_OK) {
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
        mhim_arena_init(&arena, "abmil parity", mhim_abmil_arena_bytes(&cfg, N));
        mhim_arena_set_poison(&arena, 1);
        const char *variants[] = {"full", "masked"};
        for (int v = 0; v < 2; v++) {
            char group[32];
            snprintf(group, sizeof group, "%s/outputs/logits", variants[v]);
            if (fixture_has(f, group)) fails += run_variant(f, cas, variants[v], &m, &L, params, x, N, &arena);
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
    const char *cases[] = {"abmil_v1_n13", "abmil_v2_gelu_tanh_c4", "abmil_v2_gated_gelu_n11",
                           "abmil_v1_n3000_d1024"};
    int fails = 0;
    for (size_t i = 0; i < MHIM_ARRAY_LEN(cases); i++) fails += run_case(cases[i]);
    printf("%s\n", fails ? "FAILED" : "all ABMIL parity checks passed");
    return fails ? 1 : 0;
}
