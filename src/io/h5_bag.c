/* CLAM/TRIDENT HDF5 feature-bag reader (see io/h5_bag.h). */
#include "io/h5_bag.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/compression_bound.h"
#include "io/h5_common.h"
#include "mhim/bagfile.h"
#include "mhim/common.h"

_Static_assert(sizeof(long long) == sizeof(int64_t), "coords are read as NATIVE_LLONG into int64_t");

typedef struct {
    hid_t file, features;
    int64_t n, d;
} h5_bag;

static void bag_close(h5_bag *b) {
    if (b->features >= 0) H5Dclose(b->features);
    if (b->file >= 0) H5Fclose(b->file);
    b->features = b->file = H5I_INVALID_HID;
}

/* Dataset `name` of the file as an open dataset (checks that it exists and is a dataset). */
static int open_dataset(const char *path, hid_t file, const char *name, hid_t *out) {
    *out = H5I_INVALID_HID;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
        char found[256];
        h5_root_names(file, found, sizeof found);
        return mhim_fail("%s: no dataset '%s' (the file has: %s); expected a CLAM/TRIDENT feature file", path,
                         name, found[0] ? found : "nothing");
    }
    hid_t object = H5Oopen(file, name, H5P_DEFAULT);
    if (object < 0) return mhim_fail("%s: cannot open '%s' (corrupt file?)", path, name);
    if (H5Iget_type(object) != H5I_DATASET) {
        H5Oclose(object);
        return mhim_fail("%s: '%s' is not a dataset", path, name);
    }
    *out = object;
    return MHIM_OK;
}

/* Rank-2 extent of dataset `name`; fails on another rank. */
static int extent_2d(const char *path, hid_t dset, const char *name, int64_t dims[2]) {
    hid_t space = H5Dget_space(dset);
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    hsize_t h[H5S_MAX_RANK] = {0};
    if (rank > 0) H5Sget_simple_extent_dims(space, h, NULL);
    if (space >= 0) H5Sclose(space);
    if (rank < 0) return mhim_fail("%s: cannot read the shape of '%s' (corrupt file?)", path, name);
    if (rank != 2)
        return mhim_fail("%s: '%s' has rank %d, expected 2 (%s)", path, name, rank,
                         name[0] == 'f' ? "instances N x feature width D" : "N x 2");
    if (h[0] > (hsize_t)INT64_MAX || h[1] > (hsize_t)INT64_MAX)
        return mhim_fail("%s: '%s' has an impossible shape (corrupt file?)", path, name);
    dims[0] = (int64_t)h[0];
    dims[1] = (int64_t)h[1];
    return MHIM_OK;
}

/* 1 when the chunks of an unfiltered chunked dataset cover its (rows, cols) grid at full size: at least one
 * allocated chunk per grid cell and `stored` bytes = chunks x chunk[0] x chunk[1] elements (libhdf5 writes even the
 * edge chunks whole), 0 otherwise. Two passes over the chunk index; a lookup per chunk would cost ~0.2 ms each in
 * libhdf5 1.10 (CLAM writes one chunk per row: 30000 chunks for a large slide). */
static int chunks_whole(hid_t dset, const hsize_t chunk[2], int64_t rows, int64_t cols, int64_t elem_bytes,
                        int64_t stored) {
    if (chunk[0] == 0 || chunk[1] == 0) return 0;
    const uint64_t grid = ((uint64_t)rows + chunk[0] - 1) / chunk[0] * (((uint64_t)cols + chunk[1] - 1) / chunk[1]);
    hsize_t count = 0;
    hid_t space = H5Dget_space(dset);
    const int listed = space >= 0 && H5Dget_num_chunks(dset, space, &count) >= 0;
    if (space >= 0) H5Sclose(space);
    return listed && count >= grid && (uint64_t)stored == count * chunk[0] * chunk[1] * (uint64_t)elem_bytes;
}

/* Without filters (no compression) dataset `name` of shape (rows, cols) must be stored whole: its allocated storage
 * (chunks, contiguous block or compact bytes) and the file must both hold every declared byte. A corrupt or
 * truncated file whose shape claims more, or whose data was never written (read back as fill values), is refused
 * here, before a reader allocates the bag or libhdf5 reads it (libhdf5 1.10 overruns its buffers on some such
 * files). A compressed dataset may not declare more than any compression of its stored bytes yields. */
static int check_stored_size(const char *path, hid_t dset, const char *name, int64_t rows, int64_t cols) {
    hid_t dcpl = H5Dget_create_plist(dset), type = H5Dget_type(dset);
    const int nfilters = dcpl < 0 ? -1 : H5Pget_nfilters(dcpl);
    const int64_t elem_bytes = type < 0 ? 0 : (int64_t)H5Tget_size(type);
    hsize_t chunk[2] = {0, 0};
    const int chunked = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 2, chunk) == 2;
    if (dcpl >= 0) H5Pclose(dcpl);
    if (type >= 0) H5Tclose(type);
    struct stat st;
    if (rows == 0 || nfilters < 0 || stat(path, &st) != 0) return MHIM_OK;
    const int64_t need = rows * cols * elem_bytes, stored = (int64_t)H5Dget_storage_size(dset);
    if (nfilters > 0) {
        if (mhim_beyond_compression((uint64_t)need, (uint64_t)stored))
            return mhim_fail("%s: '%s' has shape (%lld, %lld) = %lld bytes uncompressed, but only %lld bytes are "
                             "stored, more than any compression gives (corrupt file?)", path, name, (long long)rows,
                             (long long)cols, (long long)need, (long long)stored);
        return MHIM_OK;
    }
    if (need > (int64_t)st.st_size || need > stored)
        return mhim_fail("%s: '%s' has shape (%lld, %lld) = %lld bytes uncompressed, but the file stores %lld of "
                         "them in a file of %lld bytes (truncated, unwritten or corrupt data?)", path, name,
                         (long long)rows, (long long)cols, (long long)need, (long long)MHIM_MIN(stored, need),
                         (long long)st.st_size);
    if (chunked && !chunks_whole(dset, chunk, rows, cols, elem_bytes, stored))
        return mhim_fail("%s: '%s': a chunk is missing or its stored size differs from its shape's (unwritten or "
                         "corrupt data?)", path, name);
    return MHIM_OK;
}

static int bag_open(const char *path, h5_bag *b) {
    b->file = b->features = H5I_INVALID_HID;
    int rc = h5_open_file(path, &b->file);
    if (!rc) rc = open_dataset(path, b->file, "features", &b->features);
    if (rc) return rc;
    /* Reopen with the chunk cache off: whole-dataset reads then go from the file straight into the
     * caller's buffer instead of through the cache (one copy less). */
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    hid_t direct = dapl < 0 || H5Pset_chunk_cache(dapl, 0, 0, 1.0) < 0 ? H5I_INVALID_HID
                                                                       : H5Dopen2(b->file, "features", dapl);
    if (dapl >= 0) H5Pclose(dapl);
    if (direct >= 0) {
        H5Oclose(b->features);
        b->features = direct;
    }
    hid_t type = H5Dget_type(b->features);
    int plain = h5_type_is_plain(type, H5T_FLOAT);
    char name[32];
    h5_type_name(type, name, sizeof name);
    H5Tclose(type);
    if (!plain) return mhim_fail("%s: 'features': expected float32/float16 features, found %s", path, name);
    int64_t dims[2];
    if ((rc = extent_2d(path, b->features, "features", dims))) return rc;
    b->n = dims[0];
    b->d = dims[1];
    if (b->d <= 0) return mhim_fail("%s: 'features' has shape (%lld, 0): feature width D must be > 0", path,
                                    (long long)b->n);
    if (b->n > INT64_MAX / 16 / b->d) /* byte sizes of n*d floats and of (n,2) int64 coords fit in int64 */
        return mhim_fail("%s: 'features' has shape (%lld, %lld), too large to read (corrupt file?)", path,
                         (long long)b->n, (long long)b->d);
    return check_stored_size(path, b->features, "features", b->n, b->d);
}

int h5_bag_shape(const char *path, int64_t *n, int64_t *d) {
    h5_bag b;
    int rc = bag_open(path, &b);
    if (!rc) {
        *n = b.n;
        *d = b.d;
    }
    bag_close(&b);
    return rc;
}

/* Read `coords` (must be integer (n,2)) into a new array, or *out = NULL if the file has none. */
static int read_coords(const char *path, hid_t file, int64_t n, int64_t **out) {
    *out = NULL;
    if (H5Lexists(file, "coords", H5P_DEFAULT) <= 0) return MHIM_OK;
    hid_t dset;
    int rc = open_dataset(path, file, "coords", &dset);
    if (rc) return rc;
    hid_t type = H5Dget_type(dset);
    char name[32];
    h5_type_name(type, name, sizeof name);
    int is_int = h5_type_is_plain(type, H5T_INTEGER);
    H5Tclose(type);
    int64_t dims[2];
    if (!is_int)
        rc = mhim_fail("%s: 'coords': expected int32/int64 coordinates, found %s", path, name);
    else if (!(rc = extent_2d(path, dset, "coords", dims)) && (dims[0] != n || dims[1] != 2))
        rc = mhim_fail("%s: 'coords' has shape (%lld, %lld), expected (%lld, 2) to match 'features'", path,
                       (long long)dims[0], (long long)dims[1], (long long)n);
    if (!rc) rc = check_stored_size(path, dset, "coords", n, 2);
    if (!rc) {
        *out = mhim_malloc((size_t)(2 * n) * sizeof **out);
        if (n > 0 && H5Dread(dset, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) {
            rc = mhim_fail("%s: cannot read 'coords' (truncated or corrupt file?)", path);
            free(*out);
            *out = NULL;
        }
    }
    H5Dclose(dset);
    return rc;
}

/* bag_open, then check that `features` has shape exactly (n, d). */
static int bag_open_shaped(const char *path, int64_t n, int64_t d, h5_bag *b) {
    int rc = bag_open(path, b);
    if (!rc && (b->n != n || b->d != d))
        rc = mhim_fail("%s: 'features' has shape (%lld, %lld), expected (%lld, %lld)", path, (long long)b->n,
                       (long long)b->d, (long long)n, (long long)d);
    return rc;
}

/* A run of whole rows of `features` stored raw in the file: rows [row, row + rows) at byte `offset`. */
typedef struct {
    int64_t row, rows;
    uint64_t offset;
} raw_run;

/* Chunked datasets with more chunks than this are read with H5Dread: libhdf5 1.10 looks a chunk up by coordinate
 * in time growing with the chunk count (~0.2 ms each at 30000 chunks, CLAM's one chunk per row: 7 s per bag, against
 * 0.2 s for H5Dread), so the lookups of raw_runs pay only for a few large chunks. */
#define RAW_RUNS_MAX_CHUNKS 1024

/* Where the rows of `features` lie in the file when they are stored raw (little-endian float32, no filters):
 * one run for a contiguous dataset, one per chunk for a chunked one with full-width chunks and at most
 * RAW_RUNS_MAX_CHUNKS of them (looked up by coordinate). Returns the number of runs in *runs (free()), or 0 when
 * the layout is anything else and the data must go through H5Dread. */
static int64_t raw_runs(const h5_bag *b, raw_run **runs) {
    *runs = NULL;
    int64_t count = 0;
    hid_t type = H5Dget_type(b->features), dcpl = H5Dget_create_plist(b->features);
    if (b->n > 0 && type >= 0 && dcpl >= 0 && H5Tequal(type, H5T_IEEE_F32LE) > 0) {
        H5D_layout_t layout = H5Pget_layout(dcpl);
        hsize_t chunk[2];
        if (layout == H5D_CONTIGUOUS) {
            haddr_t addr = H5Dget_offset(b->features);
            if (addr != HADDR_UNDEF) {
                *runs = mhim_malloc(sizeof **runs);
                (*runs)[0] = (raw_run){0, b->n, (uint64_t)addr};
                count = 1;
            }
        } else if (layout == H5D_CHUNKED && H5Pget_chunk(dcpl, 2, chunk) == 2 && (int64_t)chunk[1] == b->d &&
                   chunk[0] > 0 && ((hsize_t)b->n + chunk[0] - 1) / chunk[0] <= RAW_RUNS_MAX_CHUNKS &&
                   H5Pget_nfilters(dcpl) == 0) {
            const int64_t rows = (int64_t)chunk[0], n_chunks = (b->n + rows - 1) / rows;
            *runs = mhim_malloc((size_t)n_chunks * sizeof **runs);
            for (count = 0; count < n_chunks; count++) {
                hsize_t origin[2] = {(hsize_t)(count * rows), 0}, size = 0;
                unsigned filter_mask = 0;
                haddr_t addr = HADDR_UNDEF;
                if (H5Dget_chunk_info_by_coord(b->features, origin, &filter_mask, &addr, &size) < 0 ||
                    filter_mask != 0 || addr == HADDR_UNDEF || size != (hsize_t)rows * chunk[1] * 4u)
                    break;
                (*runs)[count] = (raw_run){count * rows, MHIM_MIN(rows, b->n - count * rows), (uint64_t)addr};
            }
            if (count < n_chunks) count = 0;
        }
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (type >= 0) H5Tclose(type);
    if (!count) {
        free(*runs);
        *runs = NULL;
    }
    return count;
}

/* Read the raw runs straight from the file into dst with pread (no HDF5 buffers in between); with nonfinite,
 * count the NaN/Inf values of each run right after reading it. */
static int read_runs(const char *path, const raw_run *runs, int64_t count, int64_t d, float *dst,
                     int64_t *nonfinite) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    int rc = fd < 0 || fstat(fd, &st) != 0 ? mhim_fail("%s: cannot open for reading", path) : MHIM_OK;
    for (int64_t k = 0; k < count && !rc; k++) {
        uint64_t bytes = (uint64_t)(runs[k].rows * d) * sizeof(float), done = 0;
        if (runs[k].offset + bytes > (uint64_t)st.st_size)
            rc = mhim_fail("%s: 'features' extends past the end of the file (truncated file?)", path);
        char *out = (char *)(dst + runs[k].row * d);
        while (!rc && done < bytes) {
            ssize_t got = pread(fd, out + done, (size_t)MHIM_MIN(bytes - done, (uint64_t)1 << 30),
                                (off_t)(runs[k].offset + done));
            if (got <= 0) rc = mhim_fail("%s: cannot read 'features' (truncated or corrupt file?)", path);
            done += got > 0 ? (uint64_t)got : 0;
        }
        if (!rc && nonfinite) *nonfinite += mhim_bag_count_nonfinite((const float *)out, runs[k].rows * d);
    }
    if (fd >= 0) close(fd);
    return rc;
}

int h5_bag_read(const char *path, float *dst, int64_t n, int64_t d, int64_t **coords, int64_t *nonfinite) {
    if (coords) *coords = NULL;
    if (nonfinite) *nonfinite = 0;
    h5_bag b;
    int rc = bag_open_shaped(path, n, d, &b);
    raw_run *runs = NULL;
    int64_t n_runs = rc ? 0 : raw_runs(&b, &runs);
    if (n_runs > 0) {
        rc = read_runs(path, runs, n_runs, d, dst, nonfinite);
    } else if (!rc && n > 0) {
        if (H5Dread(b.features, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
            rc = mhim_fail("%s: cannot read 'features' (truncated or corrupt file?)", path);
        else if (nonfinite)
            *nonfinite = mhim_bag_count_nonfinite(dst, n * d);
    }
    free(runs);
    if (!rc && coords) rc = read_coords(path, b.file, n, coords);
    bag_close(&b);
    return rc;
}

int h5_bag_file_offset(const char *path, int64_t n, int64_t d, uint64_t *file_offset) {
    h5_bag b;
    int rc = bag_open_shaped(path, n, d, &b);
    raw_run *runs = NULL;
    int64_t n_runs = rc ? 0 : raw_runs(&b, &runs);
    int contiguous = n_runs > 0;
    for (int64_t k = 1; k < n_runs && contiguous; k++)
        contiguous = runs[k].offset == runs[0].offset + (uint64_t)(runs[k].row * d) * sizeof(float);
    if (contiguous) *file_offset = runs[0].offset;
    free(runs);
    bag_close(&b);
    return rc ? -1 : contiguous;
}
