/* PPEG position encoding, forward and backward (see mhim/ops/ppeg.h). The grid is kept token-major
 * (S·S cells, dim channels), the same memory order as the token sequence.
 *
 * Every loop works on blocks of BLOCK channels: one thread owns a block (results do not depend on the
 * thread count), copies the block's weights tap-major onto its stack, and runs the channel loop innermost
 * over contiguous memory so that it vectorises. The forward sums the taps of each kernel in the order of the direct
 * definition (dy, then dx; one accumulator per kernel); the backward uses that the three kernels are centred on the
 * same cell (one transposed correlation with their summed weights, and the 5x5 / 3x3 weight gradients read from the
 * centre of the 7x7 ones). */
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

#define BLOCK 32

/* The taps of kernels k0, k1, k2 of channels [c0, c0+nb) as wt[tap][j] (tap-major, then channel). */
static void block_weights(float wt[TAPS][BLOCK], const float *w0, const float *w1, const float *w2, int64_t c0,
                          int64_t nb) {
    const int64_t n0 = MHIM_PPEG_K0 * MHIM_PPEG_K0, n1 = MHIM_PPEG_K1 * MHIM_PPEG_K1, n2 = MHIM_PPEG_K2 * MHIM_PPEG_K2;
    for (int64_t j = 0; j < nb; j++) {
        for (int64_t q = 0; q < n0; q++) wt[q][j] = w0[(c0 + j) * n0 + q];
        for (int64_t q = 0; q < n1; q++) wt[n0 + q][j] = w1[(c0 + j) * n1 + q];
        for (int64_t q = 0; q < n2; q++) wt[n0 + n1 + q][j] = w2[(c0 + j) * n2 + q];
    }
}

/* acc[j] = Σ_{dy,dx} wt[dy·k+dx][j] · grid[(r+dy−k/2)·S + col+dx−k/2, c0+j] over cells inside the grid. */
static void conv_block(float *acc, const float (*wt)[BLOCK], const float *grid, int64_t k, int64_t r, int64_t col,
                       int64_t S, int64_t dim, int64_t c0, int64_t nb) {
    for (int64_t j = 0; j < nb; j++) acc[j] = 0.0f;
    for (int64_t dy = 0; dy < k; dy++) {
        const int64_t rr = r + dy - k / 2;
        if (rr < 0 || rr >= S) continue;
        for (int64_t dx = 0; dx < k; dx++) {
            const int64_t cc = col + dx - k / 2;
            if (cc < 0 || cc >= S) continue;
            const float *w = wt[dy * k + dx], *g = grid + (rr * S + cc) * dim + c0;
            for (int64_t j = 0; j < nb; j++) acc[j] += w[j] * g[j];
        }
    }
}

void mhim_ppeg_forward(float *out, float *scratch, const float *x, const float *w0, const float *b0, const float *w1,
                       const float *b1, const float *w2, const float *b2, int64_t M, int64_t dim) {
    MHIM_ASSERT(M >= 1 && dim >= 1);
    const int64_t S = mhim_ppeg_side(M), n0 = MHIM_PPEG_K0 * MHIM_PPEG_K0, n1 = MHIM_PPEG_K1 * MHIM_PPEG_K1;
    float *grid = scratch;
    build_grid(grid, x, M, dim);
#pragma omp parallel for schedule(static)
    for (int64_t c0 = 0; c0 < dim; c0 += BLOCK) {
        const int64_t nb = MHIM_MIN((int64_t)BLOCK, dim - c0);
        float wt[TAPS][BLOCK], a0[BLOCK], a1[BLOCK], a2[BLOCK];
        block_weights(wt, w0, w1, w2, c0, nb);
        for (int64_t t = 0; t < M; t++) {
            const int64_t r = t / S, col = t % S;
            conv_block(a0, (const float(*)[BLOCK])wt, grid, MHIM_PPEG_K0, r, col, S, dim, c0, nb);
            conv_block(a1, (const float(*)[BLOCK])wt + n0, grid, MHIM_PPEG_K1, r, col, S, dim, c0, nb);
            conv_block(a2, (const float(*)[BLOCK])wt + n0 + n1, grid, MHIM_PPEG_K2, r, col, S, dim, c0, nb);
            const float *g = grid + t * dim + c0;
            float *o = out + t * dim + c0;
            for (int64_t j = 0; j < nb; j++)
                o[j] = (b0[c0 + j] + a0[j]) + g[j] + (b1[c0 + j] + a1[j]) + (b2[c0 + j] + a2[j]);
        }
    }
}

/* acc[j] = Σ over the output cells t < M fed by cell (r, col) through a k×k kernel: wt[dy·k+dx][j] ·
 * dout[t, c0+j] with t = (r−dy+k/2, col−dx+k/2) (transposed correlation). */
static void conv_transpose_block(float *acc, const float (*wt)[BLOCK], const float *dout, int64_t k, int64_t r,
                                 int64_t col, int64_t S, int64_t M, int64_t dim, int64_t c0, int64_t nb) {
    for (int64_t j = 0; j < nb; j++) acc[j] = 0.0f;
    for (int64_t dy = 0; dy < k; dy++) {
        const int64_t rr = r - dy + k / 2;
        if (rr < 0 || rr >= S) continue;
        for (int64_t dx = 0; dx < k; dx++) {
            const int64_t cc = col - dx + k / 2;
            if (cc < 0 || cc >= S || rr * S + cc >= M) continue;
            const float *w = wt[dy * k + dx], *d = dout + (rr * S + cc) * dim + c0;
            for (int64_t j = 0; j < nb; j++) acc[j] += w[j] * d[j];
        }
    }
}

/* acc[tap][j] += dout[t, c0+j] · grid[t shifted by tap, c0+j] for one k×k kernel (products and sums in double). */
static void weight_grad_block(double (*acc)[BLOCK], const float *dout, const float *grid, int64_t k, int64_t t,
                              int64_t S, int64_t dim, int64_t c0, int64_t nb) {
    const int64_t r = t / S, col = t % S;
    const float *d = dout + t * dim + c0;
    for (int64_t dy = 0; dy < k; dy++) {
        const int64_t rr = r + dy - k / 2;
        if (rr < 0 || rr >= S) continue;
        for (int64_t dx = 0; dx < k; dx++) {
            const int64_t cc = col + dx - k / 2;
            if (cc < 0 || cc >= S) continue;
            const float *g = grid + (rr * S + cc) * dim + c0;
            double *a = acc[dy * k + dx];
            for (int64_t j = 0; j < nb; j++) a[j] += (double)d[j] * g[j];
        }
    }
}

/* Index in the 7x7 tap grid of tap q (row-major) of a centred k×k kernel. */
static int64_t centre_tap(int64_t q, int64_t k) {
    const int64_t off = (MHIM_PPEG_K0 - k) / 2;
    return (q / k + off) * MHIM_PPEG_K0 + q % k + off;
}

void mhim_ppeg_backward(float *dx, float *dw0, float *db0, float *dw1, float *db1, float *dw2, float *db2,
                        const float *dout, float *scratch, const float *x, const float *w0, const float *w1,
                        const float *w2, int64_t M, int64_t dim) {
    MHIM_ASSERT(M >= 1 && dim >= 1);
    const int64_t S = mhim_ppeg_side(M), wrap = wrap_count(M);
    const int64_t k0 = MHIM_PPEG_K0, k1 = MHIM_PPEG_K1, k2 = MHIM_PPEG_K2, n0 = k0 * k0, n1 = k1 * k1, n2 = k2 * k2;
    float *grid = scratch, *dgrid = scratch + S * S * dim;
    build_grid(grid, x, M, dim);
#pragma omp parallel for schedule(static)
    for (int64_t c0 = 0; c0 < dim; c0 += BLOCK) {
        const int64_t nb = MHIM_MIN((int64_t)BLOCK, dim - c0);
        float wt[TAPS][BLOCK], wsum[MHIM_PPEG_K0 * MHIM_PPEG_K0][BLOCK], a0[BLOCK];
        block_weights(wt, w0, w1, w2, c0, nb);
        /* the three kernels are centred on the same cell: one transposed correlation with their sum */
        memcpy(wsum, wt, sizeof wsum);
        for (int64_t q = 0; q < n1; q++)
            for (int64_t j = 0; j < nb; j++) wsum[centre_tap(q, k1)][j] += wt[n0 + q][j];
        for (int64_t q = 0; q < n2; q++)
            for (int64_t j = 0; j < nb; j++) wsum[centre_tap(q, k2)][j] += wt[n0 + n1 + q][j];
        /* gradient of every grid cell that holds a token or a copy: identity + the transposed correlation */
        for (int64_t u = 0; u < M + wrap; u++) {
            conv_transpose_block(a0, (const float(*)[BLOCK])wsum, dout, k0, u / S, u % S, S, M, dim, c0, nb);
            float *dg = dgrid + u * dim + c0;
            for (int64_t j = 0; j < nb; j++) dg[j] = (u < M ? dout[u * dim + c0 + j] : 0.0f) + a0[j];
        }
        for (int64_t t = 0; t < M; t++)
            for (int64_t j = 0; j < nb; j++)
                dx[t * dim + c0 + j] = dgrid[t * dim + c0 + j] + (t < wrap ? dgrid[(M + t) * dim + c0 + j] : 0.0f);
        /* weights: the 5x5 and 3x3 kernels share their taps' correlations with the centre of the 7x7 one (same
         * cells, same order), so only the 49 7x7 sums are formed */
        double acc[MHIM_PPEG_K0 * MHIM_PPEG_K0][BLOCK] = {{0}}, bias[BLOCK] = {0};
        for (int64_t t = 0; t < M; t++) {
            weight_grad_block(acc, dout, grid, k0, t, S, dim, c0, nb);
            for (int64_t j = 0; j < nb; j++) bias[j] += dout[t * dim + c0 + j];
        }
        for (int64_t j = 0; j < nb; j++) {
            for (int64_t q = 0; q < n0; q++) dw0[(c0 + j) * n0 + q] += (float)acc[q][j];
            for (int64_t q = 0; q < n1; q++) dw1[(c0 + j) * n1 + q] += (float)acc[centre_tap(q, k1)][j];
            for (int64_t q = 0; q < n2; q++) dw2[(c0 + j) * n2 + q] += (float)acc[centre_tap(q, k2)][j];
            db0[c0 + j] += (float)bias[j];
            db1[c0 + j] += (float)bias[j];
            db2[c0 + j] += (float)bias[j];
        }
    }
}
