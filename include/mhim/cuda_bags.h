/* mhim/cuda_bags.h — feature bags on the GPU: uploaded once and kept resident (fp32 or fp16 storage) when they fit
 * in a memory budget, otherwise streamed through two pinned host buffers and two device buffers, the copies on the
 * context's copy stream overlapping compute on its compute stream. All memory is reserved at creation; getting or
 * prefetching a bag never allocates. Compiled only with MHIM_USE_CUDA=ON. */
#ifndef MHIM_CUDA_BAGS_H
#define MHIM_CUDA_BAGS_H

#include <stddef.h>
#include <stdint.h>

#include "mhim/cuda_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mhim_cuda_bags mhim_cuda_bags;

/* Plan the device copy of n_bags bags, bag b being rows[b] × dim floats on the host. Resident when the stored bytes
 * (2 per value with fp16, else 4) plus one fp32 work buffer of the largest bag fit in budget_bytes, else streaming.
 * MHIM_EINPUT with a message when even the streaming buffers cannot be reserved. */
int mhim_cuda_bags_create(mhim_cuda_bags **out, mhim_cuda_ctx *ctx, const int64_t *rows, int64_t n_bags, int64_t dim,
                          int fp16, size_t budget_bytes);
void mhim_cuda_bags_destroy(mhim_cuda_bags *bags);
/* 1 when every bag stays on the device, 0 when bags are streamed. */
int mhim_cuda_bags_resident(const mhim_cuda_bags *bags);

/* Resident mode: upload bag `bag` (rows[bag] × dim host floats) once; a second put of the same bag is a no-op.
 * Blocks until the copy is done (start-up work). */
void mhim_cuda_bags_put(mhim_cuda_bags *bags, int64_t bag, const float *host);
/* Streaming mode: copy bag `bag` into the buffer not handed out by the last get, on the copy stream (the host rows
 * are first copied into pinned memory, so `host` may be reused on return). No-op in resident mode. */
void mhim_cuda_bags_prefetch(mhim_cuda_bags *bags, int64_t bag, const float *host);
/* The device rows (rows[bag], dim) of `bag`, ready for ops on the compute stream and valid until the next get.
 * Resident: the cached copy (fp32) or its widening into the work buffer (fp16). Streaming: the buffer a prefetch
 * filled; when `bag` was not prefetched it is copied now from `host` (which must then be non-NULL). */
const float *mhim_cuda_bags_get(mhim_cuda_bags *bags, int64_t bag, const float *host);

#ifdef __cplusplus
}
#endif
#endif
