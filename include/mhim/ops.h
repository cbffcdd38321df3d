/* mhim/ops.h — every numeric op of the CPU reference (and, with the same contracts, the CUDA backend).
 *
 * Conventions shared by all ops (details and tolerances in docs/numerics.md):
 *   - host float32 row-major pointers, int64_t dimensions;
 *   - mhim_<op>_forward(out..., cache..., in..., weights..., dims...),
 *     mhim_<op>_backward(d_in..., d_weights..., d_out, cache..., in..., weights..., dims...);
 *   - parameter gradients ACCUMULATE (+=); activation gradients are WRITTEN (=) unless the function
 *     name ends in _acc (+=); d_in may be NULL where an op documents it;
 *   - ops never allocate (scratch comes from the caller or an mhim_arena, mhim/arena.h);
 *   - constants (eps, iterations, kernel widths) are #defines in the op headers;
 *   - randomness only from mhim/rng.h (masks and indices are inputs of the ops). */
#ifndef MHIM_OPS_H
#define MHIM_OPS_H

#include "mhim/ops/act.h"
#include "mhim/ops/attnpool.h"
#include "mhim/ops/dropout.h"
#include "mhim/ops/dsmil.h"
#include "mhim/ops/gather.h"
#include "mhim/ops/linear.h"
#include "mhim/ops/loss.h"
#include "mhim/ops/norm.h"
#include "mhim/ops/nystrom.h"
#include "mhim/ops/ppeg.h"
#include "mhim/ops/softmax.h"

#endif
