/* mhim/ptfile.h — safe reader for torch.save (.pt/.pth) zip archives: feature tensors and state_dict
 * checkpoints.
 *
 * The archive's data.pkl is run by a minimal pickle interpreter that accepts only what torch.save emits for
 * tensors and (nested) dicts/OrderedDicts/lists of tensors and plain numbers/strings; no pickle code is ever
 * executed. Every tensor and every scalar leaf becomes one entry with a dotted name ("model.attention.0.weight";
 * list items by index, e.g. "param_groups.0.lr"; a file holding one bare tensor has one entry named "").
 * Tensor data stays in the archive until read. Legacy (pre-1.6, non-zip) files, numpy arrays, non-contiguous
 * tensors and any other pickled object are rejected with MHIM_EINPUT and one message naming the file.
 * A handle is not thread-safe: use it from one thread at a time. */
#ifndef MHIM_PTFILE_H
#define MHIM_PTFILE_H

#include <stdint.h>

#define MHIM_PT_MAX_DIMS 8

typedef enum {
    MHIM_PT_TENSOR = 1, /* dtype, ndim, shape, numel are set */
    MHIM_PT_INT,        /* ivalue */
    MHIM_PT_FLOAT,      /* fvalue */
    MHIM_PT_BOOL,       /* ivalue 0/1 */
    MHIM_PT_STRING,     /* svalue (UTF-8, NUL-terminated) */
    MHIM_PT_NONE
} mhim_pt_kind;

typedef enum {
    MHIM_PT_FLOAT32 = 1,
    MHIM_PT_FLOAT16,
    MHIM_PT_BFLOAT16,
    MHIM_PT_FLOAT64,
    MHIM_PT_INT64,
    MHIM_PT_INT32,
    MHIM_PT_INT16,
    MHIM_PT_INT8,
    MHIM_PT_UINT8,
    MHIM_PT_BOOL8
} mhim_pt_dtype;

typedef struct {
    const char *name; /* dotted key path, owned by the file handle */
    mhim_pt_kind kind;
    mhim_pt_dtype dtype; /* tensors only */
    int ndim;            /* tensors only; 0 = scalar tensor (numel 1) */
    int64_t shape[MHIM_PT_MAX_DIMS];
    int64_t numel;
    int64_t ivalue;     /* MHIM_PT_INT, MHIM_PT_BOOL */
    double fvalue;      /* MHIM_PT_FLOAT */
    const char *svalue; /* MHIM_PT_STRING, owned by the file handle */
} mhim_pt_entry;

typedef struct mhim_ptfile mhim_ptfile;

/* Open and validate `path` (zip layout, data.pkl, every tensor's storage record size, offset and strides).
 * On success *out owns the handle (close with mhim_pt_close); on failure *out = NULL and MHIM_EINPUT. */
int mhim_pt_open(const char *path, mhim_ptfile **out);
void mhim_pt_close(mhim_ptfile *pt);

/* Entries in pickle order; index in [0, count). */
int64_t mhim_pt_entry_count(const mhim_ptfile *pt);
const mhim_pt_entry *mhim_pt_entry_at(const mhim_ptfile *pt, int64_t index);
/* Index of the entry with this exact name, or -1. */
int64_t mhim_pt_find(const mhim_ptfile *pt, const char *name);
const char *mhim_pt_path(const mhim_ptfile *pt);

/* Read tensor entry `index` (float32/float16/bfloat16/float64) as float32 into dst[count]; count must equal the
 * entry's numel. float32 data is read straight from the archive into dst. MHIM_EINPUT on a non-float or
 * non-tensor entry, a count mismatch, or an archive read error. */
int mhim_pt_read_f32(mhim_ptfile *pt, int64_t index, float *dst, int64_t count);
/* Same for integer/bool tensors (int64/int32/int16/int8/uint8/bool), widened to int64. */
int mhim_pt_read_i64(mhim_ptfile *pt, int64_t index, int64_t *dst, int64_t count);
/* 1 when tensor entry `index` is float32 and its bytes lie uncompressed and contiguous in the file, with the
 * absolute offset of its first element in *file_offset (the bytes may then be mapped); 0 otherwise. */
int mhim_pt_f32_file_offset(mhim_ptfile *pt, int64_t index, uint64_t *file_offset);

/* "float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool". */
const char *mhim_pt_dtype_name(mhim_pt_dtype dtype);
/* 1 for float32/float16/bfloat16/float64. */
int mhim_pt_dtype_is_float(mhim_pt_dtype dtype);
/* Bytes per element. */
int mhim_pt_dtype_size(mhim_pt_dtype dtype);

#endif
