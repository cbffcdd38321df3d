/* io/h5_bag.h — CLAM/TRIDENT HDF5 feature bags: `features` (N,D) float16/32/64 read as float32, optional
 * `coords` (N,2) of any integer type read as int64. Single thread only (serial libhdf5). */
#ifndef MHIM_IO_H5_BAG_H
#define MHIM_IO_H5_BAG_H

#include <stdint.h>

/* Shape of `features` after checking the layout (file, dataset, float type, rank 2, D > 0). n may be 0. */
int h5_bag_shape(const char *path, int64_t *n, int64_t *d);

/* Read `features` into dst (n*d floats; the file's shape must be exactly (n, d)): raw float32 rows straight from
 * the file with pread, anything else with one H5Dread. If nonfinite != NULL, *nonfinite = the number of NaN/Inf
 * values (counted piece by piece while the data is still in cache). If coords != NULL: *coords = new (n,2) int64
 * array (free()) when the file has `coords`, else NULL; coords that are not an (n,2) integer dataset are an
 * error. MHIM_EINPUT with one message on failure. */
int h5_bag_read(const char *path, float *dst, int64_t n, int64_t d, int64_t **coords, int64_t *nonfinite);

/* 1 when `features` (shape exactly (n, d), n*d > 0) is stored as little-endian float32 without filters in one
 * contiguous row-major run of the file: a contiguous dataset, or a chunked one whose chunks span full rows and
 * lie back to back in row order (what h5py writes when appending, as CLAM and TRIDENT do). *file_offset is then
 * the byte offset of element 0. 0 otherwise (the caller reads with h5_bag_read); -1 for a bad file (message
 * recorded). */
int h5_bag_file_offset(const char *path, int64_t n, int64_t d, uint64_t *file_offset);

#endif
