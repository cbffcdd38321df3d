/* tests/unit/test_mask_fixture.h — the input generator of tests/reference/gen_mask_reference.py (splitmix64,
 * Fisher–Yates from the top, the score rows of select.txt), FNV-1a over uint32 values, and a fixture line reader.
 * Header-only: included by the masking tests. */
#ifndef MHIM_TEST_MASK_FIXTURE_H
#define MHIM_TEST_MASK_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline uint64_t fx_splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* p[0..n) = shuffled(n, seed) of the generator script. */
static inline void fx_shuffled(int64_t n, uint64_t seed, int64_t *p) {
    for (int64_t i = 0; i < n; i++) p[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(fx_splitmix64(&seed) % (uint64_t)(i + 1));
        int64_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

/* scores[h·n + i] of select.txt: row h from shuffled(n, 1000·seed + h); p = scratch[n]. */
static inline void fx_scores(int64_t n, int64_t heads, int64_t levels, uint64_t seed, float *scores, int64_t *p) {
    for (int64_t h = 0; h < heads; h++) {
        fx_shuffled(n, 1000 * seed + (uint64_t)h, p);
        for (int64_t i = 0; i < n; i++)
            scores[h * n + i] = levels > 0 ? (float)(floor((double)(p[i] * levels) / (double)n) / (double)levels)
                                           : (float)((double)(p[i] + 1) / (double)(n + 1));
    }
}

static inline uint64_t fx_fnv1a64(const int64_t *v, int64_t n) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (int64_t i = 0; i < n; i++)
        for (int b = 0; b < 4; b++) h = (h ^ (((uint64_t)v[i] >> (8 * b)) & 0xFF)) * 0x100000001B3ull;
    return h;
}

/* Open tests/fixtures/mask/<name> (tests run from tests/); prints and returns NULL when missing. */
static inline FILE *fx_open(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "fixtures/mask/%s", name);
    FILE *f = fopen(path, "r");
    if (!f) printf("FAIL cannot open %s (tests run from tests/)\n", path);
    return f;
}

/* Read the next integer at *p (advancing it); 0 when none is left before '|' or the end of the line. */
static inline int fx_next_i64(char **p, int64_t *out) {
    char *end;
    long long v = strtoll(*p, &end, 10);
    if (end == *p) return 0;
    *p = end;
    *out = v;
    return 1;
}

#endif
