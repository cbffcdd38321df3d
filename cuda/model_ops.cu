// Device helpers of the GPU networks (cuda/model_*.c) that the CPU op table has no counterpart for: the dropout
// mask of gathered rows, device-to-device copy, element-wise accumulation and division (see mhim/cuda_ops.h).
#include "internal.cuh"
#include "philox.cuh"

static __global__ void model_dropout_mask_rows_kernel(uint8_t *keep, mhim_rng stream, const int64_t *idx, float keep_prob,
                                         int64_t M, int64_t W) {
    MHIM_CUDA_FOR(i, M * W) {
        const int64_t j = i / W, c = i - j * W;
        keep[i] = mhim_cuda_rng_uniform_at(stream, (uint64_t)idx[j] * (uint64_t)W + (uint64_t)c) < keep_prob;
    }
}

static __global__ void model_add_kernel(float *y, const float *x, int64_t n) {
    MHIM_CUDA_FOR(i, n) y[i] += x[i];
}

static __global__ void model_div_kernel(float *y, float divisor, int64_t n) {
    MHIM_CUDA_FOR(i, n) y[i] = __fdiv_rn(y[i], divisor);
}

extern "C" void mhim_cuda_dropout_mask_rows(mhim_cuda_ctx *ctx, uint8_t *keep, const mhim_rng *stream,
                                            const int64_t *idx, float p, int64_t M, int64_t W) {
    MHIM_ASSERT(p >= 0.0f && p <= 1.0f);
    if (M <= 0 || W <= 0) return;
    model_dropout_mask_rows_kernel<<<mhim_cuda_blocks(M * W), MHIM_CUDA_THREADS, 0, ctx->stream>>>(keep, *stream, idx,
                                                                                            1.0f - p, M, W);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_copy(mhim_cuda_ctx *ctx, void *dst, const void *src, size_t bytes) {
    if (bytes) MHIM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx->stream));
}

extern "C" void mhim_cuda_add(mhim_cuda_ctx *ctx, float *y, const float *x, int64_t n) {
    if (n <= 0) return;
    model_add_kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(y, x, n);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_div(mhim_cuda_ctx *ctx, float *y, float divisor, int64_t n) {
    if (n <= 0) return;
    model_div_kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(y, divisor, n);
    MHIM_CUDA_LAUNCHED();
}
