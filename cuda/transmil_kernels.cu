// TransMIL-specific device kernels (see cuda/model_transmil.h): sums of token rows, the Nyström head split / merge
// and their gradients, and the cls-row attention export.
#include "internal.cuh"

extern "C" {
#include "model_transmil.h"
}

__global__ void add_kernel(float *out, const float *a, const float *b, int64_t n) {
    MHIM_CUDA_FOR(i, n) out[i] = a[i] + b[i];
}

// One element per (head, padded row, d).
__global__ void split_heads_kernel(float *q, float *k, float *v, const float *qkv, int64_t np, int64_t heads,
                                   int64_t dh, int64_t pad, float scale) {
    const int64_t inner = heads * dh;
    MHIM_CUDA_FOR(e, heads * np * dh) {
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

__global__ void merge_heads_kernel(float *merged, const float *o, int64_t rows, int64_t n, int64_t heads, int64_t dh,
                                   int64_t pad) {
    const int64_t inner = heads * dh, np = pad + n;
    MHIM_CUDA_FOR(e, rows * inner) {
        const int64_t t = e / inner, h = (e % inner) / dh, d = e % dh;
        merged[e] = o[(h * np + pad + t) * dh + d];
    }
}

__global__ void unmerge_heads_kernel(float *d_o, const float *dmerged, int64_t rows, int64_t n, int64_t heads,
                                     int64_t dh, int64_t pad) {
    const int64_t inner = heads * dh, np = pad + n;
    MHIM_CUDA_FOR(e, heads * np * dh) {
        const int64_t h = e / (np * dh), tp = (e / dh) % np, d = e % dh;
        d_o[e] = tp < pad || tp >= pad + rows ? 0.0f : dmerged[(tp - pad) * inner + h * dh + d];
    }
}

__global__ void merge_qkv_grad_kernel(float *dqkv, const float *dq, const float *dk, const float *dv, int64_t n,
                                      int64_t heads, int64_t dh, int64_t pad, float scale) {
    const int64_t inner = heads * dh, np = pad + n;
    MHIM_CUDA_FOR(e, n * inner) {
        const int64_t t = e / inner, h = (e % inner) / dh, d = e % dh;
        const int64_t src = (h * np + pad + t) * dh + d;
        float *row = dqkv + t * 3 * inner + h * dh + d;
        row[0] = dq[src] * scale;
        row[inner] = dk[src];
        row[2 * inner] = dv[src];
    }
}

// r[h, j] = Σ_k a1_cls[h·a1_stride + k] · pinv[h, k, j] (k in order).
__global__ void cls_row_kernel(float *r, const float *a1_cls, int64_t a1_stride, const float *pinv, int64_t heads,
                               int64_t m) {
    MHIM_CUDA_FOR(e, heads * m) {
        const int64_t h = e / m, j = e % m;
        const float *row = a1_cls + h * a1_stride, *zh = pinv + h * m * m;
        float s = 0.0f;
        for (int64_t k = 0; k < m; k++) s += row[k] * zh[k * m + j];
        r[e] = s;
    }
}

// attn[h, i] = Σ_j r[h, j] · a3[h, j, pad + 1 + i] (j in order).
__global__ void cls_attention_kernel(float *attn, const float *r, const float *a3, int64_t n, int64_t np,
                                     int64_t heads, int64_t m, int64_t pad) {
    MHIM_CUDA_FOR(e, heads * (n - 1)) {
        const int64_t h = e / (n - 1), i = e % (n - 1);
        const float *rh = r + h * m, *col = a3 + h * m * np + pad + 1 + i;
        float s = 0.0f;
        for (int64_t j = 0; j < m; j++) s += rh[j] * col[j * np];
        attn[e] = s;
    }
}

#define LAUNCH(kernel, count, ...)                                                                     \
    do {                                                                                               \
        kernel<<<mhim_cuda_blocks(count), MHIM_CUDA_THREADS, 0, ctx->stream>>>(__VA_ARGS__);           \
        MHIM_CUDA_LAUNCHED();                                                                          \
    } while (0)

extern "C" void mhim_cuda_transmil_add(mhim_cuda_ctx *ctx, float *out, const float *a, const float *b, int64_t n) {
    if (n > 0) LAUNCH(add_kernel, n, out, a, b, n);
}

extern "C" void mhim_cuda_transmil_split_heads(mhim_cuda_ctx *ctx, float *q, float *k, float *v, const float *qkv,
                                               int64_t n, int64_t heads, int64_t dh, int64_t pad, float scale) {
    LAUNCH(split_heads_kernel, heads * (pad + n) * dh, q, k, v, qkv, pad + n, heads, dh, pad, scale);
}

extern "C" void mhim_cuda_transmil_merge_heads(mhim_cuda_ctx *ctx, float *merged, const float *o, int64_t rows,
                                               int64_t n, int64_t heads, int64_t dh, int64_t pad) {
    LAUNCH(merge_heads_kernel, rows * heads * dh, merged, o, rows, n, heads, dh, pad);
}

extern "C" void mhim_cuda_transmil_unmerge_heads(mhim_cuda_ctx *ctx, float *d_o, const float *dmerged, int64_t rows,
                                                 int64_t n, int64_t heads, int64_t dh, int64_t pad) {
    LAUNCH(unmerge_heads_kernel, heads * (pad + n) * dh, d_o, dmerged, rows, n, heads, dh, pad);
}

extern "C" void mhim_cuda_transmil_merge_qkv_grad(mhim_cuda_ctx *ctx, float *dqkv, const float *dq, const float *dk,
                                                  const float *dv, int64_t n, int64_t heads, int64_t dh, int64_t pad,
                                                  float scale) {
    LAUNCH(merge_qkv_grad_kernel, n * heads * dh, dqkv, dq, dk, dv, n, heads, dh, pad, scale);
}

extern "C" void mhim_cuda_transmil_cls_attention(mhim_cuda_ctx *ctx, float *attn, float *scratch,
                                                 const float *a1_cls, int64_t a1_stride, const float *pinv,
                                                 const float *a3, int64_t n, int64_t heads, int64_t m, int64_t pad) {
    if (n < 2) return;
    LAUNCH(cls_row_kernel, heads * m, scratch, a1_cls, a1_stride, pinv, heads, m);
    LAUNCH(cls_attention_kernel, heads * (n - 1), attn, scratch, a3, n, pad + n, heads, m, pad);
}
