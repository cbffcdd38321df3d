// DSMIL pieces on the device (see mhim/ops/dsmil.h): critical instances (sequential per class, ties to the lowest
// index, exactly the CPU's choice), critical-instance attention on cuBLAS and the device softmax, and the bag
// classifier with fixed-order double sums; the v1 class loss in double as the CPU's.
#include <cmath>

#include "internal.cuh"

__global__ void critical_kernel(int64_t *crit, float *max_logit, const float *inst, int64_t n, int64_t C) {
    MHIM_CUDA_FOR(c, C) {
        int64_t best = 0;
        for (int64_t i = 1; i < n; i++)
            if (inst[i * C + c] > inst[best * C + c]) best = i;
        crit[c] = best;
        if (max_logit) max_logit[c] = inst[best * C + c];
    }
}

// Each class touches its own element (crit[c], c): no two threads write the same address.
__global__ void critical_backward_kernel(float *d_inst, const float *d_max_logit, const int64_t *crit, int64_t n,
                                         int64_t C) {
    MHIM_CUDA_FOR(c, C) {
        if (crit[c] < 0 || crit[c] >= n) __trap();
        d_inst[crit[c] * C + c] += d_max_logit[c];
    }
}

__global__ void instance_score_kernel(float *score, const float *inst, int64_t n, int64_t C) {
    MHIM_CUDA_FOR(i, n) {
        float best = inst[i * C];
        for (int64_t c = 1; c < C; c++) best = fmaxf(best, inst[i * C + c]);
        score[i] = best;
    }
}

// attn[i, c] = (q_i · q_crit[c]) / norm, the dot product in order (as the CPU).
__global__ void critical_scores_kernel(float *attn, const float *q, const int64_t *crit, float norm, int64_t n,
                                       int64_t C, int64_t Dq) {
    MHIM_CUDA_FOR(e, n * C) {
        const int64_t i = e / C, c = e % C, k = crit[c];
        if (k < 0 || k >= n) __trap();
        const float *qi = q + i * Dq, *qc = q + k * Dq;
        float s = 0.0f;
        for (int64_t d = 0; d < Dq; d++) s += qi[d] * qc[d];
        attn[e] = s / norm;
    }
}

__global__ void divide_kernel(float *x, float by, int64_t n) {
    MHIM_CUDA_FOR(i, n) x[i] /= by;
}

// One block per output class: logit[o] = b[o] + Σ_j w[o, j]·bag[j] (double, fixed tree).
__global__ void fcc_forward_kernel(float *logit, const float *bag, const float *w, const float *b, int64_t K) {
    __shared__ double buf[MHIM_CUDA_THREADS];
    const int64_t o = blockIdx.x;
    double s = 0.0;
    for (int64_t j = threadIdx.x; j < K; j += blockDim.x) s += (double)w[o * K + j] * bag[j];
    const double total = mhim_cuda_block_sum(s, buf);
    if (threadIdx.x == 0) logit[o] = (float)(b[o] + total);
}

__global__ void fcc_backward_kernel(float *d_bag, float *dw, const float *d_logit, const float *bag, const float *w,
                                    int64_t C, int64_t K) {
    MHIM_CUDA_FOR(j, K) {
        double s = 0.0;
        for (int64_t o = 0; o < C; o++) {
            s += (double)d_logit[o] * w[o * K + j];
            dw[o * K + j] += d_logit[o] * bag[j];
        }
        d_bag[j] = (float)s;
    }
}

__global__ void add_kernel(float *dst, const float *src, int64_t n) {
    MHIM_CUDA_FOR(i, n) dst[i] += src[i];
}

#define LAUNCH(kernel, n, ...)                                                                         \
    do {                                                                                               \
        kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(__VA_ARGS__);               \
        MHIM_CUDA_LAUNCHED();                                                                          \
    } while (0)

extern "C" void mhim_cuda_dsmil_critical_forward(mhim_cuda_ctx *ctx, int64_t *crit, float *max_logit,
                                                 const float *inst, int64_t n, int64_t C) {
    MHIM_ASSERT(n >= 1 && C >= 1);
    LAUNCH(critical_kernel, C, crit, max_logit, inst, n, C);
}

extern "C" void mhim_cuda_dsmil_critical_backward_acc(mhim_cuda_ctx *ctx, float *d_inst, const float *d_max_logit,
                                                      const int64_t *crit, int64_t n, int64_t C) {
    LAUNCH(critical_backward_kernel, C, d_inst, d_max_logit, crit, n, C);
}

extern "C" void mhim_cuda_dsmil_instance_score(mhim_cuda_ctx *ctx, float *score, const float *inst, int64_t n,
                                               int64_t C) {
    if (n <= 0) return;
    LAUNCH(instance_score_kernel, n, score, inst, n, C);
}

extern "C" void mhim_cuda_dsmil_attention_forward(mhim_cuda_ctx *ctx, float *bag, float *attn, const float *q,
                                                  const int64_t *crit, const float *v, int64_t n, int64_t C,
                                                  int64_t Dq, int64_t D) {
    MHIM_ASSERT(n >= 1 && C >= 1 && Dq >= 1 && D >= 1);
    const float norm = sqrtf((float)Dq);
    LAUNCH(critical_scores_kernel, n * C, attn, q, crit, norm, n, C, Dq);
    mhim_cuda_softmax_instances_forward(ctx, attn, attn, NULL, n, C);
    mhim_cuda_gemm(ctx, 1, 0, C, D, n, 1.0f, attn, v, 0.0f, bag); // bag = attnᵀ v
}

extern "C" void mhim_cuda_dsmil_attention_backward(mhim_cuda_ctx *ctx, float *dq, float *dv, const float *d_bag,
                                                   float *scratch, const float *attn, const float *q,
                                                   const int64_t *crit, const float *v, int64_t n, int64_t C,
                                                   int64_t Dq, int64_t D) {
    MHIM_ASSERT(n >= 1 && C >= 1 && Dq >= 1 && D >= 1);
    const float norm = sqrtf((float)Dq);
    float *ds = scratch, *qm = ds + n * C, *dqm = qm + C * Dq;
    mhim_cuda_gemm(ctx, 0, 0, n, D, C, 1.0f, attn, d_bag, 0.0f, dv); // dv = attn · d_bag
    mhim_cuda_gemm(ctx, 0, 1, n, C, D, 1.0f, v, d_bag, 0.0f, ds);    // d_attn = v · d_bagᵀ
    mhim_cuda_softmax_instances_backward(ctx, ds, ds, attn, n, C);
    LAUNCH(divide_kernel, n * C, ds, norm, n * C);
    mhim_cuda_gather_rows_forward(ctx, qm, q, crit, C, n, Dq);          // q_max = q[crit]
    mhim_cuda_gemm(ctx, 0, 0, n, Dq, C, 1.0f, ds, qm, 0.0f, dq);        // dq = ds · q_max
    mhim_cuda_gemm(ctx, 1, 0, C, Dq, n, 1.0f, ds, q, 0.0f, dqm);        // dq_max = dsᵀ · q
    mhim_cuda_gather_rows_backward_acc(ctx, dq, dqm, crit, C, n, Dq);   // dq[crit] += dq_max, classes in order
}

extern "C" void mhim_cuda_dsmil_fcc_forward(mhim_cuda_ctx *ctx, float *logit, const float *bag, const float *w,
                                            const float *b, int64_t C, int64_t D) {
    MHIM_ASSERT(C >= 1 && D >= 1);
    fcc_forward_kernel<<<(unsigned)C, MHIM_CUDA_THREADS, 0, ctx->stream>>>(logit, bag, w, b, C * D);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_dsmil_fcc_backward(mhim_cuda_ctx *ctx, float *d_bag, float *dw, float *db,
                                             const float *d_logit, const float *bag, const float *w, int64_t C,
                                             int64_t D) {
    LAUNCH(fcc_backward_kernel, C * D, d_bag, dw, d_logit, bag, w, C, C * D);
    LAUNCH(add_kernel, C, db, d_logit, C);
}

// CE of one logit vector in double (the CPU's ce_with_grad of models/dsmil_loss.c); d written.
static __device__ double dsmil_ce_with_grad(float *d, const float *logits, int64_t y, double scale, int64_t C) {
    double top = -INFINITY, sum = 0.0;
    for (int64_t c = 0; c < C; c++) top = fmax(top, (double)logits[c]);
    for (int64_t c = 0; c < C; c++) sum += exp((double)logits[c] - top);
    const double loss = top + log(sum) - (double)logits[y];
    for (int64_t c = 0; c < C; c++) d[c] = (float)(scale * (exp((double)logits[c] - top) / sum - (c == y ? 1.0 : 0.0)));
    return loss;
}

__global__ void dsmil_loss_v1_kernel(float *loss, float *d_bag, float *d_max, const float *bag_logit,
                                     const float *max_logit, const int64_t *target, float dloss, int64_t C) {
    const int64_t y = *target;
    if (y < 0 || y >= C) __trap();
    double l = 0.5 * dsmil_ce_with_grad(d_bag, bag_logit, y, 0.5 * (double)dloss, C);
    l += 0.5 * dsmil_ce_with_grad(d_max, max_logit, y, 0.5 * (double)dloss, C);
    *loss = (float)l;
}

extern "C" void mhim_cuda_dsmil_loss_v1(mhim_cuda_ctx *ctx, float *loss, float *d_bag, float *d_max,
                                        const float *bag_logit, const float *max_logit, const int64_t *target,
                                        float dloss, int64_t C) {
    MHIM_ASSERT(C > 0);
    dsmil_loss_v1_kernel<<<1, 1, 0, ctx->stream>>>(loss, d_bag, d_max, bag_logit, max_logit, target, dloss, C);
    MHIM_CUDA_LAUNCHED();
}
