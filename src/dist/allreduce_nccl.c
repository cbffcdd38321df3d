/* NCCL implementation of the data-parallel collectives on device buffers (dist/allreduce.h); compiled only with
 * -DMHIM_USE_CUDA=ON -DMHIM_USE_NCCL=ON. */
#if defined(MHIM_HAVE_NCCL) && defined(MHIM_HAVE_MPI)

#include <cuda_runtime.h>
#include <nccl.h>
#include <stdlib.h>

#include "dist/allreduce.h"

struct mhim_nccl_group {
    ncclComm_t comm;
    cudaStream_t stream;
};

static int nccl_check(ncclResult_t r, const char *what) {
    if (r == ncclSuccess) return MHIM_OK;
    return mhim_fail_code(MHIM_EINTERNAL, "%s failed: %s", what, ncclGetErrorString(r));
}

static int cuda_check(cudaError_t e, const char *what) {
    if (e == cudaSuccess) return MHIM_OK;
    return mhim_fail_code(MHIM_EINTERNAL, "%s failed: %s", what, cudaGetErrorString(e));
}

int mhim_allreduce_nccl_open(mhim_world *w, int device, mhim_nccl_group **out) {
    *out = NULL;
    ncclUniqueId id;
    int rc = cuda_check(cudaSetDevice(device), "cudaSetDevice");
    if (rc == MHIM_OK && w->group_rank == 0) rc = nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    /* every rank joins the broadcast, also after a local failure, so that none waits forever */
    if (MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, w->group_comm) != MPI_SUCCESS && rc == MHIM_OK)
        rc = mhim_fail_code(MHIM_EINTERNAL, "MPI_Bcast of the NCCL unique id failed");
    if (rc != MHIM_OK) return rc;
    mhim_nccl_group *g = mhim_calloc(1, sizeof *g);
    rc = cuda_check(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    if (rc == MHIM_OK) rc = nccl_check(ncclCommInitRank(&g->comm, w->group_size, id, w->group_rank), "ncclCommInitRank");
    if (rc != MHIM_OK) {
        if (g->stream) cudaStreamDestroy(g->stream);
        free(g);
        return rc;
    }
    *out = g;
    return MHIM_OK;
}

static int finish(mhim_nccl_group *g, ncclResult_t r, const char *what) {
    int rc = nccl_check(r, what);
    if (rc == MHIM_OK) rc = cuda_check(cudaStreamSynchronize(g->stream), "cudaStreamSynchronize");
    return rc;
}

static int sum_f32(void *ctx, float *buf, int64_t n) {
    mhim_nccl_group *g = ctx;
    return finish(g, ncclAllReduce(buf, buf, (size_t)n, ncclFloat, ncclSum, g->comm, g->stream), "ncclAllReduce");
}

static int sum_f64(void *ctx, double *buf, int64_t n) {
    mhim_nccl_group *g = ctx;
    return finish(g, ncclAllReduce(buf, buf, (size_t)n, ncclDouble, ncclSum, g->comm, g->stream), "ncclAllReduce");
}

static int bcast_f32(void *ctx, float *buf, int64_t n) {
    mhim_nccl_group *g = ctx;
    return finish(g, ncclBroadcast(buf, buf, (size_t)n, ncclFloat, 0, g->comm, g->stream), "ncclBroadcast");
}

void mhim_allreduce_nccl_ops(mhim_nccl_group *g, const mhim_world *w, mhim_dp_ops *ops) {
    *ops = (mhim_dp_ops){w->group_rank, w->group_size, g, sum_f32, sum_f64, bcast_f32};
}

void mhim_allreduce_nccl_close(mhim_nccl_group *g) {
    if (!g) return;
    ncclCommDestroy(g->comm);
    cudaStreamDestroy(g->stream);
    free(g);
}

#else
typedef int mhim_allreduce_nccl_unused; /* ISO C forbids an empty translation unit */
#endif
