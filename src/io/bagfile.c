/* Feature-bag files: dispatch on the extension to the HDF5 or torch.save reader (see mhim/bagfile.h). */
#include "mhim/bagfile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/h5_bag.h"
#include "mhim/common.h"
#include "mhim/ptfile.h"

int mhim_bag_format_of(const char *path, mhim_bag_format *out) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash)) {
        if (!strcasecmp(dot, ".h5") || !strcasecmp(dot, ".hdf5")) {
            *out = MHIM_BAG_H5;
            return MHIM_OK;
        }
        if (!strcasecmp(dot, ".pt") || !strcasecmp(dot, ".pth")) {
            *out = MHIM_BAG_PT;
            return MHIM_OK;
        }
    }
    return mhim_fail("%s: unknown bag file type; expected .h5/.hdf5 (CLAM/TRIDENT) or .pt/.pth (torch.save)", path);
}

/* Open a .pt bag and check that its only entry (index 0) is an (N, D) float tensor. */
static int pt_open_bag(const char *path, mhim_ptfile **pt) {
    int rc = mhim_pt_open(path, pt);
    if (rc) return rc;
    int64_t count = mhim_pt_entry_count(*pt);
    const mhim_pt_entry *e = count == 1 ? mhim_pt_entry_at(*pt, 0) : NULL;
    if (!e || e->kind != MHIM_PT_TENSOR)
        rc = mhim_fail("%s: holds %lld entries%s; a feature bag is one (N, D) tensor saved with "
                       "torch.save(features, path)",
                       path, (long long)count, count > 1 ? " (a checkpoint?)" : "");
    else if (!mhim_pt_dtype_is_float(e->dtype))
        rc = mhim_fail("%s: features are %s; expected float32/float16/bfloat16", path, mhim_pt_dtype_name(e->dtype));
    else if (e->ndim != 2)
        rc = mhim_fail("%s: tensor has %d dimensions, expected 2 (instances N x feature width D)", path, e->ndim);
    else if (e->shape[1] <= 0)
        rc = mhim_fail("%s: tensor has shape (%lld, 0): feature width D must be > 0", path, (long long)e->shape[0]);
    if (rc) {
        mhim_pt_close(*pt);
        *pt = NULL;
    }
    return rc;
}

int mhim_bag_read_shape(const char *path, int64_t *n, int64_t *d) {
    mhim_bag_format format;
    int rc = mhim_bag_format_of(path, &format);
    if (rc) return rc;
    if (format == MHIM_BAG_H5) return h5_bag_shape(path, n, d);
    mhim_ptfile *pt;
    if ((rc = pt_open_bag(path, &pt))) return rc;
    *n = mhim_pt_entry_at(pt, 0)->shape[0];
    *d = mhim_pt_entry_at(pt, 0)->shape[1];
    mhim_pt_close(pt);
    return MHIM_OK;
}

/* Read features (exact shape n x d) and, for HDF5 when coords != NULL, the coordinates. */
static int read_features(const char *path, float *dst, int64_t n, int64_t d, int64_t **coords) {
    mhim_bag_format format;
    int rc = mhim_bag_format_of(path, &format);
    if (rc) return rc;
    if (format == MHIM_BAG_H5) return h5_bag_read(path, dst, n, d, coords);
    if (coords) *coords = NULL;
    mhim_ptfile *pt;
    if ((rc = pt_open_bag(path, &pt))) return rc;
    const mhim_pt_entry *e = mhim_pt_entry_at(pt, 0);
    if (e->shape[0] != n || e->shape[1] != d)
        rc = mhim_fail("%s: tensor has shape (%lld, %lld), expected (%lld, %lld)", path, (long long)e->shape[0],
                       (long long)e->shape[1], (long long)n, (long long)d);
    else
        rc = mhim_pt_read_f32(pt, 0, dst, n * d);
    mhim_pt_close(pt);
    return rc;
}

int mhim_bag_read_into(const char *path, float *dst, int64_t n, int64_t d) {
    return read_features(path, dst, n, d, NULL);
}

int mhim_bag_read(const char *path, int want_coords, mhim_bag *bag) {
    memset(bag, 0, sizeof *bag);
    int64_t n, d;
    int rc = mhim_bag_read_shape(path, &n, &d);
    if (rc) return rc;
    bag->features = mhim_malloc((size_t)(n * d) * sizeof *bag->features);
    rc = read_features(path, bag->features, n, d, want_coords ? &bag->coords : NULL);
    if (rc) {
        mhim_bag_free(bag);
        return rc;
    }
    bag->n = n;
    bag->d = d;
    return MHIM_OK;
}

/* Largest |value| bit pattern of a block; non-finite values are those >= 0x7f800000. Written as a
 * branch-free max so the compiler vectorises it: the common all-finite case runs at memory speed. */
static uint32_t max_magnitude_bits(const float *values, int64_t count) {
    uint32_t m = 0;
    for (int64_t k = 0; k < count; k++) {
        uint32_t u;
        memcpy(&u, &values[k], sizeof u);
        u &= 0x7fffffffu;
        m = u > m ? u : m;
    }
    return m;
}

void mhim_bag_count_nan_inf(const float *values, int64_t count, int64_t *nan_count, int64_t *inf_count) {
    int64_t nans = 0, infs = 0;
    if (max_magnitude_bits(values, count) >= 0x7f800000u)
        for (int64_t k = 0; k < count; k++) {
            nans += isnan(values[k]) != 0;
            infs += isinf(values[k]) != 0;
        }
    *nan_count = nans;
    *inf_count = infs;
}

int64_t mhim_bag_count_nonfinite(const float *features, int64_t count) {
    int64_t nans, infs;
    mhim_bag_count_nan_inf(features, count, &nans, &infs);
    return nans + infs;
}

void mhim_bag_free(mhim_bag *bag) {
    free(bag->features);
    free(bag->coords);
    memset(bag, 0, sizeof *bag);
}
