/* Thread-count invariance of the Nyström attention, PPEG and DSMIL ops: forward outputs and all gradients computed
 * with 1 and with 2 OpenMP threads must be bitwise identical. OpenBLAS stays at 2 threads in both runs: OpenBLAS
 * 0.3.21 sgemm itself changes its results with its own thread count (docs/numerics.md), so the promise is "any
 * OpenMP thread count, fixed OpenBLAS thread count". Shapes are large enough for every parallel loop to be split
 * (n = 300 tokens, 4 heads, 32 landmarks; 500 DSMIL instances). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "check.h"
#include "mhim/common.h"
#include "mhim/ops/dsmil.h"
#include "mhim/ops/nystrom.h"
#include "mhim/ops/ppeg.h"
#include "mhim/threads.h"

static float *rand_buf(uint64_t seed, int64_t n, float lo, float hi) {
    test_rng r = {.s = seed};
    float *x = mhim_malloc((size_t)n * sizeof(float));
    test_fill_uniform(&r, x, n, lo, hi);
    return x;
}

static float *zeros(int64_t n) { return mhim_calloc((size_t)n, sizeof(float)); }

/* Results of one run: a list of named buffers, compared bitwise between runs. */
#define MAX_RESULTS 24
typedef struct {
    const char *name[MAX_RESULTS];
    float *data[MAX_RESULTS];
    int64_t count[MAX_RESULTS];
    int n;
} results;

static void keep(results *r, const char *name, const float *x, int64_t count) {
    MHIM_ASSERT(r->n < MAX_RESULTS);
    r->name[r->n] = name;
    r->count[r->n] = count;
    r->data[r->n] = mhim_malloc((size_t)count * sizeof(float));
    memcpy(r->data[r->n], x, (size_t)count * sizeof(float));
    r->n++;
}

static int compare(const results *a, const results *b) {
    int fails = 0;
    char label[96];
    for (int i = 0; i < a->n; i++) {
        snprintf(label, sizeof label, "1 vs 2 OpenMP threads bitwise: %s", a->name[i]);
        fails += check_true(label, memcmp(a->data[i], b->data[i], (size_t)a->count[i] * sizeof(float)) == 0);
        free(a->data[i]), free(b->data[i]);
    }
    return fails;
}

static void run_nystrom(results *res) {
    const int64_t n = 300, D = 64, H = 4, dh = 16, m = 32, inner = H * dh, nres = H * MHIM_NYSTROM_RES_KERNEL;
    float *x = rand_buf(1, n * D, -1, 1), *w_qkv = rand_buf(2, 3 * inner * D, -0.2f, 0.2f);
    float *w_out = rand_buf(3, D * inner, -0.2f, 0.2f), *b_out = rand_buf(4, D, -0.1f, 0.1f);
    float *w_res = rand_buf(5, nres, -0.2f, 0.2f), *dout = rand_buf(6, n * D, -1, 1);
    float *cache_buf = zeros(mhim_nystrom_cache_floats(n, H, dh, m));
    mhim_nystrom_cache cache;
    mhim_nystrom_cache_bind(&cache, cache_buf, n, H, dh, m);
    float *scratch = zeros(
        MHIM_MAX(mhim_nystrom_forward_scratch_floats(n, D, H, dh, m),
                 mhim_nystrom_backward_scratch_floats(n, D, H, dh, m)));
    float *out = zeros(n * D), *attn = zeros(H * (n - 1)), *dx = zeros(n * D), *dqkv = zeros(3 * inner * D);
    float *dwo = zeros(D * inner), *dbo = zeros(D), *dres = zeros(nres);
    mhim_nystrom_forward(out, &cache, scratch, x, w_qkv, w_out, b_out, w_res, n, D, H, dh, m, n);
    mhim_nystrom_cls_attention(attn, &cache, scratch, n, H, m);
    mhim_nystrom_backward(dx, dqkv, dwo, dbo, dres, dout, &cache, scratch, x, w_qkv, w_out, w_res, n, D, H, dh, m, n);
    keep(res, "nystrom out", out, n * D);
    keep(res, "nystrom cls attention", attn, H * (n - 1));
    keep(res, "nystrom dx", dx, n * D);
    keep(res, "nystrom d to_qkv.weight", dqkv, 3 * inner * D);
    keep(res, "nystrom d to_out.0.weight", dwo, D * inner);
    keep(res, "nystrom d to_out.0.bias", dbo, D);
    keep(res, "nystrom d res_conv.weight", dres, nres);
    free(x), free(w_qkv), free(w_out), free(b_out), free(w_res), free(dout), free(cache_buf), free(scratch);
    free(out), free(attn), free(dx), free(dqkv), free(dwo), free(dbo), free(dres);
}

static void run_ppeg(results *res) {
    const int64_t M = 300, D = 32, k0 = MHIM_PPEG_K0 * MHIM_PPEG_K0, k1 = MHIM_PPEG_K1 * MHIM_PPEG_K1;
    const int64_t k2 = MHIM_PPEG_K2 * MHIM_PPEG_K2;
    float *x = rand_buf(11, M * D, -1, 1), *dout = rand_buf(12, M * D, -1, 1);
    float *w0 = rand_buf(13, D * k0, -0.2f, 0.2f), *w1 = rand_buf(14, D * k1, -0.2f, 0.2f);
    float *w2 = rand_buf(15, D * k2, -0.2f, 0.2f), *b = rand_buf(16, D, -0.1f, 0.1f);
    float *scratch = zeros(mhim_ppeg_backward_scratch_floats(M, D)), *out = zeros(M * D), *dx = zeros(M * D);
    float *dw0 = zeros(D * k0), *dw1 = zeros(D * k1), *dw2 = zeros(D * k2), *db = zeros(3 * D);
    mhim_ppeg_forward(out, scratch, x, w0, b, w1, b, w2, b, M, D);
    mhim_ppeg_backward(dx, dw0, db, dw1, db + D, dw2, db + 2 * D, dout, scratch, x, w0, w1, w2, M, D);
    keep(res, "ppeg out", out, M * D);
    keep(res, "ppeg dx", dx, M * D);
    keep(res, "ppeg d proj.weight", dw0, D * k0);
    keep(res, "ppeg d proj1.weight", dw1, D * k1);
    keep(res, "ppeg d proj2.weight", dw2, D * k2);
    keep(res, "ppeg d biases", db, 3 * D);
    free(x), free(dout), free(w0), free(w1), free(w2), free(b), free(scratch), free(out), free(dx);
    free(dw0), free(dw1), free(dw2), free(db);
}

static void run_dsmil(results *res) {
    const int64_t n = 500, D = 64, Dq = 32, C = 2;
    const int64_t sizes[10] = {C * D, C, D * D, D, Dq * D, Dq, Dq * Dq, Dq, C * C * D, C};
    float *p[10], *g[10];
    int64_t total = 0;
    for (int k = 0; k < 10; k++) {
        p[k] = rand_buf(20 + (uint64_t)k, sizes[k], -0.3f, 0.3f);
        g[k] = zeros(sizes[k]);
        total += sizes[k];
    }
    float *h = rand_buf(40, n * D, -1, 1), *d_bag = rand_buf(41, C * D, -1, 1), *d_logit = rand_buf(42, 2 * C, -1, 1);
    float *cache_buf = zeros(mhim_dsmil_cache_floats(n, C, Dq, D));
    int64_t crit[2];
    mhim_dsmil_cache cache;
    mhim_dsmil_cache_bind(&cache, cache_buf, crit, n, C, Dq, D);
    float *logits = zeros(2 * C), *dh = zeros(n * D), *scratch = zeros(mhim_dsmil_backward_scratch_floats(n, C, Dq, D));
    mhim_dsmil_forward(logits, logits + C, &cache, h, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], n, C,
                       Dq, D);
    mhim_dsmil_backward(dh, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], d_logit, d_logit + C, d_bag,
                        &cache, scratch, h, p[0], p[2], p[4], p[6], p[8], n, C, Dq, D);
    float *all = zeros(total);
    for (int64_t k = 0, off = 0; k < 10; off += sizes[k], k++)
        memcpy(all + off, g[k], (size_t)sizes[k] * sizeof(float));
    keep(res, "dsmil logits", logits, 2 * C);
    keep(res, "dsmil bag", cache.bag, C * D);
    keep(res, "dsmil dh", dh, n * D);
    keep(res, "dsmil parameter grads", all, total);
    for (int k = 0; k < 10; k++) free(p[k]), free(g[k]);
    free(h), free(d_bag), free(d_logit), free(cache_buf), free(logits), free(dh), free(scratch), free(all);
}

static void run_all(results *res, int threads) {
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    run_nystrom(res);
    run_ppeg(res);
    run_dsmil(res);
}

int main(void) {
#ifndef _OPENMP
    printf("SKIP: built without OpenMP, nothing runs in parallel\n");
    return 77;
#endif
    mhim_threads_init(2);
    results one = {0}, two = {0};
    run_all(&one, 1);
    run_all(&two, 2);
    int fails = compare(&one, &two);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
