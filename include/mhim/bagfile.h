/* mhim/bagfile.h — one feature bag file (CLAM/TRIDENT .h5 or torch.save .pt) read into memory.
 *
 * Accepted layouts (../shared/notes/formats.md §2): HDF5 with dataset `features` (N,D) float32 or
 * float16 (converted to float32) and optional `coords` (N,2) int32/int64; `.pt` = torch.save zip archive
 * holding one float32/float16/bfloat16 tensor (N,D) (read with mhim/ptfile.h). Every failure returns MHIM_EINPUT
 * with a one-line message (mhim_error()) that names the file and what was expected. NaN/Inf are not checked
 * here. An empty bag (N = 0, D > 0) reads successfully with n = 0: the caller decides whether to accept it.
 * HDF5 reads use the serial libhdf5: call these from one thread. Details: docs/formats.md. */
#ifndef MHIM_BAGFILE_H
#define MHIM_BAGFILE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { MHIM_BAG_H5 = 1, MHIM_BAG_PT = 2 } mhim_bag_format;

typedef struct {
    int64_t n;       /* instances (rows); may be 0 only if the caller allows empty bags */
    int64_t d;       /* feature width */
    float *features; /* (n, d) row-major float32, owned */
    int64_t *coords; /* (n, 2) owned, or NULL (file has none, or not requested) */
} mhim_bag;

/* File format from the name: .h5/.hdf5 -> H5, .pt/.pth -> PT; MHIM_EINPUT otherwise. */
int mhim_bag_format_of(const char *path, mhim_bag_format *out);
/* Shape of the features without reading them (n = 0 for an empty bag). */
int mhim_bag_read_shape(const char *path, int64_t *n, int64_t *d);
/* Read the features into caller memory dst (n*d floats); fails unless the file's shape is exactly (n, d). */
int mhim_bag_read_into(const char *path, float *dst, int64_t n, int64_t d);
/* Same, and *nonfinite = the number of NaN/Inf values (counted while the data is hot in cache where possible). */
int mhim_bag_read_into_counted(const char *path, float *dst, int64_t n, int64_t d, int64_t *nonfinite);
/* Read the whole bag (features, and coords when want_coords and present; .pt bags have none). On failure
 * *bag is left empty. HDF5 coords are validated (integer, (n,2)) only when requested. */
int mhim_bag_read(const char *path, int want_coords, mhim_bag *bag);
/* Features mapped read-only straight from the file (no copy: the pages are the page cache's). */
typedef struct {
    const float *features; /* (n, d), or NULL when the file's layout does not allow mapping */
    void *base;            /* the mapping, for mhim_bag_unmap */
    size_t length;
} mhim_bag_mapping;

/* Map the (n, d) features of `path` when they are stored as uncompressed little-endian float32 in one
 * contiguous row-major run (a .pt tensor; a contiguous HDF5 dataset or one whose chunks lie back to back),
 * populating the page tables up front. Returns MHIM_OK with m->features NULL when the layout does not allow it
 * (read the bag instead), MHIM_EINPUT for a bad file or a shape other than (n, d). */
int mhim_bag_map(const char *path, int64_t n, int64_t d, mhim_bag_mapping *m);
void mhim_bag_unmap(mhim_bag_mapping *m);
/* Number of NaN/Inf values among the n*d features. */
int64_t mhim_bag_count_nonfinite(const float *features, int64_t count);
/* NaN and ±Inf counts among count values, separately. */
void mhim_bag_count_nan_inf(const float *values, int64_t count, int64_t *nan_count, int64_t *inf_count);
void mhim_bag_free(mhim_bag *bag);

#endif
