/* Philox4x32-10 keyed streams (see mhim/rng.h). */
#include "mhim/rng.h"

#include <math.h>

#include "mhim/common.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u /* golden ratio */
#define PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

void mhim_philox4x32(const uint32_t ctr[4], const uint32_t key[2], int rounds, uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < rounds; round++) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

mhim_rng mhim_rng_stream(uint64_t seed, uint32_t epoch, uint32_t bag, mhim_rng_purpose purpose, uint32_t sub) {
    MHIM_ASSERT(sub < 256 && (uint32_t)purpose < 256);
    mhim_rng r;
    r.key[0] = (uint32_t)seed;
    r.key[1] = (uint32_t)(seed >> 32);
    r.ctr_hi = (sub << 16) | ((uint32_t)purpose << 24);
    r.bag = bag;
    r.epoch = epoch;
    r.next = 0;
    return r;
}

void mhim_rng_block_at(const mhim_rng *r, uint64_t block, uint32_t out[4]) {
    MHIM_ASSERT(block < ((uint64_t)1 << 48));
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32) | r->ctr_hi, r->bag, r->epoch};
    mhim_philox4x32(ctr, r->key, MHIM_PHILOX_ROUNDS, out);
}

uint32_t mhim_rng_u32_at(const mhim_rng *r, uint64_t i) {
    uint32_t out[4];
    mhim_rng_block_at(r, i >> 2, out);
    return out[i & 3];
}

float mhim_rng_uniform_at(const mhim_rng *r, uint64_t i) {
    return (float)(mhim_rng_u32_at(r, i) >> 8) * 0x1p-24f;
}

/* Box–Muller from two 32-bit values: u1 in (0,1] avoids log(0). */
static double box_muller(uint32_t a, uint32_t b) {
    double u1 = ((double)a + 1.0) * 0x1p-32;
    double u2 = (double)b * 0x1p-32;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double mhim_rng_normal_at(const mhim_rng *r, uint64_t i) {
    return box_muller(mhim_rng_u32_at(r, 2 * i), mhim_rng_u32_at(r, 2 * i + 1));
}

uint32_t mhim_rng_u32(mhim_rng *r) { return mhim_rng_u32_at(r, r->next++); }

float mhim_rng_uniform(mhim_rng *r) { return (float)(mhim_rng_u32(r) >> 8) * 0x1p-24f; }

double mhim_rng_uniform_f64(mhim_rng *r) {
    uint64_t hi = mhim_rng_u32(r) >> 5, lo = mhim_rng_u32(r) >> 6; /* 27 + 26 bits */
    return (double)((hi << 26) | lo) * 0x1p-53;
}

double mhim_rng_normal(mhim_rng *r) {
    uint32_t a = mhim_rng_u32(r);
    uint32_t b = mhim_rng_u32(r);
    return box_muller(a, b);
}

uint64_t mhim_rng_below(mhim_rng *r, uint64_t n) {
    MHIM_ASSERT(n >= 1);
    if (n <= UINT32_MAX) {
        uint32_t m = (uint32_t)n, threshold = (uint32_t)(-m) % m; /* 2^32 mod n */
        for (;;) {
            uint32_t x = mhim_rng_u32(r);
            if (x >= threshold) return x % m;
        }
    }
    uint64_t threshold = (uint64_t)(-n) % n; /* 2^64 mod n */
    for (;;) {
        uint64_t hi = mhim_rng_u32(r);
        uint64_t x = (hi << 32) | mhim_rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

void mhim_rng_permutation(mhim_rng *r, int64_t *perm, int64_t n) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)mhim_rng_below(r, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void mhim_rng_fill_uniform(const mhim_rng *r, uint64_t first, float *x, int64_t n, float lo, float hi) {
    float span = hi - lo;
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; k++) x[k] = lo + span * mhim_rng_uniform_at(r, first + (uint64_t)k);
}

void mhim_rng_fill_normal(const mhim_rng *r, uint64_t first, float *x, int64_t n, float mean, float std) {
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; k++) x[k] = (float)(mean + std * mhim_rng_normal_at(r, first + (uint64_t)k));
}
