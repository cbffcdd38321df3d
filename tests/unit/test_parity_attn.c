/* PyTorch parity of the Nyström attention, PPEG and DSMIL ops: forward outputs and every gradient against the
 * float64 reference fixtures of tests/pytorch/gen_attn_fixtures.py (tests/fixtures/attn/<case>.h5). Gradients the C
 * code writes (=) are poisoned with NaN first; accumulated (+=) ones start at zero.
 *
 * Tolerances (float32 C vs float64 reference, |err| <= atol + rtol*|want|): forward 2e-6 + 1e-5 rel, gradients
 * 1e-5 + 1e-4 rel (observed: at most 2.4e-7 forward and 1.4e-6 on gradients, from the unrolled pseudo-inverse). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "mhim/common.h"
#include "mhim/ops/dsmil.h"
#include "mhim/ops/nystrom.h"
#include "mhim/ops/ppeg.h"

#define FWD_ATOL 2e-6
#define FWD_RTOL 1e-5
#define BWD_ATOL 1e-5
#define BWD_RTOL 1e-4

static float *nan_buf(int64_t n) {
    float *x = mhim_malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = NAN;
    return x;
}

static float *zeros(int64_t n) { return mhim_calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

static int64_t attr_i64(fixture *f, const char *name) { return (int64_t)fixture_scalar(f, name); }

static int nystrom_case(const char *cas) {
    char path[256];
    snprintf(path, sizeof path, "fixtures/attn/%s.h5", cas);
    fixture *f = fixture_open(path);
    if (!f) return 1;
    const int64_t n = attr_i64(f, "n"), D = attr_i64(f, "dim"), H = attr_i64(f, "heads"), dh = attr_i64(f, "dim_head");
    const int64_t m = attr_i64(f, "landmarks"), inner = H * dh, p = mhim_nystrom_pad(n, m);
    const int64_t nqkv = 3 * inner * D, nwo = D * inner, nres = H * MHIM_NYSTROM_RES_KERNEL;
    int fails = check_true("fixture pad matches mhim_nystrom_pad", attr_i64(f, "pad") == p);
    float *x = fixture_f32_n(f, "inputs/x", n * D), *dout = fixture_f32_n(f, "inputs/d_out", n * D);
    float *w_qkv = fixture_f32_n(f, "params/to_qkv.weight", nqkv), *w_out = fixture_f32_n(f, "params/to_out.0.weight", nwo);
    float *b_out = fixture_f32_n(f, "params/to_out.0.bias", D), *w_res = fixture_f32_n(f, "params/res_conv.weight", nres);
    if (!x || !dout || !w_qkv || !w_out || !b_out || !w_res) {
        fixture_close(f);
        return 1;
    }
    float *cache_buf = nan_buf(mhim_nystrom_cache_floats(n, H, dh, m));
    mhim_nystrom_cache cache;
    mhim_nystrom_cache_bind(&cache, cache_buf, n, H, dh, m);
    float *scratch = nan_buf(
        MHIM_MAX(mhim_nystrom_forward_scratch_floats(n, D, H, dh, m),
                 mhim_nystrom_backward_scratch_floats(n, D, H, dh, m)));
    float *out = nan_buf(n * D);
    mhim_nystrom_forward(out, &cache, scratch, x, w_qkv, w_out, b_out, w_res, n, D, H, dh, m, n);
    fails += fixture_check(f, cas, "outputs/out", out, n * D, FWD_ATOL, FWD_RTOL);
    /* attention export and the instance values (v[:, :, -n+1:]) */
    float *attn = nan_buf(H * (n - 1)), *v = nan_buf(H * (n - 1) * dh);
    mhim_nystrom_cls_attention(attn, &cache, scratch, n, H, m);
    const int64_t np = n + p;
    for (int64_t h = 0; h < H; h++)
        memcpy(v + h * (n - 1) * dh, cache.v + (h * np + p + 1) * dh, (size_t)((n - 1) * dh) * sizeof(float));
    if (n > 1) {
        fails += fixture_check(f, cas, "outputs/attn", attn, H * (n - 1), FWD_ATOL, FWD_RTOL);
        fails += fixture_check(f, cas, "outputs/v", v, H * (n - 1) * dh, FWD_ATOL, FWD_RTOL);
    }
    float *dx = nan_buf(n * D), *dqkv = zeros(nqkv), *dwo = zeros(nwo), *dbo = zeros(D), *dres = zeros(nres);
    mhim_nystrom_backward(dx, dqkv, dwo, dbo, dres, dout, &cache, scratch, x, w_qkv, w_out, w_res, n, D, H, dh, m, n);
    fails += fixture_check(f, cas, "grads/x", dx, n * D, BWD_ATOL, BWD_RTOL);
    fails += fixture_check(f, cas, "grads/to_qkv.weight", dqkv, nqkv, BWD_ATOL, BWD_RTOL);
    fails += fixture_check(f, cas, "grads/to_out.0.weight", dwo, nwo, BWD_ATOL, BWD_RTOL);
    fails += fixture_check(f, cas, "grads/to_out.0.bias", dbo, D, BWD_ATOL, BWD_RTOL);
    fails += fixture_check(f, cas, "grads/res_conv.weight", dres, nres, BWD_ATOL, BWD_RTOL);
    free(cache_buf), free(scratch), free(out), free(attn), free(v), free(dx), free(dqkv), free(dwo), free(dbo);
    free(dres);
    fixture_close(f);
    return fails;
}

static int ppeg_case(const char *cas) {
    char path[256];
    snprintf(path, sizeof path, "fixtures/attn/%s.h5", cas);
    fixture *f = fixture_open(path);
    if (!f) return 1;
    const int64_t M = attr_i64(f, "M"), D = attr_i64(f, "dim");
    const char *names[3] = {"proj", "proj1", "proj2"};
    const int64_t ks[3] = {MHIM_PPEG_K0, MHIM_PPEG_K1, MHIM_PPEG_K2};
    float *w[3], *b[3], *dw[3], *db[3];
    char name[96];
    int missing = 0;
    for (int k = 0; k < 3; k++) {
        snprintf(name, sizeof name, "params/%s.weight", names[k]);
        w[k] = fixture_f32_n(f, name, D * ks[k] * ks[k]);
        snprintf(name, sizeof name, "params/%s.bias", names[k]);
        b[k] = fixture_f32_n(f, name, D);
        dw[k] = zeros(D * ks[k] * ks[k]);
        db[k] = zeros(D);
        missing += !w[k] || !b[k];
    }
    float *x = fixture_f32_n(f, "inputs/x", M * D), *dout = fixture_f32_n(f, "inputs/d_out", M * D);
    int fails = 0;
    if (missing || !x || !dout) {
        fails = 1;
    } else {
        float *out = nan_buf(M * D), *dx = nan_buf(M * D);
        float *scratch = nan_buf(mhim_ppeg_backward_scratch_floats(M, D));
        mhim_ppeg_forward(out, scratch, x, w[0], b[0], w[1], b[1], w[2], b[2], M, D);
        fails += fixture_check(f, cas, "outputs/out", out, M * D, FWD_ATOL, FWD_RTOL);
        mhim_ppeg_backward(dx, dw[0], db[0], dw[1], db[1], dw[2], db[2], dout, scratch, x, w[0], w[1], w[2], M, D);
        fails += fixture_check(f, cas, "grads/x", dx, M * D, BWD_ATOL, BWD_RTOL);
        for (int k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "grads/%s.weight", names[k]);
            fails += fixture_check(f, cas, name, dw[k], D * ks[k] * ks[k], BWD_ATOL, BWD_RTOL);
            snprintf(name, sizeof name, "grads/%s.bias", names[k]);
            fails += fixture_check(f, cas, name, db[k], D, BWD_ATOL, BWD_RTOL);
        }
        free(out), free(dx), free(scratch);
    }
    for (int k = 0; k < 3; k++) free(dw[k]), free(db[k]);
    fixture_close(f);
    return fails;
}

enum { P_WI, P_BI, P_WV, P_BV, P_WQ1, P_BQ1, P_WQ2, P_BQ2, P_WF, P_BF, NPARAM };
static const char *const dsmil_params[NPARAM] = {
    "i_classifier.0.weight",   "i_classifier.0.bias",   "b_classifier.v.1.weight", "b_classifier.v.1.bias",
    "b_classifier.q.0.weight", "b_classifier.q.0.bias", "b_classifier.q.2.weight", "b_classifier.q.2.bias",
    "b_classifier.fcc.weight", "b_classifier.fcc.bias"};

static int dsmil_case(const char *cas) {
    char path[256], name[128];
    snprintf(path, sizeof path, "fixtures/attn/%s.h5", cas);
    fixture *f = fixture_open(path);
    if (!f) return 1;
    const int64_t n = attr_i64(f, "n"), D = attr_i64(f, "dim"), Dq = attr_i64(f, "qdim"), C = attr_i64(f, "classes");
    const int64_t sizes[NPARAM] = {C * D, C, D * D, D, Dq * D, Dq, Dq * Dq, Dq, C * C * D, C};
    float *p[NPARAM], *g[NPARAM];
    int missing = 0;
    for (int k = 0; k < NPARAM; k++) {
        snprintf(name, sizeof name, "params/%s", dsmil_params[k]);
        p[k] = fixture_f32_n(f, name, sizes[k]);
        g[k] = zeros(sizes[k]);
        missing += !p[k];
    }
    float *h = fixture_f32_n(f, "inputs/h", n * D), *d_bag_logit = fixture_f32_n(f, "inputs/d_bag_logit", C);
    float *d_max_logit = fixture_f32_n(f, "inputs/d_max_logit", C), *d_bag = fixture_f32_n(f, "inputs/d_bag", C * D);
    int64_t ncrit = 0, *want_crit = fixture_i64(f, "outputs/crit", &ncrit);
    int fails = 0;
    if (missing || !h || !d_bag_logit || !d_max_logit || !d_bag || !want_crit || ncrit != C || C > 8) {
        fails = 1;
    } else {
        float *cache_buf = nan_buf(mhim_dsmil_cache_floats(n, C, Dq, D));
        int64_t crit[8];
        mhim_dsmil_cache cache;
        mhim_dsmil_cache_bind(&cache, cache_buf, crit, n, C, Dq, D);
        float *bag_logit = nan_buf(C), *max_logit = nan_buf(C), *dh = nan_buf(n * D);
        float *scratch = nan_buf(mhim_dsmil_backward_scratch_floats(n, C, Dq, D));
        mhim_dsmil_forward(bag_logit, max_logit, &cache, h, p[P_WI], p[P_BI], p[P_WV], p[P_BV], p[P_WQ1], p[P_BQ1],
                           p[P_WQ2], p[P_BQ2], p[P_WF], p[P_BF], n, C, Dq, D);
        fails += check_equal_i64("dsmil critical instances vs torch.sort", crit, want_crit, C);
        fails += fixture_check(f, cas, "outputs/inst", cache.inst, n * C, FWD_ATOL, FWD_RTOL);
        fails += fixture_check(f, cas, "outputs/bag_logit", bag_logit, C, FWD_ATOL, FWD_RTOL);
        fails += fixture_check(f, cas, "outputs/max_logit", max_logit, C, FWD_ATOL, FWD_RTOL);
        fails += fixture_check(f, cas, "outputs/bag", cache.bag, C * D, FWD_ATOL, FWD_RTOL);
        mhim_dsmil_backward(dh, g[P_WI], g[P_BI], g[P_WV], g[P_BV], g[P_WQ1], g[P_BQ1], g[P_WQ2], g[P_BQ2], g[P_WF],
                            g[P_BF], d_bag_logit, d_max_logit, d_bag, &cache, scratch, h, p[P_WI], p[P_WV], p[P_WQ1],
                            p[P_WQ2], p[P_WF], n, C, Dq, D);
        fails += fixture_check(f, cas, "grads/h", dh, n * D, BWD_ATOL, BWD_RTOL);
        for (int k = 0; k < NPARAM; k++) {
            snprintf(name, sizeof name, "grads/%s", dsmil_params[k]);
            fails += fixture_check(f, cas, name, g[k], sizes[k], BWD_ATOL, BWD_RTOL);
        }
        free(cache_buf), free(bag_logit), free(max_logit), free(dh), free(scratch);
    }
    for (int k = 0; k < NPARAM; k++) free(g[k]);
    fixture_close(f);
    return fails;
}

int main(void) {
    int fails = 0;
    const char *nystrom[] = {"nystrom_n13", "nystrom_n1", "nystrom_n3_ties", "nystrom_n60_h8"};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(nystrom); i++) fails += nystrom_case(nystrom[i]);
    const char *ppeg[] = {"ppeg_m3", "ppeg_m49", "ppeg_m50"};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(ppeg); i++) fails += ppeg_case(ppeg[i]);
    const char *dsmil[] = {"dsmil_n13", "dsmil_n30_q128", "dsmil_n9_c3"};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(dsmil); i++) fails += dsmil_case(dsmil[i]);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
