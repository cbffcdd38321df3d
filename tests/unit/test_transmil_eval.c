/* The row-blocked TransMIL evaluation forward (mhim_transmil_eval_forward) against the caching forwards in eval
 * mode: logits and bag feature against the student forward, attention of both layers, layer-1 values and v2 scores
 * against the teacher forward, on bags that span several 1024-row blocks (unmasked, and masked in a scrambled
 * order). Tolerance: |got − want| <= 1e-5 + 1e-5·|want| (the blocked sums change the rounding only; the values
 * are copied, so they must match exactly). Also: the evaluation arena is linear in N, several times smaller than the
 * teacher arena, and the forward fits in exactly the bytes it asks for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/models/transmil.h"
#include "mhim/params.h"

#define TOL 1e-5

typedef struct {
    mhim_param_spec rows[MHIM_TRANSMIL_SPEC_ROWS];
    mhim_param_layout L;
    mhim_transmil m;
    float *params;
} model_t;

static void build(model_t *t, const mhim_transmil_config *cfg, uint64_t seed) {
    mhim_transmil_param_spec(cfg, t->rows);
    MHIM_ASSERT(mhim_param_layout_init(&t->L, t->rows, MHIM_TRANSMIL_SPEC_ROWS) == MHIM_OK);
    MHIM_ASSERT(mhim_transmil_bind(&t->m, cfg, &t->L) == MHIM_OK);
    t->params = mhim_params_alloc(&t->L);
    mhim_transmil_init_params(&t->m, t->params, seed);
}

static void drop(model_t *t) {
    mhim_params_free(t->params);
    mhim_param_layout_free(&t->L);
}

/* Compare the evaluation forward with the caching forwards on the kept rows keep[0..n_keep) of x (N, D_in). */
static int compare(const char *label, const model_t *t, const float *x, int64_t N, const int64_t *keep,
                   int64_t n_keep) {
    const mhim_transmil_config *cfg = &t->m.cfg;
    const int64_t H = cfg->heads, D = cfg->embed.dim, C = cfg->n_classes, dh = cfg->dim_head;
    const size_t train_bytes = mhim_transmil_arena_bytes(cfg, n_keep);
    const size_t teach_bytes = mhim_transmil_teacher_arena_bytes(cfg, n_keep);
    const size_t eval_bytes = mhim_transmil_eval_arena_bytes(cfg, n_keep);
    mhim_arena arena;
    mhim_arena_init(&arena, "transmil eval test", MHIM_MAX(MHIM_MAX(train_bytes, teach_bytes), eval_bytes));
    float *buf = mhim_malloc((size_t)(4 * D + 4 * C + 4 * H * n_keep + 2 * H * n_keep * dh + 2 * n_keep) * sizeof(float));
    float *feat_s = buf, *feat_t = feat_s + D, *feat_e = feat_t + D, *feat_e2 = feat_e + D;
    float *log_s = feat_e2 + D, *log_t = log_s + C, *log_e = log_t + C, *log_e2 = log_e + C;
    float *attn0_t = log_e2 + C, *attn0_e = attn0_t + H * n_keep, *attn1_t = attn0_e + H * n_keep;
    float *attn1_e = attn1_t + H * n_keep, *val_t = attn1_e + H * n_keep, *val_e = val_t + H * n_keep * dh;
    float *sc_t = val_e + H * n_keep * dh, *sc_e = sc_t + n_keep;
    int fails = 0;
    printf("%s: N = %lld, kept %lld, H = %lld\n", label, (long long)N, (long long)n_keep, (long long)H);

    mhim_transmil_cache c;
    MHIM_ASSERT(mhim_transmil_forward(&c, &arena, &t->m, t->params, x, N, keep, n_keep, NULL, log_s, feat_s) ==
                MHIM_OK);
    mhim_arena_reset(&arena, 0);
    mhim_transmil_teacher_out to = {.attn_layer = 0, .feat = feat_t, .logits = log_t, .attn = attn0_t,
                                    .values = val_t, .scores = sc_t};
    MHIM_ASSERT(mhim_transmil_teacher_forward(&to, &arena, &t->m, t->params, x, N, keep, n_keep, NULL) == MHIM_OK);
    to = (mhim_transmil_teacher_out){.attn_layer = -1, .attn = attn1_t};
    MHIM_ASSERT(mhim_transmil_teacher_forward(&to, &arena, &t->m, t->params, x, N, keep, n_keep, NULL) == MHIM_OK);
    mhim_arena_free(&arena);

    /* the evaluation forward in an arena of exactly its own size (a larger need would abort) */
    mhim_arena_init(&arena, "transmil eval exact", eval_bytes);
    mhim_transmil_teacher_out eo = {.attn_layer = 0, .feat = feat_e, .logits = log_e, .attn = attn0_e,
                                    .values = val_e, .scores = sc_e};
    fails += check_true("eval forward succeeds",
                        mhim_transmil_eval_forward(&eo, &arena, &t->m, t->params, x, N, keep, n_keep) == MHIM_OK);
    fails += check_true("eval forward releases its arena blocks", arena.used == 0);
    eo = (mhim_transmil_teacher_out){.attn_layer = -1, .feat = feat_e2, .logits = log_e2, .attn = attn1_e};
    MHIM_ASSERT(mhim_transmil_eval_forward(&eo, &arena, &t->m, t->params, x, N, keep, n_keep) == MHIM_OK);
    printf("  arena: eval %.1f MiB (peak used %.1f), teacher %.1f MiB, training %.1f MiB\n", eval_bytes / 1048576.0,
           arena.peak / 1048576.0, teach_bytes / 1048576.0, train_bytes / 1048576.0);
    mhim_arena_free(&arena);

    fails += check_close("logits = student forward (eval mode)", log_e, log_s, C, TOL, TOL);
    fails += check_close("bag feature = student forward (eval mode)", feat_e, feat_s, D, TOL, TOL);
    fails += check_close("logits with the layer-2 attention = student forward", log_e2, log_s, C, TOL, TOL);
    fails += check_close("bag feature = teacher forward", feat_e, feat_t, D, TOL, TOL);
    fails += check_close("layer-1 cls attention = teacher forward", attn0_e, attn0_t, H * n_keep, TOL, TOL);
    fails += check_close("layer-2 cls attention = teacher forward", attn1_e, attn1_t, H * n_keep, TOL, TOL);
    fails += check_true("layer-1 values = teacher forward, bitwise",
                        memcmp(val_e, val_t, (size_t)(H * n_keep * dh) * sizeof(float)) == 0);
    fails += check_close("v2 scores = teacher forward", sc_e, sc_t, n_keep, TOL, TOL);
    free(buf);
    return fails;
}

static int test_matches_caching_forwards(void) {
    int fails = 0;
    model_t t;
    mhim_transmil_config cfg = mhim_transmil_config_default(1, 96, 3, 2, MHIM_ACT_RELU);
    build(&t, &cfg, 11);
    const int64_t N = 2600, Din = cfg.embed.input_dim; /* 2601 tokens: three row blocks, 7 padding rows */
    float *x = mhim_malloc((size_t)(N * Din) * sizeof(float));
    test_rng r = {.s = 42};
    test_fill_uniform(&r, x, N * Din, -1.0f, 1.0f);
    fails += compare("all instances", &t, x, N, NULL, N);
    /* masked: every other instance of the second half and the first 300, in a scrambled order */
    int64_t *keep = mhim_malloc((size_t)N * sizeof(int64_t)), n_keep = 0;
    for (int64_t i = 0; i < N; i++)
        if (i < 300 || (i >= N / 2 && i % 2)) keep[n_keep++] = (i * 7919) % N;
    fails += compare("kept subset, scrambled order", &t, x, N, keep, n_keep);
    free(keep);
    free(x);
    drop(&t);

    mhim_transmil_config v2 = mhim_transmil_config_default(2, 64, 4, 8, MHIM_ACT_GELU);
    build(&t, &v2, 5);
    const int64_t N2 = 300;
    float *x2 = mhim_malloc((size_t)(N2 * 64) * sizeof(float));
    test_fill_uniform(&r, x2, N2 * 64, 0.0f, 1.0f);
    fails += compare("v2, GELU, 8 heads, one block", &t, x2, N2, NULL, N2);
    free(x2);
    drop(&t);
    return fails;
}

static int test_arena_and_errors(void) {
    int fails = 0;
    mhim_transmil_config cfg = mhim_transmil_config_default(1, 1024, 2, 8, MHIM_ACT_RELU);
    const size_t e10 = mhim_transmil_eval_arena_bytes(&cfg, 10239), e100 = mhim_transmil_eval_arena_bytes(&cfg, 102399);
    const size_t t100 = mhim_transmil_teacher_arena_bytes(&cfg, 102399);
    printf("arena for 100k instances (102399), 8 heads: eval %.2f GiB (%.0f bytes per instance), teacher %.2f GiB\n",
           e100 / 1073741824.0, (double)e100 / 102399.0, t100 / 1073741824.0);
    fails += check_true("eval arena linear in N", e100 <= 10 * e10 && e100 > 5 * e10);
    fails += check_true("eval arena for 100k instances under 700 MiB", e100 < 700.0 * 1048576.0);
    fails += check_true("eval arena at least 5x smaller than the teacher arena", 5 * e100 < t100);

    model_t t;
    build(&t, &cfg, 1);
    mhim_arena arena;
    mhim_arena_init(&arena, "transmil eval errors", mhim_transmil_eval_arena_bytes(&cfg, 4));
    float x[4 * 1024] = {0}, logits[2];
    mhim_transmil_teacher_out out = {.attn_layer = 0, .logits = logits};
    fails += check_true("no kept instance is refused",
                        mhim_transmil_eval_forward(&out, &arena, &t.m, t.params, x, 4, (const int64_t[]){0}, 0) ==
                            MHIM_EINPUT);
    printf("  message: %s\n", mhim_error());
    out.attn_layer = 2;
    fails += check_true("attn_layer 2 is refused",
                        mhim_transmil_eval_forward(&out, &arena, &t.m, t.params, x, 4, NULL, 4) == MHIM_EINPUT);
    printf("  message: %s\n", mhim_error());
    mhim_arena_free(&arena);
    drop(&t);
    return fails;
}

int main(void) {
    int fails = test_matches_caching_forwards() + test_arena_and_errors();
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails != 0;
}
