// Dropout on the device (see mhim/ops/dropout.h): the keep mask from the device Philox (bit-identical to
// mhim_dropout_mask), the scaled mask applied as on the CPU.
#include "internal.cuh"
#include "philox.cuh"

__global__ void dropout_mask_kernel(uint8_t *keep, mhim_rng stream, uint64_t first, float keep_prob, int64_t n) {
    MHIM_CUDA_FOR(i, n) keep[i] = mhim_cuda_rng_uniform_at(stream, first + (uint64_t)i) < keep_prob;
}

__global__ void dropout_apply_kernel(float *out, const float *inp, const uint8_t *keep, float scale, int64_t n) {
    MHIM_CUDA_FOR(i, n) out[i] = inp[i] * (float)keep[i] * scale; // torch: input * mask * scale
}

// 1/(1-p) as torch computes it; 0 for p == 1.
static float keep_scale(float p) {
    MHIM_ASSERT(p >= 0.0f && p <= 1.0f);
    return p >= 1.0f ? 0.0f : (float)(1.0 / (1.0 - (double)p));
}

extern "C" uint32_t mhim_cuda_rng_u32_host(const mhim_rng *r, uint64_t i) { return mhim_cuda_rng_u32_at(*r, i); }

extern "C" void mhim_cuda_dropout_mask(mhim_cuda_ctx *ctx, uint8_t *keep, const mhim_rng *stream, uint64_t first,
                                       float p, int64_t n) {
    MHIM_ASSERT(p >= 0.0f && p <= 1.0f);
    if (n <= 0) return;
    dropout_mask_kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(keep, *stream, first, 1.0f - p,
                                                                                   n);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_dropout_forward(mhim_cuda_ctx *ctx, float *out, const uint8_t *keep, const float *inp,
                                          float p, int64_t n) {
    const float scale = keep_scale(p);
    if (n <= 0) return;
    dropout_apply_kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(out, inp, keep, scale, n);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_dropout_backward(mhim_cuda_ctx *ctx, float *dinp, const float *dout, const uint8_t *keep,
                                           float p, int64_t n) {
    mhim_cuda_dropout_forward(ctx, dinp, keep, dout, p, n);
}
