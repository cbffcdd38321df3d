/* mhim/ops/softmax.h — softmax along the instance axis (MIL attention) and along rows (attention matrices),
 * each with an optional keep mask.
 *
 * Masked entries take −inf BEFORE the max, so they get exactly 0 probability and 0 gradient and cannot affect the
 * kept entries. If every entry of a softmax group is masked the group is written as all zeros (PyTorch would give
 * NaN); its gradient is then 0 as well. The input gradient is WRITTEN (=); it is exactly 0 at masked entries
 * because the backward only needs the forward output. Every layout runs one vectorised kernel whose sums use 32
 * interleaved double lanes (element j in lane j mod 32) added as a fixed tree, so the order is fixed by the group
 * length, never by the thread count (docs/numerics.md). One thread per group. */
#ifndef MHIM_OPS_SOFTMAX_H
#define MHIM_OPS_SOFTMAX_H

#include <stdint.h>

/* Softmax over dim 0 of inp (N, K): out[:, k] = softmax_n(inp[:, k]) — the instance softmax of ABMIL (K = 1),
 * DSMIL (K = C classes, torch.softmax(A, 0)) and any (N,) score vector.
 *   out (N, K) written (may alias inp), keep (N) bytes (1 = keep) or NULL (all kept).
 *   PyTorch: torch.softmax(inp.masked_fill(~keep[:, None], -inf), dim=0). One thread per column k. */
void mhim_softmax_instances_forward(float *out, const float *inp, const uint8_t *keep, int64_t N, int64_t K);
/* dinp[n, k] = out[n, k] · (dout[n, k] − Σ_m dout[m, k]·out[m, k]); dinp (N, K) may alias dout. */
void mhim_softmax_instances_backward(float *dinp, const float *dout, const float *out, int64_t N, int64_t K);

/* Softmax along each row of inp (R, L): the (K, N) attention layout and attention matrices (torch.softmax(x, -1)).
 *   out (R, L) written (may alias inp), keep (L) bytes applied to every row (masked columns → 0), or NULL.
 *   One thread per row. */
void mhim_softmax_rows_forward(float *out, const float *inp, const uint8_t *keep, int64_t R, int64_t L);
/* dinp[r, l] = out[r, l] · (dout[r, l] − Σ_j dout[r, j]·out[r, j]); dinp (R, L) may alias dout. */
void mhim_softmax_rows_backward(float *dinp, const float *dout, const float *out, int64_t R, int64_t L);

#endif
