/* CPU model vs GPU network parity driver (see model_parity.h). */
#include "model_parity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/cuda_model.h"
#include "parity.h"

#define MAX_DRAWS 50
#define GRAD_RTOL 1e-3

double model_parity_min_abs(const float *v, int64_t n) {
    double best = INFINITY;
    for (int64_t i = 0; i < n; i++) best = fmin(best, fabs((double)v[i]));
    return best;
}

typedef struct {
    float *params, *x, *grads0, *d_logits, *d_max, *d_feat;
    int64_t *idx;
} inputs;

/* One draw of every input; idx = the first `kept` of a shuffled 0..N-1. */
static void draw(inputs *in, const mhim_model *m, const model_parity_case *c, test_rng *rng, uint64_t seed) {
    const int64_t P = mhim_model_layout(m)->total, C = c->mc.n_classes, F = mhim_model_feat_size(m);
    mhim_model_init_params(m, in->params, seed);
    for (int64_t i = 0; i < P; i++) in->params[i] += test_uniform(rng, -0.02f, 0.02f);
    test_fill_uniform(rng, in->x, c->N * c->mc.input_dim, -1, 1);
    test_fill_uniform(rng, in->grads0, P, -0.01f, 0.01f);
    test_fill_uniform(rng, in->d_logits, C, -1, 1);
    test_fill_uniform(rng, in->d_max, C, -1, 1);
    test_fill_uniform(rng, in->d_feat, F, -0.05f, 0.05f);
    for (int64_t i = 0; i < c->N; i++) in->idx[i] = i;
    for (int64_t i = c->N - 1; i > 0; i--) {
        int64_t j = (int64_t)(test_uniform(rng, 0, 1) * (float)(i + 1));
        if (j > i) j = i;
        int64_t t = in->idx[i];
        in->idx[i] = in->idx[j];
        in->idx[j] = t;
    }
}

/* Forward + backward on both sides for rows idx[0..n) (NULL: all) with dropout (NULL: eval); compares logits,
 * max logits (DSMIL), feature and every parameter gradient. */
static int compare_step(mhim_cuda_ctx *ctx, mhim_model *m, mhim_cuda_net *net, mhim_arena *arena, const inputs *in,
                        const float *params_d, const float *x_d, const int64_t *idx_d, const int64_t *idx, int64_t n,
                        const mhim_rng *dropout, const char *mode, int64_t N) {
    const mhim_param_layout *L = mhim_model_layout(m);
    const int64_t P = L->total, C = mhim_model_get_config(m)->n_classes, F = mhim_model_feat_size(m);
    const int dsmil = mhim_model_get_config(m)->kind == MHIM_MODEL_DSMIL;
    float *logits = parity_zeros(C), *max_logits = parity_zeros(C), *feat = parity_zeros(F);
    float *grads = parity_copy(in->grads0, P);
    mhim_model_out out = {logits, max_logits, feat};
    if (mhim_model_forward(m, arena, in->params, in->x, N, idx, n, dropout, &out) != MHIM_OK) {
        printf("FAIL %s: CPU forward: %s\n", mode, mhim_error());
        return 1;
    }
    mhim_model_backward(m, arena, in->params, grads, in->d_logits, dsmil ? in->d_max : NULL, in->d_feat);
    mhim_arena_reset(arena, 0);

    const size_t mark = mhim_cuda_mark(ctx);
    float *logits_d = mhim_cuda_floats(ctx, C), *max_d = mhim_cuda_floats(ctx, C), *feat_d = mhim_cuda_floats(ctx, F);
    float *grads_d = parity_up(ctx, in->grads0, P), *dl_d = parity_up(ctx, in->d_logits, C);
    float *dm_d = parity_up(ctx, in->d_max, C), *df_d = parity_up(ctx, in->d_feat, F);
    const size_t step_mark = mhim_cuda_mark(ctx);
    if (mhim_cuda_net_forward(net, ctx, params_d, x_d, N, idx_d, n, dropout, logits_d, max_d, feat_d) != MHIM_OK) {
        printf("FAIL %s: GPU forward: %s\n", mode, mhim_error());
        return 1;
    }
    mhim_cuda_net_backward(net, ctx, params_d, grads_d, dl_d, dsmil ? dm_d : NULL, df_d);
    /* the blocks of the forward and backward are all still held here: they must fit the arena the engine reserves */
    const size_t used = mhim_cuda_mark(ctx) - step_mark, budget = mhim_cuda_net_arena_bytes(net, N);
    const int fits = used <= budget;
    printf("%s %s arena: %zu bytes used, arena_bytes(N) = %zu\n", fits ? "ok  " : "FAIL", mode, used, budget);
    int bad = !fits;
    mhim_cuda_reset(ctx, step_mark);
    char name[256];
    snprintf(name, sizeof name, "%s logits", mode);
    bad += parity_check(ctx, name, logits_d, logits, C, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    if (dsmil) {
        snprintf(name, sizeof name, "%s max logits", mode);
        bad += parity_check(ctx, name, max_d, max_logits, C, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    }
    snprintf(name, sizeof name, "%s bag feature", mode);
    bad += parity_check(ctx, name, feat_d, feat, F, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    for (int64_t t = 0; t < L->count; t++) {
        const mhim_param_entry *e = &L->entries[t];
        snprintf(name, sizeof name, "%s grad %s", mode, e->name);
        bad += parity_check(ctx, name, grads_d + e->offset, grads + e->offset, e->numel, TOL_GEMM_ATOL, GRAD_RTOL);
    }
    mhim_cuda_reset(ctx, mark);
    free(logits), free(max_logits), free(feat), free(grads);
    return bad;
}

int model_parity_run(mhim_cuda_ctx *ctx, const model_parity_case *c, uint64_t seed) {
    mhim_model *m = NULL;
    mhim_cuda_net *net = NULL;
    printf("== %s (N=%lld, kept=%lld, C=%lld)\n", c->name, (long long)c->N, (long long)c->kept,
           (long long)c->mc.n_classes);
    if (mhim_model_create(&m, &c->mc) != MHIM_OK || mhim_cuda_net_create(&net, m) != MHIM_OK) {
        printf("FAIL %s: %s\n", c->name, mhim_error());
        return 1;
    }
    const int64_t P = mhim_model_layout(m)->total, C = c->mc.n_classes, F = mhim_model_feat_size(m), N = c->N;
    inputs in = {parity_zeros(P), parity_zeros(N * c->mc.input_dim), parity_zeros(P), parity_zeros(C),
                 parity_zeros(C), parity_zeros(F), mhim_malloc((size_t)N * sizeof(int64_t))};
    const mhim_rng drop = mhim_rng_stream(seed, 3, 17, MHIM_RNG_DROPOUT, 0);
    test_rng rng = {seed};
    double margin = 0;
    int draws = 0;
    while (draws < MAX_DRAWS && !(margin > PARITY_RELU_MARGIN)) {
        draw(&in, m, c, &rng, seed + (uint64_t)draws);
        draws++;
        margin = fmin(c->margin(m, in.params, in.x, N, in.idx, c->kept, &drop),
                      fmin(c->margin(m, in.params, in.x, N, NULL, N, NULL), c->margin(m, in.params, in.x, N, NULL, N, &drop)));
    }
    printf("inputs drawn %d time(s); smallest ReLU input / arg-max gap %.3g\n", draws, margin);
    if (!(margin > PARITY_RELU_MARGIN)) {
        printf("FAIL %s: no draw without a ReLU input near 0 in %d tries (make the case smaller)\n", c->name, draws);
        return 1;
    }
    mhim_arena arena;
    size_t bytes = mhim_model_train_arena_bytes(m, N);
    if (mhim_model_predict_arena_bytes(m, N) > bytes) bytes = mhim_model_predict_arena_bytes(m, N);
    mhim_arena_init(&arena, "parity", bytes);
    const size_t mark = mhim_cuda_mark(ctx);
    const float *params_d = parity_up(ctx, in.params, P), *x_d = parity_up(ctx, in.x, N * c->mc.input_dim);
    const int64_t *idx_d = parity_up_i64(ctx, in.idx, c->kept);
    int bad = compare_step(ctx, m, net, &arena, &in, params_d, x_d, idx_d, in.idx, c->kept, &drop, "train kept", N);
    bad += compare_step(ctx, m, net, &arena, &in, params_d, x_d, NULL, NULL, N, NULL, "eval all", N);

    /* evaluation predict: logits, max logits, feature, map */
    float *logits = parity_zeros(C), *max_logits = parity_zeros(C), *feat = parity_zeros(F), *map = parity_zeros(N);
    mhim_model_out out = {logits, max_logits, feat};
    if (mhim_model_predict(m, &arena, in.params, in.x, N, &out, map) != MHIM_OK) {
        printf("FAIL predict: %s\n", mhim_error());
        return bad + 1;
    }
    float *logits_d = mhim_cuda_floats(ctx, C), *max_d = mhim_cuda_floats(ctx, C), *feat_d = mhim_cuda_floats(ctx, F);
    float *map_d = mhim_cuda_floats(ctx, N);
    if (mhim_cuda_net_predict(net, ctx, params_d, x_d, N, NULL, 0, logits_d, max_d, feat_d, map_d) != MHIM_OK) {
        printf("FAIL GPU predict: %s\n", mhim_error());
        return bad + 1;
    }
    bad += parity_check(ctx, "predict logits", logits_d, logits, C, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    if (c->mc.kind == MHIM_MODEL_DSMIL)
        bad += parity_check(ctx, "predict max logits", max_d, max_logits, C, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    bad += parity_check(ctx, "predict bag feature", feat_d, feat, F, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    bad += parity_check(ctx, "predict map", map_d, map, N, TOL_GEMM_ATOL, TOL_GEMM_RTOL);

    /* teacher in train mode: feature and map with dropout on */
    c->teacher(m, &arena, in.params, in.x, N, &drop, feat, map);
    if (mhim_cuda_net_predict(net, ctx, params_d, x_d, N, &drop, 0, NULL, NULL, feat_d, map_d) != MHIM_OK) {
        printf("FAIL GPU teacher predict: %s\n", mhim_error());
        return bad + 1;
    }
    bad += parity_check(ctx, "teacher (dropout) bag feature", feat_d, feat, F, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    bad += parity_check(ctx, "teacher (dropout) map", map_d, map, N, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    mhim_cuda_reset(ctx, mark);
    mhim_arena_free(&arena);
    mhim_cuda_net_free(net);
    mhim_model_free(m);
    free(in.params), free(in.x), free(in.grads0), free(in.d_logits), free(in.d_max), free(in.d_feat), free(in.idx);
    free(logits), free(max_logits), free(feat), free(map);
    return bad;
}
