/* PPEG position encoding, forward and backward (see mhim/ops/ppeg.h). The grid is kept token-major
 * (S·S cells, dim channels), the same memory order as the token sequence. */
#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/ppeg.h"

#define TAPS (MHIM_PPEG_K0 * MHIM_PPEG_K0 + MHIM_PPEG_K1 * MHIM_PPEG_K1 + MHIM_PPEG_K2 * MHIM_PPEG_K2)

/* Exact ceil(sqrt(M)) for M >= 1 (np.ceil(np.sqrt(N)) for every realistic N). */
static int64_t ceil_sqrt(int64_t M) {
    int64_t s = 1;
    while (s * s < M) s++;
    return s;
}

int64_t mhim_ppeg_side(int64_t M) {
    MHIM_ASSERT(M >= 1);
    return MHIM_MAX(ceil_sqrt(M), (int64_t)MHIM_PPEG_MIN_SIDE);
}

int64_t mhim_ppeg_forward_scratch_floats(int64_t M, int64_t dim) {
    const int64_t S = mhim_ppeg_side(M);
    return S * S * dim;
}

int64_t mhim_ppeg_backward_scratch_floats(int64_t M, int64_t dim) {
    return 2 * mhim_ppeg_forward_scratch_floats(M, dim);
}

/* Number of wrap-around copies appended after the M tokens (before any zero padding). */
static int64_t wrap_count(int64_t M) {
    const int64_t s0 = ceil_sqrt(M);
    return s0 * s0 - M;
}

/* grid (S·S, dim) = [x ; x[:wrap] ; zeros]. */
static void build_grid(float *grid, const float *x, int64_t M, int64_t dim) {
    const int64_t S = mhim_ppeg_side(M), wrap = wrap_count(M);
    memcpy(grid, x, (size_t)(M * dim) * sizeof(float));
    memcpy(grid + M * dim, x, (size_t)(wrap * dim) * sizeof(float));
    memset(grid + (M + wrap) * dim, 0, (size_t)((S * S - M - wrap) * dim) * sizeof(float));
}

/* Σ_{dy,dx} w[dy·k+dx] · grid[r+dy−k/2, col+dx−k/2, c] over the cells inside the S×S grid. */
static float conv_at(const float *grid, const float *w, int64_t k, int64_t r, int64_t col, int64_t S, int64_t dim,
                     int64_t c) {
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

void mhim_ppeg_forward(float *out, float *scratch, const float *x, const float *w0, const float *b0, const float *w1,
                       const float *b1, const float *w2, const float *b2, int64_t M, int64_t dim) {
    MHIM_ASSERT(M >= 1 && dim >= 1);
    const int64_t S = mhim_ppeg_side(M);
    float *grid = scratch;
    build_grid(grid, x, M, dim);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < M; t++) {
        const int64_t r = t / S, col = t % S;
        for (int64_t c = 0; c < dim; c++) {
            const float p0 =
                b0[c] + conv_at(grid, w0 + c * MHIM_PPEG_K0 * MHIM_PPEG_K0, MHIM_PPEG_K0, r, col, S, dim, c);
            const float p1 =
                b1[c] + conv_at(grid, w1 + c * MHIM_PPEG_K1 * MHIM_PPEG_K1, MHIM_PPEG_K1, r, col, S, dim, c);
            const float p2 =
                b2[c] + conv_at(grid, w2 + c * MHIM_PPEG_K2 * MHIM_PPEG_K2, MHIM_PPEG_K2, r, col, S, dim, c);
            out[t * dim + c] = p0 + grid[t * dim + c] + p1 + p2;
        }
    }
}

/* Σ over the output cells t < M fed by cell (r, col) through a k×k kernel: w[dy·k+dx] · dout[t, c] with
 * t = (r−dy+k/2, col−dx+k/2) (transposed correlation). */
static float conv_transpose_at(const float *dout, const float *w, int64_t k, int64_t r, int64_t col, int64_t S,
                               int64_t M, int64_t dim, int64_t c) {
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

/* dw[c, tap] += Σ_{t<M} dout[t, c] · grid[t shifted by tap, c] for one k×k kernel, summed in double in t order. */
static void conv_weight_grad(double *acc, const float *dout, const float *grid, int64_t k, int64_t t, int64_t S,
                             int64_t dim, int64_t c) {
    const int64_t r = t / S, col = t % S;
    const double g = dout[t * dim + c];
    for (int64_t dy = 0; dy < k; dy++) {
        const int64_t rr = r + dy - k / 2;
        if (rr < 0 || rr >= S) continue;
        for (int64_t dx = 0; dx < k; dx++) {
            const int64_t cc = col + dx - k / 2;
            if (cc < 0 || cc >= S) continue;
            acc[dy * k + dx] += g * grid[(rr * S + cc) * dim + c];
        }
    }
}

void mhim_ppeg_backward(float *dx, float *dw0, float *db0, float *dw1, float *db1, float *dw2, float *db2,
                        const float *dout, float *scratch, const float *x, const float *w0, const float *w1,
                        const float *w2, int64_t M, int64_t dim) {
    MHIM_ASSERT(M >= 1 && dim >= 1);
    const int64_t S = mhim_ppeg_side(M), wrap = wrap_count(M);
    const int64_t k0 = MHIM_PPEG_K0, k1 = MHIM_PPEG_K1, k2 = MHIM_PPEG_K2;
    float *grid = scratch, *dgrid = scratch + S * S * dim;
    build_grid(grid, x, M, dim);
    /* gradient of every grid cell that holds a token or a copy: identity + three transposed correlations */
#pragma omp parallel for schedule(static)
    for (int64_t u = 0; u < M + wrap; u++) {
        const int64_t r = u / S, col = u % S;
        for (int64_t c = 0; c < dim; c++) {
            float g = u < M ? dout[u * dim + c] : 0.0f;
            g += conv_transpose_at(dout, w0 + c * k0 * k0, k0, r, col, S, M, dim, c);
            g += conv_transpose_at(dout, w1 + c * k1 * k1, k1, r, col, S, M, dim, c);
            g += conv_transpose_at(dout, w2 + c * k2 * k2, k2, r, col, S, M, dim, c);
            dgrid[u * dim + c] = g;
        }
    }
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < M; t++)
        for (int64_t c = 0; c < dim; c++)
            dx[t * dim + c] = dgrid[t * dim + c] + (t < wrap ? dgrid[(M + t) * dim + c] : 0.0f);
            /* weights and biases: one channel per iteration, cells summed in order */
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < dim; c++) {
        double acc[TAPS] = {0}, bias = 0.0;
        for (int64_t t = 0; t < M; t++) {
            conv_weight_grad(acc, dout, grid, k0, t, S, dim, c);
            conv_weight_grad(acc + k0 * k0, dout, grid, k1, t, S, dim, c);
            conv_weight_grad(acc + k0 * k0 + k1 * k1, dout, grid, k2, t, S, dim, c);
            bias += dout[t * dim + c];
        }
        for (int64_t j = 0; j < k0 * k0; j++) dw0[c * k0 * k0 + j] += (float)acc[j];
        for (int64_t j = 0; j < k1 * k1; j++) dw1[c * k1 * k1 + j] += (float)acc[k0 * k0 + j];
        for (int64_t j = 0; j < k2 * k2; j++) dw2[c * k2 * k2 + j] += (float)acc[k0 * k0 + k1 * k1 + j];
        db0[c] += (float)bias;
        db1[c] += (float)bias;
        db2[c] += (float)bias;
    }
}
