/* The v2 engine step (train/engine_v2_step.c) on one random bag, ABMIL with the README's v2 switches: the loss and
 * the encoder token count (n_keep + merge_k); Adam moves every trained tensor but not the global queries G
 * (their Adam moments stay 0); Merge's EMA moves G in the student; the teacher is the per-step EMA
 * q = q·mm + (1 − mm)·p of every tensor, G included. Also the survival loss path of mhim_pure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/v2.h"
#include "train/engine_v2.h"
#include "train_options.h"

#define N_INST 40
#define DIM 24

/* The README's v2 switches with --model=<model> and `extra`: MHIM_OK, or 1 after a FAIL line. */
static int parse(mhim_config *cfg, const char *model, const char *extra) {
    char options[1024];
    snprintf(options, sizeof options,
             "--mhim_version=2 --model=%s --baseline=attn --attn2score --merge_enable --merge_mm=0.9999 "
             "--aux_alpha=0.5 --mask_ratio_h=0.05 --merge_ratio=0.8 --merge_k=5 %s",
             model, extra);
    return test_parse_train(cfg, options) ? 1 : MHIM_OK;
}

static int test_mhim_step(const float *x) {
    mhim_config cfg;
    if (parse(&cfg, "mhim", "") != MHIM_OK) return 1;
    engine_net n;
    int fails = check_true("net created", engine_net_create(&n, &cfg, DIM, 2, N_INST, 4) == MHIM_OK && n.v2);
    if (fails) {
        printf("  %s\n", mhim_error());
        mhim_config_free(&cfg);
        return fails;
    }
    const int64_t total = n.L->total;
    mhim_model_init_params(n.model, n.student, 7);
    mhim_model_init_params(n.model, n.teacher, 8);
    float *s0 = mhim_malloc((size_t)total * sizeof(float)), *t0 = mhim_malloc((size_t)total * sizeof(float));
    memcpy(s0, n.student, (size_t)total * sizeof(float));
    memcpy(t0, n.teacher, (size_t)total * sizeof(float));
    n.adam.lr = 2e-4;
    engine_step_ctx ctx = {
        .cfg = &cfg, .seed = 2021, .epoch = 0, .bag = 3, .r_h = cfg.mask_ratio_h, .mm = cfg.mm, .censorship = 0.0f};
    engine_step_stats st;
    int rc = engine_step(&n, &ctx, x, N_INST, 1, &st);
    fails += check_true("step ok", rc == MHIM_OK);
    /* ceil(40·0.05) = 2 masked, L = 38, n_keep = floor(38·0.8) = 30, + 5 recycled tokens */
    printf("loss %.6f (main %.6f, aux %.6f), encoder tokens %lld (want 35), instances %lld\n", st.loss, st.cls, st.cl,
           (long long)st.kept, (long long)st.patches);
    fails += check_true("loss finite and aux active", isfinite(st.loss) && st.cl > 0 && st.cls > 0);
    fails += check_true("tokens = floor(L·merge_ratio) + merge_k", st.kept == 35 && st.patches == N_INST);

    int64_t g0, g1;
    mhim_v2_frozen_range(n.v2, &g0, &g1);
    int g_moment_zero = 1, g_moved = 0, other_moment = 0, ema_ok = 1;
    for (int64_t i = 0; i < total; i++) {
        const int in_g = i >= g0 && i < g1;
        if (in_g) {
            g_moment_zero &= n.adam_m[i] == 0.0f && n.adam_v[i] == 0.0f;
            g_moved |= n.student[i] != s0[i];
        } else {
            other_moment |= n.adam_m[i] != 0.0f;
        }
        const float mm = (float)cfg.mm, want = t0[i] * mm + (float)(1.0 - cfg.mm) * n.student[i];
        ema_ok &= fabsf(n.teacher[i] - want) <= 1e-6f * fmaxf(1.0f, fabsf(want));
    }
    printf("G floats [%lld, %lld): Adam moments zero %d, moved by the Merge EMA %d; other moments set %d; teacher EMA "
           "mm %.4f ok %d\n",
           (long long)g0, (long long)g1, g_moment_zero, g_moved, other_moment, cfg.mm, ema_ok);
    fails += check_true("G excluded from Adam", g1 > g0 && g_moment_zero && other_moment);
    fails += check_true("G updated by the Merge EMA", g_moved);
    fails += check_true("teacher = EMA of the student (G included)", ema_ok && cfg.mm == 0.9997);
    free(s0);
    free(t0);
    engine_net_free(&n);
    mhim_config_free(&cfg);
    return fails;
}

static int test_pure_survival(const float *x) {
    mhim_config cfg;
    if (parse(&cfg, "mhim_pure", "--datasets=surv_blca --loss=nll_surv --n_classes=4") != MHIM_OK) return 1;
    engine_net n;
    int fails = check_true("survival net created", engine_net_create(&n, &cfg, DIM, 4, N_INST, 4) == MHIM_OK &&
                                                       !n.v2 && n.survival);
    if (fails) {
        mhim_config_free(&cfg);
        return fails;
    }
    mhim_model_init_params(n.model, n.student, 7);
    n.adam.lr = 2e-4;
    engine_step_stats st;
    const float cens[2] = {1.0f, 0.0f};
    for (int k = 0; k < 2; k++) {
        mhim_model_init_params(n.model, n.student, 7);
        engine_step_ctx ctx = {.cfg = &cfg, .seed = 2021, .epoch = 0, .bag = 3, .censorship = cens[k]};
        int rc = engine_step(&n, &ctx, x, N_INST, 2, &st);
        /* the step leaves the logits in n.probs[0..4): censored -log S[2], event -log S[1] - log h[2] */
        double h[4], S[4], surv = 1.0;
        for (int c = 0; c < 4; c++) {
            h[c] = 1.0 / (1.0 + exp(-(double)n.probs[c]));
            surv *= 1.0 - h[c];
            S[c] = surv;
        }
        const double want = cens[k] > 0 ? -log(S[2]) : -log(S[1]) - log(h[2]);
        printf("survival NLL, bin 2, %s: %.6f (want %.6f from the logits)\n", k ? "event" : "censored", st.loss, want);
        fails += check_true(k ? "NLL event" : "NLL censored",
                            rc == MHIM_OK && fabs(st.loss - want) <= 1e-5 * fmax(1.0, want) && st.kept == N_INST);
    }
    engine_net_free(&n);
    mhim_config_free(&cfg);
    return fails;
}

int main(void) {
    float *x = mhim_malloc((size_t)N_INST * DIM * sizeof(float));
    test_rng r = {42};
    test_fill_uniform(&r, x, (int64_t)N_INST * DIM, -1.0f, 1.0f);
    int fails = test_mhim_step(x) + test_pure_survival(x);
    free(x);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
