/* GPU ABMIL network (mhim/cuda_model.h) vs the CPU model on the same parameters and bag, for every variant the CPU
 * model supports: plain and gated attention, front-end act relu/gelu, attention da_act relu/gelu/tanh, 2 and 3
 * classes (forward with and without dropout and a kept-index list, every gradient, predict map, teacher).
 * Skipped (77) without a GPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mhim/common.h"
#include "mhim/models/abmil.h"
#include "mhim/ops/linear.h"
#include "support/model_parity.h" /* relative: the host variant of this test has no cuda/support path */
#include "support/parity.h"

static mhim_abmil bound(const mhim_model *m) {
    const mhim_model_config *c = mhim_model_get_config(m);
    mhim_abmil a;
    mhim_abmil_config ac = {c->version, c->input_dim, c->n_classes, c->act, c->dropout, c->da_act, c->gated};
    MHIM_ASSERT(mhim_abmil_bind(&a, &ac, mhim_model_layout(m)) == MHIM_OK);
    return a;
}

/* Front-end pre-activations (all rows) and the attention network's pre-activations (kept rows, with dropout) when
 * the respective activation is ReLU. */
static double margin(const mhim_model *m, const float *params, const float *x, int64_t N, const int64_t *idx,
                     int64_t n, const mhim_rng *dropout) {
    const mhim_abmil a = bound(m);
    const int64_t D = a.cfg.input_dim, W = MHIM_EMBED_DIM, L = MHIM_ABMIL_HIDDEN;
    double best = INFINITY;
    float *pre = malloc((size_t)(N * W) * sizeof(float)), *hid = malloc((size_t)(N * L) * sizeof(float));
    if (a.cfg.act == MHIM_ACT_RELU) {
        mhim_linear_forward(pre, x, params + a.embed.weight, params + a.embed.bias, N, D, W);
        best = model_parity_min_abs(pre, N * W);
    }
    if (a.cfg.da_act == MHIM_ACT_RELU) {
        mhim_arena arena;
        mhim_arena_init(&arena, "margin", mhim_embed_arena_bytes(&a.embed.cfg, N));
        mhim_embed_cache ec;
        mhim_embed_forward(&ec, &arena, &a.embed, params, x, N, idx, n, dropout);
        mhim_linear_forward(hid, ec.h, params + (a.cfg.gated ? a.wa : a.w1), NULL, n, W, L);
        double h = model_parity_min_abs(hid, n * L);
        best = h < best ? h : best;
        mhim_arena_free(&arena);
    }
    free(pre);
    free(hid);
    return best;
}

static void teacher(const mhim_model *m, mhim_arena *arena, const float *params, const float *x, int64_t N,
                    const mhim_rng *dropout, float *feat, float *map) {
    const mhim_abmil a = bound(m);
    mhim_abmil_teacher_forward(feat, map, NULL, arena, &a, params, x, N, dropout);
}

static model_parity_case make(const char *name, int gated, mhim_act act, mhim_act da_act, int64_t C) {
    mhim_model_config mc = {.kind = MHIM_MODEL_ABMIL, .version = 1, .input_dim = 48, .n_classes = C, .act = act,
                            .dropout = 0.25f, .da_act = da_act, .gated = gated};
    return (model_parity_case){name, mc, 24, 17, margin, teacher};
}

int main(void) {
    mhim_cuda_ctx *ctx = NULL;
    int rc = parity_open(&ctx);
    if (rc) return rc;
    const model_parity_case cases[] = {
        make("ABMIL relu/relu", 0, MHIM_ACT_RELU, MHIM_ACT_RELU, 2),
        make("ABMIL gelu/gelu", 0, MHIM_ACT_GELU, MHIM_ACT_GELU, 2),
        make("ABMIL relu/tanh 3 classes", 0, MHIM_ACT_RELU, MHIM_ACT_TANH, 3),
        make("gated ABMIL relu/relu", 1, MHIM_ACT_RELU, MHIM_ACT_RELU, 2),
        make("gated ABMIL gelu/tanh 3 classes", 1, MHIM_ACT_GELU, MHIM_ACT_TANH, 3),
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) bad += model_parity_run(ctx, &cases[i], 100 + i);
    printf("arena peak %.1f MiB\n", (double)mhim_cuda_arena_peak(ctx) / (1024.0 * 1024.0));
    mhim_cuda_ctx_destroy(ctx);
    printf("%s: %d failing check(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad ? 1 : 0;
}
