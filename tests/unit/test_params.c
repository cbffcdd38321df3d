/* mhim/params.h: offsets and alignment, lookup by state_dict name, zero/copy, shape strings, and the
 * rejection of bad spec tables with a message naming the tensor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/params.h"

static const mhim_param_spec abmil_like[] = {
    {"patch_to_emb.0.weight", 2, {512, 1024}},
    {"patch_to_emb.0.bias", 1, {512}},
    {"online_encoder.attention.0.weight", 2, {128, 512}},
    {"cls_token", 3, {1, 1, 512}},
    {"predictor.bias", 1, {2}},
    {"temperature", 0, {0}},
};

static int test_layout(void) {
    int fails = 0;
    mhim_param_layout L;
    int rc = mhim_param_layout_init(&L, abmil_like, (int64_t)MHIM_ARRAY_LEN(abmil_like));
    fails += check_true("valid spec accepted", rc == MHIM_OK && L.count == 6);
    int64_t want_offsets[6] = {0, 524288, 524800, 590336, 590848, 590864};
    int64_t offsets[6], numels[6], want_numel[6] = {524288, 512, 65536, 512, 2, 1};
    for (int i = 0; i < 6; i++) offsets[i] = L.entries[i].offset, numels[i] = L.entries[i].numel;
    fails += check_equal_i64("offsets (each tensor 16-float aligned)", offsets, want_offsets, 6);
    fails += check_equal_i64("element counts", numels, want_numel, 6);
    fails += check_true("total includes the alignment gaps, numel does not",
                        L.total == 590880 && L.numel == 524288 + 512 + 65536 + 512 + 2 + 1);
    fails += check_true("lookup by name", mhim_param_index(&L, "cls_token") == 3 &&
                                              mhim_param_find(&L, "predictor.bias") == &L.entries[4] &&
                                              mhim_param_index(&L, "predictor.weight") == -1 &&
                                              mhim_param_find(&L, "cls") == NULL);
    char shape[64];
    fails += check_true("shape strings", !strcmp(mhim_param_shape_str(&L.entries[0], shape, 64), "(512, 1024)") &&
                                             !strcmp(mhim_param_shape_str(&L.entries[3], shape, 64), "(1, 1, 512)") &&
                                             !strcmp(mhim_param_shape_str(&L.entries[5], shape, 64), "()"));
    char tiny[5];
    mhim_param_shape_str(&L.entries[0], tiny, sizeof tiny);
    fails += check_true("shape string truncates safely", !strcmp(tiny, "(512"));

    float *params = mhim_params_alloc(&L), *teacher = mhim_params_alloc(&L);
    fails += check_true("buffers are 64-byte aligned and zeroed",
                        (uintptr_t)params % 64 == 0 && params[0] == 0 && params[L.total - 1] == 0);
    float *bias = mhim_param_tensor(&L, params, "predictor.bias");
    fails += check_true("tensor pointer = buffer + offset", bias == params + 590848 &&
                                                                mhim_param_tensor(&L, params, "nope") == NULL);
    for (int64_t i = 0; i < L.count; i++) {
        float *t = params + L.entries[i].offset;
        for (int64_t j = 0; j < L.entries[i].numel; j++) t[j] = (float)(i + 1);
    }
    mhim_params_copy(&L, teacher, params);
    fails += check_true("copy covers every tensor", !memcmp(teacher, params, (size_t)L.total * sizeof(float)) &&
                                                        teacher[590864] == 6.0f);
    fails += check_true("gaps stay zero", params[590850] == 0 && params[590863] == 0 && params[590879] == 0);
    mhim_params_zero(&L, params);
    int zero = 1;
    for (int64_t i = 0; i < L.total; i++) zero &= params[i] == 0;
    fails += check_true("zero clears the whole buffer", zero);
    mhim_params_free(params);
    mhim_params_free(teacher);
    mhim_param_layout_free(&L);
    mhim_param_layout_init(&L, NULL, 0);
    fails += check_true("empty spec is a valid empty layout", L.count == 0 && L.total == 0);
    float *empty = mhim_params_alloc(&L);
    mhim_params_free(empty);
    mhim_param_layout_free(&L);
    return fails;
}

/* Each bad table must fail with MHIM_EINPUT and a message containing `needle`. */
static int expect_reject(const char *what, const mhim_param_spec *spec, int64_t count, const char *needle) {
    mhim_param_layout L;
    mhim_error_clear();
    int rc = mhim_param_layout_init(&L, spec, count);
    printf("%s -> rc %d, message: %s\n", what, rc, mhim_error());
    char name[96];
    snprintf(name, sizeof name, "rejects %s", what);
    int ok = rc == MHIM_EINPUT && strstr(mhim_error(), needle) && L.count == 0 && L.entries == NULL;
    if (rc == MHIM_OK) mhim_param_layout_free(&L);
    return check_true(name, ok);
}

static int test_rejections(void) {
    int fails = 0;
    const mhim_param_spec dup[] = {{"a.weight", 1, {3}}, {"b", 1, {2}}, {"a.weight", 1, {3}}};
    const mhim_param_spec rank[] = {{"a", 5, {1, 1, 1, 1}}};
    const mhim_param_spec extent[] = {{"ok", 1, {4}}, {"bad.weight", 2, {3, 0}}};
    const mhim_param_spec noname[] = {{"", 1, {4}}};
    const mhim_param_spec huge[] = {{"huge", 4, {INT64_MAX / 2, 4, 1, 1}}};
    fails += expect_reject("a duplicate name", dup, 3, "'a.weight' appears twice");
    fails += expect_reject("a rank above 4", rank, 1, "rank 5");
    fails += expect_reject("a zero extent", extent, 2, "'bad.weight': extent 0 in dimension 1");
    fails += expect_reject("an empty name", noname, 1, "empty name");
    fails += expect_reject("an element count overflow", huge, 1, "overflows");
    return fails;
}

int main(void) {
    int fails = test_layout() + test_rejections();
    printf("%s: %d failure(s)\n", __FILE__, fails);
    return fails ? 1 : 0;
}
