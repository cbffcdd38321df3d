/* Shared test assertions (see check.h). */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int check_close(const char *name, const float *got, const float *want, int64_t n, double atol, double rtol) {
    double max_abs = 0, max_rel = 0;
    int64_t first_bad = -1;
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], w = want[i], err = fabs(g - w);
        if (!(err <= atol + rtol * fabs(w)) && first_bad < 0) first_bad = i;
        if (isnan(g) != isnan(w)) first_bad = first_bad < 0 ? i : first_bad;
        if (err > max_abs) max_abs = err;
        if (fabs(w) > 1e-12 && err / fabs(w) > max_rel) max_rel = err / fabs(w);
    }
    if (first_bad >= 0) {
        printf("FAIL %-40s n=%lld max_abs=%.3e max_rel=%.3e first mismatch [%lld] got %.9g want %.9g\n", name,
               (long long)n, max_abs, max_rel, (long long)first_bad, got[first_bad], want[first_bad]);
        return 1;
    }
    printf("ok   %-40s n=%lld max_abs=%.3e max_rel=%.3e\n", name, (long long)n, max_abs, max_rel);
    return 0;
}

int check_equal_i64(const char *name, const int64_t *got, const int64_t *want, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            printf("FAIL %-40s [%lld] got %lld want %lld\n", name, (long long)i, (long long)got[i],
                   (long long)want[i]);
            return 1;
        }
    printf("ok   %-40s n=%lld\n", name, (long long)n);
    return 0;
}

int check_true(const char *name, int cond) {
    printf("%s %s\n", cond ? "ok  " : "FAIL", name);
    return cond ? 0 : 1;
}

int gradcheck(const char *name, float *x, int64_t n, const float *analytic, gc_objective objective, void *ctx,
              double eps, double tol, int64_t max_checks) {
    uint64_t pick = 0x9E3779B97F4A7C15ull;
    int64_t checks = n <= max_checks ? n : max_checks;
    double worst = 0;
    int64_t worst_i = -1;
    for (int64_t c = 0; c < checks; c++) {
        int64_t i = c;
        if (n > max_checks) {
            pick = pick * 6364136223846793005ull + 1442695040888963407ull;
            i = (int64_t)((pick >> 17) % (uint64_t)n);
        }
        float saved = x[i];
        x[i] = (float)(saved + eps);
        double up = objective(ctx);
        x[i] = (float)(saved - eps);
        double down = objective(ctx);
        x[i] = saved;
        double fd = (up - down) / (2 * eps), an = analytic[i];
        double scale = fmax(1.0, fmax(fabs(fd), fabs(an)));
        double err = fabs(fd - an) / scale;
        if (!isfinite(err)) err = INFINITY; /* a NaN/Inf gradient is always a failure */
        if (err > worst || worst_i < 0) {
            worst = err;
            worst_i = i;
        }
    }
    int bad = worst > tol;
    printf("%s %-40s checked=%lld worst_rel=%.3e", bad ? "FAIL" : "ok  ", name, (long long)checks, worst);
    if (bad) printf(" at [%lld] analytic %.9g", (long long)worst_i, analytic[worst_i]);
    printf("\n");
    return bad;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float test_uniform(test_rng *r, float lo, float hi) {
    double u = (double)(splitmix(&r->s) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(lo + (hi - lo) * u);
}

void test_fill_uniform(test_rng *r, float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) x[i] = test_uniform(r, lo, hi);
}

double test_dot(const float *out, const float *w, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)out[i] * w[i];
    return s;
}

char *test_read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)(size > 0 ? size : 0) + 1);
    *n = size > 0 ? fread(buf, 1, (size_t)size, f) : 0;
    buf[*n] = 0;
    fclose(f);
    return buf;
}
