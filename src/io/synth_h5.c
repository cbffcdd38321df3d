/* CLAM-layout bag writer: `features` (N,D) float32 and `coords` (N,2) int32, chunked by 32 rows with an
 * unlimited first dimension, no filters, no object timestamps (so equal inputs give equal bytes). */
#include <hdf5.h>

#include "mhim/common.h"
#include "mhim/synth.h"

#define CLAM_CHUNK_ROWS 32

/* Create dataset `name` (n, cols) of file type ftype and write data (memory type mtype) when n > 0. */
static int write_dataset(hid_t file, const char *name, hid_t ftype, hid_t mtype, const void *data, int64_t n,
                         int64_t cols) {
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)cols}, maxdims[2] = {H5S_UNLIMITED, (hsize_t)cols};
    hsize_t chunk[2] = {CLAM_CHUNK_ROWS, (hsize_t)cols};
    hid_t space = H5Screate_simple(2, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    herr_t ok = space < 0 || dcpl < 0 ? -1 : 0;
    if (ok >= 0) ok = H5Pset_chunk(dcpl, 2, chunk);
    if (ok >= 0) ok = H5Pset_obj_track_times(dcpl, 0);
    hid_t dset = ok >= 0 ? H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT) : -1;
    if (dset < 0) ok = -1;
    if (ok >= 0 && n > 0) ok = H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (dset >= 0 && H5Dclose(dset) < 0) ok = -1;
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return ok >= 0 ? MHIM_OK : MHIM_EINPUT;
}

int mhim_synth_write_h5(const char *path, const float *features, const int32_t *coords, int64_t n, int64_t d) {
    int rc = MHIM_EINPUT;
    H5E_BEGIN_TRY {
        hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (file >= 0) {
            rc = write_dataset(file, "features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, features, n, d);
            if (rc == MHIM_OK) rc = write_dataset(file, "coords", H5T_STD_I32LE, H5T_NATIVE_INT32, coords, n, 2);
            if (H5Fclose(file) < 0) rc = MHIM_EINPUT;
        }
    } H5E_END_TRY;
    if (rc != MHIM_OK)
        return mhim_fail("%s: cannot write the HDF5 bag (%lld x %lld); check that the folder exists, is writable "
                         "and has free space", path, (long long)n, (long long)d);
    return MHIM_OK;
}
