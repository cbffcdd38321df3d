/* mhim/atomic_file.h — replace a file atomically: readers (and a run killed at any instant) see
 * either the old complete file or the new complete file, never a partial one.
 *
 * Protocol: write to a temporary file in the SAME folder ("<path>.tmp.<pid>.<n>", created with
 * O_EXCL and mode 0666 minus umask), fflush, fsync the file, close, rename() over <path> (atomic within
 * one file system), then fsync the folder so that the rename itself survives a crash. A process killed
 * before the rename leaves <path> untouched and at most a stale "*.tmp.*" file beside it.
 *
 * Errors: a path whose folder is missing or not writable is MHIM_EINPUT; a failing write, fsync or
 * rename (disk full, I/O error) is MHIM_EINTERNAL. Both record one message naming the path. */
#ifndef MHIM_ATOMIC_FILE_H
#define MHIM_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct mhim_atomic_file mhim_atomic_file;

/* Start replacing `path`: creates the temporary file. On success *out is valid until commit/abort. */
int mhim_atomic_open(const char *path, mhim_atomic_file **out);
/* Buffered stream onto the temporary file (owned by `f`; do not fclose it). */
FILE *mhim_atomic_stream(mhim_atomic_file *f);
/* Name of the temporary file, for libraries that write by name (e.g. HDF5 with H5F_ACC_TRUNC):
 * close such handles before mhim_atomic_commit. */
const char *mhim_atomic_temp_path(const mhim_atomic_file *f);
/* Flush, fsync, close, rename over the target, fsync the folder; frees `f` in every case. On failure
 * the temporary file is removed and the target is left as it was. */
int mhim_atomic_commit(mhim_atomic_file *f);
/* Give up: close and remove the temporary file, free `f`. NULL is allowed. */
void mhim_atomic_abort(mhim_atomic_file *f);

/* Replace `path` with the n bytes of `data` (open + write + commit). */
int mhim_atomic_write(const char *path, const void *data, size_t n);

/* fsync the folder that holds `path` (after creating, renaming or truncating a file in it). */
int mhim_fsync_parent_dir(const char *path);

#endif
