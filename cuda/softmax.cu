// Masked softmax over instances (columns) and over rows on the device (see mhim/ops/softmax.h). Both layouts are
// groups of `len` elements at a stride: group g starts at g·group_step and element j sits at j·stride. One block per
// group; the max is exact, the normaliser a fixed-order double sum (deterministic; last bits differ from the CPU).
#include <cmath>

#include "internal.cuh"

__global__ void softmax_groups_kernel(float *y, const float *x, const uint8_t *keep, int64_t len, int64_t stride,
                                      int64_t group_step) {
    __shared__ double dsum[MHIM_CUDA_THREADS];
    __shared__ float fmax_buf[MHIM_CUDA_THREADS];
    const int64_t base = (int64_t)blockIdx.x * group_step;
    float local_max = -INFINITY;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
        if (!keep || keep[j]) local_max = fmaxf(local_max, x[base + j * stride]);
    const float max = mhim_cuda_block_max(local_max, fmax_buf);
    if (max == -INFINITY) { // nothing kept (or all logits −inf): zero probabilities
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x) y[base + j * stride] = 0.0f;
        return;
    }
    double local_sum = 0.0;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
        const float e = (!keep || keep[j]) ? expf(x[base + j * stride] - max) : 0.0f;
        y[base + j * stride] = e;
        local_sum += e;
    }
    const float inv = (float)(1.0 / mhim_cuda_block_sum(local_sum, dsum));
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) y[base + j * stride] *= inv;
}

// dx = y ⊙ (dy − Σ dy⊙y) per group (may run in place: each element is read before it is written by its thread).
__global__ void softmax_groups_backward_kernel(float *dx, const float *dy, const float *y, int64_t len,
                                               int64_t stride, int64_t group_step) {
    __shared__ double dsum[MHIM_CUDA_THREADS];
    const int64_t base = (int64_t)blockIdx.x * group_step;
    double local = 0.0;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
        local += (double)dy[base + j * stride] * y[base + j * stride];
    const float d = (float)mhim_cuda_block_sum(local, dsum);
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
        const int64_t at = base + j * stride;
        dx[at] = y[at] * (dy[at] - d);
    }
}

static void launch_forward(mhim_cuda_ctx *ctx, float *y, const float *x, const uint8_t *keep, int64_t groups,
                           int64_t len, int64_t stride, int64_t group_step) {
    if (groups <= 0 || len <= 0) return;
    MHIM_ASSERT(groups <= 2147483647LL);
    softmax_groups_kernel<<<(unsigned)groups, MHIM_CUDA_THREADS, 0, ctx->stream>>>(y, x, keep, len, stride,
                                                                                 group_step);
    MHIM_CUDA_LAUNCHED();
}

static void launch_backward(mhim_cuda_ctx *ctx, float *dx, const float *dy, const float *y, int64_t groups,
                            int64_t len, int64_t stride, int64_t group_step) {
    if (groups <= 0 || len <= 0) return;
    MHIM_ASSERT(groups <= 2147483647LL);
    softmax_groups_backward_kernel<<<(unsigned)groups, MHIM_CUDA_THREADS, 0, ctx->stream>>>(dx, dy, y, len, stride,
                                                                                          group_step);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_softmax_instances_forward(mhim_cuda_ctx *ctx, float *out, const float *inp,
                                                    const uint8_t *keep, int64_t N, int64_t K) {
    launch_forward(ctx, out, inp, keep, K, N, K, 1);
}

extern "C" void mhim_cuda_softmax_instances_backward(mhim_cuda_ctx *ctx, float *dinp, const float *dout,
                                                     const float *out, int64_t N, int64_t K) {
    launch_backward(ctx, dinp, dout, out, K, N, K, 1);
}

extern "C" void mhim_cuda_softmax_rows_forward(mhim_cuda_ctx *ctx, float *out, const float *inp, const uint8_t *keep,
                                               int64_t R, int64_t L) {
    launch_forward(ctx, out, inp, keep, R, L, 1, L);
}

extern "C" void mhim_cuda_softmax_rows_backward(mhim_cuda_ctx *ctx, float *dinp, const float *dout, const float *out,
                                                int64_t R, int64_t L) {
    launch_backward(ctx, dinp, dout, out, R, L, 1, L);
}
