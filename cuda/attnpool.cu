// Attention pooling z = Aᵀh and the ABMIL score networks (plain and gated) on the device (see
// mhim/ops/attnpool.h): cuBLAS GEMMs composed with the device linear and activation ops, as the CPU composes its.
#include "internal.cuh"

__global__ void mul_kernel(float *g, const float *a, const float *b, int64_t n) {
    MHIM_CUDA_FOR(i, n) g[i] = a[i] * b[i];
}

// From dg (in da): db = dg·a, da = dg·b.
__global__ void gate_split_kernel(float *da, float *db, const float *a, const float *b, int64_t n) {
    MHIM_CUDA_FOR(i, n) {
        const float dg = da[i];
        db[i] = dg * a[i];
        da[i] = dg * b[i];
    }
}

extern "C" void mhim_cuda_attnpool_forward(mhim_cuda_ctx *ctx, float *z, const float *A, const float *h, int64_t N,
                                           int64_t K, int64_t D) {
    MHIM_ASSERT(K > 0 && D > 0);
    if (N == 0) {
        mhim_cuda_memset0(ctx, z, (size_t)(K * D) * sizeof(float));
        return;
    }
    mhim_cuda_gemm(ctx, 1, 0, K, D, N, 1.0f, A, h, 0.0f, z);
}

static void attnpool_backward(mhim_cuda_ctx *ctx, float *dA, float *dh, float beta_h, const float *dz,
                              const float *A, const float *h, int64_t N, int64_t K, int64_t D) {
    MHIM_ASSERT(K > 0 && D > 0);
    if (N == 0) return;
    mhim_cuda_gemm(ctx, 0, 1, N, K, D, 1.0f, h, dz, 0.0f, dA);   // dA = h · dzᵀ
    mhim_cuda_gemm(ctx, 0, 0, N, D, K, 1.0f, A, dz, beta_h, dh); // dh (+)= A · dz
}

extern "C" void mhim_cuda_attnpool_backward(mhim_cuda_ctx *ctx, float *dA, float *dh, const float *dz,
                                            const float *A, const float *h, int64_t N, int64_t K, int64_t D) {
    attnpool_backward(ctx, dA, dh, 0.0f, dz, A, h, N, K, D);
}

extern "C" void mhim_cuda_attnpool_backward_acc(mhim_cuda_ctx *ctx, float *dA, float *dh, const float *dz,
                                                const float *A, const float *h, int64_t N, int64_t K, int64_t D) {
    attnpool_backward(ctx, dA, dh, 1.0f, dz, A, h, N, K, D);
}

extern "C" void mhim_cuda_abmil_scores_forward(mhim_cuda_ctx *ctx, float *s, float *pre, float *hid, const float *h,
                                               const float *W1, const float *b1, const float *W2, const float *b2,
                                               mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K) {
    MHIM_ASSERT(pre || !mhim_act_needs_input(act));
    float *lin = pre ? pre : hid; // without a pre cache the activation runs in place
    mhim_cuda_linear_forward(ctx, lin, h, W1, b1, N, D, L);
    mhim_cuda_act_forward(ctx, act, hid, lin, N * L);
    mhim_cuda_linear_forward(ctx, s, hid, W2, b2, N, L, K);
}

static void abmil_scores_backward(mhim_cuda_ctx *ctx, float *dh, int accumulate, float *dW1, float *db1, float *dW2,
                                  float *db2, float *scratch, const float *ds, const float *h, const float *pre,
                                  const float *hid, const float *W1, const float *W2, mhim_act act, int64_t N,
                                  int64_t D, int64_t L, int64_t K) {
    mhim_cuda_linear_backward(ctx, scratch, dW2, db2, ds, hid, W2, N, L, K);
    mhim_cuda_act_backward(ctx, act, scratch, scratch, pre, hid, N * L);
    if (accumulate) mhim_cuda_linear_backward_acc(ctx, dh, dW1, db1, scratch, h, W1, N, D, L);
    else mhim_cuda_linear_backward(ctx, dh, dW1, db1, scratch, h, W1, N, D, L);
}

extern "C" void mhim_cuda_abmil_scores_backward(mhim_cuda_ctx *ctx, float *dh, float *dW1, float *db1, float *dW2,
                                                float *db2, float *scratch, const float *ds, const float *h,
                                                const float *pre, const float *hid, const float *W1, const float *W2,
                                                mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K) {
    abmil_scores_backward(ctx, dh, 0, dW1, db1, dW2, db2, scratch, ds, h, pre, hid, W1, W2, act, N, D, L, K);
}

extern "C" void mhim_cuda_abmil_scores_backward_acc(mhim_cuda_ctx *ctx, float *dh, float *dW1, float *db1,
                                                    float *dW2, float *db2, float *scratch, const float *ds,
                                                    const float *h, const float *pre, const float *hid,
                                                    const float *W1, const float *W2, mhim_act act, int64_t N,
                                                    int64_t D, int64_t L, int64_t K) {
    abmil_scores_backward(ctx, dh, 1, dW1, db1, dW2, db2, scratch, ds, h, pre, hid, W1, W2, act, N, D, L, K);
}

extern "C" void mhim_cuda_gated_scores_forward(mhim_cuda_ctx *ctx, float *s, float *a_pre, float *a, float *b,
                                               float *g, const float *h, const float *Wa, const float *ba,
                                               const float *Wb, const float *bb, const float *Wc, const float *bc,
                                               mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K) {
    MHIM_ASSERT(a_pre || !mhim_act_needs_input(act));
    const int64_t n = N * L;
    float *lin_a = a_pre ? a_pre : a;
    mhim_cuda_linear_forward(ctx, lin_a, h, Wa, ba, N, D, L);
    mhim_cuda_act_forward(ctx, act, a, lin_a, n);
    mhim_cuda_linear_forward(ctx, b, h, Wb, bb, N, D, L);
    mhim_cuda_act_forward(ctx, MHIM_ACT_SIGMOID, b, b, n);
    if (n > 0) {
        mul_kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(g, a, b, n);
        MHIM_CUDA_LAUNCHED();
    }
    mhim_cuda_linear_forward(ctx, s, g, Wc, bc, N, L, K);
}

static void gated_scores_backward(mhim_cuda_ctx *ctx, float *dh, int accumulate, float *dWa, float *dba, float *dWb,
                                  float *dbb, float *dWc, float *dbc, float *scratch, const float *ds,
                                  const float *h, const float *a_pre, const float *a, const float *b, const float *g,
                                  const float *Wa, const float *Wb, const float *Wc, mhim_act act, int64_t N,
                                  int64_t D, int64_t L, int64_t K) {
    const int64_t n = N * L;
    float *da = scratch, *db = scratch + n;
    mhim_cuda_linear_backward(ctx, da, dWc, dbc, ds, g, Wc, N, L, K); // da holds dg for now
    if (n > 0) {
        gate_split_kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(da, db, a, b, n);
        MHIM_CUDA_LAUNCHED();
    }
    mhim_cuda_act_backward(ctx, MHIM_ACT_SIGMOID, db, db, NULL, b, n);
    mhim_cuda_act_backward(ctx, act, da, da, a_pre, a, n);
    if (accumulate) mhim_cuda_linear_backward_acc(ctx, dh, dWa, dba, da, h, Wa, N, D, L);
    else mhim_cuda_linear_backward(ctx, dh, dWa, dba, da, h, Wa, N, D, L);
    mhim_cuda_linear_backward_acc(ctx, dh, dWb, dbb, db, h, Wb, N, D, L);
}

extern "C" void mhim_cuda_gated_scores_backward(mhim_cuda_ctx *ctx, float *dh, float *dWa, float *dba, float *dWb,
                                                float *dbb, float *dWc, float *dbc, float *scratch, const float *ds,
                                                const float *h, const float *a_pre, const float *a, const float *b,
                                                const float *g, const float *Wa, const float *Wb, const float *Wc,
                                                mhim_act act, int64_t N, int64_t D, int64_t L, int64_t K) {
    gated_scores_backward(ctx, dh, 0, dWa, dba, dWb, dbb, dWc, dbc, scratch, ds, h, a_pre, a, b, g, Wa, Wb, Wc, act,
                          N, D, L, K);
}

extern "C" void mhim_cuda_gated_scores_backward_acc(mhim_cuda_ctx *ctx, float *dh, float *dWa, float *dba,
                                                    float *dWb, float *dbb, float *dWc, float *dbc, float *scratch,
                                                    const float *ds, const float *h, const float *a_pre,
                                                    const float *a, const float *b, const float *g, const float *Wa,
                                                    const float *Wb, const float *Wc, mhim_act act, int64_t N,
                                                    int64_t D, int64_t L, int64_t K) {
    gated_scores_backward(ctx, dh, 1, dWa, dba, dWb, dbb, dWc, dbc, scratch, ds, h, a_pre, a, b, g, Wa, Wb, Wc, act,
                          N, D, L, K);
}
