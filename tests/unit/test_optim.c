/* PyTorch parity of mhim/optim.h (fixtures from tests/pytorch/gen_optim_fixtures.py, torch 1.13, float32):
 * 5 Adam steps (coupled L2, wd 1e-5 and 0.05) and AdamW steps (wd 0.05) with a changing lr and a parameter
 * without gradient, clip_grad_norm_ (clipping and not), the EMA update; plus 1- vs 2-thread bitwise
 * determinism and the non-finite gradient case. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "mhim/common.h"
#include "mhim/optim.h"
#include "mhim/params.h"
#include "mhim/threads.h"

#define RTOL 1e-6
#define ATOL 1e-7

/* Same names and shapes as SHAPES in the generator. */
static const mhim_param_spec spec[] = {
    {"patch_to_emb.0.weight", 2, {7, 5}}, {"patch_to_emb.0.bias", 1, {7}}, {"cls_token", 3, {1, 1, 4}},
    {"unused.weight", 2, {3, 2}},         {"classifier.weight", 2, {2, 7}},
};
static const char *unused_name = "unused.weight";

/* Copy dataset `prefix/<name>` of every tensor into `buf`; tensors missing in the file are left as they are
 * when `optional`, else reported. Returns the number of failures. */
static int load_tensors(fixture *fx, const mhim_param_layout *L, float *buf, const char *prefix, int optional) {
    int fails = 0;
    for (int64_t i = 0; i < L->count; i++) {
        const mhim_param_entry *e = &L->entries[i];
        char path[160];
        snprintf(path, sizeof path, "%s/%s", prefix, e->name);
        if (optional && !fixture_has(fx, path)) continue;
        int64_t n = 0;
        float *src = fixture_f32(fx, path, &n);
        if (!src || n != e->numel) {
            fails += check_true(path, 0);
            continue;
        }
        memcpy(buf + e->offset, src, (size_t)n * sizeof(float));
    }
    return fails;
}

/* Compare every tensor of `got` against `prefix/<name>` in the fixture. */
static int compare_tensors(fixture *fx, const mhim_param_layout *L, const float *got, const char *prefix,
                           const char *label) {
    int fails = 0;
    for (int64_t i = 0; i < L->count; i++) {
        const mhim_param_entry *e = &L->entries[i];
        char path[160], name[200];
        snprintf(path, sizeof path, "%s/%s", prefix, e->name);
        if (!fixture_has(fx, path)) continue; /* e.g. no optimiser state for the unused tensor */
        int64_t n = 0;
        float *want = fixture_f32(fx, path, &n);
        snprintf(name, sizeof name, "%s %s", label, path);
        fails += want && n == e->numel ? check_close(name, got + e->offset, want, n, ATOL, RTOL) : check_true(name, 0);
    }
    return fails;
}

/* Replays the fixture's steps; returns failures. The final parameters are left in *out_params. */
static int run_adam_case(const char *file, int threads, float **out_params, int64_t *out_total) {
    mhim_threads_init(threads);
    char path[256];
    snprintf(path, sizeof path, "fixtures/optim/%s", file);
    fixture *fx = fixture_open(path);
    if (!fx) return 1;
    mhim_param_layout L;
    MHIM_ASSERT(mhim_param_layout_init(&L, spec, (int64_t)MHIM_ARRAY_LEN(spec)) == MHIM_OK);
    float *p = mhim_params_alloc(&L), *g = mhim_params_alloc(&L), *m = mhim_params_alloc(&L),
          *v = mhim_params_alloc(&L);
    int fails = load_tensors(fx, &L, p, "params0", 0);
    int64_t steps = (int64_t)fixture_scalar(fx, "steps"), n_lr = 0;
    double wd = fixture_scalar(fx, "weight_decay");
    float *lr = fixture_f32(fx, "lr", &n_lr); /* float32 copy is only used to check the count */
    mhim_adam opt;
    mhim_adam_init(&opt, strstr(file, "adamw") ? MHIM_OPT_ADAMW : MHIM_OPT_ADAM, 0, wd);
    fails += check_true("fixture holds one lr per step", lr && n_lr == steps && steps == 5);
    fails += check_true("torch defaults", opt.beta1 == fixture_scalar(fx, "beta1") &&
                                              opt.beta2 == fixture_scalar(fx, "beta2") &&
                                              opt.eps == fixture_scalar(fx, "eps"));
    const double lrs[5] = {2e-4, 2e-4, 1.5e-4, 1e-3, 5e-2}; /* LRS of the generator (exact doubles) */
    for (int64_t k = 0; k < steps && k < 5; k++) {
        char prefix[64], label[96];
        mhim_params_zero(&L, g);
        snprintf(prefix, sizeof prefix, "grads/%lld", (long long)k);
        fails += load_tensors(fx, &L, g, prefix, 1);
        opt.lr = lrs[k];
        /* torch skips tensors whose .grad is None: update the others range by range. */
        mhim_adam_begin_step(&opt);
        for (int64_t i = 0; i < L.count; i++) {
            const mhim_param_entry *e = &L.entries[i];
            if (strcmp(e->name, unused_name) == 0) continue;
            mhim_adam_update(&opt, p + e->offset, g + e->offset, m + e->offset, v + e->offset, e->numel);
        }
        snprintf(prefix, sizeof prefix, "params/%lld", (long long)k);
        snprintf(label, sizeof label, "%s t=%d", file, threads);
        fails += compare_tensors(fx, &L, p, prefix, label);
    }
    char label[96];
    snprintf(label, sizeof label, "%s t=%d", file, threads);
    fails += compare_tensors(fx, &L, m, "exp_avg", label);
    fails += compare_tensors(fx, &L, v, "exp_avg_sq", label);
    *out_total = L.total;
    *out_params = mhim_params_alloc(&L);
    mhim_params_copy(&L, *out_params, p);
    mhim_params_free(p), mhim_params_free(g), mhim_params_free(m), mhim_params_free(v);
    mhim_param_layout_free(&L);
    fixture_close(fx);
    return fails;
}

static int test_adam_cases(void) {
    const char *files[3] = {"adam_wd1e-5.h5", "adam_wd0.05.h5", "adamw_wd0.05.h5"};
    int fails = 0;
    for (int c = 0; c < 3; c++) {
        float *one = NULL, *two = NULL;
        int64_t total = 0;
        fails += run_adam_case(files[c], 1, &one, &total);
        fails += run_adam_case(files[c], 2, &two, &total);
        char name[96];
        snprintf(name, sizeof name, "%s: 1 vs 2 threads bitwise equal", files[c]);
        fails += check_true(name, one && two && !memcmp(one, two, (size_t)total * sizeof(float)));
        mhim_params_free(one), mhim_params_free(two);
    }
    return fails;
}

static int test_whole_buffer_step(void) {
    /* mhim_adam_step = begin_step + update over the whole buffer: one step from zero moments moves every element
     * with a non-zero gradient by lr*|g|/(|g| + eps) against the gradient (m_hat = g, sqrt(v_hat) = |g|). */
    float p[4] = {1, 1, 1, 1}, g[4] = {0.5f, -2.0f, 1e-3f, 0}, m[4] = {0}, v[4] = {0};
    mhim_adam opt;
    mhim_adam_init(&opt, MHIM_OPT_ADAM, 0.1, 0);
    mhim_adam_step(&opt, p, g, m, v, 4);
    float want[4] = {0.9f, 1.1f, (float)(1 - 0.1 * (1e-3 / (1e-3 + 1e-8))), 1.0f};
    int fails = check_close("first Adam step moves by lr*|g|/(|g|+eps) against the gradient", p, want, 4, 1e-7, 0);
    fails += check_true("step counter", opt.step == 1);
    return fails;
}

static int test_clip(void) {
    fixture *fx = fixture_open("fixtures/optim/clip.h5");
    if (!fx) return 1;
    mhim_param_layout L;
    MHIM_ASSERT(mhim_param_layout_init(&L, spec, (int64_t)MHIM_ARRAY_LEN(spec)) == MHIM_OK);
    float *g = mhim_params_alloc(&L);
    int fails = 0;
    for (int c = 0; c < 2; c++) {
        char key[64], prefix[64];
        fails += load_tensors(fx, &L, g, "grads", 0);
        snprintf(key, sizeof key, "max_norm_%d", c);
        double max_norm = fixture_scalar(fx, key);
        float total = mhim_clip_grad_norm(g, L.total, max_norm);
        snprintf(key, sizeof key, "total_norm_%d", c);
        float *want_total = fixture_f32(fx, key, NULL);
        printf("clip case %d: max_norm %g, total norm %.9g (torch %.9g)\n", c, max_norm, total,
               want_total ? *want_total : NAN);
        fails += want_total ? check_close("clip_grad_norm_ total norm", &total, want_total, 1, 0, RTOL)
                            : check_true(key, 0);
        snprintf(prefix, sizeof prefix, "clipped_%d", c);
        fails += compare_tensors(fx, &L, g, prefix, "clip_grad_norm_");
    }
    float bad[3] = {1, NAN, 2};
    float total = mhim_clip_grad_norm(bad, 3, 1.0);
    fails += check_true("non-finite gradient: norm is NaN and nothing is scaled", isnan(total) && bad[0] == 1 &&
                                                                                    bad[2] == 2);
    mhim_params_free(g);
    mhim_param_layout_free(&L);
    fixture_close(fx);
    return fails;
}

static int test_ema(void) {
    fixture *fx = fixture_open("fixtures/optim/ema.h5");
    if (!fx) return 1;
    int64_t n = 0, ns = 0;
    float *t0 = fixture_f32(fx, "teacher0", &n), *s = fixture_f32(fx, "student", &ns);
    int fails = check_true("ema fixture shapes", t0 && s && n == ns && n == 257);
    float *t = malloc((size_t)n * sizeof *t);
    for (int c = 0; c < 3 && !fails; c++) {
        char key[64];
        snprintf(key, sizeof key, "momentum_%d", c);
        double mm = fixture_scalar(fx, key);
        memcpy(t, t0, (size_t)n * sizeof *t);
        mhim_ema_update(t, s, n, mm);
        snprintf(key, sizeof key, "teacher1_%d", c);
        float *want = fixture_f32(fx, key, NULL);
        char name[96];
        snprintf(name, sizeof name, "EMA teacher update, m = %g", mm);
        /* Same two float32 operations as torch's mul_/add_: bitwise equal. */
        fails += want ? check_close(name, t, want, n, 0, 0) : check_true(key, 0);
    }
    free(t);
    fixture_close(fx);
    return fails;
}

/* The fixture reader itself: integer and float64 conversions, shapes, missing names. */
static int test_fixture_reader(void) {
    fixture *fx = fixture_open("fixtures/optim/ema.h5");
    if (!fx) return 1;
    int fails = 0;
    int64_t n = 0, dims[4] = {0};
    int64_t *len = fixture_i64(fx, "length", &n);
    fails += check_true("int32 dataset read as int64", len && n == 1 && len[0] == 257);
    float *f64 = fixture_f32(fx, "teacher0_f64", &n), *f32 = fixture_f32(fx, "teacher0", NULL);
    fails += f64 && f32 && n == 257 ? check_close("float64 dataset read as float32", f64, f32, n, 0, 0)
                                    : check_true("float64 dataset", 0);
    fails += check_true("shape of a 1-d dataset", fixture_shape(fx, "student", dims, 4) == 1 && dims[0] == 257);
    fails += check_true("attribute on the root", fixture_scalar(fx, "momentum_2") == 0.5);
    printf("expected failure messages follow:\n");
    fails += check_true("missing dataset gives NULL", fixture_f32(fx, "nope", &n) == NULL && !fixture_has(fx, "nope"));
    fails += check_true("float dataset refused as integers", fixture_i64(fx, "student", &n) == NULL);
    fails += check_true("missing scalar gives NaN", isnan(fixture_scalar(fx, "group/nope")));
    fixture_close(fx);
    fails += check_true("missing file gives NULL", fixture_open("fixtures/optim/does_not_exist.h5") == NULL);
    return fails;
}

int main(void) {
    int fails = test_adam_cases() + test_whole_buffer_step() + test_clip() + test_ema() + test_fixture_reader();
    printf("%s: %d failure(s)\n", __FILE__, fails);
    return fails ? 1 : 0;
}
