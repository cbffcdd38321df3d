/* tests/unit/support/fixture.h — read PyTorch parity fixtures (small HDF5 files written by
 * tests/pytorch/gen_*_fixtures.py) into flat host arrays.
 *
 * Conversions: any floating-point dataset (float16/32/64) is returned as float32; any integer
 * dataset (signed or unsigned, 8..64 bit) as int64. Datasets are read whole, row-major, in the
 * order h5py wrote them. Names may contain groups ("layer0/weight").
 *
 * Ownership: every array returned by fixture_f32 / fixture_i64 belongs to the fixture and is freed
 * by fixture_close (tests never free them). Errors (missing file or dataset, wrong type class)
 * print one "FAIL fixture ..." line naming the file and the dataset and return NULL / NAN, so the
 * calling test fails cleanly instead of crashing. */
#ifndef MHIM_TEST_FIXTURE_H
#define MHIM_TEST_FIXTURE_H

#include <stdint.h>

typedef struct fixture fixture;

/* Open an HDF5 fixture read-only; NULL (with a message) if it cannot be opened. */
fixture *fixture_open(const char *path);
/* Whole dataset as float32; *count (may be NULL) receives the element count. NULL on error. */
float *fixture_f32(fixture *f, const char *dataset, int64_t *count);
/* Whole integer dataset as int64; *count (may be NULL) receives the element count. NULL on error. */
int64_t *fixture_i64(fixture *f, const char *dataset, int64_t *count);
/* A single number: a dataset with exactly one element, else a numeric one-element attribute:
 * "attr" on the file root, or "path/attr" on the group or dataset at `path`. NAN (with a message)
 * if neither exists. */
double fixture_scalar(fixture *f, const char *name);
/* Shape of a dataset: writes up to max_dims extents to dims, returns the rank (0 for a scalar),
 * or -1 (with a message) if the dataset is missing or its rank exceeds max_dims. */
int fixture_shape(fixture *f, const char *dataset, int64_t *dims, int max_dims);
/* 1 if the dataset exists, else 0 (no message). */
int fixture_has(fixture *f, const char *dataset);
/* Close the file and free every array handed out. NULL is allowed. */
void fixture_close(fixture *f);

/* Dataset `name` as float32, required to hold exactly `count` elements (NULL and a FAIL line otherwise). */
float *fixture_f32_n(fixture *f, const char *name, int64_t count);
/* check_close of got[count] against dataset `name`, reported as "<prefix> <name>"; 1 on a mismatch or a
 * missing/mis-sized dataset. */
int fixture_check(fixture *f, const char *prefix, const char *name, const float *got, int64_t count, double atol,
                  double rtol);

#endif
