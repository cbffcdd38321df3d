// The first layer's epilogue fused into one pass over the GEMM output (see mhim/cuda_ops.h): bias, activation and
// dropout with the arithmetic of linear_forward's bias + act_forward + dropout_forward, element for element.
#include "internal.cuh"

__global__ void bias_act_dropout_kernel(float *h, float *pre, const float *lin, const float *bias, mhim_act act,
                                        const uint8_t *keep, float scale, int64_t N, int64_t C) {
    MHIM_CUDA_FOR(i, N * C) {
        const float v = bias ? lin[i] + bias[i % C] : lin[i];
        if (pre) pre[i] = v;
        const float y = mhim_cuda_act_value(act, v);
        h[i] = keep ? y * (float)keep[i] * scale : y; // torch: input * mask * scale
    }
}

extern "C" void mhim_cuda_bias_act_dropout_forward(mhim_cuda_ctx *ctx, float *h, float *pre, const float *lin,
                                                   const float *bias, mhim_act act, const uint8_t *keep, float p,
                                                   int64_t N, int64_t C) {
    MHIM_ASSERT(C >= 1 && N >= 0 && p >= 0.0f && p <= 1.0f);
    MHIM_ASSERT(!keep || act == MHIM_ACT_RELU || act == MHIM_ACT_GELU);
    if (N == 0) return;
    const float scale = p >= 1.0f ? 0.0f : (float)(1.0 / (1.0 - (double)p)); // 1/(1-p) as torch computes it
    bias_act_dropout_kernel<<<mhim_cuda_blocks(N * C), MHIM_CUDA_THREADS, 0, ctx->stream>>>(h, pre, lin, bias, act,
                                                                                          keep, scale, N, C);
    MHIM_CUDA_LAUNCHED();
}
