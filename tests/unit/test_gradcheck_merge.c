/* Finite-difference check of the Merge recycling branch (mhim/ops/merge.h) at small shapes (dim 8, 2 heads of 3,
 * k = 2 queries): every input of Z — the masked rows Xm, LN_m, to_kv, to_q, to_out weight and bias — with dropout
 * masks on the attention matrix and the output, for M = 5 masked rows and for the empty key set M = 0 (zero
 * context: Z = Dropout(b_out), so only the to_out bias receives gradient). G is a constant here and must get no
 * gradient. Objective Σ Z·w with fixed random w, in double; eps 1e-3, tolerance 1e-2 (relative, floor 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/threads.h"
#include "mhim/ops/merge.h"

#define EPS 1e-3
#define TOL 1e-2
#define CHECKS 40

typedef struct {
    const mhim_merge *m;
    float *params, *xm, *w;
    int64_t M;
    const uint8_t *keep_att, *keep_out;
    mhim_arena *arena;
} ctx_t;

static double objective(void *p) {
    ctx_t *c = p;
    mhim_arena_reset(c->arena, 0);
    const int64_t kD = c->m->s.k * c->m->s.dim;
    float *z = mhim_arena_floats(c->arena, kD);
    mhim_merge_cache cache;
    mhim_merge_forward(&cache, c->arena, c->m, c->params, c->xm, c->M, c->keep_att, c->keep_out, 0.1f, z);
    return test_dot(z, c->w, kD);
}

static int check_case(int64_t M) {
    const mhim_merge_shape s = {8, 2, 3, 2};
    const int64_t D = s.dim, kD = s.k * D, hkm = s.heads * s.k * M;
    mhim_param_spec rows[MHIM_MERGE_SPEC_ROWS];
    mhim_merge_param_spec(&s, rows);
    mhim_param_layout L;
    mhim_merge m;
    if (mhim_param_layout_init(&L, rows, MHIM_MERGE_SPEC_ROWS) != MHIM_OK || mhim_merge_bind(&m, &s, &L) != MHIM_OK) {
        printf("FAIL layout: %s\n", mhim_error());
        return 1;
    }
    test_rng r = {0x3e76e + (uint64_t)M};
    float *params = mhim_params_alloc(&L), *grads = mhim_params_alloc(&L);
    mhim_merge_init_params(&m, params, 5, 0);
    test_fill_uniform(&r, params + m.norm_w, D, 0.5f, 1.5f); /* non-trivial LayerNorm affine and bias */
    test_fill_uniform(&r, params + m.norm_b, D, -0.3f, 0.3f);
    test_fill_uniform(&r, params + m.b_out, D, -0.3f, 0.3f);
    test_fill_uniform(&r, params + m.g, kD, -1.0f, 1.0f);
    float xm[5 * 8], dxm[5 * 8], w[2 * 8];
    uint8_t keep_att[2 * 2 * 5], keep_out[2 * 8];
    test_fill_uniform(&r, xm, M * D, -2.0f, 2.0f);
    test_fill_uniform(&r, w, kD, -1.0f, 1.0f);
    for (int64_t i = 0; i < hkm; i++) keep_att[i] = test_uniform(&r, 0, 1) > 0.2f;
    for (int64_t i = 0; i < kD; i++) keep_out[i] = test_uniform(&r, 0, 1) > 0.2f;
    mhim_arena arena;
    mhim_arena_init(&arena, "merge gradcheck", mhim_merge_arena_bytes(&s, M) + 4096);
    mhim_arena_set_poison(&arena, 1);
    ctx_t c = {&m, params, xm, w, M, keep_att, keep_out, &arena};

    mhim_arena_reset(&arena, 0);
    float *z = mhim_arena_floats(&arena, kD);
    mhim_merge_cache cache;
    mhim_merge_forward(&cache, &arena, &m, params, xm, M, keep_att, keep_out, 0.1f, z);
    mhim_merge_backward(&m, params, grads, dxm, w, 0.1f, &cache, &arena);
    char label[96];
    int fails = 0;
    if (M > 0) {
        snprintf(label, sizeof label, "M=%lld Xm", (long long)M);
        fails += gradcheck(label, xm, M * D, dxm, objective, &c, EPS, TOL, CHECKS);
    }
    for (int64_t t = 2; t < L.count; t++) {
        const mhim_param_entry *e = &L.entries[t];
        snprintf(label, sizeof label, "M=%lld %s", (long long)M, e->name);
        fails += gradcheck(label, params + e->offset, e->numel, grads + e->offset, objective, &c, EPS, TOL, CHECKS);
    }
    double g2 = 0.0;
    for (int64_t i = 0; i < kD; i++) g2 += (double)grads[m.g + i] * grads[m.g + i] + (double)grads[m.g_alias + i] * grads[m.g_alias + i];
    fails += check_true("the global queries receive no gradient", g2 == 0.0);
    mhim_arena_free(&arena);
    mhim_params_free(params), mhim_params_free(grads);
    mhim_param_layout_free(&L);
    return fails;
}

int main(void) {
    mhim_threads_init(1); /* tiny sizes: thread start-up would dominate the many evaluations */
    int fails = check_case(5) + check_case(0);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails != 0;
}
