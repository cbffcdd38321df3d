/* torch.save zip archive reader (see mhim/ptfile.h): zip layout, data.pkl -> entries, storage reads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "io/compression_bound.h"
#include "io/pickle.h"
#include "io/pt_dtype.h"
#include "io/pt_zip_direct.h"
#include "mhim/common.h"
#include "mhim/ptfile.h"

#define PT_MAX_PICKLE_BYTES (64u << 20)
#define PT_MAX_DEPTH 64
#define PT_MAX_VISITS (1 << 22)
#define PT_CONVERT_CHUNK 65536 /* elements per conversion block */

typedef struct {
    zip_uint64_t record;  /* zip index of <prefix>/data/<key> */
    zip_uint64_t byte_offset; /* storage offset of the tensor, in bytes */
} pt_location;

typedef struct {
    const char *name;
    int64_t index;
} pt_name_ref;

struct mhim_ptfile {
    char *path;
    zip_t *zip;
    pt_zip_direct direct; /* pread fast path for stored float32 records */
    char *prefix; /* top folder of the archive, e.g. "archive" */
    mhim_pt_entry *entries;
    pt_location *locations;
    pt_name_ref *by_name; /* entries sorted by name */
    int64_t count, cap;
    int64_t visits; /* values visited while flattening (bounds cyclic/shared pickles) */
};

/* ---- opening ---------------------------------------------------------------------------------------------- */

/* Reject non-zip files early with a specific message (legacy pickle stream, text, empty). */
static int check_signature(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return mhim_fail("%s: cannot open: %s", path, strerror(errno));
    unsigned char magic[4] = {0};
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    if (n == 0) return mhim_fail("%s: file is empty (expected a torch.save .pt archive)", path);
    if (magic[0] == 0x80)
        return mhim_fail("%s: legacy (non-zip) torch.save format is not supported; re-save with torch >= 1.6 "
                         "(torch.save(torch.load(path), path))",
                         path);
    if (n < 4 || memcmp(magic, "PK\3\4", 4))
        return mhim_fail("%s: not a torch.save zip archive (expected a .pt file written by torch >= 1.6)", path);
    return MHIM_OK;
}

static int zip_failure(const char *path, const char *what, zip_error_t *error) {
    int rc = mhim_fail("%s: %s: %s (truncated or corrupt archive?)", path, what, zip_error_strerror(error));
    zip_error_fini(error);
    return rc;
}

/* Find the one "<prefix>/data.pkl" record and remember the prefix. */
static int find_pickle(mhim_ptfile *pt, zip_uint64_t *index) {
    zip_int64_t n = zip_get_num_entries(pt->zip, 0);
    int found = 0;
    for (zip_int64_t k = 0; k < n; k++) {
        const char *name = zip_get_name(pt->zip, (zip_uint64_t)k, ZIP_FL_ENC_RAW);
        if (!name) continue;
        const char *slash = strchr(name, '/');
        if (!slash || slash == name || strcmp(slash, "/data.pkl")) continue;
        if (found++)
            return mhim_fail("%s: archive holds several data.pkl records ('%s/data.pkl' and '%s'); expected one",
                             pt->path, pt->prefix, name);
        pt->prefix = mhim_malloc((size_t)(slash - name) + 1);
        memcpy(pt->prefix, name, (size_t)(slash - name));
        pt->prefix[slash - name] = '\0';
        *index = (zip_uint64_t)k;
    }
    if (!found)
        return mhim_fail("%s: zip archive has no '<name>/data.pkl' record (not written by torch.save?)", pt->path);
    return MHIM_OK;
}

/* An open storage record, positioned at a byte offset. */
typedef struct {
    zip_file_t *file;
    const char *name;
} pt_record;

static int record_error(const mhim_ptfile *pt, pt_record *r, const char *what) {
    return mhim_fail("%s: cannot %s record '%s': %s (truncated or corrupt file?)", pt->path, what,
                     r->name ? r->name : "?", r->file ? zip_file_strerror(r->file) : zip_strerror(pt->zip));
}

/* Read exactly nbytes of r into dst. */
static int record_read(const mhim_ptfile *pt, pt_record *r, void *dst, zip_uint64_t nbytes) {
    for (zip_uint64_t done = 0; done < nbytes;) {
        zip_int64_t got = zip_fread(r->file, (char *)dst + done, nbytes - done);
        if (got == 0)
            return mhim_fail("%s: record '%s' ends early (truncated or corrupt file)", pt->path,
                             r->name ? r->name : "?");
        if (got < 0) return record_error(pt, r, "read");
        done += (zip_uint64_t)got;
    }
    return MHIM_OK;
}

/* Open record `index` positioned at byte `offset` (close with record_close, also after a failure). */
static int record_open(const mhim_ptfile *pt, zip_uint64_t index, zip_uint64_t offset, pt_record *r) {
    r->name = zip_get_name(pt->zip, index, ZIP_FL_ENC_RAW);
    r->file = zip_fopen_index(pt->zip, index, 0);
    if (!r->file) return record_error(pt, r, "open");
    if (offset == 0 || zip_fseek(r->file, (zip_int64_t)offset, SEEK_SET) == 0) return MHIM_OK;
    /* a compressed record cannot seek, and libzip keeps the failure on the handle (every later read fails):
     * reopen it and skip by reading */
    zip_fclose(r->file);
    r->file = zip_fopen_index(pt->zip, index, 0);
    if (!r->file) return record_error(pt, r, "open");
    char skip[4096];
    for (zip_uint64_t left = offset; left > 0; left -= MHIM_MIN(left, (zip_uint64_t)sizeof skip)) {
        int rc = record_read(pt, r, skip, MHIM_MIN(left, (zip_uint64_t)sizeof skip));
        if (rc) return rc;
    }
    return MHIM_OK;
}

static void record_close(pt_record *r) {
    if (r->file) zip_fclose(r->file);
    r->file = NULL;
}

/* Read nbytes of record `index`, starting at byte `offset`, into dst. */
static int read_record(const mhim_ptfile *pt, zip_uint64_t index, zip_uint64_t offset, void *dst,
                       zip_uint64_t nbytes) {
    pt_record r;
    int rc = record_open(pt, index, offset, &r);
    if (!rc) rc = record_read(pt, &r, dst, nbytes);
    record_close(&r);
    return rc;
}

/* Uncompressed size of record `index`. A size beyond any compression of the record's stored bytes is refused, so
 * that a corrupt directory entry cannot ask for a huge allocation. */
static int record_size(const mhim_ptfile *pt, zip_uint64_t index, zip_uint64_t *size) {
    zip_stat_t st;
    if (zip_stat_index(pt->zip, index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return mhim_fail("%s: cannot stat a zip record: %s", pt->path, zip_strerror(pt->zip));
    if ((st.valid & ZIP_STAT_COMP_SIZE) && mhim_beyond_compression(st.size, st.comp_size))
        return mhim_fail("%s: zip record '%s' declares %llu bytes from %llu compressed ones (corrupt file?)",
                         pt->path, st.valid & ZIP_STAT_NAME ? st.name : "?", (unsigned long long)st.size,
                         (unsigned long long)st.comp_size);
    *size = st.size;
    return MHIM_OK;
}

static int check_byteorder(const mhim_ptfile *pt) {
    char *name = mhim_asprintf("%s/byteorder", pt->prefix);
    zip_int64_t index = zip_name_locate(pt->zip, name, ZIP_FL_ENC_RAW);
    free(name);
    if (index < 0) return MHIM_OK; /* absent in files from torch < 1.10: little-endian */
    char text[16] = {0};
    zip_uint64_t size = 0;
    int rc = record_size(pt, (zip_uint64_t)index, &size);
    if (!rc && size < sizeof text) rc = read_record(pt, (zip_uint64_t)index, 0, text, size);
    if (!rc && strcmp(text, "little"))
        rc = mhim_fail("%s: byteorder record is '%.15s'; only little-endian archives are supported", pt->path, text);
    return rc;
}

/* ---- flattening the pickled object into entries ------------------------------------------------------------ */

static mhim_pt_entry *add_entry(mhim_ptfile *pt, char *name, mhim_pt_kind kind) {
    if (pt->count == pt->cap) {
        pt->cap = pt->cap ? 2 * pt->cap : 16;
        pt->entries = mhim_realloc(pt->entries, (size_t)pt->cap * sizeof *pt->entries);
        pt->locations = mhim_realloc(pt->locations, (size_t)pt->cap * sizeof *pt->locations);
    }
    mhim_pt_entry *e = &pt->entries[pt->count];
    memset(e, 0, sizeof *e);
    memset(&pt->locations[pt->count], 0, sizeof pt->locations[pt->count]);
    pt->count++;
    e->name = name;
    e->kind = kind;
    return e;
}

static void format_dims(char *buf, size_t size, const int64_t *dims, int ndim) {
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int k = 0; k < ndim && used < size; k++)
        used += (size_t)snprintf(buf + used, size - used, k ? ", %lld" : "%lld", (long long)dims[k]);
    if (used < size) snprintf(buf + used, size - used, ")");
}

/* Validate a tensor (strides, extent, storage record) and add it as entry `name` (ownership taken). */
static int add_tensor(mhim_ptfile *pt, const pk_value *t, char *name) {
    const pk_value *storage = t->storage;
    int64_t esize = mhim_pt_dtype_size(storage->dtype), numel = 1;
    char shape[160], stride[160], label[300];
    snprintf(label, sizeof label, name[0] ? "entry '%s'" : "the tensor%s", name);
    format_dims(shape, sizeof shape, t->shape, t->ndim);
    format_dims(stride, sizeof stride, t->stride, t->ndim);
    mhim_pt_entry *e = add_entry(pt, name, MHIM_PT_TENSOR);
    e->dtype = storage->dtype;
    e->ndim = t->ndim;
    for (int k = 0; k < t->ndim; k++) {
        e->shape[k] = t->shape[k];
        if (t->shape[k] > 0 && numel > INT64_MAX / esize / t->shape[k])
            return mhim_fail("%s: %s: shape %s is too large", pt->path, label, shape);
        numel *= t->shape[k];
    }
    e->numel = numel;
    if (numel == 0) return MHIM_OK;
    int64_t expected = 1;
    for (int k = t->ndim - 1; k >= 0; k--) {
        if (t->shape[k] != 1 && t->stride[k] != expected)
            return mhim_fail("%s: %s: non-contiguous tensor (shape %s, stride %s), e.g. a transposed "
                             "view; save tensor.contiguous() instead",
                             pt->path, label, shape, stride);
        expected *= t->shape[k];
    }
    if (storage->i > INT64_MAX / esize || t->i > storage->i - numel)
        return mhim_fail("%s: %s: tensor (storage offset %lld, %lld elements) reaches past its storage "
                         "of %lld elements (corrupt file)",
                         pt->path, label, (long long)t->i, (long long)numel, (long long)storage->i);
    char *record_name = mhim_asprintf("%s/data/%s", pt->prefix, storage->s);
    zip_int64_t index = zip_name_locate(pt->zip, record_name, ZIP_FL_ENC_RAW);
    zip_uint64_t size = 0;
    int rc = index < 0 ? mhim_fail("%s: %s: storage record '%s' is missing (truncated or corrupt file)",
                                   pt->path, label, record_name)
                       : record_size(pt, (zip_uint64_t)index, &size);
    if (!rc && size < (zip_uint64_t)(storage->i * esize))
        rc = mhim_fail("%s: %s: storage record '%s' holds %llu bytes, but its %lld-element %s storage needs "
                       "%lld (truncated or corrupt file)",
                       pt->path, label, record_name, (unsigned long long)size, (long long)storage->i,
                       mhim_pt_dtype_name(storage->dtype), (long long)(storage->i * esize));
    free(record_name);
    if (rc) return rc;
    pt->locations[pt->count - 1].record = (zip_uint64_t)index;
    pt->locations[pt->count - 1].byte_offset = (zip_uint64_t)(t->i * esize);
    return MHIM_OK;
}

static int flatten(mhim_ptfile *pt, const pk_value *v, const char *name, int depth);

/* Name of a container child: "<parent>.<key>" (or "<key>" at the top). Keys are str or int. */
static int child_name(mhim_ptfile *pt, const char *parent, const pk_value *key, char **out) {
    char number[32];
    const char *text;
    if (key->kind == PK_STR) {
        if (strlen(key->s) != (size_t)key->len)
            return mhim_fail("%s: a dict key under '%s' contains a NUL byte", pt->path, parent);
        text = key->s;
    } else if (key->kind == PK_INT) {
        snprintf(number, sizeof number, "%lld", (long long)key->i);
        text = number;
    } else {
        return mhim_fail("%s: a dict key under '%s' is not a string or an int", pt->path, parent);
    }
    *out = parent[0] ? mhim_asprintf("%s.%s", parent, text) : mhim_strdup(text);
    return MHIM_OK;
}

static int flatten_children(mhim_ptfile *pt, const pk_value *v, const char *name, int depth) {
    int is_dict = v->kind == PK_DICT;
    for (int64_t k = 0; k < v->count; k += is_dict ? 2 : 1) {
        pk_value index_key = {.kind = PK_INT, .i = k};
        char *child = NULL;
        int rc = child_name(pt, name, is_dict ? v->items[k] : &index_key, &child);
        if (!rc) rc = flatten(pt, v->items[k + is_dict], child, depth + 1);
        free(child);
        if (rc) return rc;
    }
    return MHIM_OK;
}

/* Add the leaves of value v (named `name`) as entries. */
static int flatten(mhim_ptfile *pt, const pk_value *v, const char *name, int depth) {
    if (depth > PT_MAX_DEPTH || ++pt->visits > PT_MAX_VISITS)
        return mhim_fail("%s: pickled object nests deeper than %d levels or has more than %d parts (cyclic or "
                         "corrupt file)",
                         pt->path, PT_MAX_DEPTH, PT_MAX_VISITS);
    mhim_pt_entry *e;
    switch (v->kind) {
    case PK_DICT:
    case PK_LIST:
    case PK_TUPLE: return flatten_children(pt, v, name, depth);
    case PK_TENSOR: return add_tensor(pt, v, mhim_strdup(name));
    case PK_INT:
    case PK_BOOL:
        e = add_entry(pt, mhim_strdup(name), v->kind == PK_INT ? MHIM_PT_INT : MHIM_PT_BOOL);
        e->ivalue = v->i;
        return MHIM_OK;
    case PK_FLOAT:
        add_entry(pt, mhim_strdup(name), MHIM_PT_FLOAT)->fvalue = v->f;
        return MHIM_OK;
    case PK_STR:
        add_entry(pt, mhim_strdup(name), MHIM_PT_STRING)->svalue = mhim_strdup(v->s);
        return MHIM_OK;
    case PK_NONE: add_entry(pt, mhim_strdup(name), MHIM_PT_NONE); return MHIM_OK;
    case PK_GLOBAL:
    case PK_STORAGE:
    case PK_MARK: break;
    }
    return mhim_fail("%s: entry '%s' is a bare %s, expected tensors, numbers or strings", pt->path, name,
                     v->kind == PK_STORAGE ? "storage" : "callable");
}

static int compare_names(const void *a, const void *b) {
    return strcmp(((const pt_name_ref *)a)->name, ((const pt_name_ref *)b)->name);
}

/* Build the by-name index and reject duplicate names. */
static int index_names(mhim_ptfile *pt) {
    pt->by_name = mhim_malloc((size_t)MHIM_MAX(pt->count, 1) * sizeof *pt->by_name);
    for (int64_t k = 0; k < pt->count; k++) pt->by_name[k] = (pt_name_ref){pt->entries[k].name, k};
    qsort(pt->by_name, (size_t)pt->count, sizeof *pt->by_name, compare_names);
    for (int64_t k = 1; k < pt->count; k++)
        if (!strcmp(pt->by_name[k].name, pt->by_name[k - 1].name))
            return mhim_fail("%s: two entries are named '%s' (corrupt file)", pt->path, pt->by_name[k].name);
    return MHIM_OK;
}

static int load_entries(mhim_ptfile *pt) {
    zip_uint64_t index = 0, size = 0;
    int rc = find_pickle(pt, &index);
    if (!rc) rc = check_byteorder(pt);
    if (!rc) rc = record_size(pt, index, &size);
    if (rc) return rc;
    if (size > PT_MAX_PICKLE_BYTES)
        return mhim_fail("%s: data.pkl is %llu bytes; at most %u are supported", pt->path, (unsigned long long)size,
                         PT_MAX_PICKLE_BYTES);
    uint8_t *bytes = mhim_malloc((size_t)size);
    rc = read_record(pt, index, 0, bytes, size);
    if (!rc) {
        char *where = mhim_asprintf("%s: data.pkl", pt->path);
        pk_doc doc;
        rc = pk_load(bytes, (size_t)size, where, &doc);
        if (!rc) rc = flatten(pt, doc.root, "", 0);
        if (!rc) rc = index_names(pt);
        pk_doc_free(&doc);
        free(where);
    }
    free(bytes);
    return rc;
}

int mhim_pt_open(const char *path, mhim_ptfile **out) {
    *out = NULL;
    int rc = check_signature(path);
    if (rc) return rc;
    int code = 0;
    zip_t *zip = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (!zip) {
        zip_error_t error;
        zip_error_init_with_code(&error, code);
        return zip_failure(path, "cannot open zip archive", &error);
    }
    mhim_ptfile *pt = mhim_calloc(1, sizeof *pt);
    pt->path = mhim_strdup(path);
    pt->zip = zip;
    pt_zip_direct_open(&pt->direct, path, zip);
    rc = load_entries(pt);
    if (rc) {
        mhim_pt_close(pt);
        return rc;
    }
    *out = pt;
    return MHIM_OK;
}

void mhim_pt_close(mhim_ptfile *pt) {
    if (!pt) return;
    for (int64_t k = 0; k < pt->count; k++) {
        free((char *)pt->entries[k].name);
        free((char *)pt->entries[k].svalue);
    }
    pt_zip_direct_close(&pt->direct);
    if (pt->zip) zip_discard(pt->zip);
    free(pt->entries);
    free(pt->locations);
    free(pt->by_name);
    free(pt->prefix);
    free(pt->path);
    free(pt);
}

/* ---- queries and reads ------------------------------------------------------------------------------------- */

int64_t mhim_pt_entry_count(const mhim_ptfile *pt) { return pt->count; }

const mhim_pt_entry *mhim_pt_entry_at(const mhim_ptfile *pt, int64_t index) {
    MHIM_ASSERT(index >= 0 && index < pt->count);
    return &pt->entries[index];
}

const char *mhim_pt_path(const mhim_ptfile *pt) { return pt->path; }

int64_t mhim_pt_find(const mhim_ptfile *pt, const char *name) {
    int64_t lo = 0, hi = pt->count;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(pt->by_name[mid].name, name);
        if (c == 0) return pt->by_name[mid].index;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* Common checks of the read functions. */
static int check_read(const mhim_ptfile *pt, int64_t index, int64_t count, int want_float) {
    MHIM_ASSERT(index >= 0 && index < pt->count);
    const mhim_pt_entry *e = &pt->entries[index];
    if (e->kind != MHIM_PT_TENSOR)
        return mhim_fail("%s: entry '%s' is not a tensor", pt->path, e->name);
    if (mhim_pt_dtype_is_float(e->dtype) != want_float)
        return mhim_fail("%s: entry '%s' is a %s tensor, expected %s", pt->path, e->name,
                         mhim_pt_dtype_name(e->dtype), want_float ? "a float tensor" : "an integer tensor");
    if (count != e->numel)
        return mhim_fail("%s: entry '%s' holds %lld elements, but %lld were requested", pt->path, e->name,
                         (long long)e->numel, (long long)count);
    return MHIM_OK;
}

/* Read entry `index` block by block and convert each block with to_f32 or to_i64 (exactly one is set). */
static int read_converted(const mhim_ptfile *pt, int64_t index, float *to_f32, int64_t *to_i64) {
    const mhim_pt_entry *e = &pt->entries[index];
    const pt_location *loc = &pt->locations[index];
    int64_t esize = mhim_pt_dtype_size(e->dtype);
    unsigned char *block = mhim_malloc((size_t)(PT_CONVERT_CHUNK * esize));
    pt_record r;
    int rc = record_open(pt, loc->record, loc->byte_offset, &r);
    for (int64_t start = 0; start < e->numel && !rc; start += PT_CONVERT_CHUNK) {
        int64_t n = MHIM_MIN((int64_t)PT_CONVERT_CHUNK, e->numel - start);
        rc = record_read(pt, &r, block, (zip_uint64_t)(n * esize));
        if (rc) break;
        if (to_f32) pt_convert_to_f32(e->dtype, block, to_f32 + start, n);
        else pt_convert_to_i64(e->dtype, block, to_i64 + start, n);
    }
    record_close(&r);
    free(block);
    return rc;
}

int mhim_pt_read_f32(mhim_ptfile *pt, int64_t index, float *dst, int64_t count) {
    int rc = check_read(pt, index, count, 1);
    if (rc || count == 0) return rc;
    const mhim_pt_entry *e = &pt->entries[index];
    if (e->dtype != MHIM_PT_FLOAT32) return read_converted(pt, index, dst, NULL);
    const pt_location *loc = &pt->locations[index];
    int direct = pt_zip_direct_read(&pt->direct, loc->record, loc->byte_offset, dst, (uint64_t)count * 4u);
    if (direct < 0)
        return mhim_fail("%s: cannot read entry '%s' (truncated or corrupt file?)", pt->path, e->name);
    return direct ? MHIM_OK : read_record(pt, loc->record, loc->byte_offset, dst, (zip_uint64_t)count * 4u);
}

int mhim_pt_f32_file_offset(mhim_ptfile *pt, int64_t index, uint64_t *file_offset) {
    MHIM_ASSERT(index >= 0 && index < pt->count);
    const mhim_pt_entry *e = &pt->entries[index];
    if (e->kind != MHIM_PT_TENSOR || e->dtype != MHIM_PT_FLOAT32) return 0;
    const pt_location *loc = &pt->locations[index];
    return pt_zip_direct_locate(&pt->direct, loc->record, loc->byte_offset, (uint64_t)e->numel * 4u, file_offset) == 1;
}

int mhim_pt_read_i64(mhim_ptfile *pt, int64_t index, int64_t *dst, int64_t count) {
    int rc = check_read(pt, index, count, 0);
    if (rc || count == 0) return rc;
    return read_converted(pt, index, NULL, dst);
}
