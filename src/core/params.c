/* Named parameter layout over flat buffers (see mhim/params.h). */
#include "mhim/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"

/* Validate one spec row; index is used in messages only. */
static int check_spec_row(const mhim_param_spec *s, int64_t index) {
    if (!s->name || !s->name[0]) return mhim_fail("parameter spec row %lld: empty name", (long long)index);
    if (s->ndim < 0 || s->ndim > MHIM_PARAM_MAX_DIMS)
        return mhim_fail("parameter '%s': rank %d, expected 0..%d", s->name, s->ndim, MHIM_PARAM_MAX_DIMS);
    for (int d = 0; d < s->ndim; d++)
        if (s->shape[d] < 1)
            return mhim_fail("parameter '%s': extent %lld in dimension %d, expected >= 1", s->name,
                             (long long)s->shape[d], d);
    return MHIM_OK;
}

int mhim_param_layout_init(mhim_param_layout *L, const mhim_param_spec *spec, int64_t count) {
    memset(L, 0, sizeof *L);
    if (count < 0) return mhim_fail("parameter spec: negative tensor count %lld", (long long)count);
    mhim_param_entry *entries = mhim_calloc((size_t)(count > 0 ? count : 1), sizeof *entries);
    int64_t offset = 0, numel_sum = 0;
    int rc = MHIM_OK;
    for (int64_t i = 0; i < count && rc == MHIM_OK; i++) {
        rc = check_spec_row(&spec[i], i);
        for (int64_t j = 0; j < i && rc == MHIM_OK; j++)
            if (strcmp(spec[j].name, spec[i].name) == 0)
                rc = mhim_fail("parameter '%s' appears twice in the spec (rows %lld and %lld)", spec[i].name,
                               (long long)j, (long long)i);
        if (rc != MHIM_OK) break;
        mhim_param_entry *e = &entries[i];
        e->name = mhim_strdup(spec[i].name);
        e->ndim = spec[i].ndim;
        e->numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            e->shape[d] = spec[i].shape[d];
            if (e->numel > INT64_MAX / e->shape[d]) {
                rc = mhim_fail("parameter '%s': element count overflows int64", e->name);
                break;
            }
            e->numel *= e->shape[d];
        }
        e->offset = offset;
        offset += (e->numel + MHIM_PARAM_ALIGN - 1) / MHIM_PARAM_ALIGN * MHIM_PARAM_ALIGN;
        numel_sum += e->numel;
    }
    if (rc != MHIM_OK) {
        for (int64_t j = 0; j < count; j++) free(entries[j].name); /* unset names are NULL */
        free(entries);
        return rc;
    }
    L->entries = entries;
    L->count = count;
    L->total = offset;
    L->numel = numel_sum;
    return MHIM_OK;
}

void mhim_param_layout_free(mhim_param_layout *L) {
    for (int64_t i = 0; i < L->count; i++) free(L->entries[i].name);
    free(L->entries);
    memset(L, 0, sizeof *L);
}

int64_t mhim_param_index(const mhim_param_layout *L, const char *name) {
    for (int64_t i = 0; i < L->count; i++)
        if (strcmp(L->entries[i].name, name) == 0) return i;
    return -1;
}

const mhim_param_entry *mhim_param_find(const mhim_param_layout *L, const char *name) {
    int64_t i = mhim_param_index(L, name);
    return i < 0 ? NULL : &L->entries[i];
}

float *mhim_param_tensor(const mhim_param_layout *L, float *buffer, const char *name) {
    const mhim_param_entry *e = mhim_param_find(L, name);
    return e ? buffer + e->offset : NULL;
}

char *mhim_param_shape_str(const mhim_param_entry *e, char *out, int cap) {
    int pos = snprintf(out, (size_t)cap, "(");
    for (int d = 0; d < e->ndim && pos < cap; d++)
        pos += snprintf(out + pos, (size_t)(cap - pos), "%s%lld", d ? ", " : "", (long long)e->shape[d]);
    if (pos < cap) snprintf(out + pos, (size_t)(cap - pos), ")");
    return out;
}

float *mhim_params_alloc(const mhim_param_layout *L) {
    size_t bytes = (size_t)(L->total > 0 ? L->total : MHIM_PARAM_ALIGN) * sizeof(float);
    float *p = aligned_alloc(64, bytes);
    if (!p) MHIM_DIE("out of memory allocating %zu bytes of parameters", bytes);
    memset(p, 0, bytes);
    return p;
}

void mhim_params_free(float *buffer) { free(buffer); }

void mhim_params_zero(const mhim_param_layout *L, float *buffer) {
    memset(buffer, 0, (size_t)L->total * sizeof(float));
}

void mhim_params_copy(const mhim_param_layout *L, float *dst, const float *src) {
    memmove(dst, src, (size_t)L->total * sizeof(float));
}
