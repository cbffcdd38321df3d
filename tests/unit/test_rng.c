/* Philox4x32-10 known answers, the stream mapping, and the statistics / determinism of the helpers in mhim/rng.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/rng.h"
#include "mhim/threads.h"

#ifdef MHIM_HAVE_OPENMP
#include <omp.h>
#endif

/* Random123 kat_vectors, "philox4x32 10" lines: counter[4] key[2] -> output[4]. */
static int test_known_answers(void) {
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6,
         0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420,
         0x24126ea1},
    };
    int fails = 0;
    for (int k = 0; k < 3; k++) {
        uint32_t out[4];
        mhim_philox4x32(kat[k], kat[k] + 4, 10, out);
        int64_t got[4], want[4];
        for (int i = 0; i < 4; i++) got[i] = out[i], want[i] = kat[k][6 + i];
        printf("philox kat %d: %08x %08x %08x %08x\n", k, out[0], out[1], out[2], out[3]);
        char name[64];
        snprintf(name, sizeof name, "philox4x32-10 known answer %d", k);
        fails += check_equal_i64(name, got, want, 4);
    }
    return fails;
}

/* Frozen mapping of (seed, epoch, bag, purpose, sub, index) onto Philox counters: the CUDA backend
 * and resumed runs rely on it. Values from an independent Python implementation. */
static int test_stream_mapping(void) {
    mhim_rng r = mhim_rng_stream(((uint64_t)5 << 32) + 2021, 3, 17, MHIM_RNG_DROPOUT, 1);
    const uint64_t idx[7] = {0, 1, 2, 3, 4, 5, ((uint64_t)1 << 40) + 5};
    const int64_t want[7] = {0xa59ccbf4, 0xa26c03b7, 0x6bfe524c, 0x996648b8, 0xbd555c31, 0x276ee0af, 0xd3ca8391};
    int64_t got[7];
    for (int i = 0; i < 7; i++) got[i] = mhim_rng_u32_at(&r, idx[i]);
    return check_equal_i64("stream mapping golden values", got, want, 7);
}

static int test_sequential_matches_random_access(void) {
    mhim_rng r = mhim_rng_stream(7, 1, 2, MHIM_RNG_MASK, 0);
    mhim_rng probe = r;
    int ok = 1;
    for (uint64_t i = 0; i < 37; i++) ok &= mhim_rng_u32(&r) == mhim_rng_u32_at(&probe, i);
    ok &= r.next == 37;
    float u = mhim_rng_uniform(&r);
    ok &= u == mhim_rng_uniform_at(&probe, 37);
    return check_true("sequential draws equal random access (cursor advances by one per value)", ok);
}

static int test_streams_differ(void) {
    mhim_rng base = mhim_rng_stream(1, 2, 3, MHIM_RNG_DROPOUT, 4);
    mhim_rng other[5] = {mhim_rng_stream(2, 2, 3, MHIM_RNG_DROPOUT, 4), mhim_rng_stream(1, 3, 3, MHIM_RNG_DROPOUT, 4),
                         mhim_rng_stream(1, 2, 4, MHIM_RNG_DROPOUT, 4), mhim_rng_stream(1, 2, 3, MHIM_RNG_MASK, 4),
                         mhim_rng_stream(1, 2, 3, MHIM_RNG_DROPOUT, 5)};
    int fails = 0;
    const char *what[5] = {"seed", "epoch", "bag", "purpose", "sub"};
    for (int k = 0; k < 5; k++) {
        int same = 0;
        for (uint64_t i = 0; i < 64; i++) same += mhim_rng_u32_at(&base, i) == mhim_rng_u32_at(&other[k], i);
        char name[80];
        snprintf(name, sizeof name, "changing the %s changes the stream (%d/64 equal)", what[k], same);
        fails += check_true(name, same <= 1);
    }
    return fails;
}

static int test_uniform_and_normal_statistics(void) {
    const int n = 200000;
    mhim_rng r = mhim_rng_stream(11, 0, 0, MHIM_RNG_INIT, 0);
    double sum = 0, sum_d = 0, lo = 1, hi = 0, nsum = 0, nsq = 0;
    for (int i = 0; i < n; i++) {
        float u = mhim_rng_uniform(&r);
        double d = mhim_rng_uniform_f64(&r), z = mhim_rng_normal(&r);
        sum += u, sum_d += d, nsum += z, nsq += z * z;
        lo = fmin(lo, fmin(u, d)), hi = fmax(hi, fmax(u, d));
    }
    double mean = sum / n, mean_d = sum_d / n, nmean = nsum / n, nvar = nsq / n - nmean * nmean;
    printf("uniform mean %.5f, f64 mean %.5f, range [%g, %g], normal mean %.5f var %.5f\n", mean, mean_d, lo, hi, nmean,
           nvar);
    int fails = 0;
    fails += check_true("uniform in [0,1)", lo >= 0 && hi < 1);
    fails += check_true("uniform means within 0.005 of 0.5", fabs(mean - 0.5) < 0.005 && fabs(mean_d - 0.5) < 0.005);
    fails += check_true("normal mean within 0.01 of 0, variance within 0.02 of 1", fabs(nmean) < 0.01 &&
                                                                                       fabs(nvar - 1) < 0.02);
    return fails;
}

static int test_below_is_unbiased(void) {
    mhim_rng r = mhim_rng_stream(3, 0, 0, MHIM_RNG_SHUFFLE, 0);
    int fails = 0;
    /* Chi-square over 7 buckets, 70000 draws: 6 degrees of freedom, 99.9% quantile 22.46. */
    int64_t counts[7] = {0};
    for (int i = 0; i < 70000; i++) counts[mhim_rng_below(&r, 7)]++;
    double chi2 = 0;
    for (int k = 0; k < 7; k++) chi2 += (counts[k] - 10000.0) * (counts[k] - 10000.0) / 10000.0;
    printf("below(7) chi-square %.2f\n", chi2);
    fails += check_true("below(7) uniform (chi-square < 22.46)", chi2 < 22.46);
    /* n = 3*2^30: a plain modulo would put half the mass below 2^30 instead of a third. */
    int64_t low = 0, draws = 60000, bad = 0;
    for (int64_t i = 0; i < draws; i++) {
        uint64_t x = mhim_rng_below(&r, (uint64_t)3 << 30);
        low += x < ((uint64_t)1 << 30);
        bad += x >= ((uint64_t)3 << 30);
    }
    printf("below(3*2^30): fraction below 2^30 = %.4f\n", (double)low / draws);
    fails += check_true("below(3*2^30) unbiased (fraction below 2^30 within 0.01 of 1/3)",
                        fabs((double)low / draws - 1.0 / 3) < 0.01 && bad == 0);
    uint64_t big = ((uint64_t)1 << 40) + 3, maxv = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = mhim_rng_below(&r, big);
        maxv = x > maxv ? x : maxv;
    }
    fails += check_true("below(2^40+3) stays below n and uses the high bits", maxv < big && maxv > (big >> 1));
    fails += check_true("below(1) is 0", mhim_rng_below(&r, 1) == 0);
    return fails;
}

static int test_permutation(void) {
    int fails = 0;
    const int64_t n = 1000;
    int64_t *p = malloc(n * sizeof *p), *q = malloc(n * sizeof *q);
    char *seen = calloc(n, 1);
    mhim_rng a = mhim_rng_stream(5, 1, 0, MHIM_RNG_SHUFFLE, 0), b = a, c = mhim_rng_stream(5, 2, 0, MHIM_RNG_SHUFFLE, 0);
    mhim_rng_permutation(&a, p, n);
    int valid = 1, fixed = 0;
    for (int64_t i = 0; i < n; i++) {
        valid &= p[i] >= 0 && p[i] < n && !seen[p[i]];
        if (p[i] >= 0 && p[i] < n) seen[p[i]] = 1;
        fixed += p[i] == i;
    }
    fails += check_true("permutation holds every index once", valid);
    fails += check_true("permutation is not close to the identity", fixed < 10);
    mhim_rng_permutation(&b, q, n);
    fails += check_equal_i64("same stream => same permutation", q, p, n);
    mhim_rng_permutation(&c, q, n);
    int differ = memcmp(p, q, n * sizeof *p) != 0;
    fails += check_true("next epoch => different permutation", differ);
    int64_t one = 42;
    mhim_rng_permutation(&c, &one, 1);
    fails += check_true("permutation of 1 is {0}", one == 0);
    mhim_rng_permutation(&c, NULL, 0);
    /* Position-wise frequencies for n = 3 (6 orders equally likely). */
    int64_t orders[6] = {0};
    for (int t = 0; t < 6000; t++) {
        int64_t s[3];
        mhim_rng_permutation(&c, s, 3);
        orders[s[0] * 2 + (s[1] > s[2])]++;
    }
    int balanced = 1;
    for (int k = 0; k < 6; k++) balanced &= orders[k] > 850 && orders[k] < 1150;
    fails += check_true("all 6 orders of 3 elements about equally frequent", balanced);
    free(p), free(q), free(seen);
    return fails;
}

/* Fill helpers give bitwise identical results for 1 and 2 threads and agree with random access. */
static int test_fill_determinism(void) {
    const int64_t n = 100003;
    float *u1 = malloc(n * sizeof *u1), *u2 = malloc(n * sizeof *u2), *z1 = malloc(n * sizeof *z1),
          *z2 = malloc(n * sizeof *z2);
    mhim_rng r = mhim_rng_stream(99, 0, 5, MHIM_RNG_INIT, 2);
    mhim_threads_init(1);
    mhim_rng_fill_uniform(&r, 10, u1, n, -0.5f, 0.5f);
    mhim_rng_fill_normal(&r, 10, z1, n, 0.0f, 0.02f);
    mhim_threads_init(2);
    mhim_rng_fill_uniform(&r, 10, u2, n, -0.5f, 0.5f);
    mhim_rng_fill_normal(&r, 10, z2, n, 0.0f, 0.02f);
    int fails = 0;
    fails += check_true("fill_uniform: 1 vs 2 threads bitwise equal", memcmp(u1, u2, n * sizeof *u1) == 0);
    fails += check_true("fill_normal: 1 vs 2 threads bitwise equal", memcmp(z1, z2, n * sizeof *z1) == 0);
    float want_u = -0.5f + 1.0f * mhim_rng_uniform_at(&r, 10 + 777);
    float want_z = (float)(0.0f + 0.02f * mhim_rng_normal_at(&r, 10 + 777));
    fails += check_true("fill element k is value first+k of the stream", u1[777] == want_u && z1[777] == want_z);
    free(u1), free(u2), free(z1), free(z2);
    return fails;
}

int main(void) {
    int fails = 0;
    fails += test_known_answers();
    fails += test_stream_mapping();
    fails += test_sequential_matches_random_access();
    fails += test_streams_differ();
    fails += test_uniform_and_normal_statistics();
    fails += test_below_is_unbiased();
    fails += test_permutation();
    fails += test_fill_determinism();
    printf("%s: %d failure(s)\n", __FILE__, fails);
    return fails ? 1 : 0;
}
