// cuda/internal.cuh — what every file of the CUDA backend shares: the context layout, error checks, launch
// sizes, the row-major cuBLAS GEMM and the fixed-order block reduction. Private to cuda/.
#ifndef MHIM_CUDA_INTERNAL_CUH
#define MHIM_CUDA_INTERNAL_CUH

#include <cstdint>
#include <cublas_v2.h>
#include <cuda_runtime.h>

// The library's headers declare C functions without C++ linkage guards.
extern "C" {
#include "mhim/common.h"
#include "mhim/cuda.h"
#include "mhim/cuda_ops.h"
#include "mhim/ops/loss.h"
#include "mhim/ops/norm.h"
#include "mhim/ops/nystrom.h"
#include "mhim/ops/ppeg.h"
#include "mhim/rng.h"
}

// Threads per block of every element and reduction kernel (a power of two: the tree reduction needs it).
#define MHIM_CUDA_THREADS 256

struct mhim_cuda_ctx {
    int device;                 // CUDA ordinal
    cudaStream_t stream;        // compute stream: every op of this context runs on it, in order
    cudaStream_t copy_stream;   // host<->device copies that overlap compute (bag streaming)
    cublasHandle_t blas;        // bound to `stream`, pedantic fp32 math (no TF32)
    void *blas_workspace;       // fixed cuBLAS workspace (deterministic GEMM algorithm choice)
    double *reduce_scratch;     // MHIM_CUDA_REDUCE_SCRATCH_BYTES: chunk partials of the two-pass column sums
    unsigned char *arena;       // one cudaMalloc, bump-allocated
    size_t arena_capacity, arena_used, arena_peak;
    int first_layer_bf16;       // --precision=bf16: the front end's GEMMs in bf16 (mhim_cuda_set_first_layer_bf16)
};

// Abort with the CUDA error string: a failing runtime call inside an op is a bug or a lost device, never bad
// user input (inputs are validated before they reach the device).
#define MHIM_CUDA_CHECK(call)                                                                            \
    do {                                                                                                 \
        cudaError_t mhim_err_ = (call);                                                                  \
        if (mhim_err_ != cudaSuccess) mhim_die(__FILE__, __LINE__, "%s: %s", #call,                      \
                                               cudaGetErrorString(mhim_err_));                           \
    } while (0)
#define MHIM_CUBLAS_CHECK(call)                                                                          \
    do {                                                                                                 \
        cublasStatus_t mhim_st_ = (call);                                                                \
        if (mhim_st_ != CUBLAS_STATUS_SUCCESS) mhim_die(__FILE__, __LINE__, "%s: cuBLAS status %d (%s)", \
                                                        #call, (int)mhim_st_,                            \
                                                        cublasGetStatusString(mhim_st_));                \
    } while (0)
// After every kernel launch: launch-configuration errors surface here, execution errors at the next sync.
#define MHIM_CUDA_LAUNCHED() MHIM_CUDA_CHECK(cudaGetLastError())

// Context-owned scratch of the two-pass column reductions (outside the arena, so no op needs arena room for it).
#define MHIM_CUDA_REDUCE_SCRATCH_BYTES ((size_t)1 << 20)
#define MHIM_CUDA_REDUCE_MIN_ROWS 256

// Rows per chunk of a two-pass column reduction over N rows whose chunks each keep `per_chunk` double partials:
// at least MHIM_CUDA_REDUCE_MIN_ROWS, and few enough chunks for the context's scratch. Depends on N and per_chunk
// only, so the summation order is fixed.
static inline int64_t mhim_cuda_reduce_chunk_rows(int64_t N, int64_t per_chunk) {
    int64_t max_chunks = (int64_t)(MHIM_CUDA_REDUCE_SCRATCH_BYTES / sizeof(double)) / per_chunk;
    if (max_chunks > 65535) max_chunks = 65535; // the grid's y extent
    if (max_chunks < 1) mhim_die(__FILE__, __LINE__, "column reduction over %lld columns exceeds its scratch",
                                 (long long)per_chunk);
    int64_t rows = (N + max_chunks - 1) / max_chunks;
    return rows < MHIM_CUDA_REDUCE_MIN_ROWS ? MHIM_CUDA_REDUCE_MIN_ROWS : rows;
}

// Blocks for n independent elements at MHIM_CUDA_THREADS per block (at least 1; grid-stride loops cover the rest).
static inline unsigned mhim_cuda_blocks(int64_t n) {
    int64_t b = (n + MHIM_CUDA_THREADS - 1) / MHIM_CUDA_THREADS;
    if (b < 1) b = 1;
    if (b > 65535LL * 32) b = 65535LL * 32;
    return (unsigned)b;
}

// Grid-stride loop over [0, n) with 64-bit indices.
#define MHIM_CUDA_FOR(i, n)                                                                          \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                        \
         i += (int64_t)blockDim.x * gridDim.x)

// act(x) with the CPU formulas (mhim/ops/act.h): ReLU, GELU with the exact erf, tanh, sigmoid.
__device__ inline float mhim_cuda_act_value(mhim_act act, float x) {
    switch (act) {
    case MHIM_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case MHIM_ACT_GELU: return x * 0.5f * (1.0f + erff(x * 0.70710678118654752440f));
    case MHIM_ACT_TANH: return tanhf(x);
    default: return 1.0f / (1.0f + expf(-x));
    }
}

// Sum of one double per thread over a block of MHIM_CUDA_THREADS threads, in a fixed tree order (so the result
// depends only on the values, never on timing). `shared` holds MHIM_CUDA_THREADS doubles. Every thread of the
// block must call it; all get the total.
__device__ inline double mhim_cuda_block_sum(double v, double *shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int width = MHIM_CUDA_THREADS / 2; width > 0; width >>= 1) {
        if ((int)threadIdx.x < width) shared[threadIdx.x] += shared[threadIdx.x + width];
        __syncthreads();
    }
    double total = shared[0];
    __syncthreads();
    return total;
}

// Maximum of one float per thread over the block (order-independent); same calling rules as the sum.
__device__ inline float mhim_cuda_block_max(float v, float *shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int width = MHIM_CUDA_THREADS / 2; width > 0; width >>= 1) {
        if ((int)threadIdx.x < width) shared[threadIdx.x] = fmaxf(shared[threadIdx.x], shared[threadIdx.x + width]);
        __syncthreads();
    }
    float m = shared[0];
    __syncthreads();
    return m;
}

// cuBLAS dimension as int; aborts when it does not fit.
int mhim_cuda_blas_dim(int64_t d);

#endif
