// Linear layer on cuBLAS, the fixed-order column sum of bias gradients, and fp16 widening (see mhim/cuda_ops.h).
#include <cuda_fp16.h>

#include "internal.cuh"

// out[i, :] = bias (the GEMM then adds inp·weightᵀ with beta = 1).
__global__ void broadcast_rows_kernel(float *out, const float *bias, int64_t N, int64_t OC) {
    MHIM_CUDA_FOR(i, N * OC) out[i] = bias[i % OC];
}

// One thread per column: rows summed in order, in double (the CPU's mhim_colsum_acc order).
__global__ void colsum_acc_kernel(float *dst, const float *src, int64_t N, int64_t C) {
    MHIM_CUDA_FOR(c, C) {
        double s = 0.0;
        for (int64_t i = 0; i < N; i++) s += src[i * C + c];
        dst[c] += (float)s;
    }
}

__global__ void half_to_float_kernel(float *out, const __half *in, int64_t n) {
    MHIM_CUDA_FOR(i, n) out[i] = __half2float(in[i]);
}

extern "C" void mhim_cuda_colsum_acc(mhim_cuda_ctx *ctx, float *dst, const float *src, int64_t N, int64_t C) {
    if (C <= 0) return;
    colsum_acc_kernel<<<mhim_cuda_blocks(C), MHIM_CUDA_THREADS, 0, ctx->stream>>>(dst, src, N, C);
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
