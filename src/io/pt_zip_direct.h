/* io/pt_zip_direct.h — direct (pread) access to the stored records of a zip archive already opened and
 * validated by libzip: finds each record's data offset from the central directory and local header, so that
 * float32 tensors are read from the file straight into the caller's buffer at disk/page-cache speed.
 * Anything unexpected (compressed record, names not matching libzip's, odd headers) just disables the direct
 * path for that record: callers then read through libzip. */
#ifndef MHIM_IO_PT_ZIP_DIRECT_H
#define MHIM_IO_PT_ZIP_DIRECT_H

#include <stdint.h>
#include <zip.h>

typedef struct {
    int fd;                   /* -1 when the direct path is off */
    uint64_t file_size;
    int64_t count;            /* central-directory entries == libzip indices */
    uint64_t *header_offset;  /* local header offset per index; UINT64_MAX = not a plain stored record */
    uint64_t *data_offset;    /* 0 until resolved */
    uint64_t *size;           /* uncompressed size per index */
} pt_zip_direct;

/* Index the central directory of `path` (opened as `zip` by libzip). Never fails: on any surprise the direct
 * path is off (d->fd = -1). Release with pt_zip_direct_close. */
void pt_zip_direct_open(pt_zip_direct *d, const char *path, zip_t *zip);
void pt_zip_direct_close(pt_zip_direct *d);

/* Absolute file offset of byte `offset` of record `index` in *file_offset, when the record is stored plainly.
 * Returns 1 if found, 0 if the direct path is not available for this record, -1 if [offset, offset+nbytes)
 * lies outside the record. */
int pt_zip_direct_locate(pt_zip_direct *d, uint64_t index, uint64_t offset, uint64_t nbytes, uint64_t *file_offset);
/* Read nbytes at byte `offset` of record `index` into dst. Returns 1 if done, 0 if the direct path is not
 * available for this record (nothing read; use libzip), -1 on an I/O error or short read. */
int pt_zip_direct_read(pt_zip_direct *d, uint64_t index, uint64_t offset, void *dst, uint64_t nbytes);

#endif
