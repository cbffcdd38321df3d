/* GPU DSMIL network (mhim/cuda_model.h) vs the CPU model on the same parameters and bag: front-end act relu/gelu,
 * 2 and 3 classes (forward with and without dropout and a kept-index list, bag and max-instance logits, every
 * gradient, predict map, teacher). Skipped (77) without a GPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mhim/common.h"
#include "mhim/models/dsmil.h"
#include "mhim/ops/linear.h"
#include "support/model_parity.h" /* relative: the host variant of this test has no cuda/support path */
#include "support/parity.h"

static mhim_dsmil bound(const mhim_model *m) {
    const mhim_model_config *c = mhim_model_get_config(m);
    mhim_dsmil d;
    mhim_dsmil_config dc = {c->version, c->input_dim, c->n_classes, c->act, c->dropout, MHIM_DSMIL_SCORE_INSTANCE};
    MHIM_ASSERT(mhim_dsmil_bind(&d, &dc, mhim_model_layout(m)) == MHIM_OK);
    return d;
}

/* Smallest gap between the largest and second largest instance logit of each class (the critical instance). */
static double argmax_gap(const float *inst, int64_t n, int64_t C) {
    double best = INFINITY;
    for (int64_t c = 0; c < C && n > 1; c++) {
        double top = -INFINITY, second = -INFINITY;
        for (int64_t i = 0; i < n; i++) {
            double v = inst[i * C + c];
            if (v > top) second = top, top = v;
            else if (v > second) second = v;
        }
        best = fmin(best, top - second);
    }
    return best;
}

/* Front-end pre-activations (ReLU only), and on the kept rows with dropout the v and q hidden pre-activations (always
 * ReLU) and the critical-instance gaps. */
static double margin(const mhim_model *m, const float *params, const float *x, int64_t N, const int64_t *idx,
                     int64_t n, const mhim_rng *dropout) {
    const mhim_dsmil d = bound(m);
    const int64_t D = d.cfg.input_dim, W = MHIM_EMBED_DIM, Q = MHIM_DSMIL_QDIM, C = d.cfg.n_classes;
    double best = INFINITY;
    float *buf = malloc((size_t)(N * W) * sizeof(float));
    if (d.cfg.act == MHIM_ACT_RELU) {
        mhim_linear_forward(buf, x, params + d.embed.weight, params + d.embed.bias, N, D, W);
        best = model_parity_min_abs(buf, N * W);
    }
    mhim_arena arena;
    mhim_arena_init(&arena, "margin", mhim_embed_arena_bytes(&d.embed.cfg, N));
    mhim_embed_cache ec;
    mhim_embed_forward(&ec, &arena, &d.embed, params, x, N, idx, n, dropout);
    mhim_linear_forward(buf, ec.h, params + d.w_v, params + d.b_v, n, W, W);
    best = fmin(best, model_parity_min_abs(buf, n * W));
    mhim_linear_forward(buf, ec.h, params + d.w_q1, params + d.b_q1, n, W, Q);
    best = fmin(best, model_parity_min_abs(buf, n * Q));
    mhim_linear_forward(buf, ec.h, params + d.w_i, params + d.b_i, n, W, C);
    best = fmin(best, argmax_gap(buf, n, C));
    mhim_arena_free(&arena);
    free(buf);
    return best;
}

static void teacher(const mhim_model *m, mhim_arena *arena, const float *params, const float *x, int64_t N,
                    const mhim_rng *dropout, float *feat, float *map) {
    const mhim_dsmil d = bound(m);
    mhim_dsmil_teacher_forward(feat, map, arena, &d, params, x, N, dropout);
}

static model_parity_case make(const char *name, mhim_act act, int64_t C) {
    mhim_model_config mc = {.kind = MHIM_MODEL_DSMIL, .version = 1, .input_dim = 40, .n_classes = C, .act = act,
                            .dropout = 0.25f, .da_act = MHIM_ACT_RELU};
    return (model_parity_case){name, mc, 20, 14, margin, teacher};
}

int main(void) {
    mhim_cuda_ctx *ctx = NULL;
    int rc = parity_open(&ctx);
    if (rc) return rc;
    const model_parity_case cases[] = {make("DSMIL relu", MHIM_ACT_RELU, 2), make("DSMIL gelu 3 classes", MHIM_ACT_GELU, 3)};
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) bad += model_parity_run(ctx, &cases[i], 200 + i);
    printf("arena peak %.1f MiB\n", (double)mhim_cuda_arena_peak(ctx) / (1024.0 * 1024.0));
    mhim_cuda_ctx_destroy(ctx);
    printf("%s: %d failing check(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad ? 1 : 0;
}
