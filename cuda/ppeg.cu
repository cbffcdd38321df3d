// PPEG position encoding on the device (see mhim/ops/ppeg.h): the token grid with wrap-around copies, three
// depthwise convolutions per (token, channel) thread with the CPU's tap order, the transposed convolutions for the
// input gradient, and the weight gradients one (channel, tap) per thread, tokens in order, in double.
#include "internal.cuh"

#define N0 (MHIM_PPEG_K0 * MHIM_PPEG_K0)
#define N1 (MHIM_PPEG_K1 * MHIM_PPEG_K1)
#define N2 (MHIM_PPEG_K2 * MHIM_PPEG_K2)
#define TAPS (N0 + N1 + N2)

// Exact ceil(sqrt(M)).
static int64_t ceil_sqrt(int64_t M) {
    int64_t s = 1;
    while (s * s < M) s++;
    return s;
}

// grid (S·S, dim) = [x ; x[:wrap] ; zeros].
__global__ void build_grid_kernel(float *grid, const float *x, int64_t M, int64_t wrap, int64_t cells, int64_t dim) {
    MHIM_CUDA_FOR(e, cells * dim) {
        const int64_t u = e / dim, c = e % dim;
        grid[e] = u < M ? x[e] : (u < M + wrap ? x[(u - M) * dim + c] : 0.0f);
    }
}

// Σ_{dy,dx} w[dy·k+dx] · grid[(r+dy−k/2)·S + col+dx−k/2, c] over cells inside the grid.
__device__ inline float conv_at(const float *w, const float *grid, int64_t k, int64_t r, int64_t col, int64_t S,
                                int64_t dim, int64_t c) {
    float acc = 0.0f;
    for (int64_t dy = 0; dy < k; dy++) {
        const int64_t rr = r + dy - k / 2;
        if (rr < 0 || rr >= S) continue;
        for (int64_t dx = 0; dx < k; dx++) {
            const int64_t cc = col + dx - k / 2;
            if (cc < 0 || cc >= S) continue;
            acc += w[dy * k + dx] * grid[(rr * S + cc) * dim + c];
        }
    }
    return acc;
}

__global__ void ppeg_forward_kernel(float *out, const float *grid, const float *w0, const float *b0, const float *w1,
                                    const float *b1, const float *w2, const float *b2, int64_t M, int64_t S,
                                    int64_t dim) {
    MHIM_CUDA_FOR(e, M * dim) {
        const int64_t t = e / dim, c = e % dim, r = t / S, col = t % S;
        const float a0 = conv_at(w0 + c * N0, grid, MHIM_PPEG_K0, r, col, S, dim, c);
        const float a1 = conv_at(w1 + c * N1, grid, MHIM_PPEG_K1, r, col, S, dim, c);
        const float a2 = conv_at(w2 + c * N2, grid, MHIM_PPEG_K2, r, col, S, dim, c);
        out[e] = (b0[c] + a0) + grid[e] + (b1[c] + a1) + (b2[c] + a2);
    }
}

// Σ over output tokens t < M fed by cell (r, col): w[dy·k+dx] · dout[t, c], t = (r−dy+k/2, col−dx+k/2).
__device__ inline float conv_transpose_at(const float *w, const float *dout, int64_t k, int64_t r, int64_t col,
                                          int64_t S, int64_t M, int64_t dim, int64_t c) {
    float acc = 0.0f;
    for (int64_t dy = 0; dy < k; dy++) {
        const int64_t rr = r - dy + k / 2;
        if (rr < 0 || rr >= S) continue;
        for (int64_t dx = 0; dx < k; dx++) {
            const int64_t cc = col - dx + k / 2;
            if (cc < 0 || cc >= S || rr * S + cc >= M) continue;
            acc += w[dy * k + dx] * dout[(rr * S + cc) * dim + c];
        }
    }
    return acc;
}

__global__ void ppeg_dgrid_kernel(float *dgrid, const float *dout, const float *w0, const float *w1, const float *w2,
                                  int64_t M, int64_t used, int64_t S, int64_t dim) {
    MHIM_CUDA_FOR(e, used * dim) {
        const int64_t u = e / dim, c = e % dim, r = u / S, col = u % S;
        const float a0 = conv_transpose_at(w0 + c * N0, dout, MHIM_PPEG_K0, r, col, S, M, dim, c);
        const float a1 = conv_transpose_at(w1 + c * N1, dout, MHIM_PPEG_K1, r, col, S, M, dim, c);
        const float a2 = conv_transpose_at(w2 + c * N2, dout, MHIM_PPEG_K2, r, col, S, M, dim, c);
        dgrid[e] = (u < M ? dout[e] : 0.0f) + a0 + a1 + a2;
    }
}

__global__ void ppeg_dx_kernel(float *dx, const float *dgrid, int64_t M, int64_t wrap, int64_t dim) {
    MHIM_CUDA_FOR(e, M * dim) {
        const int64_t t = e / dim, c = e % dim;
        dx[e] = dgrid[e] + (t < wrap ? dgrid[(M + t) * dim + c] : 0.0f);
    }
}

// One thread per (channel, tap); taps 0..N0-1 belong to w0, then w1, then w2. Tap −1 is the bias (shared by the
// three kernels): thread index c·(TAPS+1) + TAPS.
__global__ void ppeg_param_kernel(float *dw0, float *db0, float *dw1, float *db1, float *dw2, float *db2,
                                  const float *dout, const float *grid, int64_t M, int64_t S, int64_t dim) {
    MHIM_CUDA_FOR(e, dim * (TAPS + 1)) {
        const int64_t c = e / (TAPS + 1), tap = e % (TAPS + 1);
        double acc = 0.0;
        if (tap == TAPS) {
            for (int64_t t = 0; t < M; t++) acc += dout[t * dim + c];
            db0[c] += (float)acc;
            db1[c] += (float)acc;
            db2[c] += (float)acc;
            continue;
        }
        int64_t k, q;
        float *dw;
        if (tap < N0) { k = MHIM_PPEG_K0; q = tap; dw = dw0 + c * N0; }
        else if (tap < N0 + N1) { k = MHIM_PPEG_K1; q = tap - N0; dw = dw1 + c * N1; }
        else { k = MHIM_PPEG_K2; q = tap - N0 - N1; dw = dw2 + c * N2; }
        const int64_t dy = q / k, dx = q % k;
        for (int64_t t = 0; t < M; t++) {
            const int64_t rr = t / S + dy - k / 2, cc = t % S + dx - k / 2;
            if (rr < 0 || rr >= S || cc < 0 || cc >= S) continue;
            acc += (double)dout[t * dim + c] * grid[(rr * S + cc) * dim + c];
        }
        dw[q] += (float)acc;
    }
}

#define LAUNCH(kernel, n, ...)                                                                         \
    do {                                                                                               \
        kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(__VA_ARGS__);               \
        MHIM_CUDA_LAUNCHED();                                                                          \
    } while (0)

extern "C" void mhim_cuda_ppeg_forward(mhim_cuda_ctx *ctx, float *out, float *scratch, const float *x,
                                       const float *w0, const float *b0, const float *w1, const float *b1,
                                       const float *w2, const float *b2, int64_t M, int64_t dim) {
    MHIM_ASSERT(M >= 1 && dim >= 1);
    const int64_t S = mhim_ppeg_side(M), s0 = ceil_sqrt(M), wrap = s0 * s0 - M;
    LAUNCH(build_grid_kernel, S * S * dim, scratch, x, M, wrap, S * S, dim);
    LAUNCH(ppeg_forward_kernel, M * dim, out, scratch, w0, b0, w1, b1, w2, b2, M, S, dim);
}

extern "C" void mhim_cuda_ppeg_backward(mhim_cuda_ctx *ctx, float *dx, float *dw0, float *db0, float *dw1,
                                        float *db1, float *dw2, float *db2, const float *dout, float *scratch,
                                        const float *x, const float *w0, const float *w1, const float *w2, int64_t M,
                                        int64_t dim) {
    MHIM_ASSERT(M >= 1 && dim >= 1);
    const int64_t S = mhim_ppeg_side(M), s0 = ceil_sqrt(M), wrap = s0 * s0 - M;
    float *grid = scratch, *dgrid = scratch + S * S * dim;
    LAUNCH(build_grid_kernel, S * S * dim, grid, x, M, wrap, S * S, dim);
    LAUNCH(ppeg_dgrid_kernel, (M + wrap) * dim, dgrid, dout, w0, w1, w2, M, M + wrap, S, dim);
    LAUNCH(ppeg_dx_kernel, M * dim, dx, dgrid, M, wrap, dim);
    LAUNCH(ppeg_param_kernel, dim * (TAPS + 1), dw0, db0, dw1, db1, dw2, db2, dout, grid, M, S, dim);
}
