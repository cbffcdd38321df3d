/* fp16 <-> fp32 conversion (see mhim/half.h): portable bit arithmetic plus an F16C fast path; bf16 <-> fp32. */
#include "mhim/half.h"

#include <stdatomic.h>

#include "core/float_bits.h"

float mhim_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0x1f) /* inf, or NaN made quiet with its payload kept (as the F16C instruction does) */
        return mhim_bits_float(sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0u));
    if (exponent == 0) /* zero or subnormal: mantissa * 2^-24, exact in fp32 */
        return mhim_bits_float(sign | mhim_float_bits((float)mantissa * 0x1p-24f));
    return mhim_bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

float mhim_bf16_to_float(uint16_t b) { return mhim_bits_float((uint32_t)b << 16); }

uint16_t mhim_float_to_bf16(float f) {
    const uint32_t x = mhim_float_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* NaN: quiet, payload top kept */
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

uint16_t mhim_float_to_half(float f) {
    uint32_t x = mhim_float_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu)); /* quiet NaN */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 (and inf) -> inf */
    if (ax >= 0x38800000u) { /* normal fp16 range, |f| >= 2^-14: round the 13 dropped bits to even */
        uint32_t rounded = ax + 0xfffu + ((ax >> 13) & 1u);
        return (uint16_t)(sign | ((rounded - 0x38000000u) >> 13));
    }
    /* |f| < 2^-14: adding 0.5 (whose ulp is 2^-24) rounds |f| to a multiple of 2^-24, ties to even;
     * the count of those steps is the fp16 subnormal (1024 = the smallest normal, also correct). */
    float rounded = mhim_bits_float(ax) + 0.5f;
    return (uint16_t)(sign | (mhim_float_bits(rounded) - mhim_float_bits(0.5f)));
}

static void half_to_float_portable(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = mhim_half_to_float(src[i]);
}

static void float_to_half_portable(const float *src, uint16_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = mhim_float_to_half(src[i]);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__((target("avx,f16c"))) static void half_to_float_f16c(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(src + i))));
    half_to_float_portable(src + i, dst + i, n - i);
}

__attribute__((target("avx,f16c"))) static void float_to_half_f16c(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    float_to_half_portable(src + i, dst + i, n - i);
}

static int have_f16c(void) {
    static atomic_int cached = -1; /* -1: not probed yet; every thread probes the same answer */
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v < 0) {
        v = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}

void mhim_half_to_float_array(const uint16_t *src, float *dst, int64_t n) {
    if (have_f16c())
        half_to_float_f16c(src, dst, n);
    else
        half_to_float_portable(src, dst, n);
}

void mhim_float_to_half_array(const float *src, uint16_t *dst, int64_t n) {
    if (have_f16c())
        float_to_half_f16c(src, dst, n);
    else
        float_to_half_portable(src, dst, n);
}
#else
void mhim_half_to_float_array(const uint16_t *src, float *dst, int64_t n) { half_to_float_portable(src, dst, n); }

void mhim_float_to_half_array(const float *src, uint16_t *dst, int64_t n) { float_to_half_portable(src, dst, n); }
#endif
