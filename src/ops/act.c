/* Element-wise activations (see mhim/ops/act.h). Every element is computed independently, so results do not
 * depend on the thread count. */
#include "mhim/ops/act.h"

#include "mhim/common.h"
#include "ops/elementwise.h"
#include "ops/fastmath.h"
#include "ops/vecmath.h"

/* Span kernels: one serial, vectorised pass over n elements. gelu, tanh and sigmoid use src/ops/fastmath.h, whose
 * vector and scalar code give the same bits, so results are bitwise independent of the thread count and of where the
 * vector loop ends. */

static void relu_fwd_span(float *out, const float *inp, const float *unused, int64_t n) {
    (void)unused;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

static void relu_bwd_span(float *dinp, const float *dout, const float *out, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        const float g = dout[i]; /* unconditional load: the select then vectorises */
        dinp[i] = out[i] > 0.0f ? g : 0.0f;
    }
}

/* GELU(x) = x·Φ(x) (torch's 0.5·x·(1 + erf(x/√2))) by mhim_fast_gelu: x/2 + x²·P(x²)/Q(x²), no exponential. */
MHIM_SIMD_CLONES_FMA static void gelu_fwd_span(float *out, const float *inp, const float *unused, int64_t n) {
    (void)unused;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = mhim_fast_gelu(inp[i]);
}

/* GELU'(x) = Φ(x) + x·φ(x) by mhim_fast_gelu_grad: 1/2 + x·P(x²)/Q(x²), no exponential. docs/numerics.md. */
MHIM_SIMD_CLONES_FMA static void gelu_bwd_span(float *dinp, const float *dout, const float *inp, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * mhim_fast_gelu_grad(inp[i]);
}

/* tanh with mhim_fast_tanhf (e^(2|x|) − 1 from the fastmath exponential's reduced polynomial, one division). */
MHIM_SIMD_CLONES_FMA static void tanh_fwd_span(float *out, const float *inp, const float *unused, int64_t n) {
    (void)unused;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = mhim_fast_tanhf(inp[i]);
}

static void tanh_bwd_span(float *dinp, const float *dout, const float *out, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * (1.0f - out[i] * out[i]);
}

MHIM_SIMD_CLONES_FMA static void sigmoid_fwd_span(float *out, const float *inp, const float *unused, int64_t n) {
    (void)unused;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + mhim_fast_expf_normal(-inp[i]));
}

static void sigmoid_bwd_span(float *dinp, const float *dout, const float *out, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * out[i] * (1.0f - out[i]);
}

void mhim_relu_forward(float *out, const float *inp, int64_t n) { mhim_spans_run(relu_fwd_span, out, inp, NULL, n); }

void mhim_relu_backward(float *dinp, const float *dout, const float *out, int64_t n) {
    mhim_spans_run(relu_bwd_span, dinp, dout, out, n);
}

void mhim_gelu_forward(float *out, const float *inp, int64_t n) { mhim_spans_run(gelu_fwd_span, out, inp, NULL, n); }

void mhim_gelu_backward(float *dinp, const float *dout, const float *inp, int64_t n) {
    mhim_spans_run(gelu_bwd_span, dinp, dout, inp, n);
}

void mhim_tanh_forward(float *out, const float *inp, int64_t n) { mhim_spans_run(tanh_fwd_span, out, inp, NULL, n); }

void mhim_tanh_backward(float *dinp, const float *dout, const float *out, int64_t n) {
    mhim_spans_run(tanh_bwd_span, dinp, dout, out, n);
}

void mhim_sigmoid_forward(float *out, const float *inp, int64_t n) {
    mhim_spans_run(sigmoid_fwd_span, out, inp, NULL, n);
}

void mhim_sigmoid_backward(float *dinp, const float *dout, const float *out, int64_t n) {
    mhim_spans_run(sigmoid_bwd_span, dinp, dout, out, n);
}

void mhim_act_forward(mhim_act act, float *out, const float *inp, int64_t n) {
    switch (act) {
    case MHIM_ACT_RELU: mhim_relu_forward(out, inp, n); return;
    case MHIM_ACT_GELU: mhim_gelu_forward(out, inp, n); return;
    case MHIM_ACT_TANH: mhim_tanh_forward(out, inp, n); return;
    case MHIM_ACT_SIGMOID: mhim_sigmoid_forward(out, inp, n); return;
    }
    MHIM_DIE("unknown activation %d", (int)act);
}

void mhim_act_backward(mhim_act act, float *dinp, const float *dout, const float *inp, const float *out, int64_t n) {
    switch (act) {
    case MHIM_ACT_RELU: mhim_relu_backward(dinp, dout, out, n); return;
    case MHIM_ACT_GELU: mhim_gelu_backward(dinp, dout, inp, n); return;
    case MHIM_ACT_TANH: mhim_tanh_backward(dinp, dout, out, n); return;
    case MHIM_ACT_SIGMOID: mhim_sigmoid_backward(dinp, dout, out, n); return;
    }
    MHIM_DIE("unknown activation %d", (int)act);
}

int mhim_act_needs_input(mhim_act act) { return act == MHIM_ACT_GELU; }
