/* Behaviour of the MHIM-v2 model side (mhim/v2.h) beyond the parity and gradient tests:
 *   layout: merge.* first in the original state_dict order when merge_k > 0, absent for mhim_pure (merge_k 0); the
 *           frozen range covers exactly G and its alias; initialisation keeps the alias equal to G;
 *   configuration: merge_k from the options (only with v2 --merge_enable), the checkpoint text round trip, the
 *           option checks (merge_mm = 1, merge_ratio outside [0, 1], merge_test, a v1 model) with their messages;
 *   Merge arithmetic: n_keep = floor(L·merge_ratio) in IEEE double (100·0.29 = 28.999… → 28);
 *   the student step: the G EMA moves G only in training, L = 0 (only the recycled tokens, spec Q19) works
 *           forward and backward, a repeated step with the same streams is bit-identical, the arena sizes hold
 *           for a realistic bag and the arena returns to its level (no allocation per step);
 *   teacher maps: without attn2score ABMIL's scores are its softmax attention (sum 1) and TransMIL gives one row
 *           per head; eval forward = the registry's evaluation forward (mhim_model_predict). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/model.h"
#include "mhim/threads.h"
#include "mhim/v2.h"

#define D_IN 12

static mhim_model_config model_config(mhim_model_kind kind, int64_t merge_k, int attn2score) {
    return (mhim_model_config){.kind = kind, .version = 2, .input_dim = D_IN, .n_classes = 2, .act = MHIM_ACT_GELU,
                               .dropout = 0.25f, .da_act = MHIM_ACT_RELU, .heads = 8, .attn2score = attn2score,
                               .merge_k = merge_k};
}

static int test_layout(void) {
    int fails = 0;
    const char *const merge_keys[] = {"merge.global_q_mm", "merge.global_q", "merge.norm.weight", "merge.norm.bias",
                                      "merge.attn.to_kv.weight", "merge.attn.to_q.weight",
                                      "merge.attn.to_out.0.weight", "merge.attn.to_out.0.bias"};
    mhim_model_config mc = model_config(MHIM_MODEL_ABMIL, 5, 1);
    mhim_model *m = NULL, *pure = NULL;
    if (mhim_model_create(&m, &mc) != MHIM_OK) return check_true(mhim_error(), 0);
    const mhim_param_layout *L = mhim_model_layout(m);
    int order = L->count == 8 + 6;
    for (int i = 0; order && i < 8; i++) order = !strcmp(L->entries[i].name, merge_keys[i]);
    order = order && !strcmp(L->entries[8].name, "feature.0.weight");
    fails += check_true("merge.* first, then feature.0.*, online_encoder.*, predictor.*", order);
    const mhim_param_entry *g = mhim_param_find(L, "merge.global_q_mm");
    fails += check_true("G is (1, merge_k, 512)", g && g->ndim == 3 && g->shape[0] == 1 && g->shape[1] == 5 &&
                                                      g->shape[2] == 512);
    float *params = mhim_params_alloc(L);
    mhim_model_init_params(m, params, 3);
    const float *gq = mhim_param_tensor(L, params, "merge.global_q_mm"), *ga = mhim_param_tensor(L, params,
                                                                                               "merge.global_q");
    float mx = 0;
    for (int64_t i = 0; i < g->numel; i++) mx = fmaxf(mx, fabsf(gq[i]));
    fails += check_true("G initialised U(±0.0685) and the alias equal",
                        mx > 0.05f && mx <= 0.0685f && !memcmp(gq, ga, (size_t)g->numel * sizeof(float)));
    fails += check_true("LN_m weight initialised to 1", mhim_param_tensor(L, params, "merge.norm.weight")[7] == 1.0f);
    mhim_v2_options opt = {0.8, 0.9999};
    mhim_v2 *v = NULL;
    fails += check_true("v2 companion binds", mhim_v2_create(&v, m, &opt) == MHIM_OK);
    int64_t b = -1, e = -1;
    if (v) mhim_v2_frozen_range(v, &b, &e);
    fails += check_true("frozen range = [G, alias end)",
                        b == g->offset && e == mhim_param_find(L, "merge.global_q")->offset + g->numel);
    mhim_v2_free(v);
    mhim_params_free(params);

    mc.merge_k = 0;
    if (mhim_model_create(&pure, &mc) != MHIM_OK) return fails + check_true(mhim_error(), 0);
    fails += check_true("mhim_pure (merge_k 0) has no merge.* keys",
                        mhim_model_layout(pure)->count == 6 && !mhim_param_find(mhim_model_layout(pure), "merge.norm.weight"));
    v = NULL;
    fails += check_true("the v2 companion needs the Merge module", mhim_v2_create(&v, pure, &opt) == MHIM_EINPUT);
    printf("  message: %s\n", mhim_error());
    mhim_model_free(pure);
    mhim_model_free(m);

    mc = model_config(MHIM_MODEL_DSMIL, 3, 1);
    mc.version = 1;
    fails += check_true("merge_k with a v1 model is refused", mhim_model_create(&m, &mc) == MHIM_EINPUT);
    printf("  message: %s\n", mhim_error());
    return fails;
}

static int test_config(void) {
    int fails = 0;
    mhim_model_config a = model_config(MHIM_MODEL_TRANSMIL, 10, 1), b;
    char text[MHIM_MODEL_CONFIG_TEXT];
    mhim_model_config_text(&a, text, sizeof text);
    printf("  config text: %s\n", text);
    fails += check_true("config text round trip keeps merge_k", mhim_model_config_parse(&b, "transmil", text) == MHIM_OK &&
                                                                   b.merge_k == 10 && b.attn2score == 1);
    a.merge_k = 0;
    mhim_model_config_text(&a, text, sizeof text);
    fails += check_true("no merge_k field without Merge (older readers)", strstr(text, "merge_k") == NULL);

    mhim_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.baseline = "attn", cfg.act = "gelu", cfg.da_act = "relu", cfg.version = 2, cfg.input_dim = 1024;
    cfg.n_classes = 2, cfg.dropout = 0.25, cfg.n_heads = 8, cfg.merge_enable = true, cfg.merge_k = 5;
    cfg.merge_ratio = 0.9, cfg.merge_mm = 0.9999, cfg.model = "mhim";
    mhim_model_config mc;
    fails += check_true("options: v2 --model=mhim --merge_enable --merge_k 5 => merge_k 5",
                        mhim_model_config_from_options(&mc, &cfg) == MHIM_OK && mc.merge_k == 5);
    cfg.model = "mhim_pure";
    fails += check_true("options: --model=mhim_pure builds no Merge (merge_k 0)",
                        mhim_model_config_from_options(&mc, &cfg) == MHIM_OK && mc.merge_k == 0);
    cfg.model = "mhim", cfg.merge_enable = false;
    fails += check_true("options: without --merge_enable => merge_k 0 (mhim_pure)",
                        mhim_model_config_from_options(&mc, &cfg) == MHIM_OK && mc.merge_k == 0);
    mhim_v2_options o;
    fails += check_true("options: merge_ratio / merge_mm taken",
                        mhim_v2_options_from_config(&o, &cfg) == MHIM_OK && o.merge_ratio == 0.9 && o.merge_mm == 0.9999);
    cfg.merge_mm = 1.0;
    fails += check_true("--merge_mm=1 refused (B6)", mhim_v2_options_from_config(&o, &cfg) == MHIM_EINPUT);
    printf("  message: %s\n", mhim_error());
    cfg.merge_mm = 0.9, cfg.merge_ratio = 1.5;
    fails += check_true("--merge_ratio=1.5 refused", mhim_v2_options_from_config(&o, &cfg) == MHIM_EINPUT);
    printf("  message: %s\n", mhim_error());
    cfg.merge_ratio = 0.8, cfg.merge_test = true;
    fails += check_true("--merge_test accepted (the engine evaluates the student merged)",
                        mhim_v2_options_from_config(&o, &cfg) == MHIM_OK);

    fails += check_true("n_keep = floor(100·0.29) = 28 in IEEE double", mhim_v2_merge_keep(100, 0.29) == 28);
    fails += check_true("n_keep = floor(38·0.8) = 30", mhim_v2_merge_keep(38, 0.8) == 30);
    fails += check_true("n_keep: L = 0 and ratio 1", mhim_v2_merge_keep(0, 0.9) == 0 && mhim_v2_merge_keep(7, 1.0) == 7);
    int64_t perm[50], seen[50] = {0};
    mhim_rng s = mhim_rng_stream(1, 2, 3, MHIM_RNG_MERGE, 0);
    mhim_v2_merge_perm(&s, perm, 50);
    int ok = 1;
    for (int i = 0; i < 50; i++) ok = ok && perm[i] >= 0 && perm[i] < 50 && !seen[perm[i]]++;
    fails += check_true("mhim_v2_merge_perm is a permutation", ok);
    return fails;
}

/* One student step on kind with N instances and L kept (keep = every (N/L)-ish row); checks and returns failures. */
static int test_step(mhim_model_kind kind, int64_t N, int64_t L) {
    int fails = 0;
    mhim_model_config mc = model_config(kind, 2, 1);
    mhim_model *m = NULL;
    mhim_v2 *v = NULL;
    mhim_v2_options opt = {0.9, 0.5};
    if (mhim_model_create(&m, &mc) != MHIM_OK || mhim_v2_create(&v, m, &opt) != MHIM_OK)
        return check_true(mhim_error(), 0);
    const mhim_param_layout *Lay = mhim_model_layout(m);
    float *params = mhim_params_alloc(Lay), *grads = mhim_params_alloc(Lay), *grads2 = mhim_params_alloc(Lay);
    float *g0 = mhim_params_alloc(Lay);
    mhim_model_init_params(m, params, 5);
    mhim_params_copy(Lay, g0, params);
    float *x = mhim_malloc((size_t)(N * D_IN) * sizeof(float));
    test_rng r = {77 + (uint64_t)N};
    test_fill_uniform(&r, x, N * D_IN, -1, 1);
    int64_t *keep = mhim_malloc((size_t)(L > 0 ? L : 1) * sizeof(int64_t)), *perm = mhim_malloc((size_t)(L > 0 ? L : 1) * sizeof(int64_t));
    for (int64_t j = 0; j < L; j++) keep[j] = j * N / L;
    mhim_rng ms = mhim_rng_stream(1, 0, 4, MHIM_RNG_MERGE, 0), ds = mhim_rng_stream(1, 0, 4, MHIM_RNG_DROPOUT, 1);
    mhim_v2_merge_perm(&ms, perm, L);
    mhim_arena arena;
    mhim_arena_init(&arena, "v2 step", mhim_v2_train_arena_bytes(v, N));
    const int64_t feat_size = mhim_model_feat_size(m);
    float logits[2], logits2[2], *feat = mhim_malloc((size_t)feat_size * sizeof(float));
    float *d_feat = mhim_malloc((size_t)feat_size * sizeof(float));
    test_fill_uniform(&r, d_feat, feat_size, -1, 1);
    const float d_logits[2] = {0.5f, -0.5f};
    mhim_v2_student_out out = {logits, feat, 0, 0};
    char label[96];
    snprintf(label, sizeof label, "%s N=%lld L=%lld", mhim_model_kind_name(kind), (long long)N, (long long)L);
    int rc = mhim_v2_student_forward(v, &arena, params, x, N, keep, L, perm, &ds, &out);
    const size_t used = arena.used;
    mhim_v2_student_backward(v, &arena, params, grads, d_logits, d_feat);
    fails += check_true(label, rc == MHIM_OK && isfinite(logits[0]) && isfinite(logits[1]) &&
                                   out.tokens == out.n_keep + 2 && out.n_keep == mhim_v2_merge_keep(L, 0.9));
    fails += check_true("  backward leaves the arena at the forward's level", arena.used == used);
    int64_t b, e;
    mhim_v2_frozen_range(v, &b, &e);
    int moved = 0, others = 1;
    for (int64_t i = 0; i < Lay->total; i++) {
        if (i >= b && i < e) moved |= params[i] != g0[i];
        else others = others && params[i] == g0[i];
    }
    fails += check_true("  the training forward moves G (EMA) and nothing else", moved && others);
    double gsum = 0;
    for (int64_t i = 0; i < Lay->total; i++) gsum += fabs(grads[i]);
    fails += check_true("  gradients finite and non-zero", isfinite(gsum) && gsum > 0);

    /* the same step again from the same state: bit-identical */
    mhim_params_copy(Lay, params, g0);
    mhim_arena_reset(&arena, 0);
    out.logits = logits2;
    mhim_v2_student_forward(v, &arena, params, x, N, keep, L, perm, &ds, &out);
    mhim_v2_student_backward(v, &arena, params, grads2, d_logits, d_feat);
    fails += check_true("  repeated step bit-identical",
                        !memcmp(logits, logits2, sizeof logits) &&
                            !memcmp(grads, grads2, (size_t)Lay->total * sizeof(float)));
    mhim_arena_free(&arena);
    free(x), free(keep), free(perm), free(feat), free(d_feat);
    mhim_params_free(params), mhim_params_free(grads), mhim_params_free(grads2), mhim_params_free(g0);
    mhim_v2_free(v);
    mhim_model_free(m);
    return fails;
}

static int test_teacher_eval(mhim_model_kind kind, int attn2score) {
    int fails = 0;
    const int64_t N = 30;
    mhim_model_config mc = model_config(kind, 1, attn2score);
    mhim_model *m = NULL;
    mhim_v2 *v = NULL;
    mhim_v2_options opt = {0.8, 0.9};
    if (mhim_model_create(&m, &mc) != MHIM_OK || mhim_v2_create(&v, m, &opt) != MHIM_OK)
        return check_true(mhim_error(), 0);
    const mhim_param_layout *Lay = mhim_model_layout(m);
    float *params = mhim_params_alloc(Lay);
    mhim_model_init_params(m, params, 8);
    float x[30 * D_IN], scores[8 * 30], target[2 * 512], logits[2], logits_ref[2], max_logits[2], feat[2 * 512];
    test_rng r = {5};
    test_fill_uniform(&r, x, N * D_IN, -1, 1);
    const int64_t rows = mhim_v2_score_rows(v);
    mhim_arena arena;
    mhim_arena_init(&arena, "v2 teacher", mhim_v2_teacher_arena_bytes(v, N) + mhim_v2_eval_arena_bytes(v, N) +
                                              mhim_model_predict_arena_bytes(m, N));
    mhim_v2_teacher_out t = {target, scores};
    int rc = mhim_v2_teacher_forward(v, &arena, params, x, N, NULL, &t);
    char label[96];
    snprintf(label, sizeof label, "%s attn2score=%d teacher: %lld score row(s)", mhim_model_kind_name(kind), attn2score,
             (long long)rows);
    fails += check_true(label, rc == MHIM_OK && rows == (kind == MHIM_MODEL_TRANSMIL && !attn2score ? 8 : 1));
    double sum = 0;
    for (int64_t i = 0; i < N; i++) sum += scores[i];
    if (kind == MHIM_MODEL_ABMIL && !attn2score) fails += check_true("  ABMIL raw map = softmax attention", fabs(sum - 1) < 1e-5);
    if (attn2score) {
        int in_range = 1;
        for (int64_t i = 0; i < N; i++) in_range = in_range && scores[i] >= 0.5f && scores[i] <= 1.0f;
        if (kind != MHIM_MODEL_DSMIL) fails += check_true("  class-aware scores are max-class probabilities", in_range);
    }
    rc = mhim_v2_eval_forward(v, &arena, params, x, N, logits, feat);
    mhim_model_out ref = {logits_ref, max_logits, NULL};
    rc |= mhim_model_predict(m, &arena, params, x, N, &ref, NULL);
    if (kind == MHIM_MODEL_DSMIL) { /* the registry keeps bag and max logits apart: compare the v2 average */
        for (int c = 0; c < 2; c++) logits_ref[c] = 0.5f * logits_ref[c] + 0.5f * max_logits[c];
    }
    fails += check_true("  eval forward = registry evaluation forward",
                        rc == MHIM_OK && fabsf(logits[0] - logits_ref[0]) < 1e-5f && fabsf(logits[1] - logits_ref[1]) < 1e-5f);
    fails += check_true("  eval feature = teacher target without dropout",
                        fabsf(feat[3] - target[3]) < 1e-5f && fabsf(feat[100] - target[100]) < 1e-5f);
    mhim_arena_free(&arena);
    mhim_params_free(params);
    mhim_v2_free(v);
    mhim_model_free(m);
    return fails;
}

int main(void) {
    mhim_threads_init(1);
    int fails = test_layout() + test_config();
    fails += test_step(MHIM_MODEL_ABMIL, 500, 490) + test_step(MHIM_MODEL_DSMIL, 200, 198);
    fails += test_step(MHIM_MODEL_ABMIL, 1, 0) + test_step(MHIM_MODEL_DSMIL, 3, 0);
    fails += test_step(MHIM_MODEL_TRANSMIL, 300, 297) + test_step(MHIM_MODEL_TRANSMIL, 1, 0);
    for (int a = 0; a < 2; a++)
        fails += test_teacher_eval(MHIM_MODEL_ABMIL, a) + test_teacher_eval(MHIM_MODEL_DSMIL, a) +
                 test_teacher_eval(MHIM_MODEL_TRANSMIL, a);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails != 0;
}
