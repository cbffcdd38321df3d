/* mhim/mt19937.h — the Mersenne Twister MT19937 with the exact seeding and sampling semantics of
 * CPython's `random` module and of numpy's legacy `RandomState`, so that data splits made by the
 * original Python programs can be reproduced bit for bit.
 *
 * Both libraries use the same generator; they differ in how an integer seed becomes a state
 * (CPython: init_by_array over the seed's 32-bit words; numpy: init_genrand(seed)) and in how a
 * bounded integer is drawn (CPython: top bits with rejection; numpy: low bits under a mask). */
#ifndef MHIM_MT19937_H
#define MHIM_MT19937_H

#include <stddef.h>
#include <stdint.h>

#define MHIM_MT19937_N 624

typedef struct {
    uint32_t state[MHIM_MT19937_N];
    int index; /* next word to output; MHIM_MT19937_N => regenerate first */
} mhim_mt19937;

/* Reference seeding routines of Matsumoto & Nishimura (mt19937ar.c). key_len >= 1. */
void mhim_mt19937_init_genrand(mhim_mt19937 *mt, uint32_t seed);
void mhim_mt19937_init_by_array(mhim_mt19937 *mt, const uint32_t *key, size_t key_len);
/* Next 32-bit output word (genrand_int32). */
uint32_t mhim_mt19937_next_u32(mhim_mt19937 *mt);

/* ---- CPython `random` ---------------------------------------------------------------------- */
/* random.seed(a) for an int a, given |a| (CPython seeds with the absolute value): the key is the
 * little-endian 32-bit words of |a| (one word of 0 for a = 0). */
void mhim_pyrandom_seed(mhim_mt19937 *mt, uint64_t abs_seed);
/* random.random(): 53-bit float in [0, 1). */
double mhim_pyrandom_random(mhim_mt19937 *mt);
/* random.getrandbits(k) for 1 <= k <= 64 (words drawn least significant first). */
uint64_t mhim_pyrandom_getrandbits(mhim_mt19937 *mt, int k);
/* random._randbelow(n) for n >= 1: r = getrandbits(bit_length(n)) until r < n. */
uint64_t mhim_pyrandom_randbelow(mhim_mt19937 *mt, uint64_t n);
/* random.shuffle(x) on n elements: for i = n-1 .. 1: j = randbelow(i+1); swap x[i], x[j]. */
void mhim_pyrandom_shuffle(mhim_mt19937 *mt, int64_t *x, int64_t n);

/* ---- numpy legacy RandomState -------------------------------------------------------------- */
/* RandomState(seed) for an int seed in [0, 2^32): init_genrand(seed). */
void mhim_nplegacy_seed(mhim_mt19937 *mt, uint32_t seed);
/* random_interval(max): uniform integer in [0, max]; draws (word & mask) until <= max, where
 * mask is the smallest all-ones value >= max (64-bit words hi<<32|lo when max >= 2^32). */
uint64_t mhim_nplegacy_interval(mhim_mt19937 *mt, uint64_t max);
/* RandomState.shuffle of a 1-d array: for i = n-1 .. 1: j = random_interval(i); swap x[i], x[j]. */
void mhim_nplegacy_shuffle(mhim_mt19937 *mt, int64_t *x, int64_t n);
/* RandomState.permutation(n) (= choice(n, n, replace=False) = DataFrame.sample(frac=1) order):
 * out[0..n) = shuffled 0..n-1. */
void mhim_nplegacy_permutation(mhim_mt19937 *mt, int64_t n, int64_t *out);

#endif
