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
#pragma omp parallel for simd schedule(static) if (n >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = inp[i] * (float)keep[i] * scale; /* torch: input * mask * scale */
}

void mhim_dropout_mask(uint8_t *keep, const mhim_rng *stream, uint64_t first, float p, int64_t n) {
    MHIM_ASSERT(p >= 0.0f && p <= 1.0f);
    const float keep_prob = 1.0f - p;
    /* Stream values come in blocks of 4: mask[i] uses value first + i; whole blocks take one Philox call. */
    int64_t head = MHIM_MIN(n, (int64_t)((4 - (first & 3)) & 3));
    for (int64_t i = 0; i < head; i++) keep[i] = mhim_rng_uniform_at(stream, first + (uint64_t)i) < keep_prob;
    const int64_t blocks = (n - head) / 4;
    const uint64_t first_block = (first + (uint64_t)head) >> 2;
#pragma omp parallel for simd schedule(static) if (n >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        uint32_t v[4];
        mhim_rng_block_at(stream, first_block + (uint64_t)b, v);
        for (int k = 0; k < 4; k++) keep[head + 4 * b + k] = (float)(v[k] >> 8) * 0x1p-24f < keep_prob;
    }
    for (int64_t i = head + 4 * blocks; i < n; i++)
        keep[i] = mhim_rng_uniform_at(stream, first + (uint64_t)i) < keep_prob;
}

void mhim_dropout_forward(float *out, const uint8_t *keep, const float *inp, float p, int64_t n) {
    apply_mask(out, inp, keep, keep_scale(p), n);
}

void mhim_dropout_backward(float *dinp, const float *dout, const uint8_t *keep, float p, int64_t n) {
    apply_mask(dinp, dout, keep, keep_scale(p), n);
}
