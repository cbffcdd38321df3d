/* io/h5_common.h — shared HDF5 helpers for the bag reader and `mhim info`: quiet, checked file opening and
 * type names. libhdf5 here is the serial, non-thread-safe build: call these from one thread. */
#ifndef MHIM_IO_H5_COMMON_H
#define MHIM_IO_H5_COMMON_H

#include <hdf5.h>
#include <stddef.h>

/* Open `path` read-only (no file locks: bags are inputs that nobody writes while they are read). Turns off
 * libhdf5's automatic error-stack printing. MHIM_EINPUT with one message if the file is missing, unreadable,
 * not HDF5, or truncated/corrupt. */
int h5_open_file(const char *path, hid_t *file);

/* Short name of an HDF5 datatype: "float16|32|64", "int8..64", "uint8..64", "string", "vlen string",
 * "compound", ... written into buf. */
void h5_type_name(hid_t type, char *buf, size_t size);

/* 1 if type is a plain float (16/32/64-bit, full precision, offset 0), for want_class H5T_FLOAT, or a plain
 * 8/16/32/64-bit integer, for H5T_INTEGER. Rejects the malformed types of corrupt files before libhdf5 reads
 * data with them. */
int h5_type_is_plain(hid_t type, H5T_class_t want_class);

/* Comma-separated names of the objects directly under the root group (at most size bytes; "" if none). */
void h5_root_names(hid_t file, char *buf, size_t size);

#endif
