// Element-wise activations on the device (see mhim/ops/act.h): one thread per element, the CPU formulas.
#include "internal.cuh"

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

__global__ void act_forward_kernel(mhim_act act, float *out, const float *inp, int64_t n) {
    MHIM_CUDA_FOR(i, n) out[i] = mhim_cuda_act_value(act, inp[i]);
}

// inp is read for GELU only, out for the others (either may be NULL when not read).
__global__ void act_backward_kernel(mhim_act act, float *dinp, const float *dout, const float *inp,
                                    const float *out, int64_t n) {
    MHIM_CUDA_FOR(i, n) {
        const float g = dout[i];
        float d;
        switch (act) {
        case MHIM_ACT_RELU: d = out[i] > 0.0f ? g : 0.0f; break;
        case MHIM_ACT_GELU: {
            const float x = inp[i];
            const float cdf = 0.5f * (1.0f + erff(x * INV_SQRT2));
            const float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
            d = g * (cdf + x * pdf);
            break;
        }
        case MHIM_ACT_TANH: d = g * (1.0f - out[i] * out[i]); break;
        default: d = g * out[i] * (1.0f - out[i]); break;
        }
        dinp[i] = d;
    }
}

static void check_act(mhim_act act) {
    if (act != MHIM_ACT_RELU && act != MHIM_ACT_GELU && act != MHIM_ACT_TANH && act != MHIM_ACT_SIGMOID)
        mhim_die(__FILE__, __LINE__, "unknown activation %d", (int)act);
}

extern "C" void mhim_cuda_act_forward(mhim_cuda_ctx *ctx, mhim_act act, float *out, const float *inp, int64_t n) {
    check_act(act);
    if (n <= 0) return;
    act_forward_kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(act, out, inp, n);
    MHIM_CUDA_LAUNCHED();
}

extern "C" void mhim_cuda_act_backward(mhim_cuda_ctx *ctx, mhim_act act, float *dinp, const float *dout,
                                       const float *inp, const float *out, int64_t n) {
    check_act(act);
    if (n <= 0) return;
    act_backward_kernel<<<mhim_cuda_blocks(n), MHIM_CUDA_THREADS, 0, ctx->stream>>>(act, dinp, dout, inp, out, n);
    MHIM_CUDA_LAUNCHED();
}
