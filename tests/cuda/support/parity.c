/* Helpers of the CPU-vs-GPU parity tests (see parity.h). */
#include "parity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/cuda.h"

int parity_open(mhim_cuda_ctx **ctx) {
    char why[256], line[256];
    int n = 0;
    if (mhim_cuda_device_count(&n, why, sizeof why) != 0) {
        printf("skip: %s\n", why);
        return PARITY_SKIP;
    }
    int device = 0;
    if (mhim_cuda_local_device(&device) != MHIM_OK || mhim_cuda_ctx_create(ctx, device, PARITY_ARENA_BYTES) != MHIM_OK) {
        printf("FAIL: %s\n", mhim_error());
        exit(1);
    }
    mhim_cuda_device_describe(device, line, sizeof line);
    printf("%s\n", line);
    return 0;
}

float *parity_random(test_rng *rng, int64_t n, float lo, float hi) {
    float *x = mhim_malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    test_fill_uniform(rng, x, n, lo, hi);
    return x;
}

float *parity_zeros(int64_t n) { return mhim_calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

float *parity_copy(const float *x, int64_t n) {
    float *y = mhim_malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    memcpy(y, x, (size_t)n * sizeof(float));
    return y;
}

float *parity_up(mhim_cuda_ctx *ctx, const float *host, int64_t n) {
    float *d = mhim_cuda_floats(ctx, n);
    mhim_cuda_upload(ctx, d, host, (size_t)n * sizeof(float));
    return d;
}

int64_t *parity_up_i64(mhim_cuda_ctx *ctx, const int64_t *host, int64_t n) {
    int64_t *d = mhim_cuda_i64(ctx, n);
    mhim_cuda_upload(ctx, d, host, (size_t)n * sizeof(int64_t));
    return d;
}

uint8_t *parity_up_u8(mhim_cuda_ctx *ctx, const uint8_t *host, int64_t n) {
    uint8_t *d = mhim_cuda_alloc(ctx, (size_t)n);
    mhim_cuda_upload(ctx, d, host, (size_t)n);
    return d;
}

int parity_check(mhim_cuda_ctx *ctx, const char *name, const float *dev, const float *want, int64_t n, double atol,
                 double rtol) {
    float *got = mhim_malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    mhim_cuda_download(ctx, got, dev, (size_t)n * sizeof(float));
    int bad = check_close(name, got, want, n, atol, rtol);
    free(got);
    return bad;
}

int parity_check_scalar(mhim_cuda_ctx *ctx, const char *name, const float *dev, float want, double atol,
                        double rtol) {
    return parity_check(ctx, name, dev, &want, 1, atol, rtol);
}
