// Gradient averaging across GPUs with NCCL on its own stream (see mhim/cuda_nccl.h). Built only with NCCL.
#ifdef MHIM_HAVE_NCCL
#include <cstdlib>
#include <cstring>
#include <nccl.h>

#include "internal.cuh"
extern "C" {
#include "mhim/cuda_nccl.h"
}

static_assert(sizeof(ncclUniqueId) == MHIM_NCCL_ID_BYTES, "NCCL unique id size");

struct mhim_cuda_nccl {
    mhim_cuda_ctx *ctx;
    ncclComm_t comm;
    cudaStream_t stream;          // communication stream
    cudaEvent_t grads_ready, reduced;
};

extern "C" int mhim_cuda_nccl_unique_id(unsigned char id[MHIM_NCCL_ID_BYTES]) {
    ncclUniqueId uid;
    ncclResult_t r = ncclGetUniqueId(&uid);
    if (r != ncclSuccess) return mhim_fail("NCCL: cannot create a unique id: %s", ncclGetErrorString(r));
    memcpy(id, &uid, sizeof uid);
    return MHIM_OK;
}

extern "C" int mhim_cuda_nccl_create(mhim_cuda_nccl **out, mhim_cuda_ctx *ctx, int n_ranks, int rank,
                                     const unsigned char id[MHIM_NCCL_ID_BYTES]) {
    if (n_ranks < 1 || rank < 0 || rank >= n_ranks)
        return mhim_fail("NCCL: rank %d of %d ranks: expected 0 <= rank < ranks", rank, n_ranks);
    mhim_cuda_nccl *c = (mhim_cuda_nccl *)mhim_calloc(1, sizeof *c);
    c->ctx = ctx;
    ncclUniqueId uid;
    memcpy(&uid, id, sizeof uid);
    MHIM_CUDA_CHECK(cudaSetDevice(ctx->device));
    ncclResult_t r = ncclCommInitRank(&c->comm, n_ranks, uid, rank);
    if (r != ncclSuccess) {
        free(c);
        return mhim_fail("NCCL: rank %d of %d cannot join the group: %s", rank, n_ranks, ncclGetErrorString(r));
    }
    MHIM_CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    MHIM_CUDA_CHECK(cudaEventCreateWithFlags(&c->grads_ready, cudaEventDisableTiming));
    MHIM_CUDA_CHECK(cudaEventCreateWithFlags(&c->reduced, cudaEventDisableTiming));
    *out = c;
    return MHIM_OK;
}

extern "C" void mhim_cuda_nccl_destroy(mhim_cuda_nccl *c) {
    if (!c) return;
    cudaStreamSynchronize(c->stream);
    ncclCommDestroy(c->comm);
    cudaEventDestroy(c->grads_ready);
    cudaEventDestroy(c->reduced);
    cudaStreamDestroy(c->stream);
    free(c);
}

// In-place all-reduce of n floats with `op`, between the compute stream's queued work and its later work.
static void allreduce(mhim_cuda_nccl *c, float *grad, int64_t n, ncclRedOp_t op) {
    if (n <= 0) return;
    MHIM_CUDA_CHECK(cudaEventRecord(c->grads_ready, c->ctx->stream));
    MHIM_CUDA_CHECK(cudaStreamWaitEvent(c->stream, c->grads_ready, 0));
    ncclResult_t r = ncclAllReduce(grad, grad, (size_t)n, ncclFloat32, op, c->comm, c->stream);
    if (r != ncclSuccess) mhim_die(__FILE__, __LINE__, "ncclAllReduce of %lld floats: %s", (long long)n,
                                   ncclGetErrorString(r));
    MHIM_CUDA_CHECK(cudaEventRecord(c->reduced, c->stream));
    MHIM_CUDA_CHECK(cudaStreamWaitEvent(c->ctx->stream, c->reduced, 0));
}

extern "C" void mhim_cuda_nccl_allreduce_mean(mhim_cuda_nccl *c, float *grad, int64_t n) {
    allreduce(c, grad, n, ncclAvg);
}

extern "C" void mhim_cuda_nccl_allreduce_sum(mhim_cuda_nccl *c, float *buf, int64_t n) {
    allreduce(c, buf, n, ncclSum);
}
#endif
