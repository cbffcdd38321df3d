/* Finite-difference check of the assembled ABMIL model (front end + DAttention or the gated variant + predictor):
 * every parameter tensor, at N = 6 instances, D_in = 5, with train-mode dropout (the mask is a pure function of the
 * stream, so it is the same in every evaluation) and with a masked, unordered subset of rows. Objective
 * Σ logits·w_l + Σ z·w_z with fixed random w, in double. Activations are GELU/tanh (smooth) so that central
 * differences are meaningful at float32; ReLU's backward is covered by the op tests and the PyTorch parity.
 *
 * Each tensor is checked on an objective scaled by 1/max|analytic gradient| of that tensor, so the comparison is
 * relative to the tensor's own gradient size (the check helper compares at an absolute floor of 1).
 * eps = 1e-2, tolerance 1e-2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/threads.h"
#include "mhim/models/abmil.h"

#define EPS 1e-2
#define TOL 1e-2
#define CHECKS 24

typedef struct {
    const mhim_abmil *m;
    float *params;
    const float *x;
    int64_t N, n;
    const int64_t *idx;
    const mhim_rng *dropout;
    const float *w_logits, *w_z;
    mhim_arena *arena;
    double scale;
} ctx_t;

static double objective(void *p) {
    ctx_t *c = p;
    mhim_arena_reset(c->arena, 0);
    mhim_abmil_cache cache;
    mhim_abmil_forward(&cache, c->arena, c->m, c->params, c->x, c->N, c->idx, c->n, c->dropout);
    return c->scale * (test_dot(cache.logits, c->w_logits, c->m->cfg.n_classes) +
                       test_dot(cache.z, c->w_z, MHIM_EMBED_DIM));
}

static int check_model(const char *label, const mhim_abmil_config *cfg, const int64_t *idx, int64_t n,
                       int with_dropout) {
    const int64_t N = 6, C = cfg->n_classes;
    mhim_param_layout L;
    mhim_abmil m;
    if (mhim_abmil_layout(&L, cfg) != MHIM_OK || mhim_abmil_bind(&m, cfg, &L) != MHIM_OK) {
        printf("FAIL %s: %s\n", label, mhim_error());
        return 1;
    }
    test_rng r = {0x5eed + (uint64_t)n};
    float *params = mhim_params_alloc(&L), *grads = mhim_params_alloc(&L);
    mhim_abmil_init_params(&m, params, 7);
    /* non-zero biases, so that every path carries gradient */
    test_fill_uniform(&r, params + m.embed.bias, MHIM_EMBED_DIM, -0.1f, 0.1f);
    test_fill_uniform(&r, params + m.pred_b, C, -0.1f, 0.1f);
    /* larger attention weights: a peaked attention and gate gradients well above the float32 noise floor */
    const int64_t attn_tensors[] = {m.w1, m.w2, m.wa, m.wb, m.wc};
    for (size_t t = 0; t < MHIM_ARRAY_LEN(attn_tensors); t++) {
        if (attn_tensors[t] < 0) continue;
        int64_t count = attn_tensors[t] == m.w2 || attn_tensors[t] == m.wc ? MHIM_ABMIL_HIDDEN
                                                                            : MHIM_ABMIL_HIDDEN * MHIM_EMBED_DIM;
        for (int64_t k = 0; k < count; k++) params[attn_tensors[t] + k] *= 4.0f;
    }
    float *x = mhim_malloc((size_t)(N * cfg->input_dim) * sizeof(float));
    test_fill_uniform(&r, x, N * cfg->input_dim, -1.0f, 2.0f);
    float w_logits[8], w_z[MHIM_EMBED_DIM];
    test_fill_uniform(&r, w_logits, C, -1.0f, 1.0f);
    test_fill_uniform(&r, w_z, MHIM_EMBED_DIM, -1.0f, 1.0f);
    mhim_rng dropout = mhim_rng_stream(3, 0, 1, MHIM_RNG_DROPOUT, 0);
    mhim_arena arena;
    mhim_arena_init(&arena, "abmil gradcheck", mhim_abmil_arena_bytes(cfg, N));
    mhim_arena_set_poison(&arena, 1);

    ctx_t c = {&m, params, x, N, n, idx, with_dropout ? &dropout : NULL, w_logits, w_z, &arena, 1.0};
    mhim_abmil_cache cache;
    mhim_abmil_forward(&cache, &arena, &m, params, x, N, idx, n, c.dropout);
    mhim_abmil_backward(&m, params, grads, w_logits, w_z, &cache, &arena);

    int fails = 0;
    for (int64_t t = 0; t < L.count; t++) {
        const mhim_param_entry *e = &L.entries[t];
        double top = 0;
        for (int64_t k = 0; k < e->numel; k++) top = fmax(top, fabs(grads[e->offset + k]));
        char name[160];
        snprintf(name, sizeof name, "%s %s (max |grad| %.2e)", label, e->name, top);
        if (top == 0) {
            fails += check_true(name, 0); /* every tensor of the model carries gradient here */
            continue;
        }
        float *scaled = mhim_malloc((size_t)e->numel * sizeof(float));
        for (int64_t k = 0; k < e->numel; k++) scaled[k] = (float)(grads[e->offset + k] / top);
        c.scale = 1.0 / top;
        fails += gradcheck(name, params + e->offset, e->numel, scaled, objective, &c, EPS, TOL, CHECKS);
        free(scaled);
    }
    mhim_arena_free(&arena);
    free(x);
    mhim_params_free(params), mhim_params_free(grads);
    mhim_param_layout_free(&L);
    return fails;
}

int main(void) {
    mhim_threads_init(1); /* tiny sizes: thread start-up would dominate the thousands of evaluations */
    const int64_t kept[] = {4, 0, 5, 2};
    mhim_abmil_config plain = {.version = 1, .input_dim = 5, .n_classes = 3, .act = MHIM_ACT_GELU,
                               .dropout = 0.25f, .da_act = MHIM_ACT_TANH, .gated = 0};
    mhim_abmil_config gated = plain;
    gated.version = 2, gated.gated = 1, gated.da_act = MHIM_ACT_GELU, gated.n_classes = 2;
    int fails = 0;
    fails += check_model("plain all rows eval", &plain, NULL, 6, 0);
    fails += check_model("plain kept rows dropout", &plain, kept, 4, 1);
    fails += check_model("gated all rows dropout", &gated, NULL, 6, 1);
    fails += check_model("gated kept rows eval", &gated, kept, 4, 0);
    printf("%s\n", fails ? "FAILED" : "all ABMIL gradient checks passed");
    return fails ? 1 : 0;
}
