/* PyTorch parity of the basic ops and losses: the HDF5 files in tests/fixtures/basic, written by
 * tests/pytorch/gen_basic_fixtures.py (float64 reference from float32 inputs). Each case runs the C forward and
 * backward on the fixture's inputs and parameters and compares outputs and gradients (written outputs are
 * pre-filled with NaN so that an unwritten element fails; parameter gradients start at 0). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "mhim/common.h"
#include "mhim/ops/act.h"
#include "mhim/ops/attnpool.h"
#include "mhim/ops/dropout.h"
#include "mhim/ops/gather.h"
#include "mhim/ops/linear.h"
#include "mhim/ops/loss.h"
#include "mhim/ops/norm.h"
#include "mhim/ops/softmax.h"

/* Tolerances against the float64 reference: element-wise ops are a few float32 ulps off; reductions over up to
 * ~500 terms (GEMMs, softmax sums) a few more. */
#define ATOL 2e-5
#define RTOL 2e-4

/* Open fixtures/basic/<name> (the working directory of unit tests is tests/). */
static fixture *open_case(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "fixtures/basic/%s", name);
    return fixture_open(path);
}

/* A dataset as float32 with exactly `count` elements, else NULL (and a FAIL line). */
static float *f32(fixture *f, const char *name, int64_t count) {
    int64_t n = -1;
    float *x = fixture_f32(f, name, &n);
    if (x && n != count) {
        printf("FAIL %s has %lld elements, expected %lld\n", name, (long long)n, (long long)count);
        return NULL;
    }
    return x;
}

static int64_t *i64(fixture *f, const char *name, int64_t count) {
    int64_t n = -1;
    int64_t *x = fixture_i64(f, name, &n);
    if (x && n != count) {
        printf("FAIL %s has %lld elements, expected %lld\n", name, (long long)n, (long long)count);
        return NULL;
    }
    return x;
}

/* A byte mask from an integer dataset. Owned by the caller. */
static uint8_t *mask(fixture *f, const char *name, int64_t count) {
    int64_t *m = i64(f, name, count);
    if (!m) return NULL;
    uint8_t *keep = mhim_malloc((size_t)count);
    for (int64_t i = 0; i < count; i++) keep[i] = (uint8_t)(m[i] != 0);
    return keep;
}

static float *nans(int64_t n) {
    float *x = mhim_malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = NAN;
    return x;
}

static float *zeros(int64_t n) { return mhim_calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

/* Compare under "<case>: <tensor>". */
static int cmp(const char *fixture_name, const char *tensor, const float *got, const float *want, int64_t n,
               double atol, double rtol) {
    char name[160];
    snprintf(name, sizeof name, "%s: %s", fixture_name, tensor);
    return check_close(name, got, want, n, atol, rtol);
}

static int missing(const char *name) {
    printf("FAIL %s: missing or malformed dataset\n", name);
    return 1;
}

static int parity_linear(const char *name, int64_t N, int64_t C, int64_t OC, int bias) {
    fixture *f = open_case(name);
    if (!f) return missing(name);
    float *x = f32(f, "inputs/x", N * C), *dout = f32(f, "inputs/dout", N * OC), *W = f32(f, "params/weight", OC * C);
    float *b = bias ? f32(f, "params/bias", OC) : NULL, *out_ref = f32(f, "outputs/out", N * OC);
    float *dx_ref = f32(f, "grads/x", N * C), *dW_ref = f32(f, "grads/weight", OC * C);
    float *db_ref = bias ? f32(f, "grads/bias", OC) : NULL;
    int fails = 0;
    if (!x || !dout || !W || !out_ref || !dx_ref || !dW_ref || (bias && (!b || !db_ref))) {
        fails = missing(name);
    } else {
        float *out = nans(N * OC), *dx = nans(N * C), *dW = zeros(OC * C), *db = zeros(OC);
        mhim_linear_forward(out, x, W, b, N, C, OC);
        mhim_linear_backward(dx, dW, bias ? db : NULL, dout, x, W, N, C, OC);
        fails += cmp(name, "out", out, out_ref, N * OC, ATOL, RTOL);
        fails += cmp(name, "grad x", dx, dx_ref, N * C, ATOL, RTOL);
        fails += cmp(name, "grad weight", dW, dW_ref, OC * C, ATOL, RTOL);
        if (bias) fails += cmp(name, "grad bias", db, db_ref, OC, ATOL, RTOL);
        free(out), free(dx), free(dW), free(db);
    }
    fixture_close(f);
    return fails;
}

static int parity_act(void) {
    const char *name = "act.h5";
    const int64_t n = 257;
    fixture *f = open_case(name);
    if (!f) return missing(name);
    float *x = f32(f, "inputs/x", n), *dout = f32(f, "inputs/dout", n);
    int fails = 0;
    static const struct {
        mhim_act act;
        const char *name;
    } acts[] = {{MHIM_ACT_RELU, "relu"}, {MHIM_ACT_GELU, "gelu"}, {MHIM_ACT_TANH, "tanh"},
                {MHIM_ACT_SIGMOID, "sigmoid"}};
    for (size_t a = 0; a < MHIM_ARRAY_LEN(acts) && x && dout; a++) {
        char key[64];
        snprintf(key, sizeof key, "outputs/%s", acts[a].name);
        float *out_ref = f32(f, key, n);
        snprintf(key, sizeof key, "grads/%s", acts[a].name);
        float *dx_ref = f32(f, key, n);
        if (!out_ref || !dx_ref) {
            fails += missing(name);
            continue;
        }
        float *out = nans(n), *dx = nans(n);
        mhim_act_forward(acts[a].act, out, x, n);
        mhim_act_backward(acts[a].act, dx, dout, x, out, n);
        snprintf(key, sizeof key, "%s out", acts[a].name);
        fails += cmp(name, key, out, out_ref, n, ATOL, RTOL);
        snprintf(key, sizeof key, "%s grad", acts[a].name);
        fails += cmp(name, key, dx, dx_ref, n, ATOL, RTOL);
        free(out), free(dx);
    }
    if (!x || !dout) fails += missing(name);
    fixture_close(f);
    return fails;
}

static int parity_dropout(void) {
    const char *name = "dropout.h5";
    const int64_t n = 300;
    fixture *f = open_case(name);
    if (!f) return missing(name);
    float *x = f32(f, "inputs/x", n), *dout = f32(f, "inputs/dout", n);
    float *out_ref = f32(f, "outputs/out", n), *dx_ref = f32(f, "grads/x", n);
    uint8_t *keep = mask(f, "inputs/keep", n);
    float p = (float)fixture_scalar(f, "p");
    int fails = 0;
    if (!x || !dout || !out_ref || !dx_ref || !keep || isnan(p)) {
        fails = missing(name);
    } else {
        float *out = nans(n), *dx = nans(n);
        mhim_dropout_forward(out, keep, x, p, n);
        mhim_dropout_backward(dx, dout, keep, p, n);
        fails += cmp(name, "out", out, out_ref, n, ATOL, RTOL);
        fails += cmp(name, "grad x", dx, dx_ref, n, ATOL, RTOL);
        free(out), free(dx);
    }
    free(keep);
    fixture_close(f);
    return fails;
}

static int parity_layernorm(void) {
    const char *name = "layernorm.h5";
    const int64_t N = 19, C = 48;
    fixture *f = open_case(name);
    if (!f) return missing(name);
    float *x = f32(f, "inputs/x", N * C), *dout = f32(f, "inputs/dout", N * C), *g = f32(f, "params/weight", C);
    float *b = f32(f, "params/bias", C), *out_ref = f32(f, "outputs/out", N * C), *dx_ref = f32(f, "grads/x", N * C);
    float *dg_ref = f32(f, "grads/weight", C), *db_ref = f32(f, "grads/bias", C);
    int fails = 0;
    if (!x || !dout || !g || !b || !out_ref || !dx_ref || !dg_ref || !db_ref) {
        fails = missing(name);
    } else {
        float *out = nans(N * C), *mean = nans(N), *rstd = nans(N), *dx = nans(N * C), *dg = zeros(C), *db = zeros(C);
        mhim_layernorm_forward(out, mean, rstd, x, g, b, N, C);
        mhim_layernorm_backward(dx, dg, db, dout, x, g, mean, rstd, N, C);
        fails += cmp(name, "out", out, out_ref, N * C, ATOL, RTOL);
        fails += cmp(name, "grad x", dx, dx_ref, N * C, ATOL, RTOL);
        fails += cmp(name, "grad weight", dg, dg_ref, C, ATOL, RTOL);
        fails += cmp(name, "grad bias", db, db_ref, C, ATOL, RTOL);
        free(out), free(mean), free(rstd), free(dx), free(dg), free(db);
    }
    fixture_close(f);
    return fails;
}

/* One softmax case of softmax.h5: tag "inst_<kind>" (dim 0 of (a, b), mask over a) or "rows_<kind>" (rows of
 * (a, b), mask over b). use_mask = 0 passes keep = NULL (valid only for the all-ones "plain" masks). */
static int parity_softmax_case(fixture *f, const char *tag, int rows, int64_t a, int64_t b, int use_mask) {
    char key[96], label[96];
    int64_t n = a * b, mask_len = rows ? b : a;
    snprintf(key, sizeof key, "inputs/%s_x", tag);
    float *x = f32(f, key, n);
    snprintf(key, sizeof key, "inputs/%s_dout", tag);
    float *dout = f32(f, key, n);
    snprintf(key, sizeof key, "inputs/%s_keep", tag);
    uint8_t *keep = mask(f, key, mask_len);
    snprintf(key, sizeof key, "outputs/%s", tag);
    float *out_ref = f32(f, key, n);
    snprintf(key, sizeof key, "grads/%s", tag);
    float *dx_ref = f32(f, key, n);
    int fails = 0;
    if (!x || !dout || !keep || !out_ref || !dx_ref) {
        fails = missing(tag);
    } else {
        float *out = nans(n), *dx = nans(n);
        const uint8_t *k = use_mask ? keep : NULL;
        if (rows) {
            mhim_softmax_rows_forward(out, x, k, a, b);
            mhim_softmax_rows_backward(dx, dout, out, a, b);
        } else {
            mhim_softmax_instances_forward(out, x, k, a, b);
            mhim_softmax_instances_backward(dx, dout, out, a, b);
        }
        snprintf(label, sizeof label, "%s%s out", tag, use_mask ? "" : " (keep NULL)");
        fails += cmp("softmax.h5", label, out, out_ref, n, ATOL, RTOL);
        snprintf(label, sizeof label, "%s%s grad", tag, use_mask ? "" : " (keep NULL)");
        fails += cmp("softmax.h5", label, dx, dx_ref, n, ATOL, RTOL);
        free(out), free(dx);
    }
    free(keep);
    return fails;
}

static int parity_softmax(void) {
    fixture *f = open_case("softmax.h5");
    if (!f) return missing("softmax.h5");
    int fails = 0;
    fails += parity_softmax_case(f, "inst_plain", 0, 29, 2, 1);
    fails += parity_softmax_case(f, "inst_plain", 0, 29, 2, 0);
    fails += parity_softmax_case(f, "inst_masked", 0, 29, 2, 1);
    fails += parity_softmax_case(f, "inst_one_kept", 0, 29, 2, 1);
    fails += parity_softmax_case(f, "rows_plain", 1, 6, 23, 0);
    fails += parity_softmax_case(f, "rows_masked", 1, 6, 23, 1);
    fixture_close(f);
    return fails;
}

static int parity_attnpool(void) {
    const char *name = "attnpool.h5";
    const int64_t N = 31, K = 2, D = 24;
    fixture *f = open_case(name);
    if (!f) return missing(name);
    float *A = f32(f, "inputs/A", N * K), *h = f32(f, "inputs/h", N * D), *dz = f32(f, "inputs/dout", K * D);
    float *z_ref = f32(f, "outputs/z", K * D), *dA_ref = f32(f, "grads/A", N * K), *dh_ref = f32(f, "grads/h", N * D);
    int fails = 0;
    if (!A || !h || !dz || !z_ref || !dA_ref || !dh_ref) {
        fails = missing(name);
    } else {
        float *z = nans(K * D), *dA = nans(N * K), *dh = nans(N * D);
        mhim_attnpool_forward(z, A, h, N, K, D);
        mhim_attnpool_backward(dA, dh, dz, A, h, N, K, D);
        fails += cmp(name, "z", z, z_ref, K * D, ATOL, RTOL);
        fails += cmp(name, "grad A", dA, dA_ref, N * K, ATOL, RTOL);
        fails += cmp(name, "grad h", dh, dh_ref, N * D, ATOL, RTOL);
        free(z), free(dA), free(dh);
    }
    fixture_close(f);
    return fails;
}

/* Score-network fixtures: plain DAttention (attention.0/.2) or gated (attention_a.0, attention_b.0, attention_c). */
static int parity_scores(const char *name, int gated, mhim_act act, int bias, int64_t N, int64_t D, int64_t L,
                         int64_t K) {
    fixture *f = open_case(name);
    if (!f) return missing(name);
    const char *k1 = gated ? "attention_a.0" : "attention.0", *k2 = gated ? "attention_c" : "attention.2";
    char key[96];
    float *p[6] = {0}, *ref[6] = {0}; /* W1/Wa, b1/ba, W2/Wc, b2/bc, Wb, bb */
    int64_t sizes[6] = {L * D, L, K * L, K, L * D, L};
    const char *prefix[6] = {k1, k1, k2, k2, "attention_b.0", "attention_b.0"};
    int present[6] = {1, bias, 1, bias, gated, gated && bias};
    int ok = 1;
    for (int i = 0; i < 6; i++) {
        if (!present[i]) continue;
        snprintf(key, sizeof key, "params/%s.%s", prefix[i], i % 2 ? "bias" : "weight");
        p[i] = f32(f, key, sizes[i]);
        snprintf(key, sizeof key, "grads/%s.%s", prefix[i], i % 2 ? "bias" : "weight");
        ref[i] = f32(f, key, sizes[i]);
        ok = ok && p[i] && ref[i];
    }
    float *h = f32(f, "inputs/h", N * D), *ds = f32(f, "inputs/dout", N * K), *s_ref = f32(f, "outputs/s", N * K);
    float *dh_ref = f32(f, "grads/h", N * D);
    int fails = 0;
    if (!ok || !h || !ds || !s_ref || !dh_ref) {
        fixture_close(f);
        return missing(name);
    }
    int64_t NL = N * L;
    float *s = nans(N * K), *pre = nans(NL), *hid = nans(NL), *b = nans(NL), *g = nans(NL), *scratch = nans(2 * NL);
    float *dh = nans(N * D), *grad[6] = {0};
    for (int i = 0; i < 6; i++)
        if (present[i]) grad[i] = zeros(sizes[i]);
    if (gated) {
        mhim_gated_scores_forward(s, pre, hid, b, g, h, p[0], p[1], p[4], p[5], p[2], p[3], act, N, D, L, K);
        mhim_gated_scores_backward(dh, grad[0], grad[1], grad[4], grad[5], grad[2], grad[3], scratch, ds, h, pre, hid,
                                   b, g, p[0], p[4], p[2], act, N, D, L, K);
    } else {
        mhim_abmil_scores_forward(s, pre, hid, h, p[0], p[1], p[2], p[3], act, N, D, L, K);
        mhim_abmil_scores_backward(dh, grad[0], grad[1], grad[2], grad[3], scratch, ds, h, pre, hid, p[0], p[2], act,
                                   N, D, L, K);
    }
    fails += cmp(name, "scores", s, s_ref, N * K, ATOL, RTOL);
    fails += cmp(name, "grad h", dh, dh_ref, N * D, ATOL, RTOL);
    for (int i = 0; i < 6; i++) {
        if (!present[i]) continue;
        snprintf(key, sizeof key, "grad %s.%s", prefix[i], i % 2 ? "bias" : "weight");
        fails += cmp(name, key, grad[i], ref[i], sizes[i], ATOL, RTOL);
        free(grad[i]);
    }
    free(s), free(pre), free(hid), free(b), free(g), free(scratch), free(dh);
    fixture_close(f);
    return fails;
}

static int parity_gather(void) {
    const char *name = "gather.h5";
    const int64_t N = 13, D = 10, M = 17;
    fixture *f = open_case(name);
    if (!f) return missing(name);
    float *x = f32(f, "inputs/x", N * D), *dout = f32(f, "inputs/dout", M * D), *out_ref = f32(f, "outputs/out", M * D);
    float *dx_ref = f32(f, "grads/x", N * D);
    int64_t *idx = i64(f, "inputs/idx", M);
    int fails = 0;
    if (!x || !dout || !out_ref || !dx_ref || !idx) {
        fails = missing(name);
    } else {
        float *out = nans(M * D), *dx = nans(N * D);
        mhim_gather_rows_forward(out, x, idx, M, N, D);
        mhim_gather_rows_backward(dx, dout, idx, M, N, D);
        fails += cmp(name, "out", out, out_ref, M * D, 0, 0);
        fails += cmp(name, "grad x", dx, dx_ref, N * D, ATOL, RTOL);
        free(out), free(dx);
    }
    fixture_close(f);
    return fails;
}

/* Loss fixtures: value and logit gradient for dloss = attribute "dloss". */
static int parity_loss(const char *name, int kind, int64_t B, int64_t C) {
    fixture *f = open_case(name);
    if (!f) return missing(name);
    int64_t n = B * C;
    float dloss = (float)fixture_scalar(f, "dloss");
    float *loss_ref = f32(f, "outputs/loss", 1);
    float *x = f32(f, kind == 1 ? "inputs/student" : "inputs/logits", n);
    float *dx_ref = f32(f, kind == 1 ? "grads/student" : "grads/logits", n);
    const char *grad_label = kind == 1 ? "grad student" : "grad logits";
    float *dx = nans(n), *c1 = nans(n), *c2 = nans(n), loss = NAN;
    int fails = 0;
    if (!loss_ref || !x || !dx_ref || isnan(dloss)) {
        fails = missing(name);
    } else if (kind == 0) { /* cross-entropy */
        int64_t *y = i64(f, "inputs/target", B);
        if (!y) fails = missing(name);
        else {
            loss = mhim_cross_entropy_forward(c1, x, y, B, C);
            mhim_cross_entropy_backward(dx, c1, y, dloss, B, C);
        }
    } else if (kind == 1) { /* consistency */
        float *t = f32(f, "inputs/teacher", n);
        float tt = (float)fixture_scalar(f, "temp_t"), ts = (float)fixture_scalar(f, "temp_s");
        if (!t) fails = missing(name);
        else {
            loss = mhim_soft_target_ce_forward(c1, c2, x, t, tt, ts, B, C);
            mhim_soft_target_ce_backward(dx, c1, c2, dloss, ts, B, C);
        }
    } else if (kind == 2) { /* BCE with logits */
        float *t = f32(f, "inputs/target", n);
        if (!t) fails = missing(name);
        else {
            loss = mhim_bce_logits_forward(x, t, n);
            mhim_bce_logits_backward(dx, x, t, dloss, n);
        }
    } else { /* survival NLL */
        int64_t *y = i64(f, "inputs/y", B);
        float *c = f32(f, "inputs/c", B), alpha = (float)fixture_scalar(f, "alpha");
        if (!y || !c) fails = missing(name);
        else {
            loss = mhim_nll_surv_forward(c1, c2, x, y, c, alpha, B, C);
            mhim_nll_surv_backward(dx, c1, c2, y, c, alpha, dloss, B, C);
        }
    }
    if (!fails) {
        fails += cmp(name, "loss", &loss, loss_ref, 1, 1e-6, 1e-6);
        fails += cmp(name, grad_label, dx, dx_ref, n, 1e-6, 1e-4);
    }
    free(dx), free(c1), free(c2);
    fixture_close(f);
    return fails;
}

int main(void) {
    int fails = 0;
    fails += parity_linear("linear.h5", 37, 24, 16, 1);
    fails += parity_linear("linear_nobias_n1.h5", 1, 20, 8, 0);
    fails += parity_act();
    fails += parity_dropout();
    fails += parity_layernorm();
    fails += parity_softmax();
    fails += parity_attnpool();
    fails += parity_scores("abmil_relu.h5", 0, MHIM_ACT_RELU, 0, 23, 32, 12, 1);
    fails += parity_scores("abmil_gelu_bias.h5", 0, MHIM_ACT_GELU, 1, 9, 32, 12, 2);
    fails += parity_scores("gated_relu.h5", 1, MHIM_ACT_RELU, 0, 21, 32, 12, 1);
    fails += parity_scores("gated_tanh_bias.h5", 1, MHIM_ACT_TANH, 1, 1, 32, 12, 1);
    fails += parity_gather();
    fails += parity_loss("loss_ce_bag.h5", 0, 1, 2);
    fails += parity_loss("loss_ce_batch.h5", 0, 3, 4);
    fails += parity_loss("loss_soft_bag.h5", 1, 1, 512);
    fails += parity_loss("loss_soft_dsmil.h5", 1, 2, 96);
    fails += parity_loss("loss_bce.h5", 2, 3, 2);
    fails += parity_loss("loss_surv_a0.h5", 3, 8, 4);
    fails += parity_loss("loss_surv_a04.h5", 3, 8, 4);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
