/* src/ops/fastmath.h against double-precision libm, in every ISA copy the
 * library may run (baseline; with FMA contraction: x86-64-v3 and x86-64-v4
 * where this CPU has them): mhim_fast_expf in ulp over [−87.33, 88.72] and on
 * the subnormal, overflow and NaN edges; mhim_fast_gelu_grad (GELU'(x) = Φ(x) + x·φ(x), absolute error) over
 * [−10, 10]; mhim_fast_gelu
 * (error / max(1, |x|) over [−10, 10], never positive below 0, saturation); mhim_fast_tanhf in ulp
 * over [−12, 12] (and its edges, oddness); scalar and vector code
 * of each copy bitwise equal; mhim_fast_expf_normal (ulp, flush and overflow edges); mhim_fast_expf_nonpos (ulp over
 * [−87.33, 0], flush, 1 at 0); and the library's gelu forward/backward, sigmoid, tanh
 * and row softmax against double references. Every STRIDE-th float bit pattern
 * is checked (argv[1], default 97; 1 = all). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/ops/act.h"
#include "mhim/ops/softmax.h"
#include "ops/fastmath.h"

/* Bounds the tests enforce, with a margin over the maxima measured on every 7th float (docs/numerics.md). */
#define EXP_MAX_ULP 1.5
#define GELU_GRAD_MAX_ABS 3e-7 /* torch 2.15's float GELU backward: 3.0e-7 */
#define TANH_MAX_ULP 2.5
#define GELU_MAX_ERR 2.5e-7 /* |gelu error| / max(1, |x|) */
#define EXP_NONPOS_MAX_ULP 2.5
#define SOFTMAX_MAX_REL 0x1p-20 /* row softmax probabilities, relative, where normal */
#define BATCH 65536

/* Distance of got from the exact value want in units of the float spacing at
 * want (subnormal spacing below FLT_MIN). */
static double ulp_error(float got, double want) {
    double a = fabs(want);
    int e;
    frexp(a < FLT_MIN ? FLT_MIN : a, &e);
    return fabs((double)got - want) / ldexp(1.0, e - 24);
}

/* out[4i] = e^x[i], out[4i+1] = GELU'(x[i]), out[4i+2] = GELU(x[i]), out[4i+3] = tanh(x[i]): one loop per
 * ISA copy, compiled as the library compiles its copies. */
typedef void (*fastmath_loop)(float *out, const float *x, int64_t n);
#define FASTMATH_LOOP(name, attr)                                                                                      \
    attr static void name(float *out, const float *x, int64_t n) {                                                     \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                                                          \
            out[4 * i] = mhim_fast_expf(x[i]);                                                                         \
            out[4 * i + 1] = mhim_fast_gelu_grad(x[i]);                                                                \
            out[4 * i + 2] = mhim_fast_gelu(x[i]);                                                                     \
            out[4 * i + 3] = mhim_fast_tanhf(x[i]);                                                                    \
        }                                                                                                              \
    }
FASTMATH_LOOP(loop_baseline, )
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
FASTMATH_LOOP(loop_v3, __attribute__((target("arch=x86-64-v3"), optimize("fp-contract=fast"))))
FASTMATH_LOOP(loop_v4, __attribute__((target("arch=x86-64-v4"), optimize("fp-contract=fast"))))
#endif

/* out[i] = f(x[i]) for f = mhim_fast_expf_normal and mhim_fast_expf_nonpos, one loop per ISA copy. */
#define EXPN_LOOP(name, f, attr)                                                                                       \
    attr static void name(float *out, const float *x, int64_t n) {                                                     \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) out[i] = f(x[i]);                                          \
    }
EXPN_LOOP(expn_baseline, mhim_fast_expf_normal, )
EXPN_LOOP(expnp_baseline, mhim_fast_expf_nonpos, )
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
EXPN_LOOP(expn_v3, mhim_fast_expf_normal, __attribute__((target("arch=x86-64-v3"), optimize("fp-contract=fast"))))
EXPN_LOOP(expn_v4, mhim_fast_expf_normal, __attribute__((target("arch=x86-64-v4"), optimize("fp-contract=fast"))))
EXPN_LOOP(expnp_v3, mhim_fast_expf_nonpos, __attribute__((target("arch=x86-64-v3"), optimize("fp-contract=fast"))))
EXPN_LOOP(expnp_v4, mhim_fast_expf_nonpos, __attribute__((target("arch=x86-64-v4"), optimize("fp-contract=fast"))))
#endif

typedef struct {
    double worst;
    float worst_x;
    long long count;
} stat;

static void stat_add(stat *s, double err, float x) {
    if (err > s->worst) s->worst = err, s->worst_x = x;
    s->count++;
}

/* The exact GELU x·Φ(x) and its derivative Φ(x) + x·φ(x) in double. */
static double gelu_exact(double x) { return x * 0.5 * erfc(-x / sqrt(2.0)); }
static double gelu_grad_exact(double x) {
    return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
}

/* Every stride-th float bit pattern in [lo, hi] (lo < 0 < hi), negative
 * magnitudes first, through loop in batches: e^x in ulp (normal results), GELU' absolute, GELU error / max(1, |x|)
 * and its positive results below 0, tanh in ulp. */
static void sweep(fastmath_loop loop, float lo, float hi, uint32_t stride, stat *exp_ulp, stat *grad_abs,
                  stat *gelu_err, long long *gelu_positive, stat *tanh_ulp) {
    float *x = mhim_malloc(BATCH * sizeof *x), *out = mhim_malloc(4 * BATCH * sizeof *out);
    uint32_t bits = 0;
    int negative = 1;
    for (;;) {
        int n = 0;
        while (n < BATCH) {
            float v = negative ? -mhim_bits_float(bits) : mhim_bits_float(bits);
            if (negative && bits > mhim_float_bits(-lo)) {
                negative = 0, bits = 0;
                continue;
            }
            if (!negative && bits > mhim_float_bits(hi)) break;
            bits += stride;
            if (v >= lo && v <= hi) x[n++] = v;
        }
        if (n == 0) break;
        loop(out, x, n);
        for (int i = 0; i < n; i++) {
            double e = exp((double)x[i]);
            if (e >= FLT_MIN && e <= FLT_MAX) stat_add(exp_ulp, ulp_error(out[4 * i], e), x[i]);
            stat_add(grad_abs, fabs((double)out[4 * i + 1] - gelu_grad_exact(x[i])), x[i]);
            stat_add(gelu_err, fabs((double)out[4 * i + 2] - gelu_exact(x[i])) / fmax(1.0, fabs((double)x[i])), x[i]);
            *gelu_positive += x[i] < 0.0f && out[4 * i + 2] > 0.0f;
            stat_add(tanh_ulp, ulp_error(out[4 * i + 3], tanh((double)x[i])), x[i]);
        }
        if (n < BATCH) break;
    }
    free(x), free(out);
}

static int test_copy(const char *name, fastmath_loop loop, uint32_t stride) {
    stat e = {0}, grad_abs = {0}, gelu_err = {0}, tanh_ulp = {0}, unused = {0};
    long long gelu_positive = 0, unused_count = 0;
    sweep(loop, -87.33f, 88.72f, stride, &e, &unused, &unused, &unused_count, &unused);
    sweep(loop, -10.0f, 10.0f, stride, &unused, &grad_abs, &gelu_err, &gelu_positive, &unused);
    sweep(loop, -12.0f, 12.0f, stride, &unused, &unused, &unused, &unused_count, &tanh_ulp);
    printf("%s: expf over %lld inputs in [-87.33, 88.72]: max %.3f ulp at x = "
           "%.9g (bound %.1f)\n",
           name, e.count, e.worst, e.worst_x, EXP_MAX_ULP);
    printf("%s: gelu' over %lld inputs in [-10, 10]: max abs error %.3g at x = %.9g (bound %.1e)\n", name,
           grad_abs.count, grad_abs.worst, grad_abs.worst_x, GELU_GRAD_MAX_ABS);
    printf("%s: gelu over %lld inputs in [-10, 10]: max |error|/max(1,|x|) %.3g at x = %.9g (bound %.1e); %lld "
           "positive results below 0\n",
           name, gelu_err.count, gelu_err.worst, gelu_err.worst_x, GELU_MAX_ERR, gelu_positive);
    printf("%s: tanhf over %lld inputs in [-12, 12]: max %.3f ulp at x = %.9g (bound %.1f)\n", name, tanh_ulp.count,
           tanh_ulp.worst, tanh_ulp.worst_x, TANH_MAX_ULP);
    int fails = check_true("expf max ulp", e.worst <= EXP_MAX_ULP);
    fails += check_true("tanhf max ulp", tanh_ulp.worst <= TANH_MAX_ULP);
    fails += check_true("gelu derivative max abs error", grad_abs.worst <= GELU_GRAD_MAX_ABS);
    fails += check_true("gelu max error", gelu_err.worst <= GELU_MAX_ERR);
    fails += check_true("gelu never positive below 0", gelu_positive == 0);

    /* edges, and the scalar code (n = 1) against the vector loop, bit for bit */
    const float edge[] = {NAN,    INFINITY, -INFINITY, 0.0f,     -0.0f, 88.72f, 88.73f,
                          -87.5f, -103.9f,  -104.0f,   -1000.0f, 5.11f, -5.11f, 1e30f};
    const int64_t n = 20011;
    float *x = mhim_malloc((size_t)n * sizeof *x), *ref = mhim_malloc((size_t)(4 * n) * sizeof *ref), one[4];
    test_rng r = {7};
    test_fill_uniform(&r, x, n, -110.0f, 110.0f);
    for (size_t i = 0; i < MHIM_ARRAY_LEN(edge); i++) x[i] = edge[i];
    loop(ref, x, n);
    const float *nan_ = ref, *pinf = ref + 4, *ninf = ref + 8, *zero = ref + 12, *mzero = ref + 16;
    fails += check_true("NaN in: NaN out", isnan(nan_[0]) && isnan(nan_[1]) && isnan(nan_[2]) && isnan(nan_[3]));
    fails += check_true("+inf: expf +inf, gelu' 1, gelu +inf, tanh 1",
                        pinf[0] == INFINITY && pinf[1] == 1.0f && pinf[2] == INFINITY && pinf[3] == 1.0f);
    fails += check_true("-inf: expf 0, gelu' 0, gelu NaN (as torch's formula), tanh -1",
                        ninf[0] == 0.0f && ninf[1] == 0.0f && isnan(ninf[2]) && ninf[3] == -1.0f);
    fails += check_true("0: expf 1, gelu' 0.5, gelu 0, tanh 0",
                        zero[0] == 1.0f && zero[1] == 0.5f && zero[2] == 0.0f && zero[3] == 0.0f && !signbit(zero[3]));
    fails += check_true("-0: gelu 0, tanh -0", mzero[2] == 0.0f && mzero[3] == 0.0f && signbit(mzero[3]));
    fails += check_true("expf(88.72) finite, expf(88.73) = +inf", isfinite(ref[20]) && ref[24] == INFINITY);
    fails += check_true("expf(-87.5), expf(-103.9) subnormal and within one spacing",
                        ref[28] > 0 && ref[28] < FLT_MIN && fabs(ref[28] - exp(-87.5)) <= ldexp(1.0, -149) &&
                            ref[32] > 0 && fabs(ref[32] - exp((double)-103.9f)) <= ldexp(1.0, -149));
    fails += check_true("expf(-104) = expf(-1000) = 0", ref[36] == 0.0f && ref[40] == 0.0f);
    fails += check_true("gelu(5.11) = 5.11, gelu(-5.11) = 0, gelu(1e30) = 1e30",
                        ref[46] == 5.11f && ref[50] == 0.0f && ref[54] == 1e30f);
    fails += check_true("tanh(-1000) = -1, tanh(1e30) = 1", ref[43] == -1.0f && ref[55] == 1.0f);
    float *neg = mhim_malloc((size_t)n * sizeof *neg), *ref_neg = mhim_malloc((size_t)(4 * n) * sizeof *ref_neg);
    for (int64_t i = 0; i < n; i++) neg[i] = -x[i];
    loop(ref_neg, neg, n);
    int64_t odd = 0;
    for (int64_t i = 0; i < n; i++)
        odd += !isnan(x[i]) && mhim_float_bits(ref_neg[4 * i + 3]) != (mhim_float_bits(ref[4 * i + 3]) ^ 0x80000000u);
    free(neg), free(ref_neg);
    fails += check_true("tanh odd, bit for bit", odd == 0);
    int64_t diff = 0;
    for (int64_t i = 0; i < n; i++) {
        loop(one, x + i, 1);
        for (int k = 0; k < 4; k++) diff += mhim_float_bits(one[k]) != mhim_float_bits(ref[4 * i + k]);
    }
    printf("%s: scalar vs vector code: %lld of %lld values differ\n", name, (long long)diff, (long long)(4 * n));
    fails += check_true("scalar vs vector code bitwise", diff == 0);
    free(x), free(ref);
    return fails;
}

/* Runs one ISA copy's exponential loop over x[0..m) into y, prints the largest ulp error against double exp and how
 * many results change their bits when the same input goes through the loop alone (scalar code), and checks both:
 * the error within bound_ulp, no bit differences. `what` names the function and its input range. Returns failures. */
static int scan_exp(const char *name, const char *what, fastmath_loop loop, const float *x, float *y, int64_t m,
                    double bound_ulp) {
    loop(y, x, m);
    stat e = {0};
    int64_t diff = 0;
    for (int64_t i = 0; i < m; i++) {
        float one;
        stat_add(&e, ulp_error(y[i], exp((double)x[i])), x[i]);
        loop(&one, x + i, 1);
        diff += mhim_float_bits(one) != mhim_float_bits(y[i]);
    }
    printf("%s: %s over %lld inputs: max %.3f ulp at x = %.9g (bound %.1f); scalar vs vector: %lld differ\n", name,
           what, e.count, e.worst, e.worst_x, bound_ulp, (long long)diff);
    int fails = check_true("max ulp within the bound", e.worst <= bound_ulp);
    return fails + check_true("scalar vs vector code bitwise", diff == 0);
}

/* mhim_fast_expf_normal in one ISA copy: ulp error over every stride-th float of [−87.33, 88.3] (normal results),
 * flush to 0 and early overflow at the documented edges, NaN, and scalar = vector bits. */
static int test_expf_normal(const char *name, fastmath_loop loop, uint32_t stride) {
    const int64_t n = 2 * (int64_t)(0x43000000u / stride) + 16; /* ± magnitudes up to 128 */
    float *x = mhim_malloc((size_t)n * sizeof *x), *y = mhim_malloc((size_t)n * sizeof *y);
    int64_t m = 0;
    for (uint32_t bits = 0; bits < 0x43000000u; bits += stride) {
        const float v = mhim_bits_float(bits);
        if (v <= 87.33f) x[m++] = -v;
        if (v <= 88.3f) x[m++] = v;
    }
    int fails = scan_exp(name, "expf_normal in [-87.33, 88.3]", loop, x, y, m, EXP_MAX_ULP);
    const float edge[] = {-88.0f, -1000.0f, -INFINITY, 88.4f, INFINITY, NAN, -87.3f};
    float out[7];
    loop(out, edge, 7);
    fails += check_true("expf_normal: 0 at -88, -1000, -inf; +inf at 88.4, +inf; NaN; normal at -87.3",
                        out[0] == 0.0f && out[1] == 0.0f && out[2] == 0.0f && out[3] == INFINITY &&
                            out[4] == INFINITY && isnan(out[5]) && out[6] >= FLT_MIN);
    free(x), free(y);
    return fails;
}

/* mhim_fast_expf_nonpos in one ISA copy: ulp error over every stride-th float of [−87.33, 0] (normal results), 1 at
 * ±0, the flush to 0 at −88, −1000 and −inf, NaN, and scalar = vector bits. */
static int test_expf_nonpos(const char *name, fastmath_loop loop, uint32_t stride) {
    const int64_t n = (int64_t)(0x42b00000u / stride) + 1; /* magnitudes up to 88 */
    float *x = mhim_malloc((size_t)n * sizeof *x), *y = mhim_malloc((size_t)n * sizeof *y);
    int64_t m = 0;
    for (uint32_t bits = 0; bits < 0x42b00000u; bits += stride)
        if (mhim_bits_float(bits) <= 87.33f) x[m++] = -mhim_bits_float(bits);
    int fails = scan_exp(name, "expf_nonpos in [-87.33, 0]", loop, x, y, m, EXP_NONPOS_MAX_ULP);
    const float edge[] = {0.0f, -0.0f, -88.0f, -1000.0f, -INFINITY, NAN, -87.3f};
    float out[7];
    loop(out, edge, 7);
    fails += check_true("expf_nonpos: 1 at 0 and -0; 0 at -88, -1000, -inf; NaN; normal at -87.3",
                        out[0] == 1.0f && out[1] == 1.0f && out[2] == 0.0f && out[3] == 0.0f && out[4] == 0.0f &&
                            isnan(out[5]) && out[6] >= FLT_MIN);
    free(x), free(y);
    return fails;
}

/* The library's ops (whatever ISA copy this CPU selects) against double
 * references, on a dense grid. */
static int test_ops(void) {
    const int64_t n = 200000;
    float *x = mhim_malloc((size_t)n * sizeof *x), *y = mhim_malloc((size_t)n * sizeof *y);
    float *ones = mhim_malloc((size_t)n * sizeof *ones);
    for (int64_t i = 0; i < n; i++) x[i] = -20.0f + 40.0f * (float)i / (float)n, ones[i] = 1.0f;
    mhim_gelu_forward(y, x, n);
    double worst_f = 0, worst_b = 0, worst_s = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i], want = v * 0.5 * erfc(-v / sqrt(2.0));
        worst_f = fmax(worst_f, fabs(y[i] - want) / fmax(1.0, fabs(v)));
    }
    mhim_gelu_backward(y, ones, x, n);
    for (int64_t i = 0; i < n; i++) {
        double v = x[i], want = 0.5 * erfc(-v / sqrt(2.0)) + v * exp(-0.5 * v * v) / sqrt(2.0 * M_PI);
        worst_b = fmax(worst_b, fabs(y[i] - want));
    }
    const float tails[] = {-1e30f, -100.0f, -5.6f, 5.6f, 100.0f, 1e30f};
    float tails_out[6];
    mhim_gelu_forward(tails_out, tails, 6);
    printf("gelu tails: gelu(-1e30) = %g, gelu(-100) = %g, gelu(-5.6) = %g, gelu(5.6) = %.9g, gelu(100) = %.9g, "
           "gelu(1e30) = %g\n",
           tails_out[0], tails_out[1], tails_out[2], tails_out[3], tails_out[4], tails_out[5]);
    int fails = check_true("gelu saturates exactly: 0 below -5.55, x above 5.55",
                           tails_out[0] == 0.0f && tails_out[1] == 0.0f && tails_out[2] == 0.0f &&
                               tails_out[3] == 5.6f && tails_out[4] == 100.0f && tails_out[5] == 1e30f);
    mhim_sigmoid_forward(y, x, n);
    for (int64_t i = 0; i < n; i++) worst_s = fmax(worst_s, ulp_error(y[i], 1.0 / (1.0 + exp(-(double)x[i]))));
    double worst_t = 0;
    mhim_tanh_forward(y, x, n);
    for (int64_t i = 0; i < n; i++) worst_t = fmax(worst_t, ulp_error(y[i], tanh((double)x[i])));
    printf("tanh: max %.2f ulp (x in [-20, 20))\n", worst_t);
    fails += check_true("tanh error", worst_t <= TANH_MAX_ULP);
    printf("gelu fwd: max |err|/max(1,|x|) %.3g (bound %.1e); gelu bwd: max abs "
           "err %.3g; sigmoid: max %.2f ulp "
           "(x in [-20, 20))\n",
           worst_f, GELU_MAX_ERR, worst_b, worst_s);
    fails += check_true("gelu forward error", worst_f <= GELU_MAX_ERR);
    fails += check_true("gelu backward error", worst_b <= GELU_GRAD_MAX_ABS);
    fails += check_true("sigmoid error", worst_s <= 3.0);
    /* one softmax row over logits spanning 200: probabilities within SOFTMAX_MAX_REL relative where normal */
    const int64_t len = 4099;
    for (int64_t i = 0; i < len; i++) x[i] = -150.0f + 200.0f * (float)((i * 2654435761u) % len) / (float)len;
    mhim_softmax_rows_forward(y, x, NULL, 1, len);
    float max = -INFINITY;
    for (int64_t i = 0; i < len; i++) max = x[i] > max ? x[i] : max;
    double sum = 0, worst_p = 0, worst_rel = 0;
    for (int64_t i = 0; i < len; i++) sum += exp((double)x[i] - max);
    for (int64_t i = 0; i < len; i++) {
        double want = exp((double)x[i] - max) / sum;
        if (want >= FLT_MIN) {
            worst_p = fmax(worst_p, ulp_error(y[i], want));
            worst_rel = fmax(worst_rel, fabs(y[i] - want) / want);
        }
    }
    printf("softmax row (logits over 200): max %.2f ulp, relative %.3g where normal (bound %.3g)\n", worst_p,
           worst_rel, SOFTMAX_MAX_REL);
    fails += check_true("softmax row error", worst_rel <= SOFTMAX_MAX_REL);
    free(x), free(y), free(ones);
    return fails;
}

int main(int argc, char **argv) {
    uint32_t stride = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 97;
    if (stride < 1) stride = 1;
    int fails = test_copy("baseline", loop_baseline, stride);
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    if (__builtin_cpu_supports("x86-64-v3")) fails += test_copy("x86-64-v3", loop_v3, stride);
    if (__builtin_cpu_supports("x86-64-v4")) fails += test_copy("x86-64-v4", loop_v4, stride);
#endif
    fails += test_expf_normal("baseline", expn_baseline, stride);
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    if (__builtin_cpu_supports("x86-64-v3")) fails += test_expf_normal("x86-64-v3", expn_v3, stride);
    if (__builtin_cpu_supports("x86-64-v4")) fails += test_expf_normal("x86-64-v4", expn_v4, stride);
#endif
    fails += test_expf_nonpos("baseline", expnp_baseline, stride);
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    if (__builtin_cpu_supports("x86-64-v3")) fails += test_expf_nonpos("x86-64-v3", expnp_v3, stride);
    if (__builtin_cpu_supports("x86-64-v4")) fails += test_expf_nonpos("x86-64-v4", expnp_v4, stride);
#endif
    fails += test_ops();
    printf("%s\n", fails ? "FAIL" : "OK");
    return fails != 0;
}
