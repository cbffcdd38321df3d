/* tests/unit/test_v2_fixture_util.h — parameter loading shared by the v2 parity tests (test_parity_merge.c,
 * test_parity_v2_model.c), whose fixtures come from tests/pytorch/gen_v2_fixtures.py: every tensor of a layout is
 * generated with the fixture's hash settings (params/<key>: index, stream, offset, exp, shape, 64 samples). */
#ifndef MHIM_TEST_V2_FIXTURE_UTIL_H
#define MHIM_TEST_V2_FIXTURE_UTIL_H

#include <stdio.h>

#include "check.h"
#include "digest.h"
#include "fixture.h"
#include "mhim/params.h"

/* Generate every tensor of L into params, checking the key's state_dict index, its shape and the stored samples.
 * Returns the number of failures. */
static int v2_load_params(fixture *f, const char *label, const mhim_param_layout *L, float *params, uint64_t seed) {
    int fails = check_true("fixture holds as many keys as the layout",
                           (int64_t)fixture_scalar(f, "n_params") == L->count);
    char name[320];
    for (int64_t r = 0; r < L->count; r++) {
        const mhim_param_entry *e = &L->entries[r];
        snprintf(name, sizeof name, "params/%s/shape", e->name);
        int64_t ndim = 0;
        const int64_t *shape = fixture_has(f, name) ? fixture_i64(f, name, &ndim) : NULL;
        int same = shape && ndim == e->ndim;
        for (int d = 0; same && d < e->ndim; d++) same = shape[d] == e->shape[d];
        snprintf(name, sizeof name, "params/%s/index", e->name);
        const int at_index = shape && (int64_t)fixture_scalar(f, name) == r;
        if (!same || !at_index) {
            printf("FAIL %s key %s: in the fixture=%d, same shape=%d, same index=%d\n", label, e->name, shape != NULL,
                   same, at_index);
            fails++;
            continue;
        }
        snprintf(name, sizeof name, "params/%s/stream", e->name);
        const uint64_t stream = (uint64_t)fixture_scalar(f, name);
        snprintf(name, sizeof name, "params/%s/offset", e->name);
        const double offset = fixture_scalar(f, name);
        snprintf(name, sizeof name, "params/%s/exp", e->name);
        digest_hash_fill(params + e->offset, e->numel, seed, stream, offset, (int)fixture_scalar(f, name));
        snprintf(name, sizeof name, "params/%s", e->name);
        fails += digest_check(f, label, name, params + e->offset, e->numel, 0.0, 0.0, 0.0);
    }
    return fails;
}

/* Compare every gradient of L with grads/<key>. */
static int v2_check_grads(fixture *f, const char *label, const mhim_param_layout *L, const float *grads, double atol,
                          double rtol, double proj_tol) {
    int fails = 0;
    char name[320];
    for (int64_t r = 0; r < L->count; r++) {
        const mhim_param_entry *e = &L->entries[r];
        snprintf(name, sizeof name, "grads/%s", e->name);
        fails += digest_check(f, label, name, grads + e->offset, e->numel, atol, rtol, proj_tol);
    }
    return fails;
}

#endif
