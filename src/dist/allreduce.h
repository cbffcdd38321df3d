/* dist/allreduce.h — the collectives of a data-parallel group behind mhim_dp_ops (mhim/engine.h): the
 * gradient all-reduce (sum, in place), the evaluation sum and the teacher broadcast from group rank 0.
 *
 *  - MPI (host buffers): MPI_Allreduce / MPI_Bcast on the group communicator; what the CPU engine uses.
 *  - NCCL (MHIM_HAVE_NCCL; device buffers of the CUDA backend): a communicator created from an ncclUniqueId
 *    that group rank 0 draws and MPI-broadcasts, and its own CUDA stream; each call waits for that stream.
 *    sum_f64 and bcast_f32 are NCCL too (ncclDouble, ncclBroadcast). */
#ifndef MHIM_DIST_ALLREDUCE_H
#define MHIM_DIST_ALLREDUCE_H

#include "dist/world.h"
#include "mhim/engine.h"

/* Collectives over w's group communicator on host memory; w must outlive the ops. */
void mhim_allreduce_mpi_ops(mhim_world *w, mhim_dp_ops *ops);

#ifdef MHIM_HAVE_NCCL
typedef struct mhim_nccl_group mhim_nccl_group;
/* Create the NCCL communicator of w's group on CUDA device `device` (collective over the group).
 * MHIM_EINTERNAL with a message naming the failing call. */
int mhim_allreduce_nccl_open(mhim_world *w, int device, mhim_nccl_group **out);
/* Collectives on device memory through g. */
void mhim_allreduce_nccl_ops(mhim_nccl_group *g, const mhim_world *w, mhim_dp_ops *ops);
void mhim_allreduce_nccl_close(mhim_nccl_group *g);
#endif

#endif
