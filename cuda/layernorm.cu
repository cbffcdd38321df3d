// LayerNorm on the device (see mhim/ops/norm.h): one block per row with fixed-order double reductions; the
// parameter gradients in two fixed-order passes over row chunks, in double.
#include <cmath>

#include "internal.cuh"

__global__ void layernorm_forward_kernel(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                                         const float *bias, int64_t C) {
    __shared__ double buf[MHIM_CUDA_THREADS];
    const int64_t i = blockIdx.x;
    const float *x = inp + i * C;
    double s = 0.0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += x[c];
    const double mu = mhim_cuda_block_sum(s, buf) / (double)C;
    double q = 0.0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const double d = x[c] - mu;
        q += d * d;
    }
    const double var = mhim_cuda_block_sum(q, buf);
    const float m = (float)mu, r = (float)(1.0 / sqrt(var / (double)C + (double)MHIM_LAYERNORM_EPS));
    float *y = out + i * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) y[c] = (x[c] - m) * r * weight[c] + bias[c];
    if (threadIdx.x == 0) {
        mean[i] = m;
        rstd[i] = r;
    }
}

__global__ void layernorm_backward_kernel(float *dinp, int accumulate, const float *dout, const float *inp,
                                          const float *weight, const float *mean, const float *rstd, int64_t C) {
    __shared__ double buf[MHIM_CUDA_THREADS];
    const int64_t i = blockIdx.x;
    const float *x = inp + i * C, *dy = dout + i * C;
    const float m = mean[i], r = rstd[i];
    double sg = 0.0, sgx = 0.0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const double g = (double)dy[c] * weight[c];
        sg += g;
        sgx += g * ((x[c] - m) * r);
    }
    const float mean_g = (float)(mhim_cuda_block_sum(sg, buf) / (double)C);
    const float mean_gx = (float)(mhim_cuda_block_sum(sgx, buf) / (double)C);
    float *dx = dinp + i * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const float v = r * (dy[c] * weight[c] - mean_g - (x[c] - m) * r * mean_gx);
        dx[c] = accumulate ? dx[c] + v : v;
    }
}

// Weight and bias gradients in two fixed-order passes (as mhim_cuda_colsum_acc): pass 1, a block of PARAM_COLS
// columns x PARAM_LANES row lanes sums one chunk of rows (lane l: rows start + l, + PARAM_LANES, ... in order, in
// double; lanes added in lane order); pass 2 adds each column's chunk partials in chunk order.
#define PARAM_COLS 32
#define PARAM_LANES 8

__global__ void layernorm_param_partial_kernel(double *partial, const float *dout, const float *inp,
                                               const float *mean, const float *rstd, int64_t N, int64_t C,
                                               int64_t chunk) {
    __shared__ double lane_w[PARAM_LANES][PARAM_COLS], lane_b[PARAM_LANES][PARAM_COLS];
    const int64_t c = (int64_t)blockIdx.x * PARAM_COLS + threadIdx.x;
    const int64_t r0 = (int64_t)blockIdx.y * chunk, r1 = r0 + chunk < N ? r0 + chunk : N;
    double pw = 0.0, pb = 0.0;
    if (c < C)
        for (int64_t i = r0 + threadIdx.y; i < r1; i += PARAM_LANES) {
            const float dy = dout[i * C + c];
            pw += (double)dy * ((inp[i * C + c] - mean[i]) * rstd[i]);
            pb += dy;
        }
    lane_w[threadIdx.y][threadIdx.x] = pw;
    lane_b[threadIdx.y][threadIdx.x] = pb;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        double tw = 0.0, tb = 0.0;
        for (int l = 0; l < PARAM_LANES; l++) tw += lane_w[l][threadIdx.x], tb += lane_b[l][threadIdx.x];
        partial[(2 * blockIdx.y) * C + c] = tw;
        partial[(2 * blockIdx.y + 1) * C + c] = tb;
    }
}

__global__ void layernorm_param_finish_kernel(float *dweight, float *dbias, const double *partial, int64_t chunks,
                                              int64_t C) {
    MHIM_CUDA_FOR(c, C) {
        double pw = 0.0, pb = 0.0;
        for (int64_t k = 0; k < chunks; k++) pw += partial[(2 * k) * C + c], pb += partial[(2 * k + 1) * C + c];
        dweight[c] += (float)pw;
        dbias[c] += (float)pb;
    }
}

extern "C" void mhim_cuda_layernorm_forward(mhim_cuda_ctx *ctx, float *out, float *mean, float *rstd,
                                            const float *inp, const float *weight, const float *bias, int64_t N,
                                            int64_t C) {
    if (N <= 0) return;
    MHIM_ASSERT(C >= 1 && N <= 2147483647LL);
    layernorm_forward_kernel<<<(unsigned)N, MHIM_CUDA_THREADS, 0, ctx->stream>>>(out, mean, rstd, inp, weight, bias,
                                                                               C);
    MHIM_CUDA_LAUNCHED();
}

static void layernorm_backward(mhim_cuda_ctx *ctx, float *dinp, int accumulate, float *dweight, float *dbias,
                               const float *dout, const float *inp, const float *weight, const float *mean,
                               const float *rstd, int64_t N, int64_t C) {
    if (N <= 0) return;
    MHIM_ASSERT(C >= 1 && N <= 2147483647LL);
    layernorm_backward_kernel<<<(unsigned)N, MHIM_CUDA_THREADS, 0, ctx->stream>>>(dinp, accumulate, dout, inp,
                                                                                weight, mean, rstd, C);
    MHIM_CUDA_LAUNCHED();
    const int64_t chunk = mhim_cuda_reduce_chunk_rows(N, 2 * C), chunks = (N + chunk - 1) / chunk;
    double *partial = ctx->reduce_scratch; // stream order: the finishing pass reads it before any later op
    const dim3 grid((unsigned)((C + PARAM_COLS - 1) / PARAM_COLS), (unsigned)chunks), block(PARAM_COLS, PARAM_LANES);
    layernorm_param_partial_kernel<<<grid, block, 0, ctx->stream>>>(partial, dout, inp, mean, rstd, N, C, chunk);
    MHIM_CUDA_LAUNCHED();
    layernorm_param_finish_kernel<<<mhim_cuda_blocks(C), MHIM_CUDA_THREADS, 0, ctx->stream>>>(dweight, dbias, partial,
                                                                                             chunks, C);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_layernorm_backward(mhim_cuda_ctx *ctx, float *dinp, float *dweight, float *dbias,
                                             const float *dout, const float *inp, const float *weight,
                                             const float *mean, const float *rstd, int64_t N, int64_t C) {
    layernorm_backward(ctx, dinp, 0, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

extern "C" void mhim_cuda_layernorm_backward_acc(mhim_cuda_ctx *ctx, float *dinp, float *dweight, float *dbias,
                                                 const float *dout, const float *inp, const float *weight,
                                                 const float *mean, const float *rstd, int64_t N, int64_t C) {
    layernorm_backward(ctx, dinp, 1, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}
