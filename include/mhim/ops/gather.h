/* mhim/ops/gather.h — row gather (kept instances, index_select) and its scatter-add backward. */
#ifndef MHIM_OPS_GATHER_H
#define MHIM_OPS_GATHER_H

#include <stdint.h>

/* out[j] = x[idx[j]] for j < M (torch.index_select(x, 0, idx) / x[idx]); rows of D floats.
 *   out (M, D) written, x (N, D), idx (M) with 0 <= idx[j] < N (checked; a violation is a bug and aborts).
 *   Indices may repeat. */
void mhim_gather_rows_forward(float *out, const float *x, const int64_t *idx, int64_t M, int64_t N, int64_t D);
/* Backward: dx (N, D) is zeroed, then dx[idx[j]] += dout[j] for j = 0..M−1 in order (rows never gathered get 0,
 * repeated indices sum their gradients; thread-count invariant: threads split the columns). */
void mhim_gather_rows_backward(float *dx, const float *dout, const int64_t *idx, int64_t M, int64_t N, int64_t D);
/* Same without zeroing: dx += scatter(dout). */
void mhim_gather_rows_backward_acc(float *dx, const float *dout, const int64_t *idx, int64_t M, int64_t N, int64_t D);

#endif
