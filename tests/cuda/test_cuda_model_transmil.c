/* CPU TransMIL model vs the GPU network (cuda/model_transmil.h) on the same random parameters and bag, with the
 * real TransMIL sizes (dim 512, dim_head 64, 256 landmarks):
 *   N = 37  (38 tokens: 218 front padding rows, one landmark segment per row, PPEG grid 7x7 zero padded), 8 heads;
 *   N = 700 (701 tokens: 67 padding rows, segments of 3, PPEG grid 27x27 with 29 wrap-around copies), 2 heads.
 * Per case: train step (dropout on, shuffled index list of 3/4 of the rows) and eval step (all rows): logits, feat,
 * every parameter gradient (accumulated onto a non-zero buffer), the arena the step used vs
 * mhim_cuda_transmil_arena_bytes; predict (eval, layer 1) vs mhim_model_predict; predict (dropout, layers 1 and 2)
 * vs mhim_transmil_teacher_forward; the arena each predict used vs mhim_cuda_transmil_predict_arena_bytes. And,
 * computed only: the predict estimate of a 29335 × 1024 bag with 8 heads is at most half the training one.
 * Everything downstream of the Nyström pseudo-inverse uses the TOL_ITER tolerances; the front-end dropout masks
 * must be identical, which the eval/train split makes visible (a wrong mask fails only the train-mode lines).
 * Skipped (77) without a GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cuda/model_transmil.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/model.h"
#include "mhim/models/transmil.h"
#include "support/parity.h" /* relative: the host variant of this test has no cuda/support include path */

#define IT TOL_ITER_ATOL, TOL_ITER_RTOL

typedef struct {
    int64_t N, heads, input_dim, n_classes;
    int version;
    mhim_act act;
} tcase;

/* Everything one case shares between its checks. */
typedef struct {
    mhim_cuda_ctx *ctx;
    const tcase *tc;
    mhim_model *model;
    mhim_transmil tm; /* the same network bound for the CPU teacher forward */
    mhim_cuda_transmil *net;
    const mhim_param_layout *L;
    float *params, *x, *params_d, *x_d;
    int64_t C, D, H;
    char tag[48];
} fixture;

static int check(const fixture *f, const char *what, const float *dev, const float *want, int64_t n) {
    char name[160];
    snprintf(name, sizeof name, "%s %s", f->tag, what);
    return parity_check(f->ctx, name, dev, want, n, IT);
}

/* Every tensor of the gradient buffer, one line each. */
static int check_grads(const fixture *f, const char *mode, const float *grads_d, const float *want) {
    int bad = 0;
    for (int64_t i = 0; i < f->L->count; i++) {
        const mhim_param_entry *e = &f->L->entries[i];
        char what[160];
        snprintf(what, sizeof what, "%s grad %s", mode, e->name);
        bad += check(f, what, grads_d + e->offset, want + e->offset, e->numel);
    }
    return bad;
}

/* One forward + backward on the kept rows idx[0..n) (NULL = all), dropout stream or NULL; compares logits, feat,
 * every gradient and the arena the step used. */
static int step(fixture *f, const char *mode, const int64_t *idx, int64_t n, const mhim_rng *dropout,
                test_rng *r) {
    const int64_t C = f->C, D = f->D, total = f->L->total;
    int bad = 0;
    float *d_logits = parity_random(r, C, -1, 1), *d_feat = parity_random(r, D, -0.1f, 0.1f);
    float *grads = parity_random(r, total, -0.01f, 0.01f); /* gradients accumulate onto it */
    float *logits = parity_zeros(C), *feat = parity_zeros(D);
    const size_t mark = mhim_cuda_mark(f->ctx);
    int64_t *idx_d = idx ? parity_up_i64(f->ctx, idx, n) : NULL;
    float *grads_d = parity_up(f->ctx, grads, total), *d_logits_d = parity_up(f->ctx, d_logits, C);
    float *d_feat_d = parity_up(f->ctx, d_feat, D);
    float *logits_d = mhim_cuda_floats(f->ctx, C), *feat_d = mhim_cuda_floats(f->ctx, D);

    mhim_arena arena;
    mhim_arena_init(&arena, "cpu transmil step", mhim_model_train_arena_bytes(f->model, n));
    const mhim_model_out out = {.logits = logits, .feat = feat};
    if (mhim_model_forward(f->model, &arena, f->params, f->x, f->tc->N, idx, n, dropout, &out) != MHIM_OK)
        MHIM_DIE("CPU forward: %s", mhim_error());
    mhim_model_backward(f->model, &arena, f->params, grads, d_logits, NULL, d_feat);
    mhim_arena_free(&arena);

    /* start the step at the arena's peak so that the peak it reaches measures the arena it used */
    const size_t below = mhim_cuda_mark(f->ctx), peak = mhim_cuda_arena_peak(f->ctx);
    if (peak > below) mhim_cuda_alloc(f->ctx, peak - below);
    const size_t before = mhim_cuda_mark(f->ctx), bytes = mhim_cuda_transmil_arena_bytes(f->net, n);
    if (mhim_cuda_transmil_forward(f->net, f->ctx, f->params_d, f->x_d, f->tc->N, idx_d, n, dropout, logits_d, NULL,
                                   feat_d) != MHIM_OK) {
        printf("FAIL %s %s forward: %s\n", f->tag, mode, mhim_error());
        return 1;
    }
    mhim_cuda_transmil_backward(f->net, f->ctx, f->params_d, grads_d, d_logits_d, NULL, d_feat_d);
    const size_t used = mhim_cuda_arena_peak(f->ctx) - before;
    char what[160];
    snprintf(what, sizeof what, "%s logits", mode);
    bad += check(f, what, logits_d, logits, C);
    snprintf(what, sizeof what, "%s feat", mode);
    bad += check(f, what, feat_d, feat, D);
    bad += check_grads(f, mode, grads_d, grads);
    snprintf(what, sizeof what, "%s %s arena used %zu <= arena_bytes %zu", f->tag, mode, used, bytes);
    bad += check_true(what, used <= bytes);
    mhim_cuda_reset(f->ctx, mark);
    free(d_logits), free(d_feat), free(grads), free(logits), free(feat);
    return bad;
}

/* predict vs the CPU: eval mode against mhim_model_predict (layer 1 only), dropout against the teacher forward. */
static int predict(fixture *f, const char *mode, const mhim_rng *dropout, int attn_layer) {
    const int64_t N = f->tc->N, C = f->C, D = f->D, H = f->H;
    float *logits = parity_zeros(C), *feat = parity_zeros(D), *map = parity_zeros(H * N);
    mhim_arena arena;
    if (dropout) {
        mhim_arena_init(&arena, "cpu transmil teacher", mhim_transmil_teacher_arena_bytes(&f->tm.cfg, N));
        mhim_transmil_teacher_out t = {.attn_layer = attn_layer, .feat = feat, .logits = logits, .attn = map};
        if (mhim_transmil_teacher_forward(&t, &arena, &f->tm, f->params, f->x, N, NULL, N, dropout) != MHIM_OK)
            MHIM_DIE("CPU teacher forward: %s", mhim_error());
    } else {
        MHIM_ASSERT(attn_layer == 0);
        mhim_arena_init(&arena, "cpu transmil predict", mhim_model_predict_arena_bytes(f->model, N));
        const mhim_model_out out = {.logits = logits, .feat = feat};
        if (mhim_model_predict(f->model, &arena, f->params, f->x, N, &out, map) != MHIM_OK)
            MHIM_DIE("CPU predict: %s", mhim_error());
    }
    mhim_arena_free(&arena);

    const size_t mark = mhim_cuda_mark(f->ctx);
    float *logits_d = mhim_cuda_floats(f->ctx, C), *feat_d = mhim_cuda_floats(f->ctx, D);
    float *map_d = mhim_cuda_floats(f->ctx, H * N);
    const size_t outputs = mhim_cuda_mark(f->ctx);
    /* start at the arena's peak so that the peak predict reaches measures the arena it used */
    const size_t peak = mhim_cuda_arena_peak(f->ctx);
    if (peak > outputs) mhim_cuda_alloc(f->ctx, peak - outputs);
    const size_t before = mhim_cuda_mark(f->ctx), bytes = mhim_cuda_transmil_predict_arena_bytes(f->net, N);
    int bad = 0;
    if (mhim_cuda_transmil_predict(f->net, f->ctx, f->params_d, f->x_d, N, dropout, attn_layer, logits_d, NULL, feat_d,
                                   map_d) != MHIM_OK) {
        printf("FAIL %s %s predict: %s\n", f->tag, mode, mhim_error());
        return 1;
    }
    const size_t used = mhim_cuda_arena_peak(f->ctx) - before;
    char what[160];
    snprintf(what, sizeof what, "%s logits", mode);
    bad += check(f, what, logits_d, logits, C);
    snprintf(what, sizeof what, "%s feat", mode);
    bad += check(f, what, feat_d, feat, D);
    snprintf(what, sizeof what, "%s map (heads x N)", mode);
    bad += check(f, what, map_d, map, H * N);
    snprintf(what, sizeof what, "%s %s predict releases its arena blocks", f->tag, mode);
    bad += check_true(what, mhim_cuda_mark(f->ctx) == before);
    snprintf(what, sizeof what, "%s %s arena used %zu <= predict_arena_bytes %zu", f->tag, mode, used, bytes);
    bad += check_true(what, used <= bytes);
    mhim_cuda_reset(f->ctx, mark);
    free(logits), free(feat), free(map);
    return bad;
}

static int run_case(mhim_cuda_ctx *ctx, const tcase *tc, test_rng *r) {
    fixture f = {.ctx = ctx, .tc = tc};
    snprintf(f.tag, sizeof f.tag, "N=%lld H=%lld", (long long)tc->N, (long long)tc->heads);
    const mhim_model_config mc = {.kind = MHIM_MODEL_TRANSMIL, .version = tc->version, .input_dim = tc->input_dim,
                                  .n_classes = tc->n_classes, .act = tc->act, .dropout = 0.25f,
                                  .da_act = MHIM_ACT_RELU, .heads = tc->heads};
    if (mhim_model_create(&f.model, &mc) != MHIM_OK) MHIM_DIE("CPU model: %s", mhim_error());
    f.L = mhim_model_layout(f.model);
    mhim_transmil_config cfg =
        mhim_transmil_config_default(tc->version, tc->input_dim, tc->n_classes, tc->heads, tc->act);
    cfg.embed.dropout = mc.dropout;
    if (mhim_transmil_bind(&f.tm, &cfg, f.L) != MHIM_OK) MHIM_DIE("CPU transmil bind: %s", mhim_error());
    if (mhim_cuda_transmil_create(&f.net, f.model) != MHIM_OK) {
        printf("FAIL %s create: %s\n", f.tag, mhim_error());
        return 1;
    }
    f.C = tc->n_classes, f.D = MHIM_EMBED_DIM, f.H = tc->heads;
    /* the original initialisation, then noise so that LayerNorm weights, biases and the cls token are generic */
    f.params = mhim_params_alloc(f.L);
    mhim_model_init_params(f.model, f.params, 11);
    for (int64_t i = 0; i < f.L->total; i++) f.params[i] += test_uniform(r, -0.05f, 0.05f);
    f.x = parity_random(r, tc->N * tc->input_dim, -1, 1);
    const size_t case_mark = mhim_cuda_mark(ctx);
    f.params_d = parity_up(ctx, f.params, f.L->total);
    f.x_d = parity_up(ctx, f.x, tc->N * tc->input_dim);

    /* kept rows: a shuffled 3/4 of the bag (the order matters to TransMIL) */
    const int64_t n_keep = tc->N * 3 / 4;
    int64_t *perm = mhim_malloc((size_t)tc->N * sizeof(int64_t));
    for (int64_t i = 0; i < tc->N; i++) perm[i] = i;
    for (int64_t i = tc->N - 1; i > 0; i--) {
        int64_t j = (int64_t)test_uniform(r, 0, (float)(i + 1));
        if (j > i) j = i;
        const int64_t t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    const mhim_rng student = mhim_rng_stream(5, 2, 3, MHIM_RNG_DROPOUT, 0);
    const mhim_rng teacher = mhim_rng_stream(5, 2, 3, MHIM_RNG_DROPOUT, 1);
    int bad = 0;
    bad += step(&f, "train (dropout, idx)", perm, n_keep, &student, r);
    bad += step(&f, "eval (all rows)", NULL, tc->N, NULL, r);
    bad += predict(&f, "predict eval layer 1", NULL, 0);
    bad += predict(&f, "predict dropout layer 1", &teacher, 0);
    bad += predict(&f, "predict dropout layer 2", &teacher, -1);
    /* bad input is reported, not crashed on */
    float *out_d = mhim_cuda_floats(ctx, f.C);
    char what[120];
    snprintf(what, sizeof what, "%s forward refuses an empty kept set", f.tag);
    bad += check_true(what, mhim_cuda_transmil_forward(f.net, ctx, f.params_d, f.x_d, tc->N, NULL, 0, NULL, out_d,
                                                       NULL, NULL) == MHIM_EINPUT);
    printf("     message: %s\n", mhim_error());
    snprintf(what, sizeof what, "%s predict refuses attn_layer 2", f.tag);
    bad += check_true(what, mhim_cuda_transmil_predict(f.net, ctx, f.params_d, f.x_d, tc->N, NULL, 2, out_d, NULL,
                                                       NULL, NULL) == MHIM_EINPUT);
    printf("     message: %s\n", mhim_error());
    mhim_cuda_reset(ctx, case_mark);
    mhim_cuda_transmil_free(f.net);
    mhim_model_free(f.model);
    mhim_params_free(f.params);
    free(f.x), free(perm);
    return bad;
}

/* The predict reserve of a large bag (computed, nothing run): the lean predict needs at most half of the training
 * forward + backward's arena (predict reserved that, and used most of it, when it ran the training forward). */
static int predict_estimate(void) {
    const int64_t N = 29335;
    const mhim_model_config mc = {.kind = MHIM_MODEL_TRANSMIL, .version = 1, .input_dim = 1024, .n_classes = 2,
                                  .act = MHIM_ACT_RELU, .dropout = 0.25f, .da_act = MHIM_ACT_RELU, .heads = 8};
    mhim_model *model = NULL;
    mhim_cuda_transmil *net = NULL;
    if (mhim_model_create(&model, &mc) != MHIM_OK || mhim_cuda_transmil_create(&net, model) != MHIM_OK)
        MHIM_DIE("TransMIL N=%lld: %s", (long long)N, mhim_error());
    const size_t predict = mhim_cuda_transmil_predict_arena_bytes(net, N);
    const size_t train = mhim_cuda_transmil_train_arena_bytes(net, N);
    const size_t total = mhim_cuda_transmil_arena_bytes(net, N);
    char what[200];
    snprintf(what, sizeof what,
             "N=%lld input_dim 1024 H=8: predict estimate %.1f MiB <= half the train forward+backward %.1f MiB",
             (long long)N, (double)predict / 1048576.0, (double)train / 1048576.0);
    int bad = check_true(what, 2 * predict <= train);
    snprintf(what, sizeof what, "N=%lld arena_bytes %zu = max(train %zu, predict %zu)", (long long)N, total, train,
             predict);
    bad += check_true(what, total == (train > predict ? train : predict));
    mhim_cuda_transmil_free(net);
    mhim_model_free(model);
    return bad;
}

int main(void) {
    mhim_cuda_ctx *ctx = NULL;
    int rc = parity_open(&ctx);
    if (rc) return rc;
    test_rng rng = {2024ULL};
    static const tcase cases[] = {
        {.N = 37, .heads = 8, .input_dim = 96, .n_classes = 2, .version = 1, .act = MHIM_ACT_RELU},
        {.N = 700, .heads = 2, .input_dim = 64, .n_classes = 3, .version = 2, .act = MHIM_ACT_GELU},
    };
    int bad = predict_estimate();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) bad += run_case(ctx, &cases[i], &rng);

    /* bad input is reported, not crashed on */
    mhim_model *model = NULL;
    const mhim_model_config abmil = {.kind = MHIM_MODEL_ABMIL, .version = 1, .input_dim = 8, .n_classes = 2,
                                     .act = MHIM_ACT_RELU, .da_act = MHIM_ACT_RELU, .heads = 8};
    mhim_cuda_transmil *net = NULL;
    if (mhim_model_create(&model, &abmil) != MHIM_OK) MHIM_DIE("CPU model: %s", mhim_error());
    bad += check_true("create refuses an ABMIL model", mhim_cuda_transmil_create(&net, model) == MHIM_EINPUT);
    printf("     message: %s\n", mhim_error());
    mhim_model_free(model);
    printf("arena peak %.1f MiB\n", (double)mhim_cuda_arena_peak(ctx) / (1024.0 * 1024.0));
    mhim_cuda_ctx_destroy(ctx);
    printf("%s: %d failing check(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad ? 1 : 0;
}
