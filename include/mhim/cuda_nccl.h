/* mhim/cuda_nccl.h — data-parallel gradient averaging across GPUs with NCCL (one rank per GPU; built with
 * MHIM_USE_CUDA=ON and MHIM_USE_NCCL=ON, which defines MHIM_HAVE_NCCL).
 *
 * Set-up: rank 0 calls mhim_cuda_nccl_unique_id, the launcher's communicator (MPI) broadcasts the id bytes, every
 * rank calls mhim_cuda_nccl_create with its context (whose device was chosen from the node-local rank,
 * mhim_cuda_local_device). Each step then averages the flat gradient buffer in place on the communicator's own
 * stream, ordered after the backward on the compute stream and before the optimiser. */
#ifndef MHIM_CUDA_NCCL_H
#define MHIM_CUDA_NCCL_H

#include <stdint.h>

#include "mhim/cuda_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MHIM_NCCL_ID_BYTES 128

typedef struct mhim_cuda_nccl mhim_cuda_nccl;

/* A fresh NCCL unique id (on one rank). MHIM_EINPUT with NCCL's message on failure. */
int mhim_cuda_nccl_unique_id(unsigned char id[MHIM_NCCL_ID_BYTES]);
/* Join the group of n_ranks (this one is `rank`) identified by `id`; blocks until every rank has joined. */
int mhim_cuda_nccl_create(mhim_cuda_nccl **out, mhim_cuda_ctx *ctx, int n_ranks, int rank,
                          const unsigned char id[MHIM_NCCL_ID_BYTES]);
void mhim_cuda_nccl_destroy(mhim_cuda_nccl *comm);
/* grad (n floats, device) = mean over the ranks, in place: the all-reduce runs on the communicator's stream after
 * the work already queued on the compute stream, and later compute-stream work waits for it. No allocation. */
void mhim_cuda_nccl_allreduce_mean(mhim_cuda_nccl *comm, float *grad, int64_t n);
/* buf (n floats, device) = sum over the ranks, in place, ordered as mhim_cuda_nccl_allreduce_mean. */
void mhim_cuda_nccl_allreduce_sum(mhim_cuda_nccl *comm, float *buf, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
