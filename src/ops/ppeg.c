/* PPEG position encoding, forward and backward (see mhim/ops/ppeg.h).
 *
 * Every loop works on blocks of BLOCK channels: one thread owns a block (results do not depend on the thread count),
 * copies the block's weights tap-major onto its stack, and runs the channel loop innermost. The grid (and, in the
 * backward, the output gradient) is first copied block-major: block c0 holds its S·S cells one after another, each
 * cell nb = min(BLOCK, dim − c0) contiguous channels, so a kernel window reads short contiguous runs instead of one
 * 128-byte piece every dim floats. Full blocks keep their sums in registers (32-byte GNU vectors). The
 * forward sums the taps of each kernel in the order of the direct definition (dy, then dx; one accumulator per
 * kernel); the backward uses that the three kernels are centred on the same cell (one transposed correlation with
 * their summed weights, and the 5x5 / 3x3 weight gradients read from the centre of the 7x7 ones). The block work is
 * compiled once per ISA without FMA contraction: every copy rounds the same products and sums in the same order. */
#include <math.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/ppeg.h"
#include "ops/vecmath.h"

#define TAPS (MHIM_PPEG_K0 * MHIM_PPEG_K0 + MHIM_PPEG_K1 * MHIM_PPEG_K1 + MHIM_PPEG_K2 * MHIM_PPEG_K2)
#define BLOCK 32

/* A quarter of a full block of channels as one 32-byte GNU vector: one register in the AVX2 and AVX-512 copies (GCC
 * split 64-byte vectors through the stack in the AVX2 copy). */
#define PARTS 4
typedef float block_part __attribute__((vector_size(BLOCK / PARTS * sizeof(float)), aligned(4), may_alias));

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

/* Block c0 of the block-major copy of the S·S cells whose first `rows` come from src (token-major, dim wide) row
 * r mod `period` (period = M wraps the first tokens around; period = rows copies plainly), the rest zero. */
static void block_major(float *dst, const float *src, int64_t rows, int64_t period, int64_t S, int64_t dim,
                        int64_t c0, int64_t nb) {
    for (int64_t u = 0; u < rows; u++) memcpy(dst + u * nb, src + (u % period) * dim + c0, (size_t)nb * sizeof(float));
    memset(dst + rows * nb, 0, (size_t)((S * S - rows) * nb) * sizeof(float));
}

/* The taps of kernels k0, k1, k2 of channels [c0, c0+nb) as wt[tap][j] (tap-major, then channel). */
MHIM_CLONE_INLINE void block_weights(float wt[TAPS][BLOCK], const float *w0, const float *w1, const float *w2,
                                     int64_t c0, int64_t nb) {
    const int64_t n0 = MHIM_PPEG_K0 * MHIM_PPEG_K0, n1 = MHIM_PPEG_K1 * MHIM_PPEG_K1, n2 = MHIM_PPEG_K2 * MHIM_PPEG_K2;
    for (int64_t j = 0; j < nb; j++) {
        for (int64_t q = 0; q < n0; q++) wt[q][j] = w0[(c0 + j) * n0 + q];
        for (int64_t q = 0; q < n1; q++) wt[n0 + q][j] = w1[(c0 + j) * n1 + q];
        for (int64_t q = 0; q < n2; q++) wt[n0 + n1 + q][j] = w2[(c0 + j) * n2 + q];
    }
}

/* acc[j] = Σ_{dy,dx} wt[dy·k+dx][j] · gb[((r+dy−k/2)·S + col+dx−k/2)·nb + j] over the cells inside the grid, for the
 * block-major block gb; with `flip` the transposed correlation (cell (r−dy+k/2, col−dx+k/2)) over cells below
 * `limit` only. */
MHIM_CLONE_INLINE void conv_block(float *acc, const float (*wt)[BLOCK], const float *gb, int64_t k, int64_t r,
                                  int64_t col, int64_t S, int64_t limit, int flip, int64_t nb) {
    const int64_t sign = flip ? -1 : 1;
    if (nb == BLOCK) {
        block_part a[PARTS] = {{0}};
        for (int64_t dy = 0; dy < k; dy++) {
            const int64_t rr = r + sign * (dy - k / 2);
            if (rr < 0 || rr >= S) continue;
            for (int64_t dx = 0; dx < k; dx++) {
                const int64_t cc = col + sign * (dx - k / 2);
                if (cc < 0 || cc >= S || rr * S + cc >= limit) continue;
                const block_part *w = (const block_part *)wt[dy * k + dx];
                const block_part *g = (const block_part *)(gb + (rr * S + cc) * BLOCK);
                for (int p = 0; p < PARTS; p++) a[p] += w[p] * g[p];
            }
        }
        memcpy(acc, a, sizeof a);
        return;
    }
    for (int64_t j = 0; j < nb; j++) acc[j] = 0.0f;
    for (int64_t dy = 0; dy < k; dy++) {
        const int64_t rr = r + sign * (dy - k / 2);
        if (rr < 0 || rr >= S) continue;
        for (int64_t dx = 0; dx < k; dx++) {
            const int64_t cc = col + sign * (dx - k / 2);
            if (cc < 0 || cc >= S || rr * S + cc >= limit) continue;
            const float *w = wt[dy * k + dx], *g = gb + (rr * S + cc) * nb;
            for (int64_t j = 0; j < nb; j++) acc[j] += w[j] * g[j];
        }
    }
}

/* acc[tap][j] += db[t·nb + j] · gb[(t shifted by tap)·nb + j] for the 7×7 kernel (products and sums in double),
 * both blocks block-major. */
MHIM_CLONE_INLINE void weight_grad_block(double (*acc)[BLOCK], const float *db, const float *gb, int64_t t, int64_t S,
                                         int64_t nb) {
    const int64_t k = MHIM_PPEG_K0, r = t / S, col = t % S;
    const float *d = db + t * nb;
    for (int64_t dy = 0; dy < k; dy++) {
        const int64_t rr = r + dy - k / 2;
        if (rr < 0 || rr >= S) continue;
        for (int64_t dx = 0; dx < k; dx++) {
            const int64_t cc = col + dx - k / 2;
            if (cc < 0 || cc >= S) continue;
            const float *g = gb + (rr * S + cc) * nb;
            double *a = acc[dy * k + dx];
            for (int64_t j = 0; j < nb; j++) a[j] += (double)d[j] * g[j];
        }
    }
}

/* Index in the 7x7 tap grid of tap q (row-major) of a centred k×k kernel. */
MHIM_CLONE_INLINE int64_t centre_tap(int64_t q, int64_t k) {
    const int64_t off = (MHIM_PPEG_K0 - k) / 2;
    return (q / k + off) * MHIM_PPEG_K0 + q % k + off;
}

/* Channels [c0, c0+nb) of the forward: gb = this block of the block-major grid; out token-major. */
MHIM_SIMD_CLONES_WIDE static void forward_block(float *out, const float *gb, const float *w0, const float *b0,
                                                const float *w1, const float *b1, const float *w2, const float *b2,
                                                int64_t M, int64_t S, int64_t dim, int64_t c0, int64_t nb) {
    const int64_t n0 = MHIM_PPEG_K0 * MHIM_PPEG_K0, n1 = MHIM_PPEG_K1 * MHIM_PPEG_K1, all = S * S;
    float wt[TAPS][BLOCK], a0[BLOCK], a1[BLOCK], a2[BLOCK];
    block_weights(wt, w0, w1, w2, c0, nb);
    for (int64_t t = 0; t < M; t++) {
        const int64_t r = t / S, col = t % S;
        conv_block(a0, (const float(*)[BLOCK])wt, gb, MHIM_PPEG_K0, r, col, S, all, 0, nb);
        conv_block(a1, (const float(*)[BLOCK])wt + n0, gb, MHIM_PPEG_K1, r, col, S, all, 0, nb);
        conv_block(a2, (const float(*)[BLOCK])wt + n0 + n1, gb, MHIM_PPEG_K2, r, col, S, all, 0, nb);
        const float *g = gb + t * nb;
        float *o = out + t * dim + c0;
        for (int64_t j = 0; j < nb; j++)
            o[j] = (b0[c0 + j] + a0[j]) + g[j] + (b1[c0 + j] + a1[j]) + (b2[c0 + j] + a2[j]);
    }
}

void mhim_ppeg_forward(float *out, float *scratch, const float *x, const float *w0, const float *b0, const float *w1,
                       const float *b1, const float *w2, const float *b2, int64_t M, int64_t dim) {
    MHIM_ASSERT(M >= 1 && dim >= 1);
    const int64_t S = mhim_ppeg_side(M), rows = M + wrap_count(M);
    /* a block reads and writes only its own channels, so out may alias x */
#pragma omp parallel for schedule(static)
    for (int64_t c0 = 0; c0 < dim; c0 += BLOCK) {
        const int64_t nb = MHIM_MIN((int64_t)BLOCK, dim - c0);
        block_major(scratch + c0 * S * S, x, rows, M, S, dim, c0, nb);
        forward_block(out, scratch + c0 * S * S, w0, b0, w1, b1, w2, b2, M, S, dim, c0, nb);
    }
}

/* Channels [c0, c0+nb) of the backward, from the block-major grid gb and output gradient db (zero beyond M):
 * dx (token-major) = the gradient of each token's cell plus, for the first `wrap` tokens, that of their copy;
 * the weight and bias gradients accumulated. */
MHIM_SIMD_CLONES_WIDE static void backward_block(float *dx, float *dw0, float *db0, float *dw1, float *db1, float *dw2,
                                                 float *db2, const float *db, const float *gb, const float *w0,
                                                 const float *w1, const float *w2, int64_t M, int64_t S, int64_t wrap,
                                                 int64_t dim, int64_t c0, int64_t nb) {
    const int64_t k0 = MHIM_PPEG_K0, k1 = MHIM_PPEG_K1, k2 = MHIM_PPEG_K2, n0 = k0 * k0, n1 = k1 * k1, n2 = k2 * k2;
    float wt[TAPS][BLOCK], wsum[MHIM_PPEG_K0 * MHIM_PPEG_K0][BLOCK], a0[BLOCK], copy[BLOCK];
    block_weights(wt, w0, w1, w2, c0, nb);
    /* the three kernels are centred on the same cell: one transposed correlation with their sum */
    for (int64_t q = 0; q < n0; q++)
        for (int64_t j = 0; j < nb; j++) wsum[q][j] = wt[q][j];
    for (int64_t q = 0; q < n1; q++)
        for (int64_t j = 0; j < nb; j++) wsum[centre_tap(q, k1)][j] += wt[n0 + q][j];
    for (int64_t q = 0; q < n2; q++)
        for (int64_t j = 0; j < nb; j++) wsum[centre_tap(q, k2)][j] += wt[n0 + n1 + q][j];
    /* token t's gradient: identity + the transposed correlation, plus (t < wrap) its copy's at cell M + t */
    for (int64_t t = 0; t < M; t++) {
        conv_block(a0, (const float(*)[BLOCK])wsum, db, k0, t / S, t % S, S, M, 1, nb);
        for (int64_t j = 0; j < nb; j++) a0[j] = db[t * nb + j] + a0[j];
        if (t < wrap) {
            const int64_t u = M + t;
            conv_block(copy, (const float(*)[BLOCK])wsum, db, k0, u / S, u % S, S, M, 1, nb);
            for (int64_t j = 0; j < nb; j++) a0[j] += 0.0f + copy[j];
        } else {
            for (int64_t j = 0; j < nb; j++) a0[j] += 0.0f;
        }
        for (int64_t j = 0; j < nb; j++) dx[t * dim + c0 + j] = a0[j];
    }
    /* weights: the 5x5 and 3x3 kernels share their taps' correlations with the centre of the 7x7 one (same cells,
     * same order), so only the 49 7x7 sums are formed */
    double acc[MHIM_PPEG_K0 * MHIM_PPEG_K0][BLOCK] = {{0}}, bias[BLOCK] = {0};
    for (int64_t t = 0; t < M; t++) {
        weight_grad_block(acc, db, gb, t, S, nb);
        for (int64_t j = 0; j < nb; j++) bias[j] += db[t * nb + j];
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

void mhim_ppeg_backward(float *dx, float *dw0, float *db0, float *dw1, float *db1, float *dw2, float *db2,
                        const float *dout, float *scratch, const float *x, const float *w0, const float *w1,
                        const float *w2, int64_t M, int64_t dim) {
    MHIM_ASSERT(M >= 1 && dim >= 1);
    const int64_t S = mhim_ppeg_side(M), wrap = wrap_count(M);
    float *grid = scratch, *dgrid = scratch + S * S * dim;
#pragma omp parallel for schedule(static)
    for (int64_t c0 = 0; c0 < dim; c0 += BLOCK) {
        const int64_t nb = MHIM_MIN((int64_t)BLOCK, dim - c0);
        block_major(grid + c0 * S * S, x, M + wrap, M, S, dim, c0, nb);
        block_major(dgrid + c0 * S * S, dout, M, M, S, dim, c0, nb);
        backward_block(dx, dw0, db0, dw1, db1, dw2, db2, dgrid + c0 * S * S, grid + c0 * S * S, w0, w1, w2, M, S,
                       wrap, dim, c0, nb);
    }
}
