/* The MPI world of a distributed run (dist/world.h). */
#include <stdio.h>
#include <stdlib.h>

#include "dist/world.h"

int mhim_world_launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMIX_RANK") != NULL || getenv("PMI_RANK") != NULL;
}

#ifdef MHIM_HAVE_MPI

int mhim_world_init(mhim_world *w, int group_size) {
    int provided, initialised;
    *w = (mhim_world){0};
    MPI_Initialized(&initialised);
    if (!initialised) MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    w->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &w->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w->size);
    w->group_comm = MPI_COMM_NULL;
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, w->rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &w->local_rank);
    MPI_Comm_size(node, &w->local_size);
    MPI_Comm_free(&node);
    if (group_size == 0) group_size = w->size;
    if (group_size < 1 || w->size % group_size != 0)
        return mhim_fail("--group_size=%d: the %d MPI ranks do not split into groups of that size (launch a "
                         "multiple of %d ranks, or change --group_size)",
                         group_size, w->size, group_size);
    w->group_size = group_size;
    w->n_groups = w->size / group_size;
    w->group = w->rank / group_size;
    MPI_Comm_split(MPI_COMM_WORLD, w->group, w->rank, &w->group_comm);
    MPI_Comm_rank(w->group_comm, &w->group_rank);
    return MHIM_OK;
}

void mhim_world_finalize(mhim_world *w) {
    if (!w->mpi) return;
    MPI_Barrier(MPI_COMM_WORLD);
    if (w->group_comm != MPI_COMM_NULL) MPI_Comm_free(&w->group_comm);
    MPI_Finalize();
    w->mpi = 0;
}

void mhim_world_abort(const mhim_world *w, int code) {
    fprintf(stderr, "mhim: error: rank %d: %s\n", w->rank, mhim_error());
    fflush(stderr);
    if (w->mpi) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

int mhim_world_reduce_f64(const mhim_world *w, double *buf, int64_t n) {
    if (!w->mpi || w->size == 1) return MHIM_OK;
    const int chunk = 1 << 28;
    for (int64_t off = 0; off < n; off += chunk) {
        int len = (int)(n - off < chunk ? n - off : chunk);
        void *send = w->rank == 0 ? MPI_IN_PLACE : (void *)(buf + off);
        if (MPI_Reduce(send, buf + off, len, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
            return mhim_fail_code(MHIM_EINTERNAL, "MPI_Reduce of the unit results failed");
    }
    return MHIM_OK;
}

void mhim_world_barrier(const mhim_world *w) {
    if (w->mpi) MPI_Barrier(MPI_COMM_WORLD);
}

#else /* built without MPI */

int mhim_world_init(mhim_world *w, int group_size) {
    *w = (mhim_world){0, 0, 1, 0, 1, 0, group_size, 0, 1};
    return mhim_fail("mhim was built without MPI (-DMHIM_USE_MPI=OFF) but was started by an MPI launcher: rebuild "
                     "with MPI, or run it without mpirun/srun");
}

void mhim_world_finalize(mhim_world *w) { (void)w; }

void mhim_world_abort(const mhim_world *w, int code) {
    fprintf(stderr, "mhim: error: rank %d: %s\n", w->rank, mhim_error());
    exit(code);
}

int mhim_world_reduce_f64(const mhim_world *w, double *buf, int64_t n) {
    (void)w, (void)buf, (void)n;
    return MHIM_OK;
}

void mhim_world_barrier(const mhim_world *w) { (void)w; }

#endif
