/* tests/unit/support/check.h — shared assertions for C tests: closeness with error report,
 * finite-difference gradient checks, and a seeded test RNG. Every check prints its result and
 * returns 0 (pass) or 1 (fail); a test's main returns the sum (non-zero => ctest failure). */
#ifndef MHIM_TEST_CHECK_H
#define MHIM_TEST_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* |got - want| <= atol + rtol*|want| elementwise; prints name, max abs err, max rel err, first mismatch. */
int check_close(const char *name, const float *got, const float *want, int64_t n, double atol, double rtol);
/* Exact equality of int64 arrays (prints first mismatch). */
int check_equal_i64(const char *name, const int64_t *got, const int64_t *want, int64_t n);
/* Plain condition with a message. */
int check_true(const char *name, int cond);

/* Scalar objective evaluated in double at the current contents of the perturbed inputs. */
typedef double (*gc_objective)(void *ctx);
/* Central-difference check of `analytic` = d objective / d x over n elements of x (float32).
 * Checks at most max_checks elements (all if n <= max_checks; else a fixed pseudo-random subset).
 * Passes when |fd - analytic| <= tol * max(1, |fd|, |analytic|) for every checked element. */
int gradcheck(const char *name, float *x, int64_t n, const float *analytic, gc_objective objective, void *ctx,
              double eps, double tol, int64_t max_checks);

/* Whole file into a fresh NUL-terminated buffer (free()); NULL if unreadable. *n = size in bytes. */
char *test_read_file(const char *path, size_t *n);

/* Deterministic test RNG (splitmix64): uniform in [lo, hi). */
typedef struct { uint64_t s; } test_rng;
float test_uniform(test_rng *r, float lo, float hi);
void test_fill_uniform(test_rng *r, float *x, int64_t n, float lo, float hi);
/* Σ out[i]*w[i] in double: the usual gradcheck objective with random weights w. */
double test_dot(const float *out, const float *w, int64_t n);

#endif
