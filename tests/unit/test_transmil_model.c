/* TransMIL model plumbing: parameter spec (keys, counts against the original module), binding errors,
 * initialisation statistics, input errors, train-mode dropout (determinism, mask rates, teacher == student), and
 * the arena size (linear in N; prints the bytes for a 100k-instance bag). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/models/transmil.h"
#include "mhim/ops/dropout.h"
#include "mhim/params.h"

typedef struct {
    mhim_transmil_config cfg;
    mhim_param_spec rows[MHIM_TRANSMIL_SPEC_ROWS];
    mhim_param_layout L;
    mhim_transmil m;
} model_t;

static void build(model_t *t, const mhim_transmil_config *cfg) {
    t->cfg = *cfg;
    mhim_transmil_param_spec(cfg, t->rows);
    MHIM_ASSERT(mhim_param_layout_init(&t->L, t->rows, MHIM_TRANSMIL_SPEC_ROWS) == MHIM_OK);
    MHIM_ASSERT(mhim_transmil_bind(&t->m, cfg, &t->L) == MHIM_OK);
}

static int test_spec(void) {
    int fails = 0;
    model_t a, b, c;
    mhim_transmil_config v1h8 = mhim_transmil_config_default(1, 1024, 2, 8, MHIM_ACT_RELU);
    mhim_transmil_config v1h2 = mhim_transmil_config_default(1, 1024, 2, 2, MHIM_ACT_RELU);
    mhim_transmil_config v2h8 = mhim_transmil_config_default(2, 768, 4, 8, MHIM_ACT_GELU);
    build(&a, &v1h8), build(&b, &v1h2), build(&c, &v2h8);
    /* counts of the original module's state_dict (v1 spec §3.3: 2,672,146 for H = 8) */
    printf("parameters: v1 H=8 %lld, v1 H=2 %lld, v2 H=8 D_in=768 C=4 %lld\n", (long long)a.L.numel,
           (long long)b.L.numel, (long long)c.L.numel);
    fails += check_true("v1 H=8 has 2,672,146 parameters", a.L.numel == 2672146);
    fails += check_true("v1 H=2 has 1,098,886 parameters", b.L.numel == 1098886);
    fails += check_true("v2 H=8 D_in=768 C=4 has 2,542,100 parameters", c.L.numel == 2542100);
    fails +=
        check_true("v1 keys start with patch_to_emb.0.weight", strcmp(a.rows[0].name, "patch_to_emb.0.weight") == 0);
    fails += check_true("v2 keys start with feature.0.weight", strcmp(c.rows[0].name, "feature.0.weight") == 0);
    fails += check_true("last key is predictor.bias",
                        strcmp(a.rows[MHIM_TRANSMIL_SPEC_ROWS - 1].name, "predictor.bias") == 0);
    const mhim_param_entry *res = mhim_param_find(&b.L, "online_encoder.layer2.attn.res_conv.weight");
    fails += check_true("res_conv weight is (H, 1, 33, 1)",
                        res && res->ndim == 4 && res->shape[0] == 2 && res->shape[2] == 33 && res->shape[3] == 1);

    /* a layout built for 8 heads does not bind with 2 heads; a layout missing a key names it */
    mhim_transmil m;
    fails += check_true("H=2 config on an H=8 layout is refused", mhim_transmil_bind(&m, &v1h2, &a.L) == MHIM_EINPUT);
    printf("  message: %s\n", mhim_error());
    fails += check_true("message names to_qkv", strstr(mhim_error(), "layer1.attn.to_qkv.weight") != NULL);
    mhim_param_layout short_L;
    MHIM_ASSERT(mhim_param_layout_init(&short_L, a.rows, MHIM_TRANSMIL_SPEC_ROWS - 1) == MHIM_OK);
    fails +=
        check_true("layout without predictor.bias is refused", mhim_transmil_bind(&m, &v1h8, &short_L) == MHIM_EINPUT);
    fails += check_true("message names predictor.bias", strstr(mhim_error(), "predictor.bias") != NULL);
    mhim_param_layout_free(&short_L);
    mhim_transmil_config bad = v1h8;
    bad.heads = 0;
    fails += check_true("heads = 0 is refused", mhim_transmil_config_check(&bad) == MHIM_EINPUT);
    bad = v1h8;
    bad.embed.version = 3;
    fails += check_true("version 3 is refused", mhim_transmil_config_check(&bad) == MHIM_EINPUT);
    mhim_param_layout_free(&a.L), mhim_param_layout_free(&b.L), mhim_param_layout_free(&c.L);
    return fails;
}

static void moments(const float *x, int64_t n, double *mean, double *std, double *absmax) {
    double s = 0, s2 = 0, mx = 0;
    for (int64_t i = 0; i < n; i++) s += x[i], s2 += (double)x[i] * x[i], mx = fabs(x[i]) > mx ? fabs(x[i]) : mx;
    *mean = s / (double)n, *std = sqrt(s2 / (double)n - *mean * *mean), *absmax = mx;
}

static int check_stat(const char *what, double got, double want, double tol) {
    char label[160];
    snprintf(label, sizeof label, "%s = %.4f (expected %.4f ± %.4f)", what, got, want, tol);
    return check_true(label, fabs(got - want) <= tol);
}

static int test_init(void) {
    model_t t;
    mhim_transmil_config cfg = mhim_transmil_config_default(1, 1024, 2, 8, MHIM_ACT_RELU);
    build(&t, &cfg);
    float *p = mhim_params_alloc(&t.L), *q = mhim_params_alloc(&t.L);
    mhim_transmil_init_params(&t.m, p, 2021);
    mhim_transmil_init_params(&t.m, q, 2021);
    int fails = check_true("same seed, same parameters", memcmp(p, q, (size_t)t.L.total * sizeof(float)) == 0);
    mhim_transmil_init_params(&t.m, q, 2022);
    fails += check_true("another seed, other parameters", memcmp(p, q, (size_t)t.L.total * sizeof(float)) != 0);
    double mean, std, mx;
    moments(p + t.m.cls_token, 512, &mean, &std, &mx);
    fails += check_stat("cls_token mean", mean, 0.0, 0.2) + check_stat("cls_token std", std, 1.0, 0.15);
    moments(p + t.m.layer[1].w_qkv, 1536 * 512, &mean, &std, &mx);
    fails += check_stat("layer2 to_qkv std (xavier)", std, sqrt(2.0 / (512 + 1536)), 0.002);
    moments(p + t.m.pred_w, 2 * 512, &mean, &std, &mx);
    fails += check_stat("predictor std (xavier)", std, sqrt(2.0 / 514), 0.01);
    moments(p + t.m.layer[0].w_res, 8 * 33, &mean, &std, &mx);
    fails += check_stat("res_conv |max| (U(±1/sqrt(33)))", mx, 1 / sqrt(33.0), 0.03);
    fails += check_true("res_conv within its bound", mx <= 1 / sqrt(33.0));
    moments(p + t.m.ppeg_w[0], 512 * 49, &mean, &std, &mx);
    fails += check_stat("PPEG 7x7 weight std (U(±1/7))", std, 1 / 7.0 / sqrt(3.0), 0.002);
    moments(p + t.m.ppeg_b[2], 512, &mean, &std, &mx);
    fails += check_true("PPEG 3x3 bias within ±1/3 and not zero", mx <= 1 / 3.0 && mx > 0.25);
    moments(p + t.m.layer[1].norm_w, 512, &mean, &std, &mx);
    fails += check_true("LayerNorm weight = 1", mean == 1.0 && std == 0.0);
    moments(p + t.m.layer[0].b_out, 512, &mean, &std, &mx);
    fails += check_true("to_out bias = 0", mx == 0.0);
    mhim_params_free(p), mhim_params_free(q);
    mhim_param_layout_free(&t.L);
    return fails;
}

/* Dropout and the teacher path at a tiny width (dim 16, 2 heads of 4, 4 landmarks) on N = 200 instances. */
static int test_dropout(void) {
    mhim_transmil_config cfg = mhim_transmil_config_default(2, 8, 2, 2, MHIM_ACT_RELU);
    cfg.embed.dim = 16, cfg.dim_head = 4, cfg.landmarks = 4;
    model_t t;
    build(&t, &cfg);
    float *p = mhim_params_alloc(&t.L);
    mhim_transmil_init_params(&t.m, p, 5);
    const int64_t N = 200, n = N + 1, D = 16;
    float *x = mhim_malloc((size_t)(N * 8) * sizeof(float));
    test_rng r = {.s = 99};
    test_fill_uniform(&r, x, N * 8, -1.0f, 1.0f);
    mhim_arena arena;
    const size_t bytes = mhim_transmil_arena_bytes(&cfg, N), tbytes = mhim_transmil_teacher_arena_bytes(&cfg, N);
    mhim_arena_init(&arena, "transmil dropout", bytes > tbytes ? bytes : tbytes);
    mhim_rng s1 = mhim_rng_stream(3, 0, 17, MHIM_RNG_DROPOUT, 0), s2 = mhim_rng_stream(3, 0, 18, MHIM_RNG_DROPOUT, 0);
    float l_eval[2], l_a[2], l_b[2], l_c[2], f_a[16], f_t[16], l_t[2];
    mhim_transmil_cache c;
    int fails = 0;
    MHIM_ASSERT(mhim_transmil_forward(&c, &arena, &t.m, p, x, N, NULL, N, NULL, l_eval, NULL) == MHIM_OK);
    fails += check_true("eval mode has no dropout masks", !c.embed.keep && !c.keep_attn[0] && !c.keep_attn[1]);
    mhim_arena_reset(&arena, 0);
    MHIM_ASSERT(mhim_transmil_forward(&c, &arena, &t.m, p, x, N, NULL, N, &s1, l_a, f_a) == MHIM_OK);
    /* mask rates: front end p = 0.25 on N·D values, to_out p = 0.1 on the n·D values of layer 1 and the D of layer
     * 2's cls row (the only row it computes) (5 sigma bounds) */
    int64_t kept[3] = {0, 0, 0};
    for (int64_t i = 0; i < N * D; i++) kept[0] += c.embed.keep[i];
    for (int l = 0; l < 2; l++)
        for (int64_t i = 0; i < mhim_transmil_branch_rows(l, n) * D; i++) kept[l + 1] += c.keep_attn[l][i];
    const double rate[3] = {0.75, 0.9, 0.9}, count[3] = {(double)(N * D), (double)(n * D), (double)D};
    const char *names[3] = {"front-end keep rate", "layer-1 to_out keep rate", "layer-2 to_out keep rate"};
    for (int k = 0; k < 3; k++)
        fails +=
            check_stat(names[k], (double)kept[k] / count[k], rate[k], 5 * sqrt(rate[k] * (1 - rate[k]) / count[k]));
    fails += check_true("the two layers draw different masks", memcmp(c.keep_attn[0], c.keep_attn[1], (size_t)D) != 0);
    /* layer 2's cls-row mask is the first D values of its band, as when every row was computed */
    uint8_t *band2 = mhim_malloc((size_t)(n * D));
    mhim_dropout_mask(band2, &s1, 2 * MHIM_TRANSMIL_DROPOUT_BAND, MHIM_TRANSMIL_ATTN_DROPOUT, n * D);
    fails += check_true("layer-2 mask = the first row of its band", memcmp(band2, c.keep_attn[1], (size_t)D) == 0);
    free(band2);
    mhim_arena_reset(&arena, 0);
    MHIM_ASSERT(mhim_transmil_forward(&c, &arena, &t.m, p, x, N, NULL, N, &s1, l_b, NULL) == MHIM_OK);
    fails += check_true("same stream, identical logits", memcmp(l_a, l_b, sizeof l_a) == 0);
    mhim_arena_reset(&arena, 0);
    MHIM_ASSERT(mhim_transmil_forward(&c, &arena, &t.m, p, x, N, NULL, N, &s2, l_c, NULL) == MHIM_OK);
    fails += check_true("another stream, other logits", memcmp(l_a, l_c, sizeof l_a) != 0);
    fails += check_true("train logits differ from eval", memcmp(l_a, l_eval, sizeof l_a) != 0);
    mhim_arena_reset(&arena, 0);
    mhim_transmil_teacher_out out = {.attn_layer = 0, .feat = f_t, .logits = l_t};
    MHIM_ASSERT(mhim_transmil_teacher_forward(&out, &arena, &t.m, p, x, N, NULL, N, &s1) == MHIM_OK);
    fails += check_true("teacher forward in train mode = student forward (same stream), bitwise",
                        memcmp(f_t, f_a, sizeof f_t) == 0 && memcmp(l_t, l_a, sizeof l_t) == 0);
    MHIM_ASSERT(mhim_transmil_teacher_forward(&out, &arena, &t.m, p, x, N, NULL, N, NULL) == MHIM_OK);
    fails +=
        check_true("teacher forward in eval mode = student forward, bitwise", memcmp(l_t, l_eval, sizeof l_t) == 0);

    /* input errors */
    fails +=
        check_true("no kept instance is refused", mhim_transmil_forward(&c, &arena, &t.m, p, x, N, (const int64_t[]){0},
                                                                        0, NULL, l_a, NULL) == MHIM_EINPUT);
    printf("  message: %s\n", mhim_error());
    out.attn_layer = 2;
    fails += check_true("attn_layer 2 is refused",
                        mhim_transmil_teacher_forward(&out, &arena, &t.m, p, x, N, NULL, N, NULL) == MHIM_EINPUT);
    printf("  message: %s\n", mhim_error());
    mhim_arena_free(&arena);
    free(x);
    mhim_params_free(p);
    mhim_param_layout_free(&t.L);
    return fails;
}

/* True when f(n) is affine in the padded length over three bags whose lengths are multiples of the 256 landmarks
 * (N = 256·k − 1 instances plus the cls token): the two slopes agree within 1% (allocation rounding) and the
 * intercept is not negative. */
static int arena_affine(const char *name, size_t (*f)(const mhim_transmil_config *, int64_t),
                        const mhim_transmil_config *cfg) {
    const int64_t n[3] = {10239, 56319, 102399};
    double b[3];
    for (int i = 0; i < 3; i++) b[i] = (double)f(cfg, n[i]);
    const double s1 = (b[1] - b[0]) / (double)(n[1] - n[0]), s2 = (b[2] - b[1]) / (double)(n[2] - n[1]);
    const double intercept = b[0] - s1 * (double)(n[0] + 1);
    printf("  %s: %.0f bytes per instance, intercept %.1f MiB\n", name, s2, intercept / 1048576.0);
    return check_true(name, s1 > 0 && fabs(s2 - s1) <= 0.01 * s1 && intercept >= 0);
}

static int test_arena_size(void) {
    int fails = 0;
    for (int64_t heads = 8; heads >= 2; heads -= 6) {
        mhim_transmil_config cfg = mhim_transmil_config_default(1, 1024, 2, heads, MHIM_ACT_RELU);
        const double gib = 1024.0 * 1024.0 * 1024.0;
        const size_t t100 = mhim_transmil_arena_bytes(&cfg, 102399);
        const size_t e100 = mhim_transmil_teacher_arena_bytes(&cfg, 102399);
        printf("H=%lld arena for N = 100k (102399): training step %.2f GiB (%.0f bytes per instance), "
               "teacher/predict %.2f GiB (%.0f bytes per instance)\n",
               (long long)heads, (double)t100 / gib, (double)t100 / 102399.0, (double)e100 / gib,
               (double)e100 / 102399.0);
        fails += arena_affine("training arena linear in N", mhim_transmil_arena_bytes, &cfg);
        fails += arena_affine("teacher arena linear in N", mhim_transmil_teacher_arena_bytes, &cfg);
        fails += check_true("teacher arena smaller than the training arena", e100 < t100);
    }
    return fails;
}

int main(void) {
    int fails = test_spec() + test_init() + test_dropout() + test_arena_size();
    printf("%d failure(s)\n", fails);
    return fails ? 1 : 0;
}
