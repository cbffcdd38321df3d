// Losses on the device (see mhim/ops/loss.h). Batches are tiny (one bag per step), so each forward is one block
// that walks the rows in order (row-internal sums are fixed-order block reductions in double) and writes the loss
// to a device float; the backwards are element-wise.
#include <cmath>

#include "internal.cuh"

// p = softmax(x / temp) over n elements by the whole block; returns log Σ exp(x/temp) (all threads).
__device__ double block_softmax_scaled(float *p, const float *x, float temp, int64_t n, double *dbuf, float *fbuf) {
    float local = -INFINITY;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) local = fmaxf(local, x[j] / temp);
    const float max = mhim_cuda_block_max(local, fbuf);
    double s = 0.0;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += exp((double)(x[j] / temp) - max);
    const double sum = mhim_cuda_block_sum(s, dbuf);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) p[j] = (float)(exp((double)(x[j] / temp) - max) / sum);
    return (double)max + log(sum);
}

__global__ void cross_entropy_forward_kernel(float *loss, float *probs, const float *logits, const int64_t *target,
                                             int64_t B, int64_t C) {
    __shared__ double dbuf[MHIM_CUDA_THREADS];
    __shared__ float fbuf[MHIM_CUDA_THREADS];
    double total = 0.0;
    for (int64_t b = 0; b < B; b++) {
        const int64_t t = target[b];
        if (t < 0 || t >= C) __trap();
        const double lse = block_softmax_scaled(probs + b * C, logits + b * C, 1.0f, C, dbuf, fbuf);
        total += lse - logits[b * C + t];
    }
    if (threadIdx.x == 0) *loss = (float)(total / (double)B);
}

__global__ void cross_entropy_backward_kernel(float *dlogits, const float *probs, const int64_t *target, float scale,
                                              int64_t B, int64_t C) {
    MHIM_CUDA_FOR(i, B * C) {
        const int64_t b = i / C, j = i % C;
        dlogits[i] = scale * (probs[i] - (j == target[b] ? 1.0f : 0.0f));
    }
}

__global__ void soft_target_ce_forward_kernel(float *loss, float *p_student, float *p_teacher, const float *student,
                                              const float *teacher, float temp_t, float temp_s, int64_t R,
                                              int64_t D) {
    __shared__ double dbuf[MHIM_CUDA_THREADS];
    __shared__ float fbuf[MHIM_CUDA_THREADS];
    double total = 0.0;
    for (int64_t r = 0; r < R; r++) {
        const float *s = student + r * D, *pt = p_teacher + r * D;
        block_softmax_scaled(p_teacher + r * D, teacher + r * D, temp_t, D, dbuf, fbuf);
        const double lse = block_softmax_scaled(p_student + r * D, s, temp_s, D, dbuf, fbuf);
        __syncthreads(); // p_teacher of this row is complete before any thread reads it
        double row = 0.0;
        for (int64_t d = threadIdx.x; d < D; d += blockDim.x) row -= (double)pt[d] * ((double)(s[d] / temp_s) - lse);
        total += mhim_cuda_block_sum(row, dbuf);
    }
    if (threadIdx.x == 0) *loss = (float)(total / (double)R);
}

__global__ void scaled_difference_kernel(float *out, const float *a, const float *b, float scale, int64_t n) {
    MHIM_CUDA_FOR(i, n) out[i] = scale * (a[i] - b[i]);
}

__global__ void bce_forward_kernel(float *loss, const float *logits, const float *targets, int64_t n) {
    __shared__ double dbuf[MHIM_CUDA_THREADS];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const double x = logits[i], y = targets[i];
        s += fmax(x, 0.0) - x * y + log1p(exp(-fabs(x)));
    }
    const double total = mhim_cuda_block_sum(s, dbuf);
    if (threadIdx.x == 0) *loss = (float)(total / (double)n);
}

__global__ void bce_backward_kernel(float *dlogits, const float *logits, const float *targets, float scale,
                                    int64_t n) {
    MHIM_CUDA_FOR(i, n) {
        const float p = 1.0f / (1.0f + expf(-logits[i]));
        dlogits[i] = scale * (p - targets[i]);
    }
}

__device__ inline float surv_padded(const float *surv, int64_t k) { return k == 0 ? 1.0f : surv[k - 1]; }

// One thread: hazards and survival are a running product along each row, rows summed in order.
__global__ void nll_surv_forward_kernel(float *loss, float *hazards, float *surv, const float *logits,
                                        const int64_t *y, const float *c, float alpha, int64_t B, int64_t C) {
    const float eps = MHIM_NLL_SURV_EPS;
    double total = 0.0;
    for (int64_t b = 0; b < B; b++) {
        if (y[b] < 0 || y[b] >= C) __trap();
        float *h = hazards + b * C, *S = surv + b * C;
        float run = 1.0f;
        for (int64_t j = 0; j < C; j++) {
            h[j] = 1.0f / (1.0f + expf(-logits[b * C + j]));
            run *= 1.0f - h[j];
            S[j] = run;
        }
        const int64_t k = y[b];
        const double cb = c[b];
        const double uncensored = -(1.0 - cb) * (log(fmaxf(surv_padded(S, k), eps)) + log(fmaxf(h[k], eps)));
        const double censored = -cb * log(fmaxf(surv_padded(S, k + 1), eps));
        total += (1.0 - alpha) * (censored + uncensored) + alpha * uncensored;
    }
    *loss = (float)(total / (double)B);
}

__global__ void nll_surv_backward_kernel(float *dlogits, const float *hazards, const float *surv, const int64_t *y,
                                         const float *c, float alpha, double scale, int64_t B, int64_t C) {
    const float eps = MHIM_NLL_SURV_EPS;
    MHIM_CUDA_FOR(i, B * C) {
        const int64_t b = i / C, j = i % C, k = y[b];
        const float *h = hazards + b * C, *S = surv + b * C;
        const double w_unc = 1.0 - (double)c[b], w_cen = (1.0 - (double)alpha) * (double)c[b];
        double g = 0.0;
        if (j < k && surv_padded(S, k) >= eps) g += w_unc * h[j];
        if (j == k && h[k] >= eps) g -= w_unc * (1.0 - (double)h[j]);
        if (j <= k && surv_padded(S, k + 1) >= eps) g += w_cen * h[j];
        dlogits[i] = (float)(scale * g);
    }
}

extern "C" void mhim_cuda_cross_entropy_forward(mhim_cuda_ctx *ctx, float *loss, float *probs, const float *logits,
                                                const int64_t *target, int64_t B, int64_t C) {
    MHIM_ASSERT(B > 0 && C > 0);
    cross_entropy_forward_kernel<<<1, MHIM_CUDA_THREADS, 0, ctx->stream>>>(loss, probs, logits, target, B, C);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_cross_entropy_backward(mhim_cuda_ctx *ctx, float *dlogits, const float *probs,
                                                 const int64_t *target, float dloss, int64_t B, int64_t C) {
    cross_entropy_backward_kernel<<<mhim_cuda_blocks(B * C), MHIM_CUDA_THREADS, 0, ctx->stream>>>(
        dlogits, probs, target, dloss / (float)B, B, C);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_soft_target_ce_forward(mhim_cuda_ctx *ctx, float *loss, float *p_student, float *p_teacher,
                                                 const float *student, const float *teacher, float temp_t,
                                                 float temp_s, int64_t R, int64_t D) {
    MHIM_ASSERT(temp_t > 0.0f && temp_s > 0.0f && R > 0 && D > 0);
    soft_target_ce_forward_kernel<<<1, MHIM_CUDA_THREADS, 0, ctx->stream>>>(loss, p_student, p_teacher, student,
                                                                          teacher, temp_t, temp_s, R, D);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_soft_target_ce_backward(mhim_cuda_ctx *ctx, float *dstudent, const float *p_student,
                                                  const float *p_teacher, float dloss, float temp_s, int64_t R,
                                                  int64_t D) {
    const float scale = dloss / ((float)R * temp_s);
    scaled_difference_kernel<<<mhim_cuda_blocks(R * D), MHIM_CUDA_THREADS, 0, ctx->stream>>>(dstudent, p_student,
                                                                                            p_teacher, scale, R * D);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_bce_logits_forward(mhim_cuda_ctx *ctx, float *loss, const float *logits,
                                             const float *targets, int64_t n) {
    MHIM_ASSERT(n > 0);
    bce_forward_kernel<<<1, MHIM_CUDA_THREADS, 0, ctx->stream>>>(loss, logits, targets, n);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_bce_logits_backward(mhim_cuda_ctx *ctx, float *dlogits, const float *logits,
                                              const float *targets, float dloss, int64_t n) {
    bce_backward_kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(dlogits, logits, targets,
                                                                                   dloss / (float)n, n);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_nll_surv_forward(mhim_cuda_ctx *ctx, float *loss, float *hazards, float *surv,
                                           const float *logits, const int64_t *y, const float *c, float alpha,
                                           int64_t B, int64_t C) {
    MHIM_ASSERT(B > 0 && C > 0);
    nll_surv_forward_kernel<<<1, 1, 0, ctx->stream>>>(loss, hazards, surv, logits, y, c, alpha, B, C);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_nll_surv_backward(mhim_cuda_ctx *ctx, float *dlogits, const float *hazards,
                                            const float *surv, const int64_t *y, const float *c, float alpha,
                                            float dloss, int64_t B, int64_t C) {
    nll_surv_backward_kernel<<<mhim_cuda_blocks(B * C), MHIM_CUDA_THREADS, 0, ctx->stream>>>(
        dlogits, hazards, surv, y, c, alpha, (double)dloss / (double)B, B, C);
    MHIM_CUDA_LAUNCHED();
}
