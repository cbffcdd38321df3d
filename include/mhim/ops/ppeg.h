/* mhim/ops/ppeg.h — TransMIL's pyramid position encoding generator (modules/emb_position.py, class PPEG(dim, k=7),
 * applied by SAttention to the instance tokens only: x[:, 1:] = PPEG(x[:, 1:]); the cls token bypasses it).
 *
 * Host float32, row-major; dimensions int64_t. Parameter gradients ACCUMULATE (+=); the input gradient is
 * WRITTEN (=). Bitwise identical results for any OpenMP thread count. */
#ifndef MHIM_OPS_PPEG_H
#define MHIM_OPS_PPEG_H

#include <stdint.h>

#define MHIM_PPEG_MIN_SIDE 7 /* grids smaller than 7x7 are zero-padded to 7x7 */
#define MHIM_PPEG_K0       7 /* proj:  Conv2d(dim, dim, 7, padding 3, groups=dim, bias) */
#define MHIM_PPEG_K1       5 /* proj1: Conv2d(dim, dim, 5, padding 2, groups=dim, bias) */
#define MHIM_PPEG_K2       3 /* proj2: Conv2d(dim, dim, 3, padding 1, groups=dim, bias) */

/* Side S of the square grid for M tokens: max(ceil(sqrt(M)), 7). M >= 1. */
int64_t mhim_ppeg_side(int64_t M);
/* Scratch floats for the forward (S²·dim) and the backward (2·S²·dim). */
int64_t mhim_ppeg_forward_scratch_floats(int64_t M, int64_t dim);
int64_t mhim_ppeg_backward_scratch_floats(int64_t M, int64_t dim);

/* PPEG.forward(x) for x (1, M, dim):
 *   s0 = ceil(sqrt(M)); append x[:s0²−M] (wrap-around copies of the first tokens); if s0 < 7 append zero rows up
 *   to 49 tokens; grid G (dim, S, S) with token t at (t / S, t % S);
 *   G' = proj(G) + G + proj1(G) + proj2(G)   (depthwise cross-correlations, zero padding k/2, with bias);
 *   flatten row-major and keep the first M tokens.
 *   out (M, dim) written (may alias x: the grid is built first);  x (M, dim);  scratch mhim_ppeg_forward_scratch_floats() floats
 *   w0 (dim, 7·7) proj.weight (dim,1,7,7),  b0 (dim) proj.bias
 *   w1 (dim, 5·5) proj1.weight,             b1 (dim) proj1.bias
 *   w2 (dim, 3·3) proj2.weight,             b2 (dim) proj2.bias
 * Caches nothing: the backward rebuilds the grid from x. */
void mhim_ppeg_forward(float *out, float *scratch, const float *x, const float *w0, const float *b0, const float *w1,
                       const float *b1, const float *w2, const float *b2, int64_t M, int64_t dim);

/* Backward for dout (M, dim): dx (M, dim) written (the copies' gradient is added to their source tokens, zero
 * padding gets none); dw0/db0, dw1/db1, dw2/db2 accumulated (shapes as the weights).
 * scratch: mhim_ppeg_backward_scratch_floats() floats. */
void mhim_ppeg_backward(float *dx, float *dw0, float *db0, float *dw1, float *db1, float *dw2, float *db2,
                        const float *dout, float *scratch, const float *x, const float *w0, const float *w1,
                        const float *w2, int64_t M, int64_t dim);

#endif
