/* tests/unit/host_cuda/host_ops.c — the device API that cuda/model_transmil.c and the GPU parity helpers use
 * (mhim/cuda.h, mhim/cuda_ops.h, the kernels of cuda/model_transmil.h), implemented on the host with the CPU ops.
 * Included by test_cuda_transmil_on_host.c in builds WITHOUT CUDA, so that the composition of the GPU network
 * (block order, strides, transposes, head layouts, offsets, arena sizes) is checked on every machine; only the
 * device kernels themselves are left to the GPU run. The arena fills every block with NaN, so a block read before
 * it is written shows up in the comparisons. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../cuda/model_transmil.h"
#include "mhim/common.h"
#include "mhim/cuda.h"
#include "mhim/half.h"
#include "mhim/ops.h"
#include "mhim/threads.h"
#include "ops/gemm.h"

#define HOST_ALIGN 256 /* as the device arena */

struct mhim_cuda_ctx {
    unsigned char *base;
    size_t capacity, used, peak;
    int first_layer_bf16;
};

int mhim_cuda_device_count(int *count, char *why, size_t why_len) {
    (void)why, (void)why_len;
    *count = 1;
    return 0;
}

int mhim_cuda_device_describe(int index, char *buf, size_t len) {
    snprintf(buf, len, "host stand-in %d for the device ops (CPU ops, NaN-poisoned arena)", index);
    return 0;
}

int mhim_cuda_local_device(int *device) {
    *device = 0;
    return MHIM_OK;
}

int mhim_cuda_ctx_create(mhim_cuda_ctx **out, int device, size_t arena_bytes) {
    (void)device;
    mhim_cuda_ctx *c = mhim_calloc(1, sizeof *c);
    c->base = mhim_malloc(arena_bytes);
    c->capacity = arena_bytes;
    *out = c;
    return MHIM_OK;
}

void mhim_cuda_ctx_destroy(mhim_cuda_ctx *ctx) {
    if (!ctx) return;
    free(ctx->base);
    free(ctx);
}

void *mhim_cuda_alloc(mhim_cuda_ctx *ctx, size_t bytes) {
    const size_t size = (bytes + HOST_ALIGN - 1) / HOST_ALIGN * HOST_ALIGN;
    if (size > ctx->capacity - ctx->used)
        MHIM_DIE("host arena of %zu bytes: request of %zu bytes does not fit (%zu in use)", ctx->capacity, bytes,
                 ctx->used);
    unsigned char *p = ctx->base + ctx->used;
    const uint32_t nan_bits = 0x7fc00000u;
    for (size_t i = 0; i + 4 <= size; i += 4) memcpy(p + i, &nan_bits, 4);
    ctx->used += size;
    if (ctx->used > ctx->peak) ctx->peak = ctx->used;
    return p;
}

float *mhim_cuda_floats(mhim_cuda_ctx *ctx, int64_t n) { return mhim_cuda_alloc(ctx, (size_t)n * sizeof(float)); }
int64_t *mhim_cuda_i64(mhim_cuda_ctx *ctx, int64_t n) { return mhim_cuda_alloc(ctx, (size_t)n * sizeof(int64_t)); }
size_t mhim_cuda_mark(const mhim_cuda_ctx *ctx) { return ctx->used; }

void mhim_cuda_reset(mhim_cuda_ctx *ctx, size_t mark) {
    MHIM_ASSERT(mark <= ctx->used);
    ctx->used = mark;
}

size_t mhim_cuda_arena_peak(const mhim_cuda_ctx *ctx) { return ctx->peak; }

void mhim_cuda_upload(mhim_cuda_ctx *ctx, void *dev, const void *host, size_t bytes) {
    (void)ctx;
    if (bytes) memcpy(dev, host, bytes);
}

void mhim_cuda_download(mhim_cuda_ctx *ctx, void *host, const void *dev, size_t bytes) {
    (void)ctx;
    if (bytes) memcpy(host, dev, bytes);
}

void mhim_cuda_memset0(mhim_cuda_ctx *ctx, void *dev, size_t bytes) {
    (void)ctx;
    memset(dev, 0, bytes);
}

void mhim_cuda_gemm_batched(mhim_cuda_ctx *ctx, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                            float alpha, const float *a, int64_t stride_a, const float *b, int64_t stride_b,
                            float beta, float *c, int64_t stride_c, int64_t batch) {
    (void)ctx;
    for (int64_t i = 0; i < batch; i++)
        mhim_gemm(trans_a, trans_b, M, N, K, alpha, a + i * stride_a, b + i * stride_b, beta, c + i * stride_c);
}

void mhim_cuda_set_first_layer_bf16(mhim_cuda_ctx *ctx, int on) { ctx->first_layer_bf16 = on != 0; }

int mhim_cuda_first_layer_bf16(const mhim_cuda_ctx *ctx) { return ctx->first_layer_bf16; }

void mhim_cuda_float_to_bf16(mhim_cuda_ctx *ctx, uint16_t *out, const float *in, int64_t n) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++) out[i] = mhim_float_to_bf16(in[i]);
}

void mhim_cuda_colsum_acc(mhim_cuda_ctx *ctx, float *dst, const float *src, int64_t N, int64_t C) {
    (void)ctx;
    mhim_colsum_acc(dst, src, N, C);
}

/* The bf16 GEMM as the widened operands' fp32 GEMM (products of bf16 values are exact in fp32). */
void mhim_cuda_gemm_bf16(mhim_cuda_ctx *ctx, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                         const uint16_t *a, const uint16_t *b, float beta, float *c) {
    (void)ctx;
    float *a32 = mhim_malloc((size_t)MHIM_MAX(M * K, 1) * sizeof(float));
    float *b32 = mhim_malloc((size_t)MHIM_MAX(N * K, 1) * sizeof(float));
    for (int64_t i = 0; i < M * K; i++) a32[i] = mhim_bf16_to_float(a[i]);
    for (int64_t i = 0; i < N * K; i++) b32[i] = mhim_bf16_to_float(b[i]);
    mhim_gemm(trans_a, trans_b, M, N, K, alpha, a32, b32, beta, c);
    free(a32);
    free(b32);
}

void mhim_cuda_linear_forward(mhim_cuda_ctx *ctx, float *out, const float *inp, const float *weight,
                              const float *bias, int64_t N, int64_t C, int64_t OC) {
    (void)ctx;
    mhim_linear_forward(out, inp, weight, bias, N, C, OC);
}

void mhim_cuda_linear_backward(mhim_cuda_ctx *ctx, float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, int64_t N, int64_t C, int64_t OC) {
    (void)ctx;
    mhim_linear_backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
}

void mhim_cuda_linear_backward_acc(mhim_cuda_ctx *ctx, float *dinp, float *dweight, float *dbias, const float *dout,
                                   const float *inp, const float *weight, int64_t N, int64_t C, int64_t OC) {
    (void)ctx;
    mhim_linear_backward_acc(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
}

void mhim_cuda_act_forward(mhim_cuda_ctx *ctx, mhim_act act, float *out, const float *inp, int64_t n) {
    (void)ctx;
    mhim_act_forward(act, out, inp, n);
}

void mhim_cuda_act_backward(mhim_cuda_ctx *ctx, mhim_act act, float *dinp, const float *dout, const float *inp,
                            const float *out, int64_t n) {
    (void)ctx;
    mhim_act_backward(act, dinp, dout, inp, out, n);
}

void mhim_cuda_dropout_mask(mhim_cuda_ctx *ctx, uint8_t *keep, const mhim_rng *stream, uint64_t first, float p,
                            int64_t n) {
    (void)ctx;
    mhim_dropout_mask(keep, stream, first, p, n);
}

void mhim_cuda_dropout_forward(mhim_cuda_ctx *ctx, float *out, const uint8_t *keep, const float *inp, float p,
                               int64_t n) {
    (void)ctx;
    mhim_dropout_forward(out, keep, inp, p, n);
}

void mhim_cuda_dropout_backward(mhim_cuda_ctx *ctx, float *dinp, const float *dout, const uint8_t *keep, float p,
                                int64_t n) {
    (void)ctx;
    mhim_dropout_backward(dinp, dout, keep, p, n);
}

void mhim_cuda_layernorm_forward(mhim_cuda_ctx *ctx, float *out, float *mean, float *rstd, const float *inp,
                                 const float *weight, const float *bias, int64_t N, int64_t C) {
    (void)ctx;
    mhim_layernorm_forward(out, mean, rstd, inp, weight, bias, N, C);
}

void mhim_cuda_layernorm_backward(mhim_cuda_ctx *ctx, float *dinp, float *dweight, float *dbias, const float *dout,
                                  const float *inp, const float *weight, const float *mean, const float *rstd,
                                  int64_t N, int64_t C) {
    (void)ctx;
    mhim_layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

void mhim_cuda_layernorm_backward_acc(mhim_cuda_ctx *ctx, float *dinp, float *dweight, float *dbias,
                                      const float *dout, const float *inp, const float *weight, const float *mean,
                                      const float *rstd, int64_t N, int64_t C) {
    (void)ctx;
    mhim_layernorm_backward_acc(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

void mhim_cuda_softmax_rows_forward(mhim_cuda_ctx *ctx, float *out, const float *inp, const uint8_t *keep, int64_t R,
                                    int64_t L) {
    (void)ctx;
    mhim_softmax_rows_forward(out, inp, keep, R, L);
}

void mhim_cuda_softmax_rows_backward(mhim_cuda_ctx *ctx, float *dinp, const float *dout, const float *out, int64_t R,
                                     int64_t L) {
    (void)ctx;
    mhim_softmax_rows_backward(dinp, dout, out, R, L);
}

void mhim_cuda_gather_rows_forward(mhim_cuda_ctx *ctx, float *out, const float *x, const int64_t *idx, int64_t M,
                                   int64_t N, int64_t D) {
    (void)ctx;
    mhim_gather_rows_forward(out, x, idx, M, N, D);
}

void mhim_cuda_nystrom_landmarks_forward(mhim_cuda_ctx *ctx, float *out, const float *x, int64_t heads, int64_t m,
                                         int64_t l, int64_t dh) {
    (void)ctx;
    mhim_nystrom_landmarks_forward(out, x, heads, m, l, dh);
}

void mhim_cuda_nystrom_landmarks_backward_acc(mhim_cuda_ctx *ctx, float *dx, const float *dout, int64_t heads,
                                              int64_t m, int64_t l, int64_t dh) {
    (void)ctx;
    mhim_nystrom_landmarks_backward_acc(dx, dout, heads, m, l, dh);
}

/* The device sizes (all heads at once), which cover the CPU op's per-head scratch. */
int64_t mhim_cuda_nystrom_pinv_forward_scratch_floats(int64_t heads, int64_t m) {
    return 3 * heads * m * m + 2 * heads * m;
}

int64_t mhim_cuda_nystrom_pinv_backward_scratch_floats(int64_t heads, int64_t m) {
    return 10 * heads * m * m + 2 * heads * m + 2;
}

void mhim_cuda_nystrom_pinv_forward(mhim_cuda_ctx *ctx, float *z, float *norm, float *scratch, const float *a,
                                    int64_t heads, int64_t m) {
    (void)ctx;
    mhim_nystrom_pinv_forward(z, NULL, norm, scratch, a, heads, m);
}

void mhim_cuda_nystrom_pinv_backward(mhim_cuda_ctx *ctx, float *da, const float *dpinv, const float *z,
                                     const float *norm, float *scratch, const float *a, int64_t heads, int64_t m) {
    (void)ctx;
    MHIM_ASSERT(mhim_nystrom_pinv_backward_scratch_floats(heads, m) <=
                mhim_cuda_nystrom_pinv_backward_scratch_floats(heads, m));
    mhim_nystrom_pinv_backward(da, dpinv, z, NULL, norm, scratch, a, heads, m);
}

void mhim_cuda_nystrom_res_conv_rows_acc(mhim_cuda_ctx *ctx, float *out, int64_t ld, const float *v, const float *w,
                                         int64_t heads, int64_t T, int64_t dh, int64_t t0, int64_t rows) {
    (void)ctx;
    mhim_nystrom_res_conv_rows_acc(out, ld, v, w, heads, T, dh, t0, rows);
}

void mhim_cuda_nystrom_res_conv_backward_acc(mhim_cuda_ctx *ctx, float *dv, float *dw, const float *dout,
                                             const float *v, const float *w, int64_t heads, int64_t T, int64_t dh) {
    (void)ctx;
    mhim_nystrom_res_conv_backward_acc(dv, dw, dout, v, w, heads, T, dh);
}

void mhim_cuda_ppeg_forward(mhim_cuda_ctx *ctx, float *out, float *scratch, const float *x, const float *w0,
                            const float *b0, const float *w1, const float *b1, const float *w2, const float *b2,
                            int64_t M, int64_t dim) {
    (void)ctx;
    mhim_ppeg_forward(out, scratch, x, w0, b0, w1, b1, w2, b2, M, dim);
}

void mhim_cuda_ppeg_backward(mhim_cuda_ctx *ctx, float *dx, float *dw0, float *db0, float *dw1, float *db1,
                             float *dw2, float *db2, const float *dout, float *scratch, const float *x,
                             const float *w0, const float *w1, const float *w2, int64_t M, int64_t dim) {
    (void)ctx;
    mhim_ppeg_backward(dx, dw0, db0, dw1, db1, dw2, db2, dout, scratch, x, w0, w1, w2, M, dim);
}

void mhim_cuda_bias_act_dropout_forward(mhim_cuda_ctx *ctx, float *h, float *pre, const float *lin, const float *bias,
                                        mhim_act act, const uint8_t *keep, float p, int64_t N, int64_t C) {
    (void)ctx;
    for (int64_t i = 0; i < N * C; i++) h[i] = bias ? lin[i] + bias[i % C] : lin[i];
    if (pre) memcpy(pre, h, (size_t)(N * C) * sizeof(float));
    mhim_act_forward(act, h, h, N * C);
    if (keep) mhim_dropout_forward(h, keep, h, p, N * C);
}

/* ---- the kernels of cuda/transmil_kernels.cu, element by element as the device code ---------------------------- */

void mhim_cuda_transmil_add(mhim_cuda_ctx *ctx, float *out, const float *a, const float *b, int64_t n) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void mhim_cuda_transmil_split_heads(mhim_cuda_ctx *ctx, float *q, float *k, float *v, const float *qkv, int64_t n,
                                    int64_t heads, int64_t dh, int64_t pad, float scale) {
    (void)ctx;
    const int64_t inner = heads * dh, np = pad + n;
    for (int64_t e = 0; e < heads * np * dh; e++) {
        const int64_t h = e / (np * dh), tp = (e / dh) % np, d = e % dh;
        if (tp < pad) {
            q[e] = k[e] = v[e] = 0.0f;
            continue;
        }
        const float *src = qkv + (tp - pad) * 3 * inner + h * dh + d;
        q[e] = src[0] * scale;
        k[e] = src[inner];
        v[e] = src[2 * inner];
    }
}

void mhim_cuda_transmil_merge_heads(mhim_cuda_ctx *ctx, float *merged, const float *o, int64_t rows, int64_t n,
                                    int64_t heads, int64_t dh, int64_t pad) {
    (void)ctx;
    const int64_t inner = heads * dh, np = pad + n;
    for (int64_t e = 0; e < rows * inner; e++) {
        const int64_t t = e / inner, h = (e % inner) / dh, d = e % dh;
        merged[e] = o[(h * np + pad + t) * dh + d];
    }
}

void mhim_cuda_transmil_unmerge_heads(mhim_cuda_ctx *ctx, float *d_o, const float *dmerged, int64_t rows, int64_t n,
                                      int64_t heads, int64_t dh, int64_t pad) {
    (void)ctx;
    const int64_t inner = heads * dh, np = pad + n;
    for (int64_t e = 0; e < heads * np * dh; e++) {
        const int64_t h = e / (np * dh), tp = (e / dh) % np, d = e % dh;
        d_o[e] = tp < pad || tp >= pad + rows ? 0.0f : dmerged[(tp - pad) * inner + h * dh + d];
    }
}

void mhim_cuda_transmil_merge_qkv_grad(mhim_cuda_ctx *ctx, float *dqkv, const float *dq, const float *dk,
                                       const float *dv, int64_t n, int64_t heads, int64_t dh, int64_t pad,
                                       float scale) {
    (void)ctx;
    const int64_t inner = heads * dh, np = pad + n;
    for (int64_t e = 0; e < n * inner; e++) {
        const int64_t t = e / inner, h = (e % inner) / dh, d = e % dh;
        const int64_t src = (h * np + pad + t) * dh + d;
        float *row = dqkv + t * 3 * inner + h * dh + d;
        row[0] = dq[src] * scale;
        row[inner] = dk[src];
        row[2 * inner] = dv[src];
    }
}

void mhim_cuda_transmil_cls_attention(mhim_cuda_ctx *ctx, float *attn, float *scratch, const float *a1_cls,
                                      int64_t a1_stride, const float *pinv, const float *a3, int64_t n,
                                      int64_t heads, int64_t m, int64_t pad) {
    (void)ctx;
    const int64_t np = pad + n;
    if (n < 2) return;
    for (int64_t e = 0; e < heads * m; e++) {
        const int64_t h = e / m, j = e % m;
        const float *row = a1_cls + h * a1_stride, *zh = pinv + h * m * m;
        float s = 0.0f;
        for (int64_t k = 0; k < m; k++) s += row[k] * zh[k * m + j];
        scratch[e] = s;
    }
    for (int64_t e = 0; e < heads * (n - 1); e++) {
        const int64_t h = e / (n - 1), i = e % (n - 1);
        const float *rh = scratch + h * m, *col = a3 + h * m * np + pad + 1 + i;
        float s = 0.0f;
        for (int64_t j = 0; j < m; j++) s += rh[j] * col[j * np];
        attn[e] = s;
    }
}
