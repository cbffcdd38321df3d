// Nyström attention pieces on the device (see mhim/ops/nystrom.h): landmark means, the iterative pseudo-inverse
// with its global scaling (all heads batched through strided cuBLAS GEMMs) and its unrolled backward, and the
// residual depthwise convolution along the sequence.
#include <cmath>

#include "internal.cuh"

#define RES_HALF (MHIM_NYSTROM_RES_KERNEL / 2)

__global__ void landmarks_forward_kernel(float *out, const float *x, int64_t HM, int64_t l, int64_t dh) {
    MHIM_CUDA_FOR(e, HM * dh) {
        const int64_t hj = e / dh, c = e % dh;
        const float *seg = x + hj * l * dh;
        float s = 0.0f;
        for (int64_t r = 0; r < l; r++) s += seg[r * dh + c];
        out[e] = s / (float)l;
    }
}

__global__ void landmarks_backward_kernel(float *dx, const float *dout, int64_t HM, int64_t l, int64_t dh) {
    MHIM_CUDA_FOR(e, HM * l * dh) {
        const int64_t hj = e / (l * dh), c = e % dh;
        dx[e] += dout[hj * dh + c] / (float)l;
    }
}

// Row i and column i abs-sums of every head, summed in index order in float (as the CPU, so the maxima and their
// ties are the CPU's exactly).
__global__ void abs_sums_kernel(float *row_sum, float *col_sum, const float *a, int64_t heads, int64_t m) {
    MHIM_CUDA_FOR(hi, heads * m) {
        const float *ah = a + (hi / m) * m * m;
        const int64_t i = hi % m;
        float r = 0.0f, c = 0.0f;
        for (int64_t j = 0; j < m; j++) r += fabsf(ah[i * m + j]);
        for (int64_t j = 0; j < m; j++) c += fabsf(ah[j * m + i]);
        row_sum[hi] = r;
        col_sum[hi] = c;
    }
}

// norm[0] = max row sum, norm[1] = max column sum (one block; max is order-independent).
__global__ void max_sums_kernel(float *norm, const float *row_sum, const float *col_sum, int64_t n) {
    __shared__ float buf[MHIM_CUDA_THREADS];
    float r = -INFINITY, c = -INFINITY;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        r = fmaxf(r, row_sum[i]);
        c = fmaxf(c, col_sum[i]);
    }
    r = mhim_cuda_block_max(r, buf);
    c = mhim_cuda_block_max(c, buf);
    if (threadIdx.x == 0) {
        norm[0] = r;
        norm[1] = c;
    }
}

// z0[h] = a[h]ᵀ / (norm[0]·norm[1]).
__global__ void pinv_init_kernel(float *z0, const float *a, const float *norm, int64_t heads, int64_t m) {
    const float s = norm[0] * norm[1];
    MHIM_CUDA_FOR(e, heads * m * m) {
        const int64_t h = e / (m * m), i = (e / m) % m, j = e % m;
        z0[h * m * m + j * m + i] = a[e] / s;
    }
}

// out = diag·I − x per head (in place allowed).
__global__ void diag_minus_kernel(float *out, float diag, const float *x, int64_t heads, int64_t m) {
    MHIM_CUDA_FOR(e, heads * m * m) {
        const int64_t i = (e / m) % m, j = e % m;
        out[e] = (i == j ? diag : 0.0f) - x[e];
    }
}

// da[h][i][j] += g0[h][j][i] / s;  prod[e] = g0[e]·z0[e] (summed later for the normaliser's gradient).
__global__ void pinv_init_backward_kernel(float *da, float *prod, const float *g0, const float *z0, const float *norm,
                                          int64_t heads, int64_t m) {
    const float s = norm[0] * norm[1];
    MHIM_CUDA_FOR(e, heads * m * m) {
        const int64_t h = e / (m * m), i = (e / m) % m, j = e % m;
        da[e] += g0[h * m * m + j * m + i] / s;
        prod[e] = g0[e] * z0[e];
    }
}

// scal[0], scal[1] = the gradient each tied maximal row / column abs-sum receives (ties share it evenly).
__global__ void pinv_scale_grad_kernel(float *scal, const float *prod, const float *row_sum, const float *col_sum,
                                       const float *norm, int64_t hmm, int64_t hm) {
    __shared__ double buf[MHIM_CUDA_THREADS];
    double p = 0.0, rt = 0.0, ct = 0.0;
    for (int64_t e = threadIdx.x; e < hmm; e += blockDim.x) p += prod[e];
    for (int64_t e = threadIdx.x; e < hm; e += blockDim.x) {
        rt += row_sum[e] == norm[0];
        ct += col_sum[e] == norm[1];
    }
    const double dsum = -mhim_cuda_block_sum(p, buf);
    const double row_ties = mhim_cuda_block_sum(rt, buf), col_ties = mhim_cuda_block_sum(ct, buf);
    if (threadIdx.x == 0) {
        if (row_ties < 1.0 || col_ties < 1.0) __trap();
        const float s = norm[0] * norm[1];
        const float ds = (float)(dsum / s);
        scal[0] = ds * norm[1] / (float)row_ties;
        scal[1] = ds * norm[0] / (float)col_ties;
    }
}

// da += the normaliser's gradient through |a| on the tied rows and columns, in the CPU's order (row i's update
// before column i's, i ascending).
__global__ void pinv_scale_apply_kernel(float *da, const float *a, const float *scal, const float *row_sum,
                                        const float *col_sum, const float *norm, int64_t heads, int64_t m) {
    MHIM_CUDA_FOR(e, heads * m * m) {
        const int64_t h = e / (m * m), i = (e / m) % m, j = e % m;
        const float sgn = (float)((a[e] > 0.0f) - (a[e] < 0.0f));
        const bool row = row_sum[h * m + i] == norm[0], col = col_sum[h * m + j] == norm[1];
        float d = da[e];
        if (i <= j) {
            if (row) d += scal[0] * sgn;
            if (col) d += scal[1] * sgn;
        } else {
            if (col) d += scal[1] * sgn;
            if (row) d += scal[0] * sgn;
        }
        da[e] = d;
    }
}

// Rows [t0, t0 + rows) into the heads-merged out (rows, ld): one element per (row, head, channel), taps in order.
__global__ void res_conv_rows_kernel(float *out, int64_t ld, const float *v, const float *w, int64_t heads, int64_t T,
                                     int64_t dh, int64_t t0, int64_t rows) {
    MHIM_CUDA_FOR(e, rows * heads * dh) {
        const int64_t r = e / (heads * dh), h = (e / dh) % heads, c = e % dh, t = t0 + r;
        const float *wh = w + h * MHIM_NYSTROM_RES_KERNEL, *vh = v + h * T * dh;
        float *dst = out + r * ld + h * dh + c;
        float o = *dst;
        for (int64_t j = 0; j < MHIM_NYSTROM_RES_KERNEL; j++) {
            const int64_t src = t + j - RES_HALF;
            if (src >= 0 && src < T) o += wh[j] * vh[src * dh + c];
        }
        *dst = o;
    }
}

__global__ void res_conv_dv_kernel(float *dv, const float *dout, const float *w, int64_t heads, int64_t T,
                                   int64_t dh) {
    MHIM_CUDA_FOR(e, heads * T * dh) {
        const int64_t h = e / (T * dh), s = (e / dh) % T, c = e % dh;
        const float *wh = w + h * MHIM_NYSTROM_RES_KERNEL, *gh = dout + h * T * dh;
        float d = dv[e];
        for (int64_t j = 0; j < MHIM_NYSTROM_RES_KERNEL; j++) {
            const int64_t t = s - j + RES_HALF;
            if (t >= 0 && t < T) d += wh[j] * gh[t * dh + c];
        }
        dv[e] = d;
    }
}

// One block per (head, tap): Σ over rows and channels in double, fixed tree.
__global__ void res_conv_dw_kernel(float *dw, const float *dout, const float *v, int64_t T, int64_t dh) {
    __shared__ double buf[MHIM_CUDA_THREADS];
    const int64_t hj = blockIdx.x, h = hj / MHIM_NYSTROM_RES_KERNEL, j = hj % MHIM_NYSTROM_RES_KERNEL;
    const float *gh = dout + h * T * dh, *vh = v + h * T * dh;
    double acc = 0.0;
    for (int64_t e = threadIdx.x; e < T * dh; e += blockDim.x) {
        const int64_t t = e / dh, c = e % dh, src = t + j - RES_HALF;
        if (src >= 0 && src < T) acc += (double)gh[t * dh + c] * vh[src * dh + c];
    }
    const double total = mhim_cuda_block_sum(acc, buf);
    if (threadIdx.x == 0) dw[hj] += (float)total;
}

#define LAUNCH(kernel, n, ...)                                                                         \
    do {                                                                                               \
        kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(__VA_ARGS__);               \
        MHIM_CUDA_LAUNCHED();                                                                          \
    } while (0)

extern "C" void mhim_cuda_nystrom_landmarks_forward(mhim_cuda_ctx *ctx, float *out, const float *x, int64_t heads,
                                                    int64_t m, int64_t l, int64_t dh) {
    LAUNCH(landmarks_forward_kernel, heads * m * dh, out, x, heads * m, l, dh);
}

extern "C" void mhim_cuda_nystrom_landmarks_backward_acc(mhim_cuda_ctx *ctx, float *dx, const float *dout,
                                                         int64_t heads, int64_t m, int64_t l, int64_t dh) {
    LAUNCH(landmarks_backward_kernel, heads * m * l * dh, dx, dout, heads * m, l, dh);
}

extern "C" int64_t mhim_cuda_nystrom_pinv_forward_scratch_floats(int64_t heads, int64_t m) {
    return 3 * heads * m * m + 2 * heads * m;
}

extern "C" int64_t mhim_cuda_nystrom_pinv_backward_scratch_floats(int64_t heads, int64_t m) {
    return 10 * heads * m * m + 2 * heads * m + 2;
}

// Batched per-head m×m GEMM: c = alpha·op(a)·op(b) + beta·c.
static void head_gemm(mhim_cuda_ctx *ctx, int ta, int tb, int64_t heads, int64_t m, float alpha, const float *a,
                      const float *b, float beta, float *c) {
    const int64_t mm = m * m;
    mhim_cuda_gemm_batched(ctx, ta, tb, m, m, m, alpha, a, mm, b, mm, beta, c, mm, heads);
}

static void diag_minus(mhim_cuda_ctx *ctx, float *out, float diag, const float *x, int64_t heads, int64_t m) {
    LAUNCH(diag_minus_kernel, heads * m * m, out, diag, x, heads, m);
}

// Global maxima of the row and column abs-sums into norm, the per-row/column sums into row_sum/col_sum (H·m each).
static void pinv_norms(mhim_cuda_ctx *ctx, float *norm, float *row_sum, float *col_sum, const float *a,
                       int64_t heads, int64_t m) {
    LAUNCH(abs_sums_kernel, heads * m, row_sum, col_sum, a, heads, m);
    max_sums_kernel<<<1, MHIM_CUDA_THREADS, 0, ctx->stream>>>(norm, row_sum, col_sum, heads * m);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_nystrom_pinv_forward(mhim_cuda_ctx *ctx, float *z, float *norm, float *scratch,
                                               const float *a, int64_t heads, int64_t m) {
    MHIM_ASSERT(heads >= 1 && m >= 1);
    const int64_t hmm = heads * m * m;
    float *y = scratch, *t = y + hmm, *u = t + hmm, *row_sum = u + hmm, *col_sum = row_sum + heads * m;
    pinv_norms(ctx, norm, row_sum, col_sum, a, heads, m);
    LAUNCH(pinv_init_kernel, hmm, z, a, norm, heads, m);
    for (int it = 0; it < MHIM_NYSTROM_PINV_ITERS; it++) {
        const float *zc = z + it * hmm;
        float *zn = z + (it + 1) * hmm;
        head_gemm(ctx, 0, 0, heads, m, 1.0f, a, zc, 0.0f, y);   // Y  = a Z
        diag_minus(ctx, t, 7.0f, y, heads, m);                  // U1 = 7I − Y
        head_gemm(ctx, 0, 0, heads, m, 1.0f, y, t, 0.0f, u);    // P1 = Y U1
        diag_minus(ctx, u, 15.0f, u, heads, m);                 // U2 = 15I − P1
        head_gemm(ctx, 0, 0, heads, m, 1.0f, y, u, 0.0f, t);    // P2 = Y U2
        diag_minus(ctx, t, 13.0f, t, heads, m);                 // U3 = 13I − P2
        head_gemm(ctx, 0, 0, heads, m, 0.25f, zc, t, 0.0f, zn); // Z' = 0.25 Z U3
    }
}

extern "C" void mhim_cuda_nystrom_pinv_backward(mhim_cuda_ctx *ctx, float *da, const float *dpinv, const float *z,
                                                const float *norm, float *scratch, const float *a, int64_t heads,
                                                int64_t m) {
    MHIM_ASSERT(heads >= 1 && m >= 1);
    const int64_t hmm = heads * m * m;
    float *y = scratch, *u1 = y + hmm, *u2 = u1 + hmm, *u3 = u2 + hmm, *g = u3 + hmm, *gn = g + hmm;
    float *du = gn + hmm, *dy = du + hmm, *dt = dy + hmm, *prod = dt + hmm;
    float *row_sum = prod + hmm, *col_sum = row_sum + heads * m, *scal = col_sum + heads * m;
    mhim_cuda_memset0(ctx, da, (size_t)hmm * sizeof(float));
    MHIM_CUDA_CHECK(cudaMemcpyAsync(g, dpinv, (size_t)hmm * sizeof(float), cudaMemcpyDeviceToDevice, ctx->stream));
    for (int it = MHIM_NYSTROM_PINV_ITERS - 1; it >= 0; it--) {
        const float *zc = z + it * hmm;
        head_gemm(ctx, 0, 0, heads, m, 1.0f, a, zc, 0.0f, y); // recompute the iteration's intermediates
        diag_minus(ctx, u1, 7.0f, y, heads, m);
        head_gemm(ctx, 0, 0, heads, m, 1.0f, y, u1, 0.0f, u2);
        diag_minus(ctx, u2, 15.0f, u2, heads, m);
        head_gemm(ctx, 0, 0, heads, m, 1.0f, y, u2, 0.0f, u3);
        diag_minus(ctx, u3, 13.0f, u3, heads, m);
        head_gemm(ctx, 0, 1, heads, m, 0.25f, g, u3, 0.0f, gn);  // dZ  = 0.25 G U3ᵀ
        head_gemm(ctx, 1, 0, heads, m, 0.25f, zc, g, 0.0f, du);  // dU3 = 0.25 Zᵀ G
        head_gemm(ctx, 0, 1, heads, m, -1.0f, du, u2, 0.0f, dy); // dY  = −dU3 U2ᵀ
        head_gemm(ctx, 1, 0, heads, m, 1.0f, y, du, 0.0f, dt);   // dP1 = Yᵀ dU3
        head_gemm(ctx, 0, 1, heads, m, 1.0f, dt, u1, 1.0f, dy);  // dY += dP1 U1ᵀ
        head_gemm(ctx, 1, 0, heads, m, -1.0f, y, dt, 1.0f, dy);  // dY −= Yᵀ dP1
        head_gemm(ctx, 0, 1, heads, m, 1.0f, dy, zc, 1.0f, da);  // da += dY Zᵀ
        head_gemm(ctx, 1, 0, heads, m, 1.0f, a, dy, 1.0f, gn);   // dZ += aᵀ dY
        float *swap = g;
        g = gn;
        gn = swap;
    }
    LAUNCH(pinv_init_backward_kernel, hmm, da, prod, g, z, norm, heads, m);
    LAUNCH(abs_sums_kernel, heads * m, row_sum, col_sum, a, heads, m);
    pinv_scale_grad_kernel<<<1, MHIM_CUDA_THREADS, 0, ctx->stream>>>(scal, prod, row_sum, col_sum, norm, hmm,
                                                                   heads * m);
    MHIM_CUDA_LAUNCHED();
    LAUNCH(pinv_scale_apply_kernel, hmm, da, a, scal, row_sum, col_sum, norm, heads, m);
}

extern "C" void mhim_cuda_nystrom_res_conv_rows_acc(mhim_cuda_ctx *ctx, float *out, int64_t ld, const float *v,
                                                    const float *w, int64_t heads, int64_t T, int64_t dh, int64_t t0,
                                                    int64_t rows) {
    if (rows > 0) LAUNCH(res_conv_rows_kernel, rows * heads * dh, out, ld, v, w, heads, T, dh, t0, rows);
}

extern "C" void mhim_cuda_nystrom_res_conv_backward_acc(mhim_cuda_ctx *ctx, float *dv, float *dw, const float *dout,
                                                        const float *v, const float *w, int64_t heads, int64_t T,
                                                        int64_t dh) {
    LAUNCH(res_conv_dv_kernel, heads * T * dh, dv, dout, w, heads, T, dh);
    const int64_t taps = heads * MHIM_NYSTROM_RES_KERNEL;
    res_conv_dw_kernel<<<(unsigned)taps, MHIM_CUDA_THREADS, 0, ctx->stream>>>(dw, dout, v, T, dh);
    MHIM_CUDA_LAUNCHED();
}
