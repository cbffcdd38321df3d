/* io/h5_describe.h — human-readable listing of an HDF5 file for `mhim info`. */
#ifndef MHIM_IO_H5_DESCRIBE_H
#define MHIM_IO_H5_DESCRIBE_H

#include <stdio.h>

/* Print every group and dataset of `path` to out: shape, dtype, chunk shape, compression filters, attributes
 * (numbers, strings, small arrays), and NaN/Inf counts of float datasets. MHIM_EINPUT with one message if the
 * file cannot be opened or read (lines already printed stay printed). */
int h5_describe(const char *path, FILE *out);

#endif
