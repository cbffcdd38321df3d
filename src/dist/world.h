/* dist/world.h — the MPI world of a distributed run: launcher detection, the split into data-parallel groups
 * (MPI_Comm_split by world_rank / group_size), the end-of-run reduction and the abort that ends every rank.
 * Without MHIM_HAVE_MPI (or without a launcher) the world is one process. */
#ifndef MHIM_DIST_WORLD_H
#define MHIM_DIST_WORLD_H

#include <stdint.h>

#include "mhim/common.h"

#ifdef MHIM_HAVE_MPI
#include <mpi.h>
#endif

typedef struct {
    int mpi;                   /* MPI was initialised by mhim_world_init */
    int rank, size;            /* world */
    int group, n_groups;       /* this rank's group: world_rank / group_size */
    int group_rank, group_size;
    int local_rank, local_size; /* among the ranks on this node (MPI_COMM_TYPE_SHARED) */
#ifdef MHIM_HAVE_MPI
    MPI_Comm group_comm;
#endif
} mhim_world;

/* 1 when an MPI launcher started this process (OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK is set). */
int mhim_world_launched(void);

/* MPI_Init_thread and the group split (group_size 0 = the whole world is one group). group_size must divide the world size: otherwise MHIM_EINPUT (same
 * message on every rank). A build without MPI returns MHIM_EINPUT naming the missing feature. */
int mhim_world_init(mhim_world *w, int group_size);
/* MPI_Finalize (after a barrier). */
void mhim_world_finalize(mhim_world *w);

/* Print "mhim: error: rank R: <mhim_error()>" and end every rank of the job with exit status `code`. */
MHIM_NORETURN void mhim_world_abort(const mhim_world *w, int code);

/* Element-wise sum of buf[0..n) over the world into world rank 0's buf (other ranks' buf is left as is). */
int mhim_world_reduce_f64(const mhim_world *w, double *buf, int64_t n);
void mhim_world_barrier(const mhim_world *w);

#endif
