/* mhim/rng.h — counter-based random numbers (Philox4x32-10, Salmon et al., SC 2011).
 *
 * Every random value is a pure function of (seed, epoch, bag, purpose, sub, index): there is no
 * hidden state shared between threads, ranks or bags, so results do not depend on the thread
 * count, the rank count or the order in which bags are processed, and a resumed run draws the
 * same numbers as an uninterrupted one. The CUDA backend evaluates the same function.
 *
 * Mapping onto Philox: key = the 64-bit seed (low word first); counter = (block low 32 bits,
 * block bits 32..47 | sub << 16 | purpose << 24, bag, epoch), where block = index / 4 and the
 * value is word index % 4 of the output block. A stream therefore holds 2^50 32-bit values.
 *
 * PyTorch's generators (mt19937 on CPU, Philox with offsets on CUDA) are NOT reproduced: a run
 * matches PyTorch in distribution, not bit for bit. Parity fixtures export masks and indices. */
#ifndef MHIM_RNG_H
#define MHIM_RNG_H

#include <stdint.h>

#define MHIM_PHILOX_ROUNDS 10

/* What a stream is used for; distinct purposes never share values. Values fit in 8 bits. */
typedef enum {
    MHIM_RNG_INIT = 1,      /* parameter initialisation (bag = tensor index) */
    MHIM_RNG_SHUFFLE = 2,   /* epoch order of the training bags (bag = 0) */
    MHIM_RNG_DROPOUT = 3,   /* dropout masks (sub = which dropout layer / teacher vs student) */
    MHIM_RNG_MASK = 4,      /* random instance masking and the random subset of hard instances */
    MHIM_RNG_MERGE = 5,     /* v2 global recycling (Merge) draws */
    MHIM_RNG_SUBSAMPLE = 6, /* subsampling of bags larger than the reserved size */
    MHIM_RNG_SPLIT = 7,     /* cross-validation splits */
    MHIM_RNG_SYNTH = 8,     /* synthetic data sets */
    MHIM_RNG_BOOTSTRAP = 9  /* bootstrap resamples of the evaluation metrics */
} mhim_rng_purpose;

/* A keyed stream plus a cursor for sequential draws. Copying it copies the cursor. */
typedef struct {
    uint32_t key[2];    /* seed */
    uint32_t ctr_hi;    /* sub << 16 | purpose << 24 (OR-ed with block bits 32..47) */
    uint32_t bag, epoch;
    uint64_t next;      /* index of the next value drawn sequentially */
} mhim_rng;

/* SplitMix64 (Steele et al., 2014): advances *state by the golden-ratio increment and returns the mixed value. A
 * fast stream for synthetic data, and a way to derive a key unrelated to a given one. */
static inline uint64_t mhim_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Raw Philox4x32 with `rounds` rounds (10 for everything in this library). */
void mhim_philox4x32(const uint32_t ctr[4], const uint32_t key[2], int rounds, uint32_t out[4]);

/* The stream for (seed, epoch, bag, purpose, sub) with the cursor at 0. sub < 256. */
mhim_rng mhim_rng_stream(uint64_t seed, uint32_t epoch, uint32_t bag, mhim_rng_purpose purpose, uint32_t sub);

/* Random access: value `i` of the stream (i < 2^50); does not move the cursor. */
uint32_t mhim_rng_u32_at(const mhim_rng *r, uint64_t i);
/* Values 4·block .. 4·block+3 of the stream at once (one Philox evaluation). */
void mhim_rng_block_at(const mhim_rng *r, uint64_t block, uint32_t out[4]);
/* Uniform float in [0, 1) with 24 random bits: (u32_at(i) >> 8) * 2^-24. */
float mhim_rng_uniform_at(const mhim_rng *r, uint64_t i);
/* Standard normal from values 2i and 2i+1 (Box–Muller, cosine branch), in double. */
double mhim_rng_normal_at(const mhim_rng *r, uint64_t i);

/* Sequential draws: each consumes values at the cursor and advances it. */
uint32_t mhim_rng_u32(mhim_rng *r);
float mhim_rng_uniform(mhim_rng *r);         /* [0,1), 24 bits, one value */
double mhim_rng_uniform_f64(mhim_rng *r);    /* [0,1), 53 bits, two values */
double mhim_rng_normal(mhim_rng *r);         /* N(0,1), two values (see mhim_rng_normal_at) */
/* Uniform integer in [0, n) without modulo bias (rejection sampling); n >= 1. */
uint64_t mhim_rng_below(mhim_rng *r, uint64_t n);
/* perm[0..n) = a uniformly random permutation of 0..n-1 (Fisher–Yates from i = n-1 down,
 * j = below(i + 1)). n >= 0. */
void mhim_rng_permutation(mhim_rng *r, int64_t *perm, int64_t n);

/* x[k] = lo + (hi - lo) * uniform_at(first + k), k < n: deterministic for any thread count. */
void mhim_rng_fill_uniform(const mhim_rng *r, uint64_t first, float *x, int64_t n, float lo, float hi);
/* x[k] = mean + std * normal_at(first + k), k < n: deterministic for any thread count. */
void mhim_rng_fill_normal(const mhim_rng *r, uint64_t first, float *x, int64_t n, float mean, float std);

#endif
