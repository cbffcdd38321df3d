/* mhim/ops/dropout.h — inverted dropout (nn.Dropout in train mode) with an explicit keep mask.
 *
 * The mask is an input (one byte per element, 1 = keep, 0 = drop), drawn by mhim_dropout_mask from a counter-based
 * stream (or exported by a parity fixture), so the op is deterministic and the same mask serves forward and
 * backward. Eval mode is the identity: do not call the op. */
#ifndef MHIM_OPS_DROPOUT_H
#define MHIM_OPS_DROPOUT_H

#include <stdint.h>

#include "mhim/rng.h"

/* Draw a keep mask: keep[i] = (uniform value first + i of `stream`) < 1 − p, i < n. Element i depends only on
 * the stream key and its index, so the mask is identical for any thread count and any call order. Use a stream
 * with purpose MHIM_RNG_DROPOUT (sub = which layer, teacher vs student). p in [0, 1]. */
void mhim_dropout_mask(uint8_t *keep, const mhim_rng *stream, uint64_t first, float p, int64_t n);

/* nn.Dropout(p).train(): out[i] = inp[i] · keep[i] · scale, torch's input · mask · scale (0 where dropped, NaN/Inf
 * inputs propagate as in torch), with scale computed once as (float)(1/(1 − p)) like torch's noise.div_(1 − p).
 * p in [0, 1]; p == 1 gives all zeros (as torch).
 *   out, inp (n) (may alias), keep (n). Nothing else is cached: the backward reuses keep. */
void mhim_dropout_forward(float *out, const uint8_t *keep, const float *inp, float p, int64_t n);
/* dinp[i] = dout[i] · keep[i] · scale (written; may alias dout). */
void mhim_dropout_backward(float *dinp, const float *dout, const uint8_t *keep, float p, int64_t n);

#endif
