/* DSMIL model plumbing (mhim/models/dsmil.h): parameter count of the original module (873,734 at D_in 1024,
 * C = 2) and key names, initialisation (Xavier linears, zero biases, PyTorch-default Conv1d range), the teacher in
 * train mode equal to the student with the same dropout stream and both teacher score kinds, a single-instance bag,
 * and the loss helpers: v1 = mean of the two CEs, v2 = CE of the mean logits, gradients by central differences. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/models/dsmil.h"

typedef struct {
    mhim_dsmil_config cfg;
    mhim_param_layout L;
    mhim_dsmil m;
    float *params;
} model;

static void model_init(model *md, int64_t input_dim, int64_t C) {
    md->cfg = (mhim_dsmil_config){.version = 1, .input_dim = input_dim, .n_classes = C, .act = MHIM_ACT_RELU,
                                  .dropout = 0.25f, .teacher_score = MHIM_DSMIL_SCORE_INSTANCE};
    MHIM_ASSERT(mhim_dsmil_layout(&md->L, &md->cfg) == MHIM_OK);
    MHIM_ASSERT(mhim_dsmil_bind(&md->m, &md->cfg, &md->L) == MHIM_OK);
    md->params = mhim_params_alloc(&md->L);
    mhim_dsmil_init_params(&md->m, md->params, 99);
}

static void model_free(model *md) {
    mhim_params_free(md->params);
    mhim_param_layout_free(&md->L);
}

static int test_layout_init(void) {
    model md;
    model_init(&md, 1024, 2);
    printf("DSMIL: %lld tensors, %lld parameters (original 873734)\n", (long long)md.L.count, (long long)md.L.numel);
    int fails = check_true("parameter count = the original module's", md.L.numel == 873734);
    fails += check_true("fcc key", mhim_param_find(&md.L, "online_encoder.b_classifier.fcc.weight") != NULL);
    fails += check_true("value key", mhim_param_find(&md.L, "online_encoder.b_classifier.v.1.weight") != NULL);
    const float bound = 1.0f / sqrtf(2 * 512);
    float lo = 1, hi = -1;
    for (int64_t k = 0; k < 2 * 2 * 512; k++)
        lo = fminf(lo, md.params[md.m.w_fcc + k]), hi = fmaxf(hi, md.params[md.m.w_fcc + k]);
    printf("fcc weight range [%.4f, %.4f], bound %.4f\n", lo, hi, bound);
    fails += check_true("Conv1d weight ~ U(+-1/sqrt(C*512))", lo >= -bound && hi <= bound && hi - lo > 1.8f * bound);
    fails += check_true("Conv1d bias non-zero (default init)", md.params[md.m.b_fcc] != 0.0f);
    fails += check_true("linear biases zero", md.params[md.m.b_v] == 0.0f && md.params[md.m.b_q1] == 0.0f);
    double sq = 0;
    for (int64_t k = 0; k < 512 * 512; k++) sq += (double)md.params[md.m.w_v + k] * md.params[md.m.w_v + k];
    double std = sqrt(sq / (512 * 512)), want = sqrt(2.0 / 1024);
    printf("v.1.weight std %.5f want %.5f\n", std, want);
    fails += check_true("Xavier-normal value weight", fabs(std / want - 1) < 0.01);
    model_free(&md);
    return fails;
}

static int test_teacher(void) {
    const int64_t N = 30, C = 3;
    model md;
    model_init(&md, 8, C);
    test_rng r = {5};
    float *x = mhim_malloc(N * 8 * sizeof(float));
    test_fill_uniform(&r, x, N * 8, 0.0f, 2.0f);
    mhim_arena a;
    mhim_arena_init(&a, "dsmil model test", mhim_dsmil_arena_bytes(&md.cfg, N));
    mhim_arena_set_poison(&a, 1);
    mhim_rng drop = mhim_rng_stream(1, 0, 3, MHIM_RNG_DROPOUT, 1);
    float B[3 * MHIM_EMBED_DIM], score[30], want[30];
    mhim_dsmil_teacher_forward(B, score, &a, &md.m, md.params, x, N, &drop);
    int fails = check_true("teacher leaves the arena empty", mhim_arena_mark(&a) == 0);
    mhim_dsmil_model_cache c;
    mhim_dsmil_model_forward(&c, &a, &md.m, md.params, x, N, NULL, N, &drop);
    fails += check_close("teacher B = train-mode student B", B, c.agg.bag, C * MHIM_EMBED_DIM, 0, 0);
    for (int64_t i = 0; i < N; i++) {
        want[i] = c.agg.inst[i * C];
        for (int64_t k = 1; k < C; k++) want[i] = fmaxf(want[i], c.agg.inst[i * C + k]);
    }
    fails += check_close("instance score = max over classes of the instance logits", score, want, N, 0, 0);
    for (int64_t i = 0; i < N; i++) {
        want[i] = c.agg.attn[i * C];
        for (int64_t k = 1; k < C; k++) want[i] = fmaxf(want[i], c.agg.attn[i * C + k]);
    }
    mhim_arena_reset(&a, 0); /* the arena holds one forward + backward; the teacher runs before the student */
    mhim_dsmil t = md.m;
    t.cfg.teacher_score = MHIM_DSMIL_SCORE_ATTENTION;
    mhim_dsmil_teacher_forward(B, score, &a, &t, md.params, x, N, &drop);
    fails += check_close("attention score = max over classes of the attention", score, want, N, 0, 0);

    /* a single kept instance: it is every class's critical instance, attention 1, B = its value row */
    mhim_arena_reset(&a, 0);
    const int64_t one[1] = {7};
    mhim_dsmil_model_forward(&c, &a, &md.m, md.params, x, N, one, 1, NULL);
    fails += check_true("one instance: attention 1", c.agg.attn[0] == 1.0f && c.agg.attn[C - 1] == 1.0f);
    fails += check_close("one instance: max logits = its instance logits", c.max_logit, c.agg.inst, C, 0, 0);
    mhim_arena_free(&a);
    free(x);
    model_free(&md);
    return fails;
}

typedef struct {
    int version;
    float bag[4], max[4];
    int64_t y, C;
} loss_ctx;

static double loss_obj(void *p) {
    loss_ctx *c = p;
    float db[4], dm[4];
    return mhim_dsmil_loss(db, dm, c->version, c->bag, c->max, c->y, 1.0f, c->C);
}

static int test_losses(void) {
    int fails = 0;
    loss_ctx c = {.bag = {0.3f, -1.2f, 2.0f}, .max = {1.5f, 0.1f, -0.4f}, .y = 2, .C = 3};
    for (c.version = 1; c.version <= 2; c.version++) {
        float db[4], dm[4];
        float loss = mhim_dsmil_loss(db, dm, c.version, c.bag, c.max, c.y, 1.0f, c.C);
        double want = 0;
        if (c.version == 1) {
            for (int which = 0; which < 2; which++) {
                const float *l = which ? c.max : c.bag;
                double s = 0;
                for (int k = 0; k < 3; k++) s += exp(l[k]);
                want += 0.5 * (log(s) - l[c.y]);
            }
        } else {
            double s = 0, m[3];
            for (int k = 0; k < 3; k++) m[k] = 0.5 * c.bag[k] + 0.5 * c.max[k], s += exp(m[k]);
            want = log(s) - m[c.y];
        }
        char name[64];
        snprintf(name, sizeof name, "v%d loss value %.6f want %.6f", c.version, loss, want);
        fails += check_true(name, fabs(loss - want) < 1e-6);
        snprintf(name, sizeof name, "v%d d bag_logit", c.version);
        fails += gradcheck(name, c.bag, 3, db, loss_obj, &c, 1e-3, 1e-3, 3);
        snprintf(name, sizeof name, "v%d d max_logit", c.version);
        fails += gradcheck(name, c.max, 3, dm, loss_obj, &c, 1e-3, 1e-3, 3);
        float probs[4];
        mhim_dsmil_probs(probs, c.version, c.bag, c.max, c.C);
        snprintf(name, sizeof name, "v%d probabilities sum to 1", c.version);
        fails += check_true(name, fabs(probs[0] + probs[1] + probs[2] - 1) < 1e-6);
    }
    return fails;
}

int main(void) {
    int fails = test_layout_init() + test_teacher() + test_losses();
    printf("%s\n", fails ? "FAILED" : "all DSMIL model checks passed");
    return fails ? 1 : 0;
}
