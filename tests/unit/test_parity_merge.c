/* PyTorch parity of the Merge recycling branch (mhim/ops/merge.h) against tests/fixtures/v2/merge_op.h5
 * (tests/pytorch/gen_v2_fixtures.py): MCA of k = 3 global queries over M = 7 masked rows with explicit dropout
 * masks on the attention matrix and on the output, the in-place EMA of G (merge_mm 0.9) done BEFORE the backward
 * as the original does (the LayerNorm weight gradient of the query path then sees the updated G, spec Q4), and
 * every gradient of Σ Z·dZ (rows, LN_m, to_kv, to_q, to_out; none for G).
 * Tolerances (float32 vs float64): forward 5e-6 + 1e-4 rel; gradients 1e-5 + 1e-3 rel; projections 2e-5·||t||. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "digest.h"
#include "fixture.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/ops/merge.h"
#include "mhim/optim.h"
#include "test_v2_fixture_util.h"

#define FWD_ATOL 5e-6
#define FWD_RTOL 1e-4
#define BWD_ATOL 1e-5
#define BWD_RTOL 1e-3
#define PROJ_TOL 2e-5

int main(void) {
    const char *path = "fixtures/v2/merge_op.h5";
    fixture *f = fixture_open(path);
    if (!f) return 1;
    const int64_t k = (int64_t)fixture_scalar(f, "k"), M = (int64_t)fixture_scalar(f, "M"), D = 512;
    const uint64_t seed = (uint64_t)fixture_scalar(f, "seed");
    const double mm = fixture_scalar(f, "merge_mm");
    mhim_merge_shape s = mhim_merge_shape_default(k);
    mhim_param_spec rows[MHIM_MERGE_SPEC_ROWS];
    mhim_merge_param_spec(&s, rows);
    mhim_param_layout L;
    mhim_merge m;
    if (mhim_param_layout_init(&L, rows, MHIM_MERGE_SPEC_ROWS) != MHIM_OK || mhim_merge_bind(&m, &s, &L) != MHIM_OK) {
        printf("FAIL merge layout: %s\n", mhim_error());
        return 1;
    }
    float *params = mhim_params_alloc(&L), *grads = mhim_params_alloc(&L);
    int fails = v2_load_params(f, "merge", &L, params, seed);
    float *xm = mhim_malloc((size_t)(M * D) * sizeof(float));
    digest_hash_fill(xm, M * D, seed, DIGEST_X_STREAM, 0.0, (int)fixture_scalar(f, "x_exp"));
    int64_t n_att = 0, n_out = 0;
    const int64_t *att64 = fixture_i64(f, "inputs/keep_att", &n_att), *out64 = fixture_i64(f, "inputs/keep_out", &n_out);
    const float *dz = fixture_f32_n(f, "inputs/dz", k * D);
    if (!att64 || !out64 || !dz || n_att != s.heads * k * M || n_out != k * D) {
        printf("FAIL merge fixture inputs\n");
        return 1;
    }
    uint8_t *keep_att = mhim_malloc((size_t)n_att), *keep_out = mhim_malloc((size_t)n_out);
    for (int64_t i = 0; i < n_att; i++) keep_att[i] = (uint8_t)att64[i];
    for (int64_t i = 0; i < n_out; i++) keep_out[i] = (uint8_t)out64[i];

    mhim_arena arena;
    mhim_arena_init(&arena, "merge parity", mhim_merge_arena_bytes(&s, M));
    mhim_arena_set_poison(&arena, 1);
    mhim_merge_cache c;
    float *z = mhim_malloc((size_t)(k * D) * sizeof(float)), *dxm = mhim_malloc((size_t)(M * D) * sizeof(float));
    mhim_merge_forward(&c, &arena, &m, params, xm, M, keep_att, keep_out, 0.1f, z);
    fails += digest_check(f, "merge", "outputs/z", z, k * D, FWD_ATOL, FWD_RTOL, PROJ_TOL);
    mhim_ema_update(params + m.g, z, k * D, mm);
    fails += digest_check(f, "merge", "outputs/g_after", params + m.g, k * D, FWD_ATOL, FWD_RTOL, PROJ_TOL);
    mhim_merge_backward(&m, params, grads, dxm, dz, 0.1f, &c, &arena);
    fails += digest_check(f, "merge", "outputs/dxm", dxm, M * D, BWD_ATOL, BWD_RTOL, PROJ_TOL);
    fails += v2_check_grads(f, "merge", &L, grads, BWD_ATOL, BWD_RTOL, PROJ_TOL);

    mhim_arena_free(&arena);
    free(z), free(dxm), free(xm), free(keep_att), free(keep_out);
    mhim_params_free(params), mhim_params_free(grads);
    mhim_param_layout_free(&L);
    fixture_close(f);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails != 0;
}
