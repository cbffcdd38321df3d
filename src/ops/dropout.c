/* Inverted dropout with an explicit keep mask (see mhim/ops/dropout.h). */
#include "mhim/ops/dropout.h"

#include "mhim/common.h"
#include "mhim/ops/act.h"
#include "ops/elementwise.h"
#include "ops/vecmath.h"

/* Blocks of 4 stream values drawn together by one vectorised pass (a multiple of every SIMD width). */
#define MASK_BATCH 64

/* Philox4x32-10 of the counter (block, stream) — the function mhim_rng_block_at computes (src/core/rng.c), restated
 * inline so that a loop over consecutive blocks vectorises (the 32x32->64-bit products become vector multiplies).
 * Writes the 4 values' keep decisions (value >> 8 scaled to [0, 1) below keep_prob) to keep[0..3]. */
static inline void philox_keep4(uint8_t *keep, const mhim_rng *r, uint64_t block, float keep_prob) {
    uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32) | r->ctr_hi, c2 = r->bag, c3 = r->epoch;
    uint32_t k0 = r->key[0], k1 = r->key[1];
#pragma GCC unroll 10
    for (int round = 0; round < 10; round++) {
        const uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    keep[0] = (float)(c0 >> 8) * 0x1p-24f < keep_prob;
    keep[1] = (float)(c1 >> 8) * 0x1p-24f < keep_prob;
    keep[2] = (float)(c2 >> 8) * 0x1p-24f < keep_prob;
    keep[3] = (float)(c3 >> 8) * 0x1p-24f < keep_prob;
}

/* 1/(1-p) as torch computes it; 0 for p == 1 (everything dropped). */
static float keep_scale(float p) {
    MHIM_ASSERT(p >= 0.0f && p <= 1.0f);
    return p >= 1.0f ? 0.0f : (float)(1.0 / (1.0 - (double)p));
}

static void apply_mask_span(float *out, const float *inp, const uint8_t *keep, float scale, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = inp[i] * (float)keep[i] * scale; /* torch: input * mask * scale */
}

/* apply_mask_span over n elements; small arrays (per-row calls) stay on the calling thread, outside OpenMP. */
static void apply_mask(float *out, const float *inp, const uint8_t *keep, float scale, int64_t n) {
    if (n < MHIM_OPS_PARALLEL_MIN) {
        apply_mask_span(out, inp, keep, scale, n);
        return;
    }
    const int64_t spans = (n + MHIM_SPAN - 1) / MHIM_SPAN;
#pragma omp parallel for schedule(static)
    for (int64_t s = 0; s < spans; s++) {
        const int64_t i0 = s * MHIM_SPAN;
        apply_mask_span(out + i0, inp + i0, keep + i0, scale, MHIM_MIN(MHIM_SPAN, n - i0));
    }
}

MHIM_SIMD_CLONES_WIDE void mhim_dropout_mask(uint8_t *keep, const mhim_rng *stream, uint64_t first, float p,
                                             int64_t n) {
    MHIM_ASSERT(p >= 0.0f && p <= 1.0f);
    MHIM_ASSERT((first + (uint64_t)n) >> 2 < ((uint64_t)1 << 48)); /* mhim_rng_block_at's counter range */
    const float keep_prob = 1.0f - p;
    /* Stream values come in blocks of 4: mask[i] uses value first + i; whole blocks are drawn MASK_BATCH at a time
     * (integer arithmetic: identical bits on every path). */
    int64_t head = MHIM_MIN(n, (int64_t)((4 - (first & 3)) & 3));
    for (int64_t i = 0; i < head; i++) keep[i] = mhim_rng_uniform_at(stream, first + (uint64_t)i) < keep_prob;
    const int64_t blocks = (n - head) / 4;
    const uint64_t first_block = (first + (uint64_t)head) >> 2;
    uint8_t *body = keep + head;
    if (n < MHIM_OPS_PARALLEL_MIN) { /* per-row calls stay on the calling thread, outside OpenMP */
#pragma omp simd
        for (int64_t b = 0; b < blocks; b++) philox_keep4(body + 4 * b, stream, first_block + (uint64_t)b, keep_prob);
    } else {
#pragma omp parallel for schedule(static)
        for (int64_t b0 = 0; b0 < blocks; b0 += MASK_BATCH) {
            const int64_t b1 = MHIM_MIN(blocks, b0 + MASK_BATCH);
#pragma omp simd
            for (int64_t b = b0; b < b1; b++)
                philox_keep4(body + 4 * b, stream, first_block + (uint64_t)b, keep_prob);
        }
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
