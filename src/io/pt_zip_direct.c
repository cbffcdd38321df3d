/* Direct reads of stored zip records (see io/pt_zip_direct.h). Zip layout: APPNOTE 6.3 (EOCD, ZIP64 EOCD
 * locator/record, central directory headers with the ZIP64 extra field 0x0001, local file headers). */
#include "io/pt_zip_direct.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mhim/common.h"

#define EOCD_SIZE 22
#define EOCD_MAX_COMMENT 65535
#define MAX_CENTRAL_DIRECTORY (256u << 20)

static uint64_t le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

/* Read exactly n bytes at offset; 0 on success. */
static int read_at(int fd, uint64_t offset, void *dst, uint64_t n) {
    for (uint64_t done = 0; done < n;) {
        ssize_t got = pread(fd, (char *)dst + done, (size_t)MHIM_MIN(n - done, (uint64_t)1 << 30),
                            (off_t)(offset + done));
        if (got <= 0) return -1;
        done += (uint64_t)got;
    }
    return 0;
}

/* Locate the central directory: *count entries, *size bytes at *offset. 0 on success. */
static int find_central_directory(pt_zip_direct *d, uint64_t *count, uint64_t *size, uint64_t *offset) {
    uint64_t tail_len = MHIM_MIN(d->file_size, (uint64_t)EOCD_SIZE + EOCD_MAX_COMMENT);
    unsigned char *tail = mhim_malloc((size_t)tail_len);
    int rc = -1;
    if (tail_len >= EOCD_SIZE && !read_at(d->fd, d->file_size - tail_len, tail, tail_len)) {
        for (int64_t k = (int64_t)(tail_len - EOCD_SIZE); k >= 0 && rc; k--) {
            const unsigned char *e = tail + k;
            if (memcmp(e, "PK\5\6", 4)) continue;
            *count = le(e + 10, 2);
            *size = le(e + 12, 4);
            *offset = le(e + 16, 4);
            rc = 0;
            uint64_t eocd_pos = d->file_size - tail_len + (uint64_t)k;
            if (*count == 0xffff || *size == 0xffffffffu || *offset == 0xffffffffu) { /* ZIP64 */
                unsigned char loc[20], rec[56];
                rc = eocd_pos < 20 || read_at(d->fd, eocd_pos - 20, loc, 20) || memcmp(loc, "PK\6\7", 4) ||
                     read_at(d->fd, le(loc + 8, 8), rec, 56) || memcmp(rec, "PK\6\6", 4);
                if (!rc) {
                    *count = le(rec + 32, 8);
                    *size = le(rec + 40, 8);
                    *offset = le(rec + 48, 8);
                }
            }
        }
    }
    free(tail);
    if (!rc && (*size > MAX_CENTRAL_DIRECTORY || *offset > d->file_size || *size > d->file_size - *offset))
        rc = -1;
    return rc;
}

/* Fill header_offset/size from the central directory; 0 on success. */
static int index_entries(pt_zip_direct *d, zip_t *zip, const unsigned char *cd, uint64_t cd_size) {
    uint64_t pos = 0;
    for (int64_t k = 0; k < d->count; k++) {
        if (cd_size - pos < 46 || memcmp(cd + pos, "PK\1\2", 4)) return -1;
        const unsigned char *h = cd + pos;
        uint64_t method = le(h + 10, 2), comp = le(h + 20, 4), size = le(h + 24, 4), header = le(h + 42, 4);
        uint64_t name_len = le(h + 28, 2), extra_len = le(h + 30, 2), comment_len = le(h + 32, 2);
        if (cd_size - pos - 46 < name_len + extra_len + comment_len) return -1;
        const char *libzip_name = zip_get_name(zip, (zip_uint64_t)k, ZIP_FL_ENC_RAW);
        if (!libzip_name || strlen(libzip_name) != name_len || memcmp(libzip_name, h + 46, name_len)) return -1;
        for (const unsigned char *x = h + 46 + name_len, *end = x + extra_len; end - x >= 4;) {
            uint64_t id = le(x, 2), len = le(x + 2, 2);
            const unsigned char *v = x + 4;
            if ((uint64_t)(end - v) < len) break;
            if (id == 1) { /* ZIP64: the 0xffffffff fields, in this order */
                const unsigned char *field_end = v + len;
                if (size == 0xffffffffu && field_end - v >= 8) size = le(v, 8), v += 8;
                if (comp == 0xffffffffu && field_end - v >= 8) comp = le(v, 8), v += 8;
                if (header == 0xffffffffu && field_end - v >= 8) header = le(v, 8);
            }
            x += 4 + len;
        }
        int plain = method == 0 && comp == size && header < d->file_size;
        d->header_offset[k] = plain ? header : UINT64_MAX;
        d->size[k] = size;
        pos += 46 + name_len + extra_len + comment_len;
    }
    return 0;
}

void pt_zip_direct_open(pt_zip_direct *d, const char *path, zip_t *zip) {
    memset(d, 0, sizeof *d);
    d->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    uint64_t count = 0, cd_size = 0, cd_offset = 0;
    int ok = d->fd >= 0 && fstat(d->fd, &st) == 0 && st.st_size > 0;
    if (ok) d->file_size = (uint64_t)st.st_size;
    ok = ok && !find_central_directory(d, &count, &cd_size, &cd_offset) &&
         count == (uint64_t)zip_get_num_entries(zip, 0) && count <= cd_size / 46;
    if (ok) {
        d->count = (int64_t)count;
        d->header_offset = mhim_malloc((size_t)MHIM_MAX(count, 1) * sizeof *d->header_offset);
        d->data_offset = mhim_calloc((size_t)MHIM_MAX(count, 1), sizeof *d->data_offset);
        d->size = mhim_malloc((size_t)MHIM_MAX(count, 1) * sizeof *d->size);
        unsigned char *cd = mhim_malloc((size_t)MHIM_MAX(cd_size, 1));
        ok = !read_at(d->fd, cd_offset, cd, cd_size) && !index_entries(d, zip, cd, cd_size);
        free(cd);
    }
    if (!ok) pt_zip_direct_close(d);
}

void pt_zip_direct_close(pt_zip_direct *d) {
    if (d->fd >= 0) close(d->fd);
    free(d->header_offset);
    free(d->data_offset);
    free(d->size);
    memset(d, 0, sizeof *d);
    d->fd = -1;
}

int pt_zip_direct_locate(pt_zip_direct *d, uint64_t index, uint64_t offset, uint64_t nbytes, uint64_t *file_offset) {
    if (d->fd < 0 || index >= (uint64_t)d->count || d->header_offset[index] == UINT64_MAX) return 0;
    if (!d->data_offset[index]) {
        unsigned char h[30];
        uint64_t header = d->header_offset[index];
        if (read_at(d->fd, header, h, 30) || memcmp(h, "PK\3\4", 4)) return 0;
        uint64_t data = header + 30 + le(h + 26, 2) + le(h + 28, 2);
        if (data > d->file_size || d->size[index] > d->file_size - data) return 0;
        d->data_offset[index] = data;
    }
    if (offset > d->size[index] || nbytes > d->size[index] - offset) return -1;
    *file_offset = d->data_offset[index] + offset;
    return 1;
}

int pt_zip_direct_read(pt_zip_direct *d, uint64_t index, uint64_t offset, void *dst, uint64_t nbytes) {
    uint64_t at;
    int found = pt_zip_direct_locate(d, index, offset, nbytes, &at);
    if (found <= 0) return found;
    return read_at(d->fd, at, dst, nbytes) ? -1 : 1;
}
