// Linear layer on cuBLAS, the fixed-order column sum of bias gradients, fp16 widening and bf16 narrowing (see
// mhim/cuda_ops.h).
#include <cuda_fp16.h>

#include "internal.cuh"

// out[i, :] = bias (the GEMM then adds inp·weightᵀ with beta = 1).
__global__ void broadcast_rows_kernel(float *out, const float *bias, int64_t N, int64_t OC) {
    MHIM_CUDA_FOR(i, N * OC) out[i] = bias[i % OC];
}

// Column sums of bias gradients in two fixed-order passes, so the result depends only on the values (never on
// timing) while every SM has work. Pass 1: a block of COLSUM_COLS columns x COLSUM_LANES row lanes takes one chunk
// of rows; lane l sums rows chunk_start + l, + COLSUM_LANES, ... in order (double), then the lanes are added in lane
// order. Pass 2 adds each column's chunk partials in chunk order.
#define COLSUM_COLS 32
#define COLSUM_LANES 8

__global__ void colsum_partial_kernel(double *partial, const float *src, int64_t N, int64_t C, int64_t chunk) {
    __shared__ double lane_sum[COLSUM_LANES][COLSUM_COLS];
    const int64_t c = (int64_t)blockIdx.x * COLSUM_COLS + threadIdx.x;
    const int64_t r0 = (int64_t)blockIdx.y * chunk, r1 = r0 + chunk < N ? r0 + chunk : N;
    double s = 0.0;
    if (c < C)
        for (int64_t i = r0 + threadIdx.y; i < r1; i += COLSUM_LANES) s += src[i * C + c];
    lane_sum[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        double t = 0.0;
        for (int l = 0; l < COLSUM_LANES; l++) t += lane_sum[l][threadIdx.x];
        partial[blockIdx.y * C + c] = t;
    }
}

__global__ void colsum_finish_kernel(float *dst, const double *partial, int64_t chunks, int64_t C) {
    MHIM_CUDA_FOR(c, C) {
        double s = 0.0;
        for (int64_t k = 0; k < chunks; k++) s += partial[k * C + c];
        dst[c] += (float)s;
    }
}

__global__ void half_to_float_kernel(float *out, const __half *in, int64_t n) {
    MHIM_CUDA_FOR(i, n) out[i] = __half2float(in[i]);
}

// mhim_float_to_bf16's rounding: nearest, ties to even; NaN stays a quiet NaN with its sign and top payload bits.
__global__ void float_to_bf16_kernel(uint16_t *out, const float *in, int64_t n) {
    MHIM_CUDA_FOR(i, n) {
        const uint32_t x = __float_as_uint(in[i]);
        out[i] = (x & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((x >> 16) | 0x40u)
                                                 : (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
    }
}

extern "C" void mhim_cuda_float_to_bf16(mhim_cuda_ctx *ctx, uint16_t *out, const float *in, int64_t n) {
    if (n <= 0) return;
    float_to_bf16_kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(out, in, n);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_colsum_acc(mhim_cuda_ctx *ctx, float *dst, const float *src, int64_t N, int64_t C) {
    if (C <= 0 || N <= 0) return;
    const int64_t chunk = mhim_cuda_reduce_chunk_rows(N, C), chunks = (N + chunk - 1) / chunk;
    double *partial = ctx->reduce_scratch; // stream order: pass 2 reads it before any later op writes it
    const dim3 grid((unsigned)((C + COLSUM_COLS - 1) / COLSUM_COLS), (unsigned)chunks), block(COLSUM_COLS, COLSUM_LANES);
    colsum_partial_kernel<<<grid, block, 0, ctx->stream>>>(partial, src, N, C, chunk);
    MHIM_CUDA_LAUNCHED();
    colsum_finish_kernel<<<mhim_cuda_blocks(C), MHIM_CUDA_THREADS, 0, ctx->stream>>>(dst, partial, chunks, C);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_half_to_float(mhim_cuda_ctx *ctx, float *out, const uint16_t *in, int64_t n) {
    if (n <= 0) return;
    half_to_float_kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(out, (const __half *)in, n);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_linear_forward(mhim_cuda_ctx *ctx, float *out, const float *inp, const float *weight,
                                         const float *bias, int64_t N, int64_t C, int64_t OC) {
    MHIM_ASSERT(C >= 1 && OC >= 1 && N >= 0);
    if (N == 0) return;
    if (bias) {
        broadcast_rows_kernel<<<mhim_cuda_blocks(N * OC), MHIM_CUDA_THREADS, 0, ctx->stream>>>(out, bias, N, OC);
        MHIM_CUDA_LAUNCHED();
    }
    mhim_cuda_gemm(ctx, 0, 1, N, OC, C, 1.0f, inp, weight, bias ? 1.0f : 0.0f, out);
}

static void linear_backward(mhim_cuda_ctx *ctx, float *dinp, float input_beta, float *dweight, float *dbias,
                            const float *dout, const float *inp, const float *weight, int64_t N, int64_t C,
                            int64_t OC) {
    if (N == 0) return;
    if (dinp) mhim_cuda_gemm(ctx, 0, 0, N, C, OC, 1.0f, dout, weight, input_beta, dinp); // dout · weight
    if (dweight) mhim_cuda_gemm(ctx, 1, 0, OC, C, N, 1.0f, dout, inp, 1.0f, dweight);   // += doutᵀ · inp
    if (dbias) mhim_cuda_colsum_acc(ctx, dbias, dout, N, OC);
}

extern "C" void mhim_cuda_linear_backward(mhim_cuda_ctx *ctx, float *dinp, float *dweight, float *dbias,
                                          const float *dout, const float *inp, const float *weight, int64_t N,
                                          int64_t C, int64_t OC) {
    linear_backward(ctx, dinp, 0.0f, dweight, dbias, dout, inp, weight, N, C, OC);
}

extern "C" void mhim_cuda_linear_backward_acc(mhim_cuda_ctx *ctx, float *dinp, float *dweight, float *dbias,
                                              const float *dout, const float *inp, const float *weight, int64_t N,
                                              int64_t C, int64_t OC) {
    linear_backward(ctx, dinp, 1.0f, dweight, dbias, dout, inp, weight, N, C, OC);
}
