/* NCCL gradient averaging on a one-rank group (the single-GPU case of data-parallel training): the buffer is
 * unchanged by the mean over one rank and later compute-stream work sees the reduced values. Multi-GPU groups are
 * exercised by launching one rank per GPU (docs/gpu.md). Skipped (77) without NCCL or a GPU. */
#include <stdio.h>

#ifdef MHIM_HAVE_NCCL
#include "mhim/common.h"
#include "mhim/cuda_nccl.h"
#include "parity.h"
#endif

int main(void) {
#ifndef MHIM_HAVE_NCCL
    printf("skip: built without MHIM_USE_NCCL\n");
    return 77;
#else
    mhim_cuda_ctx *ctx = NULL;
    int rc = parity_open(&ctx);
    if (rc) return rc;
    unsigned char id[MHIM_NCCL_ID_BYTES];
    mhim_cuda_nccl *comm = NULL;
    if (mhim_cuda_nccl_unique_id(id) != MHIM_OK || mhim_cuda_nccl_create(&comm, ctx, 1, 0, id) != MHIM_OK) {
        printf("FAIL %s\n", mhim_error());
        return 1;
    }
    test_rng rng = {5ULL};
    const int64_t n = 100003;
    float *g = parity_random(&rng, n, -1, 1);
    float *g_d = parity_up(ctx, g, n);
    mhim_cuda_nccl_allreduce_mean(comm, g_d, n);
    int bad = parity_check(ctx, "all-reduce mean over 1 rank", g_d, g, n, 0, 0);
    mhim_cuda_nccl_destroy(comm);
    mhim_cuda_ctx_destroy(ctx);
    printf("%s: %d failing check(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad ? 1 : 0;
#endif
}
