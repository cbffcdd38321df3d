/* Inverted dropout with an explicit keep mask (see mhim/ops/dropout.h). */
#include "mhim/ops/dropout.h"

#include "mhim/common.h"
#include "mhim/ops/act.h"

/* 1/(1-p) as torch computes it; 0 for p == 1 (everything dropped). */
static float keep_scale(float p) {
    MHIM_ASSERT(p >= 0.0f && p <= 1.0f);
    return p >= 1.0f ? 0.0f : (float)(1.0 / (1.0 - (double)p));
}

static void apply_mask(float *out, const float *inp, const uint8_t *keep, float scale, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = keep[i] ? inp[i] * scale : 0.0f;
}

void mhim_dropout_mask(uint8_t *keep, const mhim_rng *stream, uint64_t first, float p, int64_t n) {
    MHIM_ASSERT(p >= 0.0f && p <= 1.0f);
    float keep_prob = 1.0f - p;
#pragma omp parallel for schedule(static) if (n >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) keep[i] = mhim_rng_uniform_at(stream, first + (uint64_t)i) < keep_prob;
}

void mhim_dropout_forward(float *out, const uint8_t *keep, const float *inp, float p, int64_t n) {
    apply_mask(out, inp, keep, keep_scale(p), n);
}

void mhim_dropout_backward(float *dinp, const float *dout, const uint8_t *keep, float p, int64_t n) {
    apply_mask(dinp, dout, keep, keep_scale(p), n);
}
