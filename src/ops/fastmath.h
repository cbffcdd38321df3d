/* src/ops/fastmath.h — branch-free float exp, tanh, erf and normal CDF for the element-wise and row loops.
 *
 * Plain float arithmetic (+ − × ÷, comparisons, bit blends), no libm call: GCC vectorises these functions inside
 * `omp simd` loops at every ISA. Each operation is a correctly rounded IEEE operation in a fixed order, so within one
 * compiled copy the vector and the scalar code give the same bits for the same input: results do not depend on the
 * thread count or on where a vector loop ends. Copies compiled with FMA contraction (MHIM_SIMD_CLONES_FMA) round
 * differently from the baseline copy, within the same bounds. Bit reinterpretation goes through memcpy (no
 * aliasing, no float-to-int conversion, whose out-of-range cases would be undefined).
 *
 * Accuracy against double-precision libm (tests/unit/test_fastmath.c, every 7th float; docs/numerics.md):
 *   mhim_fast_expf        ≤ 1.01 ulp where the result is a normal float (x in [−87.33, 88.72]); subnormal results
 *                         within one subnormal spacing, +inf above 88.72, 0 below −103.97, NaN propagated, as libm.
 *   mhim_fast_tanhf       ≤ 1.95 ulp (every 7th float); exactly ±1 for |x| ≥ 10; odd; NaN propagated.
 *   mhim_fast_erff        ≤ 4.2e-7 absolute; exactly ±1 for |x| ≥ 3.92; odd; NaN propagated.
 *   mhim_fast_normal_cdf  Φ(x) within 2.1e-7 absolute, and within 6 ulp plus the rounding of x²/2 relative while Φ is
 *                         a normal float (x ≥ −13).
 * Coefficients: weighted minimax fits (Lawson iterations on Chebyshev nodes, in double, rounded to float). Include
 * after <math.h>. */
#ifndef MHIM_OPS_FASTMATH_H
#define MHIM_OPS_FASTMATH_H

#include <stdint.h>
#include <string.h>

#include "ops/vecmath.h"

MHIM_CLONE_INLINE uint32_t mhim_float_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

MHIM_CLONE_INLINE float mhim_bits_float(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* c ? a : b as a bit blend: GCC keeps it a data-flow select (a float `?:` on a
 * constant lets it thread the constant through the rest of the caller's loop
 * body, duplicating it as masked vector code). */
MHIM_CLONE_INLINE float mhim_select(int c, float a, float b) {
    const uint32_t m = 0u - (uint32_t)c;
    return mhim_bits_float((mhim_float_bits(a) & m) | (mhim_float_bits(b) & ~m));
}

/* e^r − 1 for |r| ≤ ln2/2 as r + r²·Q(r) (Q of degree 4: e^r to a relative error of 3e-9), relative accuracy kept
 * for small r. */
MHIM_CLONE_INLINE float mhim_expm1_reduced(float r) {
    const float q =
        0x1.fffffcp-2f + r * (0x1.555492p-3f + r * (0x1.5558f2p-5f + r * (0x1.1239d4p-7f + r * 0x1.6a244cp-10f)));
    return r + r * r * q;
}

/* e^x. x is clamped to [−104, 89] (NaN passes: the comparisons are false),
 * which still overflows to +inf and underflows to 0; n = round(x·log2 e) by
 * the 1.5·2^23 rounding shift, r = x − n·ln 2 in two steps (n·ln2_hi is exact
 * for |n| ≤ 256), e^r = 1 + (r + r²·Q(r)) (mhim_expm1_reduced), and the result is scaled by 2^⌊n/2⌋ then by
 * 2^(n−⌊n/2⌋): both factors are normal floats, so only the last product rounds, also where the result is
 * subnormal. */
MHIM_CLONE_INLINE float mhim_fast_expf(float x) {
    const float round_shift = 0x1.8p23f;
    x = mhim_select(x < -104.0f, -104.0f, x);
    x = mhim_select(x > 89.0f, 89.0f, x);
    const float k = x * 0x1.715476p0f + round_shift; /* log2 e; the low mantissa bits of k hold n */
    const float n = k - round_shift;
    const float r = (x - n * 0x1.62e4p-1f) - n * 0x1.7f7d1cp-20f; /* ln 2 = hi + lo */
    const float p = 1.0f + mhim_expm1_reduced(r);
    const uint32_t biased = mhim_float_bits(k) - mhim_float_bits(round_shift) + 256u; /* n + 256, in [106, 384] */
    const uint32_t half = biased >> 1;                                                /* ⌊n/2⌋ + 128 */
    const float scale_lo = mhim_bits_float((half - 1u) << 23);                        /* 2^⌊n/2⌋ */
    const float scale_hi = mhim_bits_float((biased - half - 1u) << 23);               /* 2^(n − ⌊n/2⌋) */
    return p * scale_lo * scale_hi;
}

/* e^x without subnormal results, for sigmoid, the row softmax and the GELU backward (whose outputs are below
 * FLT_MIN wherever this differs from mhim_fast_expf): x clamped to [−88, 89], one scaling by 2^n built directly from
 * n + 127 in [0, 255]: the result is 0 where e^x < 2^−126·2^(−1/2) (n = −127; a flush of what would be subnormal),
 * +inf from x ≥ 88.38 (n = 128; mhim_fast_expf overflows at 88.72), otherwise the bits of mhim_fast_expf. */
MHIM_CLONE_INLINE float mhim_fast_expf_normal(float x) {
    const float round_shift = 0x1.8p23f;
    x = mhim_select(x < -88.0f, -88.0f, x);
    x = mhim_select(x > 89.0f, 89.0f, x);
    const float k = x * 0x1.715476p0f + round_shift;
    const float n = k - round_shift;
    const float r = (x - n * 0x1.62e4p-1f) - n * 0x1.7f7d1cp-20f;
    const float p = 1.0f + mhim_expm1_reduced(r);
    return p * mhim_bits_float((mhim_float_bits(k) - mhim_float_bits(round_shift) + 127u) << 23); /* p·2^n */
}

/* tanh(x) = sign(x)·E/(E + 2) with E = e^(2|x|) − 1 ≥ 0 computed without cancellation: |x| clamped to 10 (tanh
 * rounds to 1 beyond; NaN passes), n = round(2|x|·log2 e), r = 2|x| − n·ln 2, E = 2^n·s + (2^n − 1) with
 * s = e^r − 1 (mhim_expm1_reduced): for n = 0, E = s exactly; otherwise 2^n·s and 2^n − 1 are exact and only their
 * sum rounds. Below |x| = TANH_SMALL the quotient is formed as E/2 − (E/2)·q (q = E/(E + 2)), so that q's rounding
 * is scaled down by q. The sign is copied from x: odd, tanh(±0) = ±0. */
#define TANH_SMALL 0.5f
MHIM_CLONE_INLINE float mhim_fast_tanhf(float x) {
    const float round_shift = 0x1.8p23f;
    const uint32_t sign = mhim_float_bits(x) & 0x80000000u;
    const float ax = mhim_bits_float(mhim_float_bits(x) & 0x7fffffffu);
    const float a = mhim_select(ax > 10.0f, 10.0f, ax);
    const float k = a * 0x1.715476p1f + round_shift; /* 2·log2 e */
    const float n = k - round_shift;                 /* in [0, 29] */
    const float r = (2.0f * a - n * 0x1.62e4p-1f) - n * 0x1.7f7d1cp-20f;
    const float scale = mhim_bits_float((mhim_float_bits(k) - mhim_float_bits(round_shift) + 127u) << 23); /* 2^n */
    const float e = scale * mhim_expm1_reduced(r) + (scale - 1.0f);
    const float q = e / (e + 2.0f);
    const float half_e = 0.5f * e;
    const float t = mhim_select(a < TANH_SMALL, half_e - half_e * q, q);
    return mhim_bits_float(mhim_float_bits(t) | sign);
}
#undef TANH_SMALL

/* erf(x) = x·P(x²)/Q(x²) (degrees 6 and 4 in x², fitted on |x| ≤ 4: max
 * absolute error 8e-8 in exact arithmetic, 4e-7 after float rounding), clamped
 * to [−1, 1] and exactly ±1 from |x| ≥ 3.92 (where erf is within 3e-8 of ±1;
 * this also covers the inf/inf of huge |x|). No exponential: half the cost of
 * mhim_fast_normal_cdf, with absolute (not relative) accuracy near ±1. */
MHIM_CLONE_INLINE float mhim_fast_erff(float x) {
    const float w = x * x;
    const float num =
        1.12837863f +
        w * (0.213945061f +
             w * (0.0524335168f +
                  w * (0.00429306924f + w * (0.000155537287f + w * (-1.99032456e-06f + w * 1.92172163e-08f)))));
    const float den = 1.0f + w * (0.522931516f + w * (0.120799772f + w * (0.0155511219f + w * 0.00109804235f)));
    float e = x * num / den;
    e = mhim_select(e > 1.0f, 1.0f, mhim_select(e < -1.0f, -1.0f, e));
    return mhim_select(x >= 3.92f, 1.0f, mhim_select(x <= -3.92f, -1.0f, e));
}

/* Φ(x), the standard normal CDF, given g = mhim_fast_expf(−0.5f·x·x) (the caller usually needs g for φ as well).
 * erfc(z) = t·P(t)·e^(−z²) with z = |x|/√2, t = 1/(1 + z/2) and P of degree 8 in powers of t − 0.6 (relative error
 * 7e-8 on z ≤ 10.5; powers of t − 0.6 have smaller terms, so less rounding, than powers of t); Φ = erfc/2 below 0
 * (relative accuracy in the lower tail), 1 − erfc/2 from 0. */
MHIM_CLONE_INLINE float mhim_fast_normal_cdf(float x, float g) {
    const float t = 1.0f / (1.0f + 0x1.6a09e6p-2f * fabsf(x)); /* 1/(1 + |x|/(2√2)) */
    const float u = t - 0.6f;
    const float p =
        0.585224509f +
        u * (0.802588105f +
             u * (0.591471016f +
                  u * (0.0687364191f +
                       u * (-0.20779413f +
                            u * (-0.0389669314f + u * (0.112638205f + u * (0.00105485006f + u * -0.0591932982f)))))));
    const float half_erfc = 0.5f * t * p * g;
    return x < 0.0f ? half_erfc : 1.0f - half_erfc;
}

#endif
