/* MT19937 with CPython `random` and numpy legacy RandomState semantics (see mhim/mt19937.h). */
#include "mhim/mt19937.h"

#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfU
#define MT_UPPER 0x80000000U
#define MT_LOWER 0x7fffffffU

void mhim_mt19937_init_genrand(mhim_mt19937 *mt, uint32_t seed) {
    mt->state[0] = seed;
    for (int i = 1; i < MHIM_MT19937_N; i++) {
        uint32_t prev = mt->state[i - 1];
        mt->state[i] = 1812433253U * (prev ^ (prev >> 30)) + (uint32_t)i;
    }
    mt->index = MHIM_MT19937_N;
}

void mhim_mt19937_init_by_array(mhim_mt19937 *mt, const uint32_t *key, size_t key_len) {
    mhim_mt19937_init_genrand(mt, 19650218U);
    uint32_t *s = mt->state;
    size_t i = 1, j = 0;
    size_t k = MHIM_MT19937_N > key_len ? MHIM_MT19937_N : key_len;
    for (; k; k--) {
        s[i] = (s[i] ^ ((s[i - 1] ^ (s[i - 1] >> 30)) * 1664525U)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= MHIM_MT19937_N) {
            s[0] = s[MHIM_MT19937_N - 1];
            i = 1;
        }
        if (j >= key_len) j = 0;
    }
    for (k = MHIM_MT19937_N - 1; k; k--) {
        s[i] = (s[i] ^ ((s[i - 1] ^ (s[i - 1] >> 30)) * 1566083941U)) - (uint32_t)i;
        i++;
        if (i >= MHIM_MT19937_N) {
            s[0] = s[MHIM_MT19937_N - 1];
            i = 1;
        }
    }
    s[0] = 0x80000000U; /* MSB is 1, assuring a non-zero initial array */
    mt->index = MHIM_MT19937_N;
}

static void regenerate(mhim_mt19937 *mt) {
    uint32_t *s = mt->state;
    int kk;
    for (kk = 0; kk < MHIM_MT19937_N - MT_M; kk++) {
        uint32_t y = (s[kk] & MT_UPPER) | (s[kk + 1] & MT_LOWER);
        s[kk] = s[kk + MT_M] ^ (y >> 1) ^ ((y & 1U) ? MT_MATRIX_A : 0U);
    }
    for (; kk < MHIM_MT19937_N - 1; kk++) {
        uint32_t y = (s[kk] & MT_UPPER) | (s[kk + 1] & MT_LOWER);
        s[kk] = s[kk + (MT_M - MHIM_MT19937_N)] ^ (y >> 1) ^ ((y & 1U) ? MT_MATRIX_A : 0U);
    }
    uint32_t y = (s[MHIM_MT19937_N - 1] & MT_UPPER) | (s[0] & MT_LOWER);
    s[MHIM_MT19937_N - 1] = s[MT_M - 1] ^ (y >> 1) ^ ((y & 1U) ? MT_MATRIX_A : 0U);
    mt->index = 0;
}

uint32_t mhim_mt19937_next_u32(mhim_mt19937 *mt) {
    if (mt->index >= MHIM_MT19937_N) regenerate(mt);
    uint32_t y = mt->state[mt->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= y >> 18;
    return y;
}

void mhim_pyrandom_seed(mhim_mt19937 *mt, uint64_t abs_seed) {
    uint32_t key[2] = {(uint32_t)abs_seed, (uint32_t)(abs_seed >> 32)};
    mhim_mt19937_init_by_array(mt, key, key[1] ? 2 : 1);
}

double mhim_pyrandom_random(mhim_mt19937 *mt) {
    uint32_t a = mhim_mt19937_next_u32(mt) >> 5, b = mhim_mt19937_next_u32(mt) >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

uint64_t mhim_pyrandom_getrandbits(mhim_mt19937 *mt, int k) {
    if (k <= 32) return mhim_mt19937_next_u32(mt) >> (32 - k);
    uint64_t low = mhim_mt19937_next_u32(mt);
    uint64_t high = mhim_mt19937_next_u32(mt) >> (64 - k);
    return low | (high << 32);
}

static int bit_length(uint64_t n) {
    int k = 0;
    while (n) {
        k++;
        n >>= 1;
    }
    return k;
}

uint64_t mhim_pyrandom_randbelow(mhim_mt19937 *mt, uint64_t n) {
    int k = bit_length(n);
    uint64_t r = mhim_pyrandom_getrandbits(mt, k);
    while (r >= n) r = mhim_pyrandom_getrandbits(mt, k);
    return r;
}

void mhim_pyrandom_shuffle(mhim_mt19937 *mt, int64_t *x, int64_t n) {
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)mhim_pyrandom_randbelow(mt, (uint64_t)i + 1);
        int64_t t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

void mhim_nplegacy_seed(mhim_mt19937 *mt, uint32_t seed) { mhim_mt19937_init_genrand(mt, seed); }

uint64_t mhim_nplegacy_interval(mhim_mt19937 *mt, uint64_t max) {
    if (max == 0) return 0;
    uint64_t mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    uint64_t value;
    if (max <= 0xffffffffULL) {
        while ((value = (mhim_mt19937_next_u32(mt) & mask)) > max) {
        }
    } else {
        do {
            uint64_t hi = mhim_mt19937_next_u32(mt);
            value = ((hi << 32) | mhim_mt19937_next_u32(mt)) & mask;
        } while (value > max);
    }
    return value;
}

void mhim_nplegacy_shuffle(mhim_mt19937 *mt, int64_t *x, int64_t n) {
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)mhim_nplegacy_interval(mt, (uint64_t)i);
        int64_t t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

void mhim_nplegacy_permutation(mhim_mt19937 *mt, int64_t n, int64_t *out) {
    for (int64_t i = 0; i < n; i++) out[i] = i;
    mhim_nplegacy_shuffle(mt, out, n);
}
