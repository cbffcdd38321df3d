/* The model registry (mhim/model.h) end to end with checkpoints:
 *   - model_config text round trip and its errors;
 *   - torch.save files of re-stated original modules (tests/fixtures/ckpt, gen_ckpt_fixtures.py) loaded into the
 *     registry's models and run: logits / attention / DSMIL logits and bag feature vs PyTorch (float64 reference;
 *     tolerance atol 2e-5 + rtol 2e-4, float32 accumulation over 512-wide dot products);
 *   - the mhim-written checkpoint PyTorch read (torch_read.h5): same logits on both sides;
 *   - forward + backward through the registry for every kind: a finite-difference check of d(loss)/d(params)
 *     on sampled parameters (loss = class loss + a random projection of the bag feature). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "mhim/checkpoint.h"
#include "mhim/common.h"
#include "mhim/model.h"
#include "mhim/threads.h"

#define FIX "fixtures/ckpt/"
#define ATOL 2e-5
#define RTOL 2e-4

static int test_config_text(void) {
    int fails = 0;
    mhim_model_config a = {MHIM_MODEL_TRANSMIL, 2, 768, 4, MHIM_ACT_GELU, 0.25f, MHIM_ACT_TANH, 0, 2, 1, 0}, b;
    char text[MHIM_MODEL_CONFIG_TEXT];
    mhim_model_config_text(&a, text, sizeof text);
    printf("     text: %s\n", text);
    int rc = mhim_model_config_parse(&b, "transmil", text);
    fails += check_true("config text round trip", rc == MHIM_OK && !memcmp(&a, &b, sizeof a));
    rc = mhim_model_config_parse(&b, "abmil", "version=1 input_dim=16 heads=2 colour=red n_classes=2");
    printf("     unknown field -> %s\n", mhim_error());
    fails += check_true("unknown field", rc == MHIM_EINPUT && strstr(mhim_error(), "'colour'"));
    rc = mhim_model_config_parse(&b, "abmil", "version=3 input_dim=16 n_classes=2");
    fails += check_true("bad version", rc == MHIM_EINPUT && strstr(mhim_error(), "version=3"));
    rc = mhim_model_config_parse(&b, "abmil", "version=1 n_classes=2");
    fails += check_true("missing input_dim", rc == MHIM_EINPUT && strstr(mhim_error(), "required"));
    rc = mhim_model_config_parse(&b, "clam", "version=1 input_dim=16 n_classes=2");
    fails += check_true("unknown model", rc == MHIM_EINPUT && strstr(mhim_error(), "'clam'"));
    return fails;
}

typedef struct {
    mhim_model *m;
    float *params;
    mhim_arena arena;
} loaded_model;

static int load_model(loaded_model *lm, const mhim_model_config *mc, const char *path, const mhim_load_opts *o,
                      int64_t n_max) {
    memset(lm, 0, sizeof *lm);
    int rc = mhim_model_create(&lm->m, mc);
    if (rc) {
        printf("     create: %s\n", mhim_error());
        return 1;
    }
    lm->params = mhim_params_alloc(mhim_model_layout(lm->m));
    mhim_load_report rep;
    rc = mhim_ckpt_load(path, mhim_model_layout(lm->m), lm->params, o, &rep);
    printf("     %s: %s\n", path, rc ? mhim_error() : rep.text);
    size_t bytes = mhim_model_predict_arena_bytes(lm->m, n_max);
    size_t train = mhim_model_train_arena_bytes(lm->m, n_max);
    mhim_arena_init(&lm->arena, "registry test", bytes > train ? bytes : train);
    return check_true("load into registry model", rc == MHIM_OK);
}

static void free_model(loaded_model *lm) {
    mhim_arena_free(&lm->arena);
    mhim_params_free(lm->params);
    mhim_model_free(lm->m);
}

static int test_torch_outputs(void) {
    fixture *fx = fixture_open(FIX "expected.h5");
    if (!fx) return 1;
    int64_t nx = 0;
    const float *x = fixture_f32(fx, "x", &nx);
    const int64_t D = 16, N = nx / D, C = 2;
    int fails = 0;
    float logits[2], maxl[2], probs[2], feat[2 * 512], map[64];
    mhim_model_out out = {logits, maxl, feat};

    mhim_model_config abmil = {MHIM_MODEL_ABMIL, 1, D, C, MHIM_ACT_RELU, 0.25f, MHIM_ACT_RELU, 0, 8, 0, 0};
    loaded_model lm;
    fails += load_model(&lm, &abmil, FIX "abmil_v1_bare.pt", NULL, N);
    fails += check_true("abmil predict", mhim_model_predict(lm.m, &lm.arena, lm.params, x, N, &out, map) == 0);
    fails += check_close("abmil_v1 logits", logits, fixture_f32(fx, "abmil_v1_bare/logits", NULL), C, ATOL, RTOL);
    fails += check_close("abmil_v1 attention", map, fixture_f32(fx, "abmil_v1_bare/attn", NULL), N, ATOL, RTOL);
    fails += check_close("abmil_v1 bag feature", feat, fixture_f32(fx, "abmil_v1_bare/z", NULL), 512, ATOL, RTOL);
    mhim_model_probs(lm.m, &out, probs);
    fails += check_true("abmil probs sum to 1", fabsf(probs[0] + probs[1] - 1.0f) < 1e-6f);
    free_model(&lm);

    mhim_model_config dsmil = {MHIM_MODEL_DSMIL, 1, D, C, MHIM_ACT_RELU, 0.25f, MHIM_ACT_RELU, 0, 8, 0, 0};
    fails += load_model(&lm, &dsmil, FIX "dsmil_v1_model.pt", NULL, N);
    fails += check_true("dsmil predict", mhim_model_predict(lm.m, &lm.arena, lm.params, x, N, &out, map) == 0);
    fails += check_close("dsmil_v1 bag logits", logits, fixture_f32(fx, "dsmil_v1_model/bag_logits", NULL), C, ATOL,
                         RTOL);
    fails += check_close("dsmil_v1 max logits", maxl, fixture_f32(fx, "dsmil_v1_model/ins_logits", NULL), C, ATOL,
                         RTOL);
    fails += check_close("dsmil_v1 bag feature B", feat, fixture_f32(fx, "dsmil_v1_model/bag_feature", NULL), C * 512,
                         ATOL, RTOL);
    const float *inst = fixture_f32(fx, "dsmil_v1_model/inst_logits", NULL);
    float inst_max[64];
    for (int64_t i = 0; i < N && inst; i++) inst_max[i] = fmaxf(inst[i * C], inst[i * C + 1]);
    fails += check_close("dsmil_v1 instance map", map, inst_max, N, ATOL, RTOL);
    free_model(&lm);

    mhim_model_config abmil2 = abmil;
    abmil2.version = 2;
    mhim_load_opts loose = {MHIM_LOAD_NONSTRICT, NULL, NULL, "model abmil"};
    fails += load_model(&lm, &abmil2, FIX "abmil_v2_nested.pt", &loose, N);
    mhim_model_predict(lm.m, &lm.arena, lm.params, x, N, &out, NULL);
    fails += check_close("abmil_v2 student logits", logits, fixture_f32(fx, "abmil_v2_nested/logits_model", NULL), C,
                         ATOL, RTOL);
    free_model(&lm);
    mhim_load_opts teacher = {MHIM_LOAD_STRICT, "teacher", NULL, "model abmil"};
    fails += load_model(&lm, &abmil2, FIX "abmil_v2_nested.pt", &teacher, N);
    mhim_model_predict(lm.m, &lm.arena, lm.params, x, N, &out, NULL);
    fails += check_close("abmil_v2 teacher logits", logits, fixture_f32(fx, "abmil_v2_nested/logits_teacher", NULL), C,
                         ATOL, RTOL);
    free_model(&lm);
    fixture_close(fx);
    return fails;
}

/* The checkpoint written by mhim and read by PyTorch: the model described by its metadata gives torch's logits. */
static int test_mhim_written(void) {
    int fails = 0;
    mhim_ckpt_info info;
    if (mhim_ckpt_read_info(FIX "mhim_written.h5", &info)) {
        printf("     %s\n", mhim_error());
        return 1;
    }
    mhim_model_config mc;
    int rc = mhim_model_config_parse(&mc, info.model, info.model_config);
    fails += check_true("model config from checkpoint", rc == MHIM_OK);
    mhim_ckpt_info_free(&info);
    if (rc) return fails;
    fixture *ex = fixture_open(FIX "expected.h5"), *tr = fixture_open(FIX "torch_read.h5");
    if (!ex || !tr) return fails + 1;
    int64_t nx;
    const float *x = fixture_f32(ex, "x", &nx);
    const int64_t N = nx / mc.input_dim;
    loaded_model lm;
    fails += load_model(&lm, &mc, FIX "mhim_written.h5", NULL, N);
    float logits[2], map[64];
    mhim_model_out out = {logits, NULL, NULL};
    mhim_model_predict(lm.m, &lm.arena, lm.params, x, N, &out, map);
    fails += check_close("mhim-written checkpoint: logits vs torch", logits, fixture_f32(tr, "logits", NULL), 2, ATOL,
                         RTOL);
    fails += check_close("mhim-written checkpoint: attention vs torch", map, fixture_f32(tr, "attn", NULL), N, ATOL,
                         RTOL);
    free_model(&lm);
    fixture_close(ex);
    fixture_close(tr);
    return fails;
}

/* ---- gradient check through the registry ----------------------------------------------------------------------- */

typedef struct {
    mhim_model *m;
    mhim_arena *arena;
    float *params;
    const float *x, *w;
    int64_t N, y;
    const int64_t *idx;
    int64_t n;
} gc_ctx;

/* loss = class loss(y) + Σ feat·w, in eval mode. */
static double objective(void *vctx) {
    gc_ctx *g = vctx;
    const int64_t F = mhim_model_feat_size(g->m);
    float logits[4], maxl[4], dl[4], dm[4], *feat = mhim_malloc((size_t)F * sizeof(float));
    mhim_model_out out = {logits, maxl, feat};
    size_t mark = mhim_arena_mark(g->arena);
    mhim_model_forward(g->m, g->arena, g->params, g->x, g->N, g->idx, g->n, NULL, &out);
    double loss = mhim_model_class_loss(g->m, &out, g->y, 1.0f, dl, dm) + test_dot(feat, g->w, F);
    mhim_arena_reset(g->arena, mark);
    free(feat);
    return loss;
}

/* checks: sampled elements per tensor (each costs two forwards). */
static int gradcheck_kind(mhim_model_kind kind, int version, int64_t checks) {
    const int64_t D = 6, N = 9, C = 2;
    mhim_model_config mc = {kind, version, D, C, MHIM_ACT_GELU, 0.0f, MHIM_ACT_TANH, 0, 2, 0, 0};
    mhim_model *m;
    if (mhim_model_create(&m, &mc)) {
        printf("     %s\n", mhim_error());
        return 1;
    }
    const mhim_param_layout *L = mhim_model_layout(m);
    float *params = mhim_params_alloc(L), *grads = mhim_params_alloc(L);
    mhim_model_init_params(m, params, 11);
    const int64_t F = mhim_model_feat_size(m);
    float *x = mhim_malloc((size_t)(N * D) * sizeof(float)), *w = mhim_malloc((size_t)F * sizeof(float));
    test_rng r = {42};
    test_fill_uniform(&r, x, N * D, -1, 1);
    test_fill_uniform(&r, w, F, -0.5f, 0.5f);
    const int64_t idx[] = {7, 2, 5, 0, 8, 3}; /* masked forward on 6 of 9 instances, unsorted */
    mhim_arena arena;
    mhim_arena_init(&arena, "gradcheck", mhim_model_train_arena_bytes(m, N) * 2);
    gc_ctx g = {m, &arena, params, x, w, N, 1, idx, 6};

    float logits[4], maxl[4], dl[4], dm[4], *feat = mhim_malloc((size_t)F * sizeof(float));
    mhim_model_out out = {logits, maxl, feat};
    mhim_model_forward(m, &arena, params, x, N, idx, 6, NULL, &out);
    mhim_model_class_loss(m, &out, 1, 1.0f, dl, dm);
    mhim_model_backward(m, &arena, params, grads, dl, kind == MHIM_MODEL_DSMIL ? dm : NULL, w);
    mhim_arena_reset(&arena, 0);

    char name[64];
    int fails = 0;
    for (int64_t t = 0; t < L->count; t++) {
        const mhim_param_entry *e = &L->entries[t];
        snprintf(name, sizeof name, "%s v%d %s", mhim_model_kind_name(kind), version, e->name);
        fails += gradcheck(name, params + e->offset, e->numel, grads + e->offset, objective, &g, 1e-2, 5e-2, checks);
    }
    free(feat), free(x), free(w);
    mhim_arena_free(&arena);
    mhim_params_free(params), mhim_params_free(grads);
    mhim_model_free(m);
    return fails;
}

int main(void) {
    mhim_threads_init(1); /* tiny GEMMs: threads only add waiting on a loaded machine */
    int fails = 0;
    fails += test_config_text();
    fails += test_torch_outputs();
    fails += test_mhim_written();
    fails += gradcheck_kind(MHIM_MODEL_ABMIL, 1, 6);
    fails += gradcheck_kind(MHIM_MODEL_DSMIL, 1, 6);
    fails += gradcheck_kind(MHIM_MODEL_DSMIL, 2, 6);
    fails += gradcheck_kind(MHIM_MODEL_TRANSMIL, 2, 2);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails != 0;
}
