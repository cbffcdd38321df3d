/* Integer-hash values and tensor digests of the generated-parameter fixtures (see digest.h). */
#include "digest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

#define HASH_G 0x9E3779B97F4A7C15ULL
#define HASH_S 0xD1B54A32D192ED03ULL

uint64_t digest_hash_u64(uint64_t seed, uint64_t stream, uint64_t i) {
    uint64_t z = seed * HASH_G + stream * HASH_S + (i + 1) * HASH_G;
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ULL;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void digest_hash_fill(float *x, int64_t n, uint64_t seed, uint64_t stream, double offset, int exp) {
    for (int64_t i = 0; i < n; i++) {
        const int64_t j = (int64_t)(digest_hash_u64(seed, stream, (uint64_t)i) >> 48) - 32768;
        x[i] = (float)(offset + ldexp((double)j, exp));
    }
}

/* The projections of got against "<path>/proj"; 0 when they agree (or are absent). */
static int check_projections(fixture *f, const char *label, const char *path, const float *got, int64_t count,
                             double proj_tol) {
    char name[320];
    snprintf(name, sizeof name, "%s/proj", path);
    if (!fixture_has(f, name)) return 0;
    int64_t len = 0;
    const float *proj = fixture_f32(f, name, &len);
    if (!proj || len != DIGEST_PROJECTIONS) return check_true(label, 0);
    double norm = 0.0, worst = 0.0;
    for (int64_t i = 0; i < count; i++) norm += (double)got[i] * got[i];
    norm = sqrt(norm);
    for (int k = 0; k < DIGEST_PROJECTIONS; k++) {
        double p = 0.0;
        for (int64_t i = 0; i < count; i++)
            p += (digest_hash_u64(DIGEST_SIGN_SEED, (uint64_t)k, (uint64_t)i) >> 63) ? -got[i] : got[i];
        const double err = fabs(p - proj[k]) / (norm > 0 ? norm : 1.0);
        worst = err > worst ? err : worst;
    }
    const int bad = !(worst <= proj_tol);
    printf("%s %s projections: max |err| / ||t|| = %.3g (tolerance %.1g)\n", bad ? "FAIL" : "ok  ", label, worst,
           proj_tol);
    return bad;
}

int digest_check(fixture *f, const char *label, const char *path, const float *got, int64_t count, double atol,
                 double rtol, double proj_tol) {
    char name[320], sub[400];
    int64_t len = 0;
    snprintf(sub, sizeof sub, "%s %s", label, path);
    snprintf(name, sizeof name, "%s/full", path);
    if (fixture_has(f, name)) {
        const float *want = fixture_f32(f, name, &len);
        if (!want || len != count) {
            printf("FAIL %s: %lld stored elements, expected %lld\n", sub, (long long)len, (long long)count);
            return 1;
        }
        return check_close(sub, got, want, count, atol, rtol);
    }
    snprintf(name, sizeof name, "%s/idx", path);
    const int64_t *idx = fixture_i64(f, name, &len);
    snprintf(name, sizeof name, "%s/val", path);
    int64_t nval = 0;
    const float *val = fixture_f32(f, name, &nval);
    if (!idx || !val || nval != len) return check_true(sub, 0);
    float *sample = malloc((size_t)len * sizeof(float));
    int fails = 0;
    for (int64_t k = 0; k < len; k++) {
        fails += idx[k] < 0 || idx[k] >= count;
        sample[k] = idx[k] >= 0 && idx[k] < count ? got[idx[k]] : NAN;
    }
    char samples[440];
    snprintf(samples, sizeof samples, "%s (%lld samples)", sub, (long long)len);
    fails += check_close(samples, sample, val, len, atol, rtol);
    free(sample);
    return fails + check_projections(f, sub, path, got, count, proj_tol);
}
