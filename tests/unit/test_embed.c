/* The shared front end (mhim/models/embed.h): key names per version, binding errors, Xavier initialisation
 * statistics and determinism, eval mode = act(linear), train-mode dropout (deterministic per stream, rate and
 * scale), and the kept-rows forward equal to "embed every row, then gather" (masks drawn by original index). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/models/embed.h"
#include "mhim/ops/act.h"

#define N 64
#define D_IN 12

typedef struct {
    mhim_embed_config cfg;
    mhim_param_layout L;
    mhim_embed e;
    float *params;
} front;

static int front_init(front *f, int version, mhim_act act, float p) {
    f->cfg = (mhim_embed_config){D_IN, MHIM_EMBED_DIM, act, p, version};
    mhim_param_spec rows[MHIM_EMBED_SPEC_ROWS];
    mhim_embed_param_spec(&f->cfg, rows);
    if (mhim_param_layout_init(&f->L, rows, MHIM_EMBED_SPEC_ROWS) != MHIM_OK ||
        mhim_embed_bind(&f->e, &f->cfg, &f->L) != MHIM_OK) {
        printf("FAIL front end: %s\n", mhim_error());
        return 1;
    }
    f->params = mhim_params_alloc(&f->L);
    mhim_embed_init_params(&f->e, f->params, 42, 0);
    test_rng r = {9};
    test_fill_uniform(&r, f->params + f->e.bias, MHIM_EMBED_DIM, -0.2f, 0.2f);
    return 0;
}

static void front_free(front *f) {
    mhim_params_free(f->params);
    mhim_param_layout_free(&f->L);
}

static int test_keys_and_errors(void) {
    int fails = 0;
    mhim_embed_config v1 = {1024, MHIM_EMBED_DIM, MHIM_ACT_RELU, 0.25f, 1}, v2 = v1;
    v2.version = 2;
    mhim_param_spec a[2], b[2];
    mhim_embed_param_spec(&v1, a);
    mhim_embed_param_spec(&v2, b);
    fails += check_true("v1 keys patch_to_emb.0.*", !strcmp(a[0].name, "patch_to_emb.0.weight") &&
                                                      !strcmp(a[1].name, "patch_to_emb.0.bias"));
    fails += check_true("v2 keys feature.0.*", !strcmp(b[0].name, "feature.0.weight") &&
                                                 !strcmp(b[1].name, "feature.0.bias"));
    fails += check_true("weight shape (512, 1024)", a[0].ndim == 2 && a[0].shape[0] == 512 && a[0].shape[1] == 1024);

    /* bind against a layout of the other version / another input width */
    mhim_param_layout L;
    mhim_embed e;
    MHIM_ASSERT(mhim_param_layout_init(&L, a, 2) == MHIM_OK);
    int rc = mhim_embed_bind(&e, &v2, &L);
    printf("missing key: %s\n", mhim_error());
    fails += check_true("bind reports a missing key", rc == MHIM_EINPUT && strstr(mhim_error(), "feature.0.weight"));
    mhim_embed_config wide = v1;
    wide.input_dim = 768;
    rc = mhim_embed_bind(&e, &wide, &L);
    printf("wrong shape: %s\n", mhim_error());
    fails += check_true("bind reports a mis-shaped key",
                        rc == MHIM_EINPUT && strstr(mhim_error(), "(512, 1024)") && strstr(mhim_error(), "(512, 768)"));
    mhim_embed_config bad = v1;
    bad.dropout = 1.0f;
    fails += check_true("dropout 1 rejected", mhim_embed_config_check(&bad) == MHIM_EINPUT);
    bad = v1, bad.act = MHIM_ACT_TANH;
    fails += check_true("tanh front end rejected", mhim_embed_config_check(&bad) == MHIM_EINPUT);
    bad = v1, bad.version = 3;
    fails += check_true("version 3 rejected", mhim_embed_config_check(&bad) == MHIM_EINPUT);
    mhim_param_layout_free(&L);
    return fails;
}

static int test_init(void) {
    const int64_t out = 512, in = 1024, n = out * in;
    float *w = mhim_malloc((size_t)n * sizeof(float)), *w2 = mhim_malloc((size_t)n * sizeof(float));
    mhim_init_xavier_normal(w, out, in, 5, 0);
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++) sum += w[i], sq += (double)w[i] * w[i];
    double mean = sum / n, std = sqrt(sq / n - mean * mean), want = sqrt(2.0 / (double)(in + out));
    printf("xavier normal (512, 1024): mean %.2e std %.6f want %.6f\n", mean, std, want);
    int fails = check_true("xavier std within 1%", fabs(std / want - 1) < 0.01);
    fails += check_true("xavier mean ~ 0", fabs(mean) < 4 * want / sqrt((double)n));
    mhim_init_xavier_normal(w2, out, in, 5, 0);
    fails += check_true("same seed and tensor: same values", !memcmp(w, w2, (size_t)n * sizeof(float)));
    mhim_init_xavier_normal(w2, out, in, 5, 1);
    fails += check_true("another tensor index: other values", memcmp(w, w2, (size_t)n * sizeof(float)) != 0);
    mhim_init_uniform(w2, n, 0.25f, 5, 2);
    float lo = 1, hi = -1;
    for (int64_t i = 0; i < n; i++) lo = fminf(lo, w2[i]), hi = fmaxf(hi, w2[i]);
    fails += check_true("uniform init inside (-0.25, 0.25) and spread", lo >= -0.25f && hi < 0.25f && hi - lo > 0.49f);
    free(w), free(w2);
    return fails;
}

static float *bag(void) {
    float *x = mhim_malloc(N * D_IN * sizeof(float));
    test_rng r = {3};
    test_fill_uniform(&r, x, N * D_IN, -1.0f, 2.0f);
    return x;
}

static int test_eval_and_dropout(void) {
    int fails = 0;
    front f;
    if (front_init(&f, 1, MHIM_ACT_GELU, 0.25f)) return 1;
    float *x = bag();
    mhim_arena a;
    mhim_arena_init(&a, "embed test", 4 * mhim_embed_arena_bytes(&f.cfg, N));
    mhim_arena_set_poison(&a, 1);

    /* eval: h = gelu(x Wᵀ + b), computed here in double */
    mhim_embed_cache ev;
    mhim_embed_forward(&ev, &a, &f.e, f.params, x, N, NULL, N, NULL);
    float *want = mhim_malloc(N * MHIM_EMBED_DIM * sizeof(float));
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < MHIM_EMBED_DIM; j++) {
            double s = f.params[f.e.bias + j];
            for (int64_t k = 0; k < D_IN; k++) s += (double)x[i * D_IN + k] * f.params[f.e.weight + j * D_IN + k];
            want[i * MHIM_EMBED_DIM + j] = (float)(0.5 * s * (1 + erf(s / sqrt(2.0))));
        }
    fails += check_close("eval forward = gelu(x W^T + b)", ev.h, want, N * MHIM_EMBED_DIM, 1e-6, 1e-5);
    fails += check_true("eval keeps no dropout mask", ev.keep == NULL);

    /* train: deterministic per stream, rate p, kept values scaled by 1/(1-p) */
    mhim_rng s1 = mhim_rng_stream(11, 2, 7, MHIM_RNG_DROPOUT, 0), s2 = mhim_rng_stream(11, 2, 7, MHIM_RNG_DROPOUT, 1);
    mhim_embed_cache t1, t1b, t2;
    mhim_embed_forward(&t1, &a, &f.e, f.params, x, N, NULL, N, &s1);
    mhim_embed_forward(&t1b, &a, &f.e, f.params, x, N, NULL, N, &s1);
    mhim_embed_forward(&t2, &a, &f.e, f.params, x, N, NULL, N, &s2);
    const int64_t n = N * MHIM_EMBED_DIM;
    fails += check_true("same stream: same output", !memcmp(t1.h, t1b.h, (size_t)n * sizeof(float)));
    fails += check_true("other stream: other mask", memcmp(t1.keep, t2.keep, (size_t)n) != 0);
    int64_t dropped = 0, bad_scale = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!t1.keep[i]) {
            dropped++;
            bad_scale += t1.h[i] != 0.0f;
        } else {
            bad_scale += fabsf(t1.h[i] - ev.h[i] / 0.75f) > 1e-6f * (1 + fabsf(ev.h[i]));
        }
    }
    double rate = (double)dropped / n, sigma = sqrt(0.25 * 0.75 / n);
    printf("dropout rate %.4f (p 0.25, 4 sigma %.4f), mis-scaled elements %lld\n", rate, 4 * sigma,
           (long long)bad_scale);
    fails += check_true("dropout rate within 4 sigma of p", fabs(rate - 0.25) < 4 * sigma);
    fails += check_true("dropped = 0, kept = act / (1 - p)", bad_scale == 0);

    /* kept rows in any order = rows of the full train-mode forward (masks drawn by original row index) */
    const int64_t idx[] = {17, 3, 63, 0, 40, 41};
    const int64_t M = (int64_t)MHIM_ARRAY_LEN(idx);
    mhim_embed_cache km;
    mhim_embed_forward(&km, &a, &f.e, f.params, x, N, idx, M, &s1);
    float *rows = mhim_malloc((size_t)(M * MHIM_EMBED_DIM) * sizeof(float));
    int mask_same = 1;
    for (int64_t j = 0; j < M; j++) {
        memcpy(rows + j * MHIM_EMBED_DIM, t1.h + idx[j] * MHIM_EMBED_DIM, MHIM_EMBED_DIM * sizeof(float));
        mask_same &= !memcmp(km.keep + j * MHIM_EMBED_DIM, t1.keep + idx[j] * MHIM_EMBED_DIM, MHIM_EMBED_DIM);
    }
    fails += check_true("kept-row masks = masks of those rows in the full bag", mask_same);
    fails += check_close("kept-row forward = gather of the full forward", km.h, rows, M * MHIM_EMBED_DIM, 1e-6, 1e-6);

    free(rows), free(want), free(x);
    mhim_arena_free(&a);
    front_free(&f);
    return fails;
}

int main(void) {
    int fails = test_keys_and_errors() + test_init() + test_eval_and_dropout();
    printf("%s\n", fails ? "FAILED" : "all front-end checks passed");
    return fails ? 1 : 0;
}
