// Row gather and scatter-add on the device (see mhim/ops/gather.h). The scatter gives each column to one thread,
// which walks the indices in order: no atomics, the CPU's summation order, bit-identical results.
#include "internal.cuh"

// An index outside [0, N) is a caller bug (the CPU aborts): trap, which fails the context's next sync.
__device__ inline int64_t checked_row(const int64_t *idx, int64_t j, int64_t N) {
    const int64_t r = idx[j];
    if (r < 0 || r >= N) __trap();
    return r;
}

__global__ void gather_rows_kernel(float *out, const float *x, const int64_t *idx, int64_t M, int64_t N, int64_t D) {
    MHIM_CUDA_FOR(e, M * D) {
        const int64_t j = e / D, c = e % D;
        out[e] = x[checked_row(idx, j, N) * D + c];
    }
}

__global__ void scatter_rows_kernel(float *dx, int zero_first, const float *dout, const int64_t *idx, int64_t M,
                                    int64_t N, int64_t D) {
    MHIM_CUDA_FOR(c, D) {
        if (zero_first)
            for (int64_t i = 0; i < N; i++) dx[i * D + c] = 0.0f;
        for (int64_t j = 0; j < M; j++) dx[checked_row(idx, j, N) * D + c] += dout[j * D + c];
    }
}

extern "C" void mhim_cuda_gather_rows_forward(mhim_cuda_ctx *ctx, float *out, const float *x, const int64_t *idx,
                                              int64_t M, int64_t N, int64_t D) {
    if (M <= 0 || D <= 0) return;
    gather_rows_kernel<<<mhim_cuda_blocks(M * D), MHIM_CUDA_THREADS, 0, ctx->stream>>>(out, x, idx, M, N, D);
    MHIM_CUDA_LAUNCHED();
}

static void scatter(mhim_cuda_ctx *ctx, float *dx, int zero_first, const float *dout, const int64_t *idx, int64_t M,
                    int64_t N, int64_t D) {
    if (D <= 0) return;
    scatter_rows_kernel<<<mhim_cuda_blocks(D), MHIM_CUDA_THREADS, 0, ctx->stream>>>(dx, zero_first, dout, idx, M, N,
                                                                                   D);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_gather_rows_backward(mhim_cuda_ctx *ctx, float *dx, const float *dout, const int64_t *idx,
                                               int64_t M, int64_t N, int64_t D) {
    scatter(ctx, dx, 1, dout, idx, M, N, D);
}

extern "C" void mhim_cuda_gather_rows_backward_acc(mhim_cuda_ctx *ctx, float *dx, const float *dout,
                                                   const int64_t *idx, int64_t M, int64_t N, int64_t D) {
    scatter(ctx, dx, 0, dout, idx, M, N, D);
}
