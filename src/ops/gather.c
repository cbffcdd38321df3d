/* Row gather and scatter-add (see mhim/ops/gather.h). */
#include "mhim/ops/gather.h"

#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/act.h"

/* Columns scattered together by one thread: each thread owns a column block and walks j in order, so repeated
 * indices are summed in the same order for any thread count and never race. */
#define SCATTER_BLOCK 64

static void check_indices(const int64_t *idx, int64_t M, int64_t N) {
    for (int64_t j = 0; j < M; j++)
        if (idx[j] < 0 || idx[j] >= N) MHIM_DIE("gather index %lld at position %lld is outside [0, %lld)",
                                                 (long long)idx[j], (long long)j, (long long)N);
}

void mhim_gather_rows_forward(float *out, const float *x, const int64_t *idx, int64_t M, int64_t N, int64_t D) {
    check_indices(idx, M, N);
#pragma omp parallel for schedule(static) if (M * D >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t j = 0; j < M; j++) memcpy(out + j * D, x + idx[j] * D, (size_t)D * sizeof(float));
}

void mhim_gather_rows_backward_acc(float *dx, const float *dout, const int64_t *idx, int64_t M, int64_t N,
                                   int64_t D) {
    check_indices(idx, M, N);
    int64_t blocks = (D + SCATTER_BLOCK - 1) / SCATTER_BLOCK;
#pragma omp parallel for schedule(static) if (M * D >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        int64_t c0 = b * SCATTER_BLOCK, width = MHIM_MIN(SCATTER_BLOCK, D - c0);
        for (int64_t j = 0; j < M; j++) {
            float *dst = dx + idx[j] * D + c0;
            const float *src = dout + j * D + c0;
            for (int64_t c = 0; c < width; c++) dst[c] += src[c];
        }
    }
}

void mhim_gather_rows_backward(float *dx, const float *dout, const int64_t *idx, int64_t M, int64_t N, int64_t D) {
    int64_t n = N * D;
#pragma omp parallel for schedule(static) if (n >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) dx[i] = 0.0f;
    mhim_gather_rows_backward_acc(dx, dout, idx, M, N, D);
}
