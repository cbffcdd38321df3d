// Device context: streams, cuBLAS handle, arena, transfers and the row-major GEMM (see mhim/cuda_ops.h).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "internal.cuh"

// cuBLAS workspace reserved once per context: with a fixed workspace cuBLAS picks the same algorithm every call.
#define BLAS_WORKSPACE_BYTES (32u << 20)
#define ARENA_ALIGN 256

int mhim_cuda_blas_dim(int64_t d) {
    if (d < 0 || d > 2147483647LL) mhim_die(__FILE__, __LINE__, "GEMM dimension %lld does not fit in int", (long long)d);
    return (int)d;
}

// Node-local rank from the launcher's environment (Open MPI, then Slurm), or 0.
static int local_rank(void) {
    const char *names[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"};
    for (const char *name : names) {
        const char *v = getenv(name);
        if (v && *v) {
            char *end = nullptr;
            long r = strtol(v, &end, 10);
            if (*end == '\0' && r >= 0 && r < 65536) return (int)r;
        }
    }
    return 0;
}

extern "C" int mhim_cuda_local_device(int *device) {
    char why[256];
    int n = 0;
    if (mhim_cuda_device_count(&n, why, sizeof why) != 0)
        return mhim_fail("no usable CUDA device (%s); run on a GPU node", why);
    *device = local_rank() % n;
    return MHIM_OK;
}

// Release whatever a partly built context holds.
static void ctx_release(mhim_cuda_ctx *c) {
    if (c->blas) cublasDestroy(c->blas);
    if (c->blas_workspace) cudaFree(c->blas_workspace);
    if (c->reduce_scratch) cudaFree(c->reduce_scratch);
    if (c->arena) cudaFree(c->arena);
    if (c->copy_stream) cudaStreamDestroy(c->copy_stream);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c);
}

extern "C" int mhim_cuda_ctx_create(mhim_cuda_ctx **out, int device, size_t arena_bytes) {
    char why[256];
    int n = 0;
    if (mhim_cuda_device_count(&n, why, sizeof why) != 0)
        return mhim_fail("CUDA: no usable device (%s)", why);
    if (device < 0 || device >= n)
        return mhim_fail("CUDA: device %d does not exist (%d visible; check CUDA_VISIBLE_DEVICES)", device, n);
    cudaError_t err = cudaSetDevice(device);
    if (err != cudaSuccess) return mhim_fail("CUDA: cannot use device %d: %s", device, cudaGetErrorString(err));
    mhim_cuda_ctx *c = (mhim_cuda_ctx *)mhim_calloc(1, sizeof *c);
    c->device = device;
    const char *step = "stream";
    err = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    if (err == cudaSuccess) {
        step = "copy stream";
        err = cudaStreamCreateWithFlags(&c->copy_stream, cudaStreamNonBlocking);
    }
    if (err == cudaSuccess && arena_bytes > 0) {
        step = "arena";
        err = cudaMalloc((void **)&c->arena, arena_bytes);
    }
    if (err == cudaSuccess) {
        step = "cuBLAS workspace";
        err = cudaMalloc(&c->blas_workspace, BLAS_WORKSPACE_BYTES);
    }
    if (err == cudaSuccess) {
        step = "reduction scratch";
        err = cudaMalloc((void **)&c->reduce_scratch, MHIM_CUDA_REDUCE_SCRATCH_BYTES);
    }
    if (err != cudaSuccess) {
        ctx_release(c);
        return mhim_fail("CUDA device %d: cannot create the %s (%zu arena bytes requested): %s", device, step,
                         arena_bytes, cudaGetErrorString(err));
    }
    c->arena_capacity = arena_bytes;
    cublasStatus_t st = cublasCreate(&c->blas);
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasSetStream(c->blas, c->stream);
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasSetMathMode(c->blas, CUBLAS_PEDANTIC_MATH);
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasSetWorkspace(c->blas, c->blas_workspace, BLAS_WORKSPACE_BYTES);
    if (st != CUBLAS_STATUS_SUCCESS) {
        ctx_release(c);
        return mhim_fail("CUDA device %d: cuBLAS initialisation failed: %s", device, cublasGetStatusString(st));
    }
    *out = c;
    return MHIM_OK;
}

extern "C" void mhim_cuda_ctx_destroy(mhim_cuda_ctx *ctx) {
    if (!ctx) return;
    cudaStreamSynchronize(ctx->stream);
    cudaStreamSynchronize(ctx->copy_stream);
    ctx_release(ctx);
}

extern "C" void *mhim_cuda_alloc(mhim_cuda_ctx *ctx, size_t bytes) {
    size_t size = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (size > ctx->arena_capacity - ctx->arena_used)
        mhim_die(__FILE__, __LINE__, "CUDA arena of %zu bytes: request of %zu bytes does not fit (%zu in use)",
                 ctx->arena_capacity, bytes, ctx->arena_used);
    void *p = ctx->arena + ctx->arena_used;
    ctx->arena_used += size;
    if (ctx->arena_used > ctx->arena_peak) ctx->arena_peak = ctx->arena_used;
    return p;
}

extern "C" float *mhim_cuda_floats(mhim_cuda_ctx *ctx, int64_t n) {
    MHIM_ASSERT(n >= 0);
    return (float *)mhim_cuda_alloc(ctx, (size_t)n * sizeof(float));
}

extern "C" int64_t *mhim_cuda_i64(mhim_cuda_ctx *ctx, int64_t n) {
    MHIM_ASSERT(n >= 0);
    return (int64_t *)mhim_cuda_alloc(ctx, (size_t)n * sizeof(int64_t));
}

extern "C" size_t mhim_cuda_mark(const mhim_cuda_ctx *ctx) { return ctx->arena_used; }

extern "C" void mhim_cuda_reset(mhim_cuda_ctx *ctx, size_t mark) {
    MHIM_ASSERT(mark <= ctx->arena_used);
    ctx->arena_used = mark;
}

extern "C" size_t mhim_cuda_arena_peak(const mhim_cuda_ctx *ctx) { return ctx->arena_peak; }

extern "C" void mhim_cuda_upload(mhim_cuda_ctx *ctx, void *dev, const void *host, size_t bytes) {
    if (bytes) MHIM_CUDA_CHECK(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, ctx->stream));
}

extern "C" void mhim_cuda_download(mhim_cuda_ctx *ctx, void *host, const void *dev, size_t bytes) {
    if (bytes) MHIM_CUDA_CHECK(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, ctx->stream));
    MHIM_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
}

extern "C" void mhim_cuda_memset0(mhim_cuda_ctx *ctx, void *dev, size_t bytes) {
    if (bytes) MHIM_CUDA_CHECK(cudaMemsetAsync(dev, 0, bytes, ctx->stream));
}

extern "C" void mhim_cuda_sync(mhim_cuda_ctx *ctx) { MHIM_CUDA_CHECK(cudaStreamSynchronize(ctx->stream)); }

// Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands, keep the flags.
extern "C" void mhim_cuda_gemm_batched(mhim_cuda_ctx *ctx, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                                       float alpha, const float *a, int64_t stride_a, const float *b,
                                       int64_t stride_b, float beta, float *c, int64_t stride_c, int64_t batch) {
    if (M == 0 || N == 0 || batch == 0) return;
    const int m = mhim_cuda_blas_dim(M), n = mhim_cuda_blas_dim(N), k = mhim_cuda_blas_dim(K);
    const int lda = trans_a ? m : k, ldb = trans_b ? k : n;
    const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (K == 0) { // cuBLAS leaves C untouched for k = 0; the contract is C = beta·C
        MHIM_ASSERT(beta == 0.0f || beta == 1.0f);
        if (beta == 0.0f)
            for (int64_t i = 0; i < batch; i++) mhim_cuda_memset0(ctx, c + i * stride_c, (size_t)(M * N) * sizeof(float));
        return;
    }
    if (batch == 1) {
        MHIM_CUBLAS_CHECK(cublasSgemm(ctx->blas, op_b, op_a, n, m, k, &alpha, b, ldb, a, lda, &beta, c, n));
        return;
    }
    MHIM_CUBLAS_CHECK(cublasSgemmStridedBatched(ctx->blas, op_b, op_a, n, m, k, &alpha, b, ldb, (long long)stride_b,
                                                a, lda, (long long)stride_a, &beta, c, n, (long long)stride_c,
                                                mhim_cuda_blas_dim(batch)));
}

extern "C" void mhim_cuda_set_first_layer_bf16(mhim_cuda_ctx *ctx, int on) { ctx->first_layer_bf16 = on != 0; }

extern "C" int mhim_cuda_first_layer_bf16(const mhim_cuda_ctx *ctx) { return ctx->first_layer_bf16; }

// The bf16 GEMM leaves pedantic math for its one call (tensor cores with fp32 accumulation), then restores it.
extern "C" void mhim_cuda_gemm_bf16(mhim_cuda_ctx *ctx, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                                    float alpha, const uint16_t *a, const uint16_t *b, float beta, float *c) {
    if (M == 0 || N == 0) return;
    if (K == 0) { // the contract is C = beta·C, as mhim_cuda_gemm
        MHIM_ASSERT(beta == 0.0f || beta == 1.0f);
        if (beta == 0.0f) mhim_cuda_memset0(ctx, c, (size_t)(M * N) * sizeof(float));
        return;
    }
    const int m = mhim_cuda_blas_dim(M), n = mhim_cuda_blas_dim(N), k = mhim_cuda_blas_dim(K);
    const int lda = trans_a ? m : k, ldb = trans_b ? k : n;
    const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    MHIM_CUBLAS_CHECK(cublasSetMathMode(ctx->blas, CUBLAS_DEFAULT_MATH));
    const cublasStatus_t gemm = cublasGemmEx(ctx->blas, op_b, op_a, n, m, k, &alpha, b, CUDA_R_16BF, ldb, a,
                                             CUDA_R_16BF, lda, &beta, c, CUDA_R_32F, n, CUBLAS_COMPUTE_32F,
                                             CUBLAS_GEMM_DEFAULT);
    MHIM_CUBLAS_CHECK(cublasSetMathMode(ctx->blas, CUBLAS_PEDANTIC_MATH));
    MHIM_CUBLAS_CHECK(gemm);
}

extern "C" void mhim_cuda_gemm(mhim_cuda_ctx *ctx, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                               float alpha, const float *a, const float *b, float beta, float *c) {
    mhim_cuda_gemm_batched(ctx, trans_a, trans_b, M, N, K, alpha, a, 0, b, 0, beta, c, 0, 1);
}
