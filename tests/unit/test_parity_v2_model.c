/* PyTorch parity of the MHIM-v2 model side (mhim/v2.h) against tests/fixtures/v2/v2_{abmil,dsmil,transmil}.h5
 * (tests/pytorch/gen_v2_fixtures.py), dropout off, the random choices (hard-kept ids, Merge shuffle) taken from
 * the fixture:
 *   teacher (eval, full bag): consistency target and attn2score class-aware scores;
 *   student: logits and feature after Merge (n_keep = int(L·merge_ratio), k recycled tokens), G after its EMA,
 *   the loss CE + 0.5·SoftTargetCE(feat, target; temp 0.1), and the gradient of every parameter (the G tensors
 *   must get none);
 *   evaluation with --merge_test (before the step): logits of the encoder on concat(h, MCA(LN_m(h), LN_m(G))),
 *   G left unchanged.
 * Parameters and bags are generated from the fixture's hash settings (test_v2_fixture_util.h).
 * Tolerances (float32 vs float64): forward 5e-6 + 1e-4 rel; gradients 1e-5 + 1e-3 rel; projections 2e-5·||t||. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "digest.h"
#include "fixture.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/model.h"
#include "mhim/ops/loss.h"
#include "mhim/v2.h"
#include "test_v2_fixture_util.h"

#define FWD_ATOL 5e-6
#define FWD_RTOL 1e-4
#define BWD_ATOL 1e-5
#define BWD_RTOL 1e-3
#define PROJ_TOL 2e-5

static int64_t attr(fixture *f, const char *name) { return (int64_t)fixture_scalar(f, name); }

static int run_case(const char *label, mhim_model_kind kind) {
    char path[256];
    snprintf(path, sizeof path, "fixtures/v2/v2_%s.h5", label);
    fixture *f = fixture_open(path);
    if (!f) return 1;
    const int64_t N = attr(f, "N"), L = attr(f, "L"), C = attr(f, "n_classes"), D_in = attr(f, "input_dim");
    const uint64_t seed = (uint64_t)attr(f, "seed");
    mhim_model_config mc = {.kind = kind, .version = 2, .input_dim = D_in, .n_classes = C, .act = MHIM_ACT_GELU,
                            .dropout = 0.25f, .da_act = MHIM_ACT_RELU, .heads = attr(f, "heads"), .attn2score = 1,
                            .merge_k = attr(f, "merge_k")};
    mhim_v2_options opt = {.merge_ratio = fixture_scalar(f, "merge_ratio"), .merge_mm = fixture_scalar(f, "merge_mm")};
    mhim_model *model = NULL;
    mhim_v2 *v = NULL;
    if (mhim_model_create(&model, &mc) != MHIM_OK || mhim_v2_create(&v, model, &opt) != MHIM_OK) {
        printf("FAIL %s: %s\n", label, mhim_error());
        return 1;
    }
    const mhim_param_layout *Lay = mhim_model_layout(model);
    const int64_t feat_size = mhim_model_feat_size(model), rows = feat_size / 512;
    float *params = mhim_params_alloc(Lay), *grads = mhim_params_alloc(Lay);
    int fails = v2_load_params(f, label, Lay, params, seed);
    float *x = mhim_malloc((size_t)(N * D_in) * sizeof(float));
    digest_hash_fill(x, N * D_in, seed, DIGEST_X_STREAM, 0.0, (int)attr(f, "x_exp"));
    int64_t n_keep_ids = 0, n_perm = 0;
    const int64_t *keep = fixture_i64(f, "inputs/keep", &n_keep_ids), *perm = fixture_i64(f, "inputs/perm", &n_perm);
    if (!keep || !perm || n_keep_ids != L || n_perm != L) {
        printf("FAIL %s: fixture inputs keep/perm\n", label);
        return 1;
    }
    mhim_arena arena;
    mhim_arena_init(&arena, "v2 parity", mhim_v2_train_arena_bytes(v, N) + mhim_v2_teacher_arena_bytes(v, N) +
                                             mhim_v2_eval_arena_bytes(v, N));
    mhim_arena_set_poison(&arena, 1);

    /* evaluation with --merge_test */
    float merged[8];
    float *g_before = mhim_malloc((size_t)(mc.merge_k * 512) * sizeof(float));
    const int64_t g_off = Lay->entries[0].offset;
    memcpy(g_before, params + g_off, (size_t)(mc.merge_k * 512) * sizeof(float));
    if (mhim_v2_eval_forward_merged(v, &arena, params, x, N, merged, NULL) != MHIM_OK) return 1;
    fails += digest_check(f, label, "outputs/merge_test_logits", merged, C, FWD_ATOL, FWD_RTOL, PROJ_TOL);
    fails += check_true("--merge_test evaluation leaves G unchanged",
                        memcmp(g_before, params + g_off, (size_t)(mc.merge_k * 512) * sizeof(float)) == 0);
    free(g_before);

    /* teacher */
    float *target = mhim_malloc((size_t)feat_size * sizeof(float)), *scores = mhim_malloc((size_t)N * sizeof(float));
    mhim_v2_teacher_out tout = {target, scores};
    fails += check_true("one score row with attn2score", mhim_v2_score_rows(v) == 1);
    if (mhim_v2_teacher_forward(v, &arena, params, x, N, NULL, &tout) != MHIM_OK) return 1;
    fails += digest_check(f, label, "outputs/teacher_target", target, feat_size, FWD_ATOL, FWD_RTOL, PROJ_TOL);
    fails += digest_check(f, label, "outputs/teacher_scores", scores, N, FWD_ATOL, FWD_RTOL, PROJ_TOL);

    /* student step */
    float logits[8], d_logits[8], probs[8], loss[3];
    float *feat = mhim_malloc((size_t)feat_size * sizeof(float)), *d_feat = mhim_malloc((size_t)feat_size * sizeof(float));
    float *p_s = mhim_malloc((size_t)feat_size * sizeof(float)), *p_t = mhim_malloc((size_t)feat_size * sizeof(float));
    mhim_v2_student_out sout = {.logits = logits, .feat = feat};
    if (mhim_v2_student_forward(v, &arena, params, x, N, keep, L, perm, NULL, &sout) != MHIM_OK) {
        printf("FAIL %s student: %s\n", label, mhim_error());
        return 1;
    }
    printf("%s: N=%lld L=%lld n_keep=%lld tokens=%lld\n", label, (long long)N, (long long)L, (long long)sout.n_keep,
           (long long)sout.tokens);
    fails += check_true("n_keep = int(L·merge_ratio)", sout.n_keep == attr(f, "n_keep"));
    fails += check_true("tokens = n_keep + merge_k", sout.tokens == sout.n_keep + mc.merge_k);
    fails += digest_check(f, label, "outputs/logits", logits, C, FWD_ATOL, FWD_RTOL, PROJ_TOL);
    fails += digest_check(f, label, "outputs/feat", feat, feat_size, FWD_ATOL, FWD_RTOL, PROJ_TOL);
    const int64_t merge_g = Lay->entries[0].offset, merge_alias = Lay->entries[1].offset;
    fails += digest_check(f, label, "outputs/g_after", params + merge_g, mc.merge_k * 512, FWD_ATOL, FWD_RTOL, PROJ_TOL);
    fails += check_true("alias merge.global_q follows merge.global_q_mm",
                        memcmp(params + merge_g, params + merge_alias, (size_t)(mc.merge_k * 512) * sizeof(float)) == 0);
    const int64_t y = attr(f, "y");
    const float aux_alpha = (float)fixture_scalar(f, "aux_alpha"), temp_t = (float)fixture_scalar(f, "temp_t");
    loss[0] = mhim_cross_entropy_forward(probs, logits, &y, 1, C);
    mhim_cross_entropy_backward(d_logits, probs, &y, 1.0f, 1, C);
    loss[1] = mhim_soft_target_ce_forward(p_s, p_t, feat, target, temp_t, 1.0f, rows, 512);
    mhim_soft_target_ce_backward(d_feat, p_s, p_t, aux_alpha, 1.0f, rows, 512);
    loss[2] = loss[0] + aux_alpha * loss[1];
    fails += digest_check(f, label, "outputs/loss", loss, 3, FWD_ATOL, FWD_RTOL, PROJ_TOL);
    mhim_v2_student_backward(v, &arena, params, grads, d_logits, d_feat);
    fails += v2_check_grads(f, label, Lay, grads, BWD_ATOL, BWD_RTOL, PROJ_TOL);
    int64_t g0, g1;
    mhim_v2_frozen_range(v, &g0, &g1);
    double frozen = 0;
    for (int64_t i = g0; i < g1; i++) frozen += grads[i] * (double)grads[i];
    fails += check_true("no gradient reaches the frozen G range", frozen == 0.0 && g0 == 0 && g1 > g0);

    mhim_arena_free(&arena);
    free(x), free(target), free(scores), free(feat), free(d_feat), free(p_s), free(p_t);
    mhim_params_free(params), mhim_params_free(grads);
    mhim_v2_free(v);
    mhim_model_free(model);
    fixture_close(f);
    printf("%s %s: %d failure(s)\n", fails ? "FAIL" : "ok  ", label, fails);
    return fails;
}

int main(void) {
    int fails = run_case("abmil", MHIM_MODEL_ABMIL);
    fails += run_case("dsmil", MHIM_MODEL_DSMIL);
    fails += run_case("transmil", MHIM_MODEL_TRANSMIL);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails != 0;
}
