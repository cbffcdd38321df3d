/* tests/unit/support/digest.h — the integer-hash values and tensor digests of the fixtures whose parameters and
 * bags are generated on both sides instead of stored (tests/pytorch/gen_transmil_fixtures.py hash_values and
 * write_digest, reused by gen_v2_fixtures.py).
 *
 * Value i of (seed, stream): z = splitmix64_mix(seed·G + stream·S + (i+1)·G); x = offset + ((z >> 48) − 32768)·2^exp.
 * A stored tensor is either "<path>/full" (whole), or "<path>/idx" + "<path>/val" samples, optionally with
 * "<path>/proj": DIGEST_PROJECTIONS random ±1 projections of the whole tensor (sign k of element i = top bit of the
 * hash (DIGEST_SIGN_SEED, k, i)). */
#ifndef MHIM_TEST_DIGEST_H
#define MHIM_TEST_DIGEST_H

#include <stdint.h>

#include "fixture.h"

#define DIGEST_SIGN_SEED 0x5EEDULL
#define DIGEST_X_STREAM 1000ULL
#define DIGEST_PROJECTIONS 4

/* The hash of value i (0-based) of (seed, stream). */
uint64_t digest_hash_u64(uint64_t seed, uint64_t stream, uint64_t i);
/* x[i] = offset + ((hash >> 48) − 32768) · 2^exp for i < n (exact in float32). */
void digest_hash_fill(float *x, int64_t n, uint64_t seed, uint64_t stream, double offset, int exp);
/* Compare got (count floats) with the fixture tensor at `path` (whole, or samples within atol + rtol·|want| and
 * projections within proj_tol·||got||₂). Prints one line per comparison; returns the number of failures. */
int digest_check(fixture *f, const char *label, const char *path, const float *got, int64_t count, double atol,
                 double rtol, double proj_tol);

#endif
