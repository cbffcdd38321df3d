/* The bf16 first layer (--precision=bf16) on the GPU: the device fp32 -> bf16 conversion gives mhim_float_to_bf16's
 * bits (random values, ties, overflow, subnormals, ±0, ±inf, NaN); mhim_cuda_gemm_bf16 matches the fp32 GEMM of the
 * widened operands (products of bf16 values are exact in fp32, only the summation order differs) for the two shapes
 * the front end runs (x·Wᵀ and the accumulated dhᵀ·x, beta 0 and 1, K = 0); and the front end with the context's
 * bf16 switch on matches the fp32 ops run on the bf16-rounded rows, weight and output gradient. Skipped (77) without
 * a GPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cuda/model_embed.h"
#include "core/float_bits.h"
#include "mhim/common.h"
#include "mhim/half.h"
#include "mhim/ops.h"
#include "ops/gemm.h"
#include "parity.h"

enum { M = 1203, D = 264, W = 130 };
/* fp32 sums of up to 1203 products of magnitude <= 1 in cuBLAS's order vs OpenBLAS's: partial sums reach ~30, so
 * elements near 0 can differ by ~1e-4; an operand or transpose error gives O(1) differences. */
#define BF16_ATOL 1e-3
#define BF16_RTOL 1e-4

/* Host copy of x rounded to bf16 and widened back. */
static float *rounded(const float *x, int64_t n) {
    float *r = parity_zeros(n);
    for (int64_t i = 0; i < n; i++) r[i] = mhim_bf16_to_float(mhim_float_to_bf16(x[i]));
    return r;
}

static uint16_t *to_bf16_device(mhim_cuda_ctx *ctx, const float *host, int64_t n) {
    uint16_t *d = mhim_cuda_alloc(ctx, (size_t)n * sizeof(uint16_t));
    mhim_cuda_float_to_bf16(ctx, d, parity_up(ctx, host, n), n);
    return d;
}

static int check_conversion(mhim_cuda_ctx *ctx, test_rng *rng) {
    enum { R = 4096, S = 16 };
    float x[R + S];
    for (int i = 0; i < R; i++) /* 32 random bits: two 16-bit halves (a float uniform carries only 24) */
        x[i] = mhim_bits_float((uint32_t)(test_uniform(rng, 0, 1) * 65536.0f) << 16 |
                               (uint32_t)(test_uniform(rng, 0, 1) * 65536.0f));
    const uint32_t special[S] = {0x3f808000u, 0x3f818000u, 0x3f807fffu, 0x3f808001u, 0x7f7fffffu, 0xff7f8000u,
                                 0x00008000u, 0x80018000u, 0x00000001u, 0x00000000u, 0x80000000u, 0x7f800000u,
                                 0xff800000u, 0x7fc00001u, 0xff812345u, 0x7f800001u};
    for (int i = 0; i < S; i++) x[R + i] = mhim_bits_float(special[i]);
    uint16_t got[R + S];
    mhim_cuda_download(ctx, got, to_bf16_device(ctx, x, R + S), sizeof got);
    int bad = 0;
    for (int i = 0; i < R + S; i++)
        if (got[i] != mhim_float_to_bf16(x[i])) {
            if (bad++ < 5)
                printf("  bits 0x%08x: device 0x%04x host 0x%04x\n", (unsigned)mhim_float_bits(x[i]), got[i],
                       mhim_float_to_bf16(x[i]));
        }
    printf("%s float -> bf16 bits: %d of %d differ\n", bad ? "FAIL" : "ok  ", bad, R + S);
    return bad != 0;
}

/* c = op(a)·op(b) (+ c0 with beta 1) on the device in bf16 vs mhim_gemm on the widened operands. */
static int check_gemm(mhim_cuda_ctx *ctx, test_rng *rng, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                      float beta) {
    float *a = parity_random(rng, m * k, -1, 1), *b = parity_random(rng, n * k, -1, 1);
    float *c = parity_random(rng, m * n, -1, 1);
    float *c_d = parity_up(ctx, c, m * n);
    mhim_cuda_gemm_bf16(ctx, trans_a, trans_b, m, n, k, 1.0f, to_bf16_device(ctx, a, m * k),
                        to_bf16_device(ctx, b, n * k), beta, c_d);
    mhim_gemm(trans_a, trans_b, m, n, k, 1.0f, rounded(a, m * k), rounded(b, n * k), beta, c);
    char name[96];
    snprintf(name, sizeof name, "gemm_bf16 trans=(%d,%d) %lldx%lldx%lld beta=%g", trans_a, trans_b, (long long)m,
             (long long)n, (long long)k, beta);
    return parity_check(ctx, name, c_d, c, m * n, BF16_ATOL, BF16_RTOL);
}

/* The front end (ReLU, no dropout) with the bf16 switch on vs the fp32 ops on rounded inputs. */
static int check_embed(mhim_cuda_ctx *ctx, test_rng *rng) {
    mhim_embed e = {.cfg = {.input_dim = D, .dim = W, .act = MHIM_ACT_RELU, .dropout = 0.0f, .version = 1},
                    .weight = 0, .bias = W * D};
    const int64_t P = W * D + W;
    float *params = parity_random(rng, P, -0.1f, 0.1f), *x = parity_random(rng, M * D, -1, 1);
    float *dh = parity_random(rng, M * W, -1, 1), *grads = parity_random(rng, P, -1, 1);
    float *params_d = parity_up(ctx, params, P), *x_d = parity_up(ctx, x, M * D), *dh_d = parity_up(ctx, dh, M * W);
    float *grads_d = parity_up(ctx, grads, P);
    mhim_cuda_set_first_layer_bf16(ctx, 1);
    mhim_cuda_embed_cache c;
    mhim_cuda_embed_forward(&c, ctx, &e, params_d, x_d, M, NULL, M, NULL);
    float *h = parity_zeros(M * W), *xr = rounded(x, M * D), *wr = rounded(params, W * D);
    mhim_linear_forward(h, xr, wr, params + e.bias, M, D, W);
    mhim_act_forward(MHIM_ACT_RELU, h, h, M * W);
    int bad = parity_check(ctx, "front end bf16: h", c.h, h, M * W, BF16_ATOL, BF16_RTOL);
    /* backward: ReLU gradient on fp32 dh (the mask from the device's h, so that a value within rounding of 0 cannot
     * flip it), then the weight gradient from bf16(dh) and bf16(x), the bias from fp32 dh */
    float *h_gpu = parity_zeros(M * W);
    mhim_cuda_download(ctx, h_gpu, c.h, (size_t)(M * W) * sizeof(float));
    mhim_cuda_embed_backward(ctx, &e, grads_d, dh_d, &c);
    float *g = parity_zeros(M * W);
    mhim_act_backward(MHIM_ACT_RELU, g, dh, NULL, h_gpu, M * W);
    mhim_linear_backward_acc(NULL, NULL, grads + e.bias, g, xr, wr, M, D, W);
    mhim_gemm(1, 0, W, D, M, 1.0f, rounded(g, M * W), xr, 1.0f, grads);
    bad += parity_check(ctx, "front end bf16: weight and bias gradients", grads_d, grads, P, BF16_ATOL, BF16_RTOL);
    mhim_cuda_set_first_layer_bf16(ctx, 0);
    return bad;
}

int main(void) {
    mhim_cuda_ctx *ctx = NULL;
    int rc = parity_open(&ctx);
    if (rc) return rc;
    test_rng rng = {2027ULL};
    int bad = check_conversion(ctx, &rng);
    bad += check_gemm(ctx, &rng, 0, 1, M, W, D, 0.0f);  /* forward: x · Wᵀ */
    bad += check_gemm(ctx, &rng, 1, 0, W, D, M, 1.0f);  /* weight gradient: += dhᵀ · x */
    bad += check_gemm(ctx, &rng, 0, 1, 7, 5, 0, 1.0f);  /* K = 0 leaves c */
    bad += check_gemm(ctx, &rng, 0, 1, 7, 5, 0, 0.0f);  /* K = 0, beta 0 zeroes c */
    bad += check_embed(ctx, &rng);
    mhim_cuda_ctx_destroy(ctx);
    printf("%s: %d failing check(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad ? 1 : 0;
}
