/* tests/cuda/support/parity.h — helpers of the CPU-vs-GPU parity tests: open the device (or report a skip), move
 * host arrays to the device arena and compare device results with the CPU reference (printing max abs/rel error
 * through check_close). Device memory comes from the context's arena; host arrays from malloc (freed by exit). */
#ifndef MHIM_TEST_CUDA_PARITY_H
#define MHIM_TEST_CUDA_PARITY_H

#include <stdint.h>

#include "check.h"
#include "mhim/cuda_ops.h"

#define PARITY_SKIP 77
#define PARITY_ARENA_BYTES ((size_t)1 << 30)

/* Open the local device with a 1 GiB arena; returns 0, or PARITY_SKIP (printing why) when no GPU is usable. */
int parity_open(mhim_cuda_ctx **ctx);

/* Host arrays: uniform random in [lo, hi), zeros, and a copy. */
float *parity_random(test_rng *rng, int64_t n, float lo, float hi);
float *parity_zeros(int64_t n);
float *parity_copy(const float *x, int64_t n);

/* Device copies of host arrays (arena blocks). */
float *parity_up(mhim_cuda_ctx *ctx, const float *host, int64_t n);
int64_t *parity_up_i64(mhim_cuda_ctx *ctx, const int64_t *host, int64_t n);
uint8_t *parity_up_u8(mhim_cuda_ctx *ctx, const uint8_t *host, int64_t n);

/* Download n floats of `dev` and check_close them against `want`; returns 0 (pass) or 1. */
int parity_check(mhim_cuda_ctx *ctx, const char *name, const float *dev, const float *want, int64_t n, double atol,
                 double rtol);
/* Download one device float (a loss value) and compare with the CPU's. */
int parity_check_scalar(mhim_cuda_ctx *ctx, const char *name, const float *dev, float want, double atol, double rtol);

/* Tolerances: element-wise ops (same formula, libm vs CUDA math may differ by ulps), GEMM/reduction results (other
 * summation order), and the iterative pseudo-inverse (errors grow through six matrix iterations). */
#define TOL_ELEM_ATOL 1e-6
#define TOL_ELEM_RTOL 1e-5
#define TOL_GEMM_ATOL 1e-4
#define TOL_GEMM_RTOL 1e-4
#define TOL_ITER_ATOL 2e-3
#define TOL_ITER_RTOL 2e-3

#endif
