/* Element-wise activations (see mhim/ops/act.h). Every element is computed independently, so results do not
 * depend on the thread count. */
#include "mhim/ops/act.h"

#include <math.h>

#include "mhim/common.h"
#include "ops/elementwise.h"
#include "ops/vecmath.h"

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

/* Span kernels: one serial, vectorised pass over n elements. Those that call erff/tanhf/expf run over fixed blocks
 * of MHIM_SIMD_BLOCK elements from the span start (spans start at multiples of it), each block vectorised on its
 * own: every element then takes the same (vector or scalar) libm path whatever the thread count, so results are
 * bitwise independent of it (the vector and scalar versions may differ by a few ulp). */

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

MHIM_SIMD_CLONES_AVX2 static void gelu_fwd_span(float *out, const float *inp, const float *unused, int64_t n) {
    (void)unused;
    for (int64_t b = 0; b < n; b += MHIM_SIMD_BLOCK) {
        const int64_t e = MHIM_MIN(n, b + MHIM_SIMD_BLOCK);
#pragma omp simd
        for (int64_t i = b; i < e; i++) {
            float x = inp[i];
            out[i] = x * 0.5f * (1.0f + erff(x * INV_SQRT2));
        }
    }
}

/* GELU'(x) = Φ(x) + x·φ(x) from one exp: with g = exp(−x²/2), φ = g/√(2π) and, for z = |x|/√2,
 * erf(z) = 1 − t(a1 + t(a2 + t(a3 + t(a4 + t·a5))))·g, t = 1/(1 + p·z) (Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e-7,
 * so Φ is within 7.5e-8 ≈ 0.6 ulp of 1.0 of the exact-erf value: the accuracy class of the vector erff, at about half
 * the cost of erff + expf). docs/numerics.md. */
#define AS_P 0.3275911f
#define AS_A1 0.254829592f
#define AS_A2 (-0.284496736f)
#define AS_A3 1.421413741f
#define AS_A4 (-1.453152027f)
#define AS_A5 1.061405429f

MHIM_SIMD_CLONES_AVX2 static void gelu_bwd_span(float *dinp, const float *dout, const float *inp, int64_t n) {
    for (int64_t b = 0; b < n; b += MHIM_SIMD_BLOCK) {
        const int64_t e = MHIM_MIN(n, b + MHIM_SIMD_BLOCK);
#pragma omp simd
        for (int64_t i = b; i < e; i++) {
            const float x = inp[i];
            const float g = expf(-0.5f * x * x);
            const float t = 1.0f / (1.0f + AS_P * INV_SQRT2 * fabsf(x));
            const float tail = 0.5f * t * (AS_A1 + t * (AS_A2 + t * (AS_A3 + t * (AS_A4 + t * AS_A5)))) * g;
            const float cdf = 0.5f + copysignf(0.5f - tail, x); /* 1 − tail for x ≥ 0, tail below (no branch) */
            dinp[i] = dout[i] * (cdf + x * INV_SQRT_2PI * g);
        }
    }
}

MHIM_SIMD_CLONES_WIDE static void tanh_fwd_span(float *out, const float *inp, const float *unused, int64_t n) {
    (void)unused;
    for (int64_t b = 0; b < n; b += MHIM_SIMD_BLOCK) {
        const int64_t e = MHIM_MIN(n, b + MHIM_SIMD_BLOCK);
#pragma omp simd
        for (int64_t i = b; i < e; i++) out[i] = tanhf(inp[i]);
    }
}

static void tanh_bwd_span(float *dinp, const float *dout, const float *out, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * (1.0f - out[i] * out[i]);
}

MHIM_SIMD_CLONES_WIDE static void sigmoid_fwd_span(float *out, const float *inp, const float *unused, int64_t n) {
    (void)unused;
    for (int64_t b = 0; b < n; b += MHIM_SIMD_BLOCK) {
        const int64_t e = MHIM_MIN(n, b + MHIM_SIMD_BLOCK);
#pragma omp simd
        for (int64_t i = b; i < e; i++) out[i] = 1.0f / (1.0f + expf(-inp[i]));
    }
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
