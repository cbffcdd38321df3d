/* Feature-bag files: dispatch on the extension to the HDF5 or torch.save reader (see mhim/bagfile.h). */
#include "mhim/bagfile.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
static int read_features(const char *path, float *dst, int64_t n, int64_t d, int64_t **coords, int64_t *nonfinite) {
    mhim_bag_format format;
    int rc = mhim_bag_format_of(path, &format);
    if (rc) return rc;
    if (format == MHIM_BAG_H5) return h5_bag_read(path, dst, n, d, coords, nonfinite);
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
    if (!rc && nonfinite) *nonfinite = mhim_bag_count_nonfinite(dst, n * d);
    return rc;
}

int mhim_bag_read_into(const char *path, float *dst, int64_t n, int64_t d) {
    return read_features(path, dst, n, d, NULL, NULL);
}

int mhim_bag_read_into_counted(const char *path, float *dst, int64_t n, int64_t d, int64_t *nonfinite) {
    return read_features(path, dst, n, d, NULL, nonfinite);
}

int mhim_bag_read(const char *path, int want_coords, mhim_bag *bag) {
    memset(bag, 0, sizeof *bag);
    int64_t n, d;
    int rc = mhim_bag_read_shape(path, &n, &d);
    if (rc) return rc;
    bag->features = mhim_malloc((size_t)(n * d) * sizeof *bag->features);
    rc = read_features(path, bag->features, n, d, want_coords ? &bag->coords : NULL, NULL);
    if (rc) {
        mhim_bag_free(bag);
        return rc;
    }
    bag->n = n;
    bag->d = d;
    return MHIM_OK;
}

/* Byte offset of the features of a .pt bag when they can be mapped: 1 found, 0 not mappable, -1 bad file. */
static int pt_features_offset(const char *path, int64_t n, int64_t d, uint64_t *offset) {
    mhim_ptfile *pt;
    int rc = pt_open_bag(path, &pt);
    if (rc) return -1;
    const mhim_pt_entry *e = mhim_pt_entry_at(pt, 0);
    int found = 0;
    if (e->shape[0] != n || e->shape[1] != d)
        rc = mhim_fail("%s: tensor has shape (%lld, %lld), expected (%lld, %lld)", path, (long long)e->shape[0],
                       (long long)e->shape[1], (long long)n, (long long)d);
    else
        found = mhim_pt_f32_file_offset(pt, 0, offset);
    mhim_pt_close(pt);
    return rc ? -1 : found;
}

int mhim_bag_map(const char *path, int64_t n, int64_t d, mhim_bag_mapping *m) {
    memset(m, 0, sizeof *m);
    mhim_bag_format format;
    int rc = mhim_bag_format_of(path, &format);
    if (rc || n <= 0) return rc;
    uint64_t offset = 0;
    int found = format == MHIM_BAG_H5 ? h5_bag_file_offset(path, n, d, &offset) : pt_features_offset(path, n, d, &offset);
    if (found < 0) return MHIM_EINPUT;
    if (!found || offset % sizeof(float)) return MHIM_OK;
    const uint64_t bytes = (uint64_t)n * (uint64_t)d * sizeof(float);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size < offset + bytes) {
        if (fd >= 0) close(fd);
        return fd < 0 ? MHIM_OK : mhim_fail("%s: features extend past the end of the file (truncated file?)", path);
    }
    const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start = offset - offset % page;
    m->length = (size_t)(offset - start + bytes);
    m->base = mmap(NULL, m->length, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, (off_t)start);
    close(fd);
    if (m->base == MAP_FAILED) {
        memset(m, 0, sizeof *m);
        return MHIM_OK; /* fall back to reading */
    }
    m->features = (const float *)((const char *)m->base + (offset - start));
    return MHIM_OK;
}

void mhim_bag_unmap(mhim_bag_mapping *m) {
    if (m->base) munmap(m->base, m->length);
    memset(m, 0, sizeof *m);
}

/* Largest |value| bit pattern of a block; non-finite values are those >= 0x7f800000. Sixteen independent
 * lanes with a fixed trip count, so that the compiler vectorises it at -O2: the common all-finite case runs at
 * memory speed. */
#define SCAN_LANES 16
static uint32_t max_magnitude_bits(const float *values, int64_t count) {
    uint32_t lane[SCAN_LANES] = {0};
    int64_t k = 0;
    for (; k + SCAN_LANES <= count; k += SCAN_LANES) {
        uint32_t u[SCAN_LANES];
        memcpy(u, values + k, sizeof u);
        for (int j = 0; j < SCAN_LANES; j++) {
            uint32_t a = u[j] & 0x7fffffffu;
            lane[j] = a > lane[j] ? a : lane[j];
        }
    }
    uint32_t m = 0;
    for (int j = 0; j < SCAN_LANES; j++) m = lane[j] > m ? lane[j] : m;
    for (; k < count; k++) {
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
