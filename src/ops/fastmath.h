/* src/ops/fastmath.h — branch-free float exp, tanh, GELU and its derivative for the element-wise and row loops.
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
 *   mhim_fast_expf_nonpos (x ≤ 0, row softmax) ≤ 2.3 ulp where the result is a normal float; 0 where
 *                         e^x < 2^−126·2^(−1/2) and for −inf; 1 at 0; NaN propagated.
 *   mhim_fast_tanhf       ≤ 1.95 ulp (every 7th float); exactly ±1 for |x| ≥ 10; odd; NaN propagated.
 *   mhim_fast_gelu        ≤ 2.5e-7·max(1, |x|) absolute; exactly x above 5.1, 0 below −5.1; NaN propagated.
 *   mhim_fast_gelu_grad   GELU'(x) = Φ(x) + x·φ(x) within 3e-7 absolute; exactly 1 above 6.1, 0 below −6.1; NaN
 *                         propagated.
 * Coefficients: weighted minimax fits (Lawson iterations on Chebyshev nodes, in double, rounded to float). */
#ifndef MHIM_OPS_FASTMATH_H
#define MHIM_OPS_FASTMATH_H

#include <stdint.h>

#include "core/float_bits.h"
#include "ops/vecmath.h"

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

/* e^x without subnormal results, for sigmoid (whose output is below FLT_MIN wherever this differs from
 * mhim_fast_expf): x clamped to [−88, 89], one scaling by 2^n built directly from
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

/* e^x for x ≤ 0 (a logit minus its row maximum; −inf and NaN allowed), for the row softmax, whose probabilities
 * need less than the 1-ulp exponential. n = round(x·log2 e) by the rounding shift 1.5·2^23 + 127, so that the low
 * bits of k hold n + 127 and k's bits shifted left by 23 are 2^n (for n ≥ −127, i.e. x ≥ −88); r = x − n·ln 2 in two
 * steps as mhim_fast_expf; e^r = 1 + r·q(r) by one Horner polynomial of degree 5 (q fitted for minimax relative
 * error: 9.1e-8 on |r| ≤ ln2/2 in exact arithmetic). Below x = −88 (also −inf) the result is 0 by a select instead of
 * a clamp of x (one instruction less); NaN passes. Relative error ≤ 2.3 ulp where the result is a normal float
 * (baseline copy; 2.0 with FMA; test_fastmath); 0 where e^x < 2^−126·2^(−1/2) (n = −127, as
 * mhim_fast_expf_normal); exactly 1 at x = 0. */
MHIM_CLONE_INLINE float mhim_fast_expf_nonpos(float x) {
    const float round_shift = 0x1.8p23f + 127.0f;
    const float k = x * 0x1.715476p0f + round_shift; /* log2 e; the low mantissa bits of k hold n + 127 */
    const float n = k - round_shift;
    const float r = (x - n * 0x1.62e4p-1f) - n * 0x1.7f7d1cp-20f;
    const float p =
        1.0f +
        r * (0x1.fffff6p-1f + r * (0x1.fffdc6p-2f + r * (0x1.555a6ap-3f + r * (0x1.573a54p-5f + r * 0x1.0fa834p-7f))));
    const float e = p * mhim_bits_float(mhim_float_bits(k) << 23); /* p·2^n */
    return mhim_select(x < -88.0f, 0.0f, e);
}

/* tanh(x) = sign(x)·E/(E + 2) with E = e^(2|x|) − 1 ≥ 0 computed without cancellation: |x| clamped to 10 (tanh
 * rounds to 1 beyond; NaN passes), n = round(2|x|·log2 e), r = 2|x| − n·ln 2, E = 2^n·s + (2^n − 1) with
 * s = e^r − 1 (mhim_expm1_reduced): for n = 0, E = s exactly; otherwise 2^n·s and 2^n − 1 are exact and only their
 * sum rounds. Below |x| = TANH_SMALL the quotient is formed as E/2 − (E/2)·q (q = E/(E + 2)), so that q's rounding
 * is scaled down by q. The sign is copied from x: odd, tanh(±0) = ±0.
 * Evaluated in fewer instructions with the same bits: the reduction is carried out on r/2 = |x| − n·ln2/2 (every
 * step of mhim_expm1_reduced scaled by a power of 2, which is exact), s/2 = r/2 + (r/2)²·Q″(r/2) with Q″'s
 * coefficients those of mhim_expm1_reduced times 2^(k+1), E = 2^(n+1)·(s/2) + (2^n − 1); the rounding shift
 * 1.5·2^23 + 128 leaves n + 128 in k's low bits, so k's bits shifted left by 23 are 2^(n+1). Both quotients are formed
 * and one is picked by a bit blend (mhim_select): as a float `?:`, GCC vectorised the loop only for AVX-512 (masked
 * operations) and left the AVX2 and baseline copies scalar, 25× slower. */
#define TANH_SMALL 0.5f
MHIM_CLONE_INLINE float mhim_fast_tanhf(float x) {
    const float round_shift = 0x1.8p23f + 128.0f;
    const uint32_t sign = mhim_float_bits(x) & 0x80000000u;
    const float ax = mhim_bits_float(mhim_float_bits(x) & 0x7fffffffu);
    const float a = mhim_select(ax > 10.0f, 10.0f, ax);
    const float k = a * 0x1.715476p1f + round_shift; /* 2·log2 e */
    const float n = k - round_shift;                 /* in [0, 29] */
    const float half_r = (a - n * 0x1.62e4p-2f) - n * 0x1.7f7d1cp-21f;
    const float scale2 = mhim_bits_float(mhim_float_bits(k) << 23); /* 2^(n+1) */
    const float q2 =
        0x1.fffffcp-1f +
        half_r * (0x1.555492p-1f + half_r * (0x1.5558f2p-2f + half_r * (0x1.1239d4p-3f + half_r * 0x1.6a244cp-5f)));
    const float half_s = half_r + half_r * half_r * q2;
    const float e = scale2 * half_s + (0.5f * scale2 - 1.0f);
    const float q = e / (e + 2.0f);
    const float half_e = 0.5f * e;
    const float t = mhim_select(a < TANH_SMALL, half_e - half_e * q, q);
    return mhim_bits_float(mhim_float_bits(t) | sign);
}
#undef TANH_SMALL

/* GELU(x) = x·Φ(x) = (x + a·erf(a/√2))/2 with a = |x|: a rational erf(z) = z·P₀(z²)/Q₀(z²) (degrees 6 and 4, fitted
 * on |z| ≤ 4: absolute error 8e-8 in exact arithmetic) with the 1/√2 folded into the coefficients (erf(a/√2) =
 * a·P(a²)/Q(a²): P's are P₀'s times 2^−k/√2, Q's Q₀'s times 2^−k, each rounded to float once). Instead of clamping the
 * rational to [−1, 1] and saturating it (four selects), erf is set to exactly 1 from a > 5.1 (where it is within
 * 3.4e-7 of 1) and left as it is below, where it does not exceed 1 (test_fastmath checks that GELU is never positive
 * for x < 0 in every copy): GELU is exactly x above 5.1 and exactly 0 below −5.1 (NaN at −inf, as torch's formula);
 * NaN propagates. Error ≤ 2.5e-7·max(1, |x|) against the exact GELU (test_fastmath). */
MHIM_CLONE_INLINE float mhim_fast_gelu(float x) {
    const float a = mhim_bits_float(mhim_float_bits(x) & 0x7fffffffu);
    const float w = a * a;
    const float num =
        0.79788417f +
        w * (0.075641f +
             w * (0.009269024f +
                  w * (0.00037945728f + w * (6.873842e-06f + w * (-4.3980375e-08f + w * 2.1232224e-10f)))));
    const float den = 1.0f + w * (0.26146576f + w * (0.030199943f + w * (0.0019438902f + w * 6.862765e-05f)));
    const float e = a * num / den;
    return 0.5f * (x + a * mhim_select(a > 5.1f, 1.0f, e));
}

/* GELU'(x) = Φ(x) + x·φ(x) (the derivative of torch's exact GELU) as 1/2 + x·P(x²)/Q(x²): the odd part
 * erf(x/√2)/2 + x·φ(x) divided by x is an even function, fitted as a rational in w = x² (degrees 7 and 6, weighted
 * minimax on |x| ≤ 6.1 by tests/reference/fit_gelu_grad.py: absolute error 6.2e-9 in exact arithmetic, 1.4e-8
 * with the coefficients rounded to float; Q ≥ 1 there). From |x| > 6.1, where x·φ(x) < 2.1e-8, the result is
 * exactly 1 (x > 0) or 0 (x < 0), also at ±inf; NaN propagates. One division and no exponential. Absolute error
 * ≤ 3e-7 (test_fastmath; 2.8e-7 measured in the baseline copy, 2.4e-7 with FMA, from rounding where x·P/Q is near
 * 1/2: the result's spacing near 1 is 1.2e-7; torch 2.15's float GELU backward is 3.0e-7 from the exact
 * derivative). */
#define GELU_GRAD_CUT 6.1f
MHIM_CLONE_INLINE float mhim_fast_gelu_grad(float x) {
    const float w = x * x;
    const float p =
        0x1.988452p-1f +
        w * (-0x1.f45f6cp-7f +
             w * (0x1.b90778p-7f +
                  w * (0x1.5fadecp-12f +
                       w * (0x1.0c8b9ep-15f + w * (0x1.51336ep-20f + w * (0x1.de8c18p-27f + w * -0x1.04b4f6p-35f))))));
    const float q =
        1.0f +
        w * (0x1.41bc2ep-2f +
             w * (0x1.7dc2fap-5f +
                  w * (0x1.1949cep-8f + w * (0x1.1c42ecp-12f + w * (0x1.80896ap-17f + w * 0x1.addef6p-22f)))));
    const float odd = x * (p / q);
    const float sign_half = mhim_bits_float((mhim_float_bits(x) & 0x80000000u) | 0x3f000000u); /* ±1/2 */
    const float a = mhim_bits_float(mhim_float_bits(x) & 0x7fffffffu);
    return 0.5f + mhim_select(a > GELU_GRAD_CUT, sign_half, odd);
}
#undef GELU_GRAD_CUT

#endif
