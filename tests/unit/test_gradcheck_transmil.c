/* Finite-difference check of the assembled TransMIL model (mhim_transmil_forward / _backward) at a tiny width
 * (input_dim 6, dim 16, 2 heads of 4, 4 landmarks, 3 classes, GELU front end so the objective is smooth), in eval
 * mode and in train mode (fixed dropout masks from one stream), for N in {1, 3, 9, 20} (kept list scrambled for
 * N = 9: 7 of 9 kept). Objective Σ logits·w_l + Σ feat·w_f in double; every parameter tensor is checked on up to
 * 24 entries. Central differences with eps 3e-3, tolerance 1e-2 relative to max(1, |fd|, |analytic|) (observed
 * worst 1.2e-4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/models/transmil.h"
#include "mhim/params.h"

#define EPS 3e-3
#define TOL 1e-2
#define CHECKS 24

typedef struct {
    const mhim_transmil *m;
    float *params;
    const float *x;
    int64_t N, n_keep;
    const int64_t *keep;
    const mhim_rng *stream;
    mhim_arena *arena;
    float w_logits[3], w_feat[16];
} ctx_t;

static double objective(void *p) {
    ctx_t *c = p;
    float logits[3], feat[16];
    mhim_transmil_cache cache;
    mhim_arena_reset(c->arena, 0);
    MHIM_ASSERT(mhim_transmil_forward(&cache, c->arena, c->m, c->params, c->x, c->N, c->keep, c->n_keep, c->stream,
                                      logits, feat) == MHIM_OK);
    return test_dot(logits, c->w_logits, 3) + test_dot(feat, c->w_feat, 16);
}

static int run(int64_t N, const int64_t *keep, int64_t n_keep, int train) {
    mhim_transmil_config cfg = mhim_transmil_config_default(1, 6, 3, 2, MHIM_ACT_GELU);
    cfg.embed.dim = 16, cfg.dim_head = 4, cfg.landmarks = 4;
    mhim_param_spec rows[MHIM_TRANSMIL_SPEC_ROWS];
    mhim_transmil_param_spec(&cfg, rows);
    mhim_param_layout L;
    mhim_transmil m;
    MHIM_ASSERT(mhim_param_layout_init(&L, rows, MHIM_TRANSMIL_SPEC_ROWS) == MHIM_OK);
    MHIM_ASSERT(mhim_transmil_bind(&m, &cfg, &L) == MHIM_OK);
    float *params = mhim_params_alloc(&L), *grads = mhim_params_alloc(&L);
    test_rng r = {.s = 1234 + (uint64_t)N};
    /* random values everywhere (biases and LayerNorm parameters included, to exercise every gradient path) */
    for (int64_t t = 0; t < L.count; t++)
        test_fill_uniform(&r, params + L.entries[t].offset, L.entries[t].numel, -0.5f, 0.5f);
    float *x = mhim_malloc((size_t)(N * 6) * sizeof(float));
    test_fill_uniform(&r, x, N * 6, -1.0f, 1.0f);
    mhim_rng stream = mhim_rng_stream(7, 1, (uint32_t)N, MHIM_RNG_DROPOUT, 0);
    mhim_arena arena;
    mhim_arena_init(&arena, "transmil gradcheck", mhim_transmil_arena_bytes(&cfg, n_keep));
    ctx_t c = {.m = &m,
               .params = params,
               .x = x,
               .N = N,
               .n_keep = n_keep,
               .keep = keep,
               .stream = train ? &stream : NULL,
               .arena = &arena};
    test_fill_uniform(&r, c.w_logits, 3, -1.0f, 1.0f);
    test_fill_uniform(&r, c.w_feat, 16, -1.0f, 1.0f);

    float logits[3], feat[16];
    mhim_transmil_cache cache;
    MHIM_ASSERT(mhim_transmil_forward(&cache, &arena, &m, params, x, N, keep, n_keep, c.stream, logits, feat) ==
                MHIM_OK);
    mhim_transmil_backward(&m, grads, params, &cache, &arena, c.w_logits, c.w_feat);
    int fails = 0;
    for (int64_t t = 0; t < L.count; t++) {
        const mhim_param_entry *e = &L.entries[t];
        char name[160];
        snprintf(name, sizeof name, "N=%lld %s %s", (long long)N, train ? "train" : "eval", e->name);
        fails += gradcheck(name, params + e->offset, e->numel, grads + e->offset, objective, &c, EPS, TOL, CHECKS);
    }
    mhim_arena_free(&arena);
    free(x);
    mhim_params_free(params), mhim_params_free(grads);
    mhim_param_layout_free(&L);
    return fails;
}

int main(void) {
    static const int64_t keep9[7] = {4, 0, 8, 2, 7, 1, 5};
    int fails = 0;
    for (int train = 0; train < 2; train++) {
        fails += run(1, NULL, 1, train);
        fails += run(3, NULL, 3, train);
        fails += run(9, keep9, 7, train);
        fails += run(20, NULL, 20, train);
    }
    printf("%d failure(s)\n", fails);
    return fails ? 1 : 0;
}
