// Adam/AdamW update, EMA teacher update and the global gradient norm on the device (see mhim/optim.h): the CPU's
// float32 operation order per element; the norm is a fixed-order double reduction.
#include <cmath>

#include "internal.cuh"

struct adam_scalars {
    float step_size, bc2_sqrt, b1, one_minus_b1, b2, one_minus_b2, eps, wd, shrink;
    int coupled, decoupled;
};

__global__ void adam_kernel(adam_scalars k, float *param, const float *grad, float *m, float *v, int64_t n) {
    MHIM_CUDA_FOR(i, n) {
        float p = param[i], g = grad[i];
        if (k.coupled) g = g + k.wd * p;
        if (k.decoupled) p = p * k.shrink;
        float mi = m[i] * k.b1;
        mi = mi + k.one_minus_b1 * g;
        float vi = v[i] * k.b2;
        vi = vi + k.one_minus_b2 * g * g;
        float denom = sqrtf(vi) / k.bc2_sqrt;
        denom = denom + k.eps;
        p = p + k.step_size * mi / denom;
        m[i] = mi;
        v[i] = vi;
        param[i] = p;
    }
}

__global__ void ema_kernel(float *teacher, const float *student, float m, float one_minus_m, int64_t n) {
    MHIM_CUDA_FOR(i, n) {
        const float t = teacher[i] * m;
        teacher[i] = t + one_minus_m * student[i];
    }
}

// One block: each thread sums a strided share in double, then the fixed tree.
__global__ void norm_kernel(float *norm, const float *x, int64_t n) {
    __shared__ double buf[MHIM_CUDA_THREADS];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += (double)x[i] * x[i];
    const double total = mhim_cuda_block_sum(s, buf);
    if (threadIdx.x == 0) *norm = (float)sqrt(total);
}

extern "C" void mhim_cuda_adam_update(mhim_cuda_ctx *ctx, const mhim_adam *o, float *param, const float *grad,
                                      float *m, float *v, int64_t n) {
    MHIM_ASSERT(o->step >= 1);
    if (n <= 0) return;
    const double bias_correction1 = 1.0 - pow(o->beta1, (double)o->step);
    const double bias_correction2 = 1.0 - pow(o->beta2, (double)o->step);
    adam_scalars k;
    k.step_size = (float)(-(o->lr / bias_correction1));
    k.bc2_sqrt = (float)sqrt(bias_correction2);
    k.b1 = (float)o->beta1;
    k.one_minus_b1 = (float)(1.0 - o->beta1);
    k.b2 = (float)o->beta2;
    k.one_minus_b2 = (float)(1.0 - o->beta2);
    k.eps = (float)o->eps;
    k.wd = (float)o->weight_decay;
    k.shrink = (float)(1.0 - o->lr * o->weight_decay);
    k.coupled = o->kind == MHIM_OPT_ADAM && o->weight_decay != 0.0;
    k.decoupled = o->kind == MHIM_OPT_ADAMW && o->weight_decay != 0.0;
    adam_kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(k, param, grad, m, v, n);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_ema_update(mhim_cuda_ctx *ctx, float *teacher, const float *student, int64_t n,
                                     double momentum) {
    if (n <= 0) return;
    ema_kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(teacher, student, (float)momentum,
                                                                          (float)(1.0 - momentum), n);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_grad_norm(mhim_cuda_ctx *ctx, float *norm, const float *grad, int64_t n) {
    norm_kernel<<<1, MHIM_CUDA_THREADS, 0, ctx->stream>>>(norm, grad, n);
    MHIM_CUDA_LAUNCHED();
}
