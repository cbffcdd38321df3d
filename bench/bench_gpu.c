/* bench_gpu — time of one ABMIL+MHIM training step on the CUDA op backend, on a synthetic C16-sized bag:
 *   teacher forward (no dropout) -> instance mask (keep ratio) -> student forward (first layer 1024->512 + ReLU +
 *   dropout, ABMIL attention L=128, masked instance softmax, pooling, classifier) -> CE + consistency loss ->
 *   backward -> AdamW -> EMA teacher.
 * The bag is uploaded once (as a resident bag store would hold it); nothing is allocated inside the timed loop.
 * Prints median step time over the repetitions and the peak device memory (arena + cuBLAS workspace + bag).
 *   build/bench/bench_gpu [instances=9000] [dim=1024] [repetitions=50] [fp32|bf16]
 * bf16: the first layer's forward and weight-gradient GEMMs take bf16 copies of the bag, the weight and the output
 * gradient, converted inside the step as the networks do with --precision=bf16 (cuda/model_embed.c).
 * The PyTorch reference on the same GPU is bench/bench_gpu.py (same shapes, same step); record both in
 * docs/benchmarks.md with the GPU model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/clock.h"
#include "mhim/common.h"
#include "mhim/cuda.h"
#include "mhim/cuda_ops.h"
#include "mhim/optim.h"
#include "mhim/rng.h"

enum { D = 512, L = 128, C = 2 };

/* h (N, D) = x · wᵀ, in fp32 or (bf16) on bf16 copies of x and w; *x16 receives the bag's bf16 copy (arena). */
static void first_layer(mhim_cuda_ctx *ctx, int bf16, float *h, const float *x, const float *w, int64_t N,
                        int64_t DIN, uint16_t **x16) {
    if (!bf16) {
        mhim_cuda_linear_forward(ctx, h, x, w, NULL, N, DIN, D);
        return;
    }
    *x16 = mhim_cuda_alloc(ctx, (size_t)(N * DIN) * sizeof(uint16_t));
    uint16_t *w16 = mhim_cuda_alloc(ctx, (size_t)(D * DIN) * sizeof(uint16_t));
    mhim_cuda_float_to_bf16(ctx, *x16, x, N * DIN);
    mhim_cuda_float_to_bf16(ctx, w16, w, D * DIN);
    mhim_cuda_gemm_bf16(ctx, 0, 1, N, D, DIN, 1.0f, *x16, w16, 0.0f, h);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const int64_t N = argc > 1 ? atoll(argv[1]) : 9000, DIN = argc > 2 ? atoll(argv[2]) : 1024;
    const int reps = argc > 3 ? atoi(argv[3]) : 50;
    const char *precision = argc > 4 ? argv[4] : "fp32";
    const int bf16 = !strcmp(precision, "bf16");
    if (N < 1 || DIN < 1 || reps < 1 || (!bf16 && strcmp(precision, "fp32") != 0)) {
        fprintf(stderr, "usage: bench_gpu [instances>=1] [dim>=1] [repetitions>=1] [fp32|bf16]\n");
        return 2;
    }
    int device = 0;
    mhim_cuda_ctx *ctx = NULL;
    if (mhim_cuda_local_device(&device) != MHIM_OK || mhim_cuda_ctx_create(&ctx, device, (size_t)4 << 30) != MHIM_OK) {
        fprintf(stderr, "bench_gpu: %s\n", mhim_error());
        return 2;
    }
    char line[256];
    mhim_cuda_device_describe(device, line, sizeof line);
    printf("%s\n", line);
    /* flat parameters: W0 (D, DIN), b0 (D), W1 (L, D), W2 (1, L), Wc (C, D), bc (C) */
    const int64_t o_w0 = 0, o_b0 = D * DIN, o_w1 = o_b0 + D, o_w2 = o_w1 + L * D, o_wc = o_w2 + L, o_bc = o_wc + C * D;
    const int64_t np = o_bc + C;
    float *host = mhim_malloc((size_t)(N * DIN > np ? N * DIN : np) * sizeof(float));
    const mhim_rng init = mhim_rng_stream(1, 0, 0, MHIM_RNG_SYNTH, 0);
    mhim_rng_fill_uniform(&init, 0, host, np, -0.03f, 0.03f);
    float *p = mhim_cuda_floats(ctx, np), *t = mhim_cuda_floats(ctx, np), *g = mhim_cuda_floats(ctx, np);
    float *m = mhim_cuda_floats(ctx, np), *v = mhim_cuda_floats(ctx, np);
    mhim_cuda_upload(ctx, p, host, (size_t)np * sizeof(float));
    mhim_cuda_upload(ctx, t, host, (size_t)np * sizeof(float));
    mhim_cuda_memset0(ctx, m, (size_t)np * sizeof(float));
    mhim_cuda_memset0(ctx, v, (size_t)np * sizeof(float));
    mhim_rng_fill_uniform(&init, (uint64_t)np, host, N * DIN, 0.0f, 1.0f);
    float *x = mhim_cuda_floats(ctx, N * DIN);
    mhim_cuda_upload(ctx, x, host, (size_t)(N * DIN) * sizeof(float));
    uint8_t *keep_host = mhim_malloc((size_t)N), *keep = mhim_cuda_alloc(ctx, (size_t)N);
    for (int64_t i = 0; i < N; i++) keep_host[i] = i % 10 != 0; /* 10% masked */
    mhim_cuda_upload(ctx, keep, keep_host, (size_t)N);
    int64_t label = 1, *label_d = mhim_cuda_i64(ctx, 1);
    mhim_cuda_upload(ctx, label_d, &label, sizeof label);
    mhim_cuda_sync(ctx);
    const size_t step_mark = mhim_cuda_mark(ctx);
    mhim_adam opt;
    mhim_adam_init(&opt, MHIM_OPT_ADAMW, 2e-4, 1e-4);
    double *ms = mhim_malloc((size_t)(reps + 3) * sizeof(double));
    for (int r = -3; r < reps; r++) { /* 3 warm-up steps */
        const double t0 = 1e3 * mhim_seconds();
        float *h = mhim_cuda_floats(ctx, N * D); /* GEMM, then bias + ReLU + dropout fused in place (as the networks) */
        float *hid = mhim_cuda_floats(ctx, N * L), *s = mhim_cuda_floats(ctx, N), *A = mhim_cuda_floats(ctx, N);
        float *z = mhim_cuda_floats(ctx, D), *zt = mhim_cuda_floats(ctx, D), *logit = mhim_cuda_floats(ctx, C);
        float *probs = mhim_cuda_floats(ctx, C), *ps = mhim_cuda_floats(ctx, D), *pt = mhim_cuda_floats(ctx, D);
        float *dz = mhim_cuda_floats(ctx, D), *dl = mhim_cuda_floats(ctx, C), *dA = mhim_cuda_floats(ctx, N);
        float *dh = mhim_cuda_floats(ctx, N * D), *scratch = mhim_cuda_floats(ctx, N * L);
        float *loss = mhim_cuda_floats(ctx, 2);
        uint8_t *drop = mhim_cuda_alloc(ctx, (size_t)(N * D));
        const mhim_rng ds = mhim_rng_stream(1, (uint32_t)(r + 3), 0, MHIM_RNG_DROPOUT, 0);
        /* teacher */
        uint16_t *x16 = NULL;
        first_layer(ctx, bf16, h, x, t + o_w0, N, DIN, &x16);
        mhim_cuda_bias_act_dropout_forward(ctx, h, NULL, h, t + o_b0, MHIM_ACT_RELU, NULL, 0.0f, N, D);
        mhim_cuda_abmil_scores_forward(ctx, s, NULL, hid, h, t + o_w1, NULL, t + o_w2, NULL, MHIM_ACT_RELU, N, D, L, 1);
        mhim_cuda_softmax_instances_forward(ctx, A, s, NULL, N, 1);
        mhim_cuda_attnpool_forward(ctx, zt, A, h, N, 1, D);
        /* student */
        mhim_cuda_dropout_mask(ctx, drop, &ds, 0, 0.25f, N * D);
        first_layer(ctx, bf16, h, x, p + o_w0, N, DIN, &x16);
        mhim_cuda_bias_act_dropout_forward(ctx, h, NULL, h, p + o_b0, MHIM_ACT_RELU, drop, 0.25f, N, D);
        mhim_cuda_abmil_scores_forward(ctx, s, NULL, hid, h, p + o_w1, NULL, p + o_w2, NULL, MHIM_ACT_RELU, N, D, L, 1);
        mhim_cuda_softmax_instances_forward(ctx, A, s, keep, N, 1);
        mhim_cuda_attnpool_forward(ctx, z, A, h, N, 1, D);
        mhim_cuda_linear_forward(ctx, logit, z, p + o_wc, p + o_bc, 1, D, C);
        mhim_cuda_cross_entropy_forward(ctx, loss, probs, logit, label_d, 1, C);
        mhim_cuda_soft_target_ce_forward(ctx, loss + 1, ps, pt, z, zt, 0.1f, 1.0f, 1, D);
        /* backward */
        mhim_cuda_memset0(ctx, g, (size_t)np * sizeof(float));
        mhim_cuda_cross_entropy_backward(ctx, dl, probs, label_d, 1.0f, 1, C);
        mhim_cuda_soft_target_ce_backward(ctx, dz, ps, pt, 0.5f, 1.0f, 1, D);
        mhim_cuda_linear_backward_acc(ctx, dz, g + o_wc, g + o_bc, dl, z, p + o_wc, 1, D, C);
        mhim_cuda_attnpool_backward(ctx, dA, dh, dz, A, h, N, 1, D);
        mhim_cuda_softmax_instances_backward(ctx, dA, dA, A, N, 1);
        mhim_cuda_abmil_scores_backward_acc(ctx, dh, g + o_w1, NULL, g + o_w2, NULL, scratch, dA, h, NULL, hid,
                                            p + o_w1, p + o_w2, MHIM_ACT_RELU, N, D, L, 1);
        mhim_cuda_dropout_backward(ctx, dh, dh, drop, 0.25f, N * D);
        mhim_cuda_act_backward(ctx, MHIM_ACT_RELU, dh, dh, NULL, h, N * D); /* h > 0 iff kept and pre > 0 */
        if (bf16) { /* += dhᵀ · x on bf16 copies; the bias gradient from fp32 dh */
            uint16_t *dh16 = mhim_cuda_alloc(ctx, (size_t)(N * D) * sizeof(uint16_t));
            mhim_cuda_float_to_bf16(ctx, dh16, dh, N * D);
            mhim_cuda_gemm_bf16(ctx, 1, 0, D, DIN, N, 1.0f, dh16, x16, 1.0f, g + o_w0);
            mhim_cuda_colsum_acc(ctx, g + o_b0, dh, N, D);
        } else {
            mhim_cuda_linear_backward(ctx, NULL, g + o_w0, g + o_b0, dh, x, p + o_w0, N, DIN, D);
        }
        mhim_adam_begin_step(&opt);
        mhim_cuda_adam_update(ctx, &opt, p, g, m, v, np);
        mhim_cuda_ema_update(ctx, t, p, np, 0.9999);
        mhim_cuda_sync(ctx);
        mhim_cuda_reset(ctx, step_mark);
        if (r >= 0) ms[r] = 1e3 * mhim_seconds() - t0;
    }
    qsort(ms, (size_t)reps, sizeof *ms, cmp_double);
    printf("bench_gpu abmil+mhim step: instances=%lld dim=%lld reps=%d precision=%s median_ms=%.3f min_ms=%.3f "
           "peak_arena_mib=%.1f\n",
           (long long)N, (long long)DIN, reps, precision, ms[reps / 2], ms[0],
           (double)mhim_cuda_arena_peak(ctx) / (1024.0 * 1024.0));
    mhim_cuda_ctx_destroy(ctx);
    free(ms);
    free(host);
    free(keep_host);
    return 0;
}
