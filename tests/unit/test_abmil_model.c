/* ABMIL model plumbing (mhim/models/abmil.h): parameter counts of the original modules (591,490 plain, 657,026
 * gated, D_in 1024, C = 2), key names, binding a layout of the other variant fails with the key named,
 * initialisation (zero biases, deterministic), the teacher forward in train mode equal to the student forward with
 * the same dropout stream, attn2score's closed form for two classes, an empty kept set, and the arena bound. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/models/abmil.h"

static mhim_abmil_config config(int gated, int64_t input_dim) {
    return (mhim_abmil_config){.version = 1, .input_dim = input_dim, .n_classes = 2, .act = MHIM_ACT_RELU,
                               .dropout = 0.25f, .da_act = MHIM_ACT_RELU, .gated = gated};
}

static int test_layout(void) {
    int fails = 0;
    const int64_t want[2] = {591490, 657026};
    for (int gated = 0; gated < 2; gated++) {
        mhim_abmil_config cfg = config(gated, 1024);
        mhim_param_layout L;
        MHIM_ASSERT(mhim_abmil_layout(&L, &cfg) == MHIM_OK);
        printf("%s ABMIL: %lld tensors, %lld parameters (original %lld)\n", gated ? "gated" : "plain",
               (long long)L.count, (long long)L.numel, (long long)want[gated]);
        fails += check_true("parameter count = the original module's", L.numel == want[gated]);
        fails += check_true("first key", !strcmp(L.entries[0].name, "patch_to_emb.0.weight"));
        fails += check_true("attention key", mhim_param_find(&L, gated ? "online_encoder.attention.attention_a.0.weight"
                                                                        : "online_encoder.attention.attention.0.weight") != NULL);
        fails += check_true("last key", !strcmp(L.entries[L.count - 1].name, "predictor.bias"));
        /* a plain model cannot bind a gated layout and vice versa */
        mhim_abmil_config other = config(!gated, 1024);
        mhim_abmil m;
        int rc = mhim_abmil_bind(&m, &other, &L);
        printf("bind %s config to %s layout: %s\n", gated ? "plain" : "gated", gated ? "gated" : "plain", mhim_error());
        fails += check_true("binding the other variant fails naming the key",
                            rc == MHIM_EINPUT && strstr(mhim_error(), "online_encoder.attention.attention"));
        mhim_param_layout_free(&L);
    }
    mhim_abmil_config bad = config(0, 1024);
    bad.da_act = MHIM_ACT_SIGMOID;
    fails += check_true("sigmoid attention activation rejected", mhim_abmil_config_check(&bad) == MHIM_EINPUT);
    return fails;
}

typedef struct {
    mhim_abmil_config cfg;
    mhim_param_layout L;
    mhim_abmil m;
    float *params;
} model;

static void model_init(model *md, int gated, int64_t input_dim) {
    md->cfg = config(gated, input_dim);
    MHIM_ASSERT(mhim_abmil_layout(&md->L, &md->cfg) == MHIM_OK);
    MHIM_ASSERT(mhim_abmil_bind(&md->m, &md->cfg, &md->L) == MHIM_OK);
    md->params = mhim_params_alloc(&md->L);
    mhim_abmil_init_params(&md->m, md->params, 1234);
}

static void model_free(model *md) {
    mhim_params_free(md->params);
    mhim_param_layout_free(&md->L);
}

static int test_init(void) {
    model a, b;
    model_init(&a, 1, 32);
    model_init(&b, 1, 32);
    int fails = check_true("init is deterministic in the seed", !memcmp(a.params, b.params, (size_t)a.L.total * 4));
    mhim_abmil_init_params(&b.m, b.params, 1235);
    fails += check_true("another seed gives other weights", memcmp(a.params, b.params, (size_t)a.L.total * 4) != 0);
    int zero = 1;
    for (int64_t j = 0; j < MHIM_EMBED_DIM; j++) zero &= a.params[a.m.embed.bias + j] == 0.0f;
    zero &= a.params[a.m.pred_b] == 0.0f && a.params[a.m.pred_b + 1] == 0.0f;
    fails += check_true("biases start at zero", zero);
    int distinct = memcmp(a.params + a.m.wa, a.params + a.m.wb, MHIM_ABMIL_HIDDEN * MHIM_EMBED_DIM * 4) != 0;
    fails += check_true("each tensor draws its own values", distinct);
    model_free(&a), model_free(&b);
    return fails;
}

static int test_teacher_and_scores(void) {
    const int64_t N = 40;
    model md;
    model_init(&md, 0, 16);
    test_rng r = {17};
    float *x = mhim_malloc(N * 16 * sizeof(float));
    test_fill_uniform(&r, x, N * 16, 0.0f, 2.0f);
    test_fill_uniform(&r, md.params + md.m.pred_b, 2, -1.0f, 1.0f);
    mhim_arena a;
    mhim_arena_init(&a, "abmil model test", mhim_abmil_arena_bytes(&md.cfg, N));
    mhim_arena_set_poison(&a, 1);
    mhim_rng drop = mhim_rng_stream(1, 0, 3, MHIM_RNG_DROPOUT, 1);

    float z[MHIM_EMBED_DIM], attn[40], score[40], want[40];
    mhim_abmil_teacher_forward(z, attn, score, &a, &md.m, md.params, x, N, &drop);
    int fails = check_true("teacher leaves the arena empty", mhim_arena_mark(&a) == 0);
    mhim_abmil_cache c;
    mhim_abmil_forward(&c, &a, &md.m, md.params, x, N, NULL, N, &drop);
    fails += check_close("teacher z = train-mode student z (same stream)", z, c.z, MHIM_EMBED_DIM, 0, 0);
    fails += check_close("teacher attention = student attention", attn, c.attn, N, 0, 0);
    double total = 0;
    for (int64_t i = 0; i < N; i++) total += attn[i];
    fails += check_true("attention sums to 1", fabs(total - 1) < 1e-5);
    /* two classes: max_c softmax_c(a_i h_i·W_p[c] + b0) = sigmoid(|a_i h_i·(W_p[1] − W_p[0])|) */
    const float *W = md.params + md.m.pred_w;
    for (int64_t i = 0; i < N; i++) {
        double d = 0;
        for (int64_t j = 0; j < MHIM_EMBED_DIM; j++) d += (double)c.h[i * MHIM_EMBED_DIM + j] * (W[MHIM_EMBED_DIM + j] - W[j]);
        want[i] = (float)(1 / (1 + exp(-fabs(attn[i] * d))));
    }
    fails += check_close("attn2score = sigmoid(|a (w1 - w0)·h|) for C = 2", score, want, N, 1e-6, 1e-5);

    /* empty kept set: zero bag feature, logits = predictor bias; backward adds only the predictor gradients */
    mhim_arena_reset(&a, 0);
    const int64_t none[1] = {0};
    mhim_abmil_forward(&c, &a, &md.m, md.params, x, N, none, 0, NULL);
    fails += check_close("no kept instance: logits = predictor bias", c.logits, md.params + md.m.pred_b, 2, 0, 0);
    float *g = mhim_params_alloc(&md.L);
    const float d_logits[2] = {1, -1};
    mhim_abmil_backward(&md.m, md.params, g, d_logits, NULL, &c, &a);
    fails += check_true("no kept instance: bias gradient = d_logits", g[md.m.pred_b] == 1 && g[md.m.pred_b + 1] == -1);
    mhim_params_free(g);
    mhim_arena_free(&a);
    free(x);
    model_free(&md);
    return fails;
}

int main(void) {
    int fails = test_layout() + test_init() + test_teacher_and_scores();
    printf("%s\n", fails ? "FAILED" : "all ABMIL model checks passed");
    return fails ? 1 : 0;
}
