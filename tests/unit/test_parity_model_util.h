/* tests/unit/test_parity_model_util.h — fixture helpers shared by the model parity tests (test_parity_abmil.c,
 * test_parity_dsmil_model.c), whose fixtures come from tests/pytorch/gen_{abmil,dsmil}_fixtures.py.
 *
 * Tolerances (float32 C vs float64 reference, |err| <= atol + rtol·|want|): forward 2e-6 + 2e-5 rel, gradients
 * 2e-6 + 1e-3 rel, the norm of a gradient stored in part 1e-5 rel. Observed at N = 3000, D_in = 1024: forward
 * 3.1e-6 abs on |z| ~ 2 (1.7e-6 rel), gradients <= 6e-7 abs; the relative error of tiny gradient elements reaches
 * 1e-2 (absolute 1e-9), hence the absolute floor. */
#ifndef MHIM_TEST_PARITY_MODEL_UTIL_H
#define MHIM_TEST_PARITY_MODEL_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "mhim/params.h"

#define FWD_ATOL 2e-6
#define FWD_RTOL 2e-5
#define BWD_ATOL 2e-6
#define BWD_RTOL 1e-3
#define NORM_RTOL 1e-5

/* Load every tensor of layout L from /params/<key>. */
static int load_params(fixture *f, const mhim_param_layout *L, float *params) {
    for (int64_t i = 0; i < L->count; i++) {
        const mhim_param_entry *e = &L->entries[i];
        char name[256];
        snprintf(name, sizeof name, "params/%s", e->name);
        float *src = fixture_f32_n(f, name, e->numel);
        if (!src) return 1;
        memcpy(params + e->offset, src, (size_t)e->numel * sizeof(float));
    }
    return 0;
}

/* The gradient checks of one variant. A large gradient is stored as its leading rows plus the Frobenius norm of
 * the whole tensor (<variant>/grad_norms/<key>): both are compared. */
static int check_grads(fixture *f, const char *cas, const char *variant, const mhim_param_layout *L,
                       const float *grads) {
    int fails = 0;
    for (int64_t i = 0; i < L->count; i++) {
        const mhim_param_entry *e = &L->entries[i];
        const float *g = grads + e->offset;
        char name[300], norm_name[300];
        snprintf(name, sizeof name, "%s/grads/%s", variant, e->name);
        snprintf(norm_name, sizeof norm_name, "%s/grad_norms/%s", variant, e->name);
        int64_t count = e->numel;
        if (fixture_has(f, norm_name)) {
            int64_t dims[MHIM_PARAM_MAX_DIMS];
            int rank = fixture_shape(f, name, dims, MHIM_PARAM_MAX_DIMS);
            count = rank >= 1 ? dims[0] * (e->numel / e->shape[0]) : 0;
            double want = fixture_scalar(f, norm_name), got = sqrt(test_dot(g, g, e->numel));
            double rel = fabs(got - want) / want;
            printf("%s %s norm: got %.9g want %.9g rel %.2e (tolerance %.0e)\n", cas, name, got, want, rel, NORM_RTOL);
            fails += check_true("gradient norm", rel <= NORM_RTOL);
        }
        fails += fixture_check(f, cas, name, g, count, BWD_ATOL, BWD_RTOL);
    }
    return fails;
}

/* The bag x (N·D floats, caller frees) = /inputs/x_codes · x_scale; NULL (with a message) on a size mismatch. */
static float *load_bag(fixture *f, int64_t N, int64_t D) {
    int64_t count = 0;
    int64_t *codes = fixture_i64(f, "inputs/x_codes", &count);
    if (!codes || count != N * D) {
        printf("FAIL fixture inputs/x_codes: %lld elements, expected %lld\n", (long long)count, (long long)(N * D));
        return NULL;
    }
    const float scale = (float)fixture_scalar(f, "x_scale");
    float *x = malloc((size_t)count * sizeof(float));
    for (int64_t i = 0; x && i < count; i++) x[i] = (float)codes[i] * scale;
    return x;
}

#endif
