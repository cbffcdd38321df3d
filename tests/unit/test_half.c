/* fp16 <-> fp32: exhaustive fp16 -> fp32 against a double-precision formula, round trips, fp32 -> fp16
 * against a brute-force nearest-even reference at every rounding boundary and on random bit patterns,
 * and the array (SIMD) forms against the scalar forms; bf16 <-> fp32 likewise (test_bf16). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/float_bits.h"
#include "mhim/common.h"
#include "mhim/half.h"

static double half_value_reference(uint16_t h) {
    int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    double v = exponent == 0 ? ldexp(mantissa, -24) : ldexp(1024 + mantissa, exponent - 25);
    if (exponent == 31) v = mantissa ? NAN : INFINITY;
    return sign ? -v : v;
}

/* Nearest fp16 to x by bisection over the ordered positive finite fp16 values; ties go to the even
 * mantissa; |x| >= 65520 (half an ulp above the largest finite 65504) -> inf. */
static uint16_t float_to_half_reference(float x) {
    if (isnan(x)) return 0x7e00;
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    double a = fabs((double)x);
    if (a >= 65520.0) return sign | 0x7c00;
    uint16_t lo = 0, hi = 0x7bff; /* find the largest h with value(h) <= a */
    while (lo < hi) {
        uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
        if (half_value_reference(mid) <= a) lo = mid; else hi = (uint16_t)(mid - 1);
    }
    if (lo == 0x7bff) return sign | lo;
    double below = a - half_value_reference(lo), above = half_value_reference((uint16_t)(lo + 1)) - a;
    uint16_t pick = below < above ? lo : above < below ? (uint16_t)(lo + 1) : ((lo & 1) ? (uint16_t)(lo + 1) : lo);
    return sign | pick;
}

static int same_half(uint16_t got, uint16_t want) {
    int got_nan = (got & 0x7c00) == 0x7c00 && (got & 0x3ff), want_nan = (want & 0x7c00) == 0x7c00 && (want & 0x3ff);
    return got_nan || want_nan ? got_nan && want_nan : got == want;
}

static int test_half_to_float_exhaustive(void) {
    int64_t bad = 0, first = -1;
    for (uint32_t h = 0; h < 65536; h++) {
        float got = mhim_half_to_float((uint16_t)h);
        double want = half_value_reference((uint16_t)h);
        int ok = isnan(want) ? isnan(got) : ((double)got == want && !signbit(got) == !signbit(want));
        if (!ok && bad++ == 0) first = h;
    }
    if (bad) printf("  first mismatch at 0x%04llx\n", (long long)first);
    return check_true("fp16->fp32 exact for all 65536 patterns (compared with ldexp formula)", bad == 0);
}

static int test_round_trip(void) {
    int64_t bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t back = mhim_float_to_half(mhim_half_to_float((uint16_t)h));
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan ? !same_half(back, 0x7e00) || (back & 0x8000) != (h & 0x8000) : back != h) bad++;
    }
    printf("  round-trip mismatches: %lld\n", (long long)bad);
    return check_true("fp16 -> fp32 -> fp16 is the identity (NaN stays NaN with its sign)", bad == 0);
}

static int compare_against_reference(const char *name, const float *xs, int64_t n) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint16_t got = mhim_float_to_half(xs[i]), want = float_to_half_reference(xs[i]);
        if (!same_half(got, want) && bad++ < 3)
            printf("  %s: x=%a (0x%08x) got 0x%04x want 0x%04x\n", name, (double)xs[i], mhim_float_bits(xs[i]), got, want);
    }
    printf("  %s: %lld values, %lld mismatches\n", name, (long long)n, (long long)bad);
    return check_true(name, bad == 0);
}

/* Every positive finite fp16 value, the exact midpoints to its successor and their float neighbours. */
static int test_rounding_boundaries(void) {
    int64_t cap = 0x7c00 * 5 * 2, n = 0;
    float *xs = mhim_malloc((size_t)cap * sizeof *xs);
    for (uint16_t h = 0; h < 0x7c00; h++) {
        float v = mhim_half_to_float(h);
        float mid = (float)((half_value_reference(h) + half_value_reference((uint16_t)(h + 1))) / 2);
        float cand[5] = {v, mid, nextafterf(mid, 0.0f), nextafterf(mid, INFINITY), nextafterf(v, INFINITY)};
        for (int k = 0; k < 5; k++) {
            xs[n++] = cand[k];
            xs[n++] = -cand[k];
        }
    }
    int fails = compare_against_reference("fp32->fp16 at all rounding boundaries (nearest even)", xs, n);
    free(xs);
    return fails;
}

static int test_random_and_special(void) {
    enum { n_random = 300000 };
    float *xs = mhim_malloc((n_random + 16) * sizeof *xs);
    test_rng r = {12345};
    int64_t n = 0;
    for (int i = 0; i < n_random; i++) { /* random bit patterns, and random values in the fp16 range */
        uint32_t u = (uint32_t)(test_uniform(&r, 0.0f, 1.0f) * 4294967040.0f) ^ (uint32_t)(i * 2654435761u);
        xs[n++] = i % 2 ? mhim_bits_float(u) : ldexpf(test_uniform(&r, -1.0f, 1.0f), (int)test_uniform(&r, -30.0f, 17.0f));
    }
    float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 65504.0f, 65519.99f, 65520.0f, -65520.0f,
                        0x1p-24f, 0x1p-25f, 0x1.000002p-25f, 0x1p-26f, 0x1p-14f, 0x1.ffcp-15f, 1e-45f};
    for (size_t k = 0; k < MHIM_ARRAY_LEN(specials); k++) xs[n++] = specials[k];
    int fails = compare_against_reference("fp32->fp16 on random bit patterns and special values", xs, n);
    free(xs);
    return fails;
}

static int test_arrays_match_scalar(void) {
    int fails = 0;
    enum { n = 65536 + 5 }; /* not a multiple of the vector width */
    uint16_t *h = mhim_malloc(n * sizeof *h), *h2 = mhim_malloc(n * sizeof *h2);
    float *f = mhim_malloc(n * sizeof *f);
    for (int i = 0; i < n; i++) h[i] = (uint16_t)(i * 7919u);
    mhim_half_to_float_array(h, f, n);
    int64_t bad = 0;
    for (int i = 0; i < n; i++) bad += mhim_float_bits(f[i]) != mhim_float_bits(mhim_half_to_float(h[i]));
    printf("  fp16->fp32 array vs scalar: %lld bit mismatches\n", (long long)bad);
    fails += check_true("fp16->fp32 array form bit-identical to scalar", bad == 0);

    test_rng r = {99};
    for (int i = 0; i < n; i++) f[i] = i % 3 ? ldexpf(test_uniform(&r, -2.0f, 2.0f), i % 41 - 26) : mhim_bits_float(i * 2654435761u);
    mhim_float_to_half_array(f, h2, n);
    bad = 0;
    for (int i = 0; i < n; i++) bad += h2[i] != mhim_float_to_half(f[i]);
    printf("  fp32->fp16 array vs scalar: %lld bit mismatches\n", (long long)bad);
    fails += check_true("fp32->fp16 array form bit-identical to scalar", bad == 0);
    free(h);
    free(h2);
    free(f);
    return fails;
}

/* bf16: widening is the top half of an fp32; narrowing against the nearer of the two bf16 neighbours in double (ties
 * to the even one; the value past the largest finite counts as 2^128, so overflow rounds to inf as IEEE does) on every
 * bf16 pattern, every rounding boundary next to it and random bit patterns; NaN stays a quiet NaN with its sign. */
static uint16_t float_to_bf16_reference(float x) {
    const uint32_t bits = mhim_float_bits(x);
    const uint16_t lo = (uint16_t)(bits >> 16), hi = (uint16_t)(lo + 1);
    const double a = fabs((double)x), v_lo = fabs((double)mhim_bf16_to_float(lo));
    const double v_hi = (hi & 0x7fff) == 0x7f80 ? 0x1p128 : fabs((double)mhim_bf16_to_float(hi));
    const double below = a - v_lo, above = v_hi - a;
    return below < above ? lo : above < below ? hi : (lo & 1) ? hi : lo;
}

static int test_bf16(void) {
    int64_t bad = 0, checked = 0;
    for (uint32_t b = 0; b < 65536; b++) {
        const float v = mhim_bf16_to_float((uint16_t)b);
        bad += mhim_float_bits(v) != b << 16;
        if (isnan(v)) {
            const uint16_t back = mhim_float_to_bf16(v);
            bad += (back & 0x7f80) != 0x7f80 || !(back & 0x40) || (back & 0x8000) != (b & 0x8000);
            continue;
        }
        bad += mhim_float_to_bf16(v) != b;
        for (uint32_t low = 0x7fff; low <= 0x8001; low++) { /* just below, at and above the halfway point */
            const float x = mhim_bits_float(b << 16 | low);
            if (isnan(x)) continue;
            bad += mhim_float_to_bf16(x) != float_to_bf16_reference(x), checked++;
        }
    }
    test_rng r = {7};
    for (int i = 0; i < 1000000; i++) {
        const float x = mhim_bits_float((uint32_t)(test_uniform(&r, 0, 1) * 65536.0f) << 16 |
                                        (uint32_t)(test_uniform(&r, 0, 1) * 65536.0f));
        if (isnan(x)) continue;
        bad += mhim_float_to_bf16(x) != float_to_bf16_reference(x), checked++;
    }
    printf("  bf16: %lld mismatches (65536 patterns, %lld rounded values)\n", (long long)bad, (long long)checked);
    int fails = check_true("bf16 widening exact, narrowing nearest-even, NaN quiet", bad == 0);
    fails += check_true("bf16 overflow rounds to inf", mhim_float_to_bf16(mhim_bits_float(0x7f7f8000u)) == 0x7f80 &&
                                                       mhim_float_to_bf16(mhim_bits_float(0x7f7f7fffu)) == 0x7f7f);
    return fails;
}

int main(void) {
    int fails = 0;
    fails += test_bf16();
    fails += test_half_to_float_exhaustive();
    fails += test_round_trip();
    fails += test_rounding_boundaries();
    fails += test_random_and_special();
    fails += test_arrays_match_scalar();
    return fails != 0;
}
