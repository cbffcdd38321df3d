/* io/pickle.h — safe, minimal interpreter for the pickle streams that torch.save writes (data.pkl).
 *
 * It rebuilds a value tree of None/bool/int/float/str, tuples, lists, dicts (incl. collections.OrderedDict),
 * storages (persistent ids) and tensors (torch._utils._rebuild_tensor_v2 / _rebuild_parameter). Only an
 * allowlist of opcodes and globals is accepted; nothing is ever imported or executed. Every size read from the
 * stream is bounded (string lengths by the remaining bytes, stack depth, memo size, value count, tensor rank). */
#ifndef MHIM_IO_PICKLE_H
#define MHIM_IO_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "mhim/ptfile.h"

#define PK_MAX_STACK (1 << 20)
#define PK_MAX_MEMO (1 << 20)
#define PK_MAX_VALUES (1 << 21)

typedef enum {
    PK_NONE = 1,
    PK_BOOL,
    PK_INT,
    PK_FLOAT,
    PK_STR,
    PK_TUPLE,
    PK_LIST,
    PK_DICT,    /* items = key0, value0, key1, value1, ... in insertion order */
    PK_GLOBAL,  /* an allowlisted callable or storage class; only valid as REDUCE/persistent-id argument */
    PK_STORAGE, /* persistent id ('storage', <Type>Storage, key, location, numel) */
    PK_TENSOR,
    PK_MARK /* stack marker, never stored in containers */
} pk_kind;

typedef enum {
    PK_G_REBUILD_TENSOR_V2 = 1,
    PK_G_REBUILD_PARAMETER,
    PK_G_REBUILD_PARAMETER_WITH_STATE,
    PK_G_ORDERED_DICT,
    PK_G_STORAGE_CLASS /* dtype says which */
} pk_global;

typedef struct pk_value pk_value;
struct pk_value {
    pk_kind kind;
    int64_t i;             /* PK_INT, PK_BOOL; PK_STORAGE: numel; PK_TENSOR: storage offset (elements) */
    double f;              /* PK_FLOAT */
    char *s;               /* PK_STR text (NUL-terminated); PK_STORAGE: record key */
    int64_t len;           /* PK_STR byte length (may contain NUL bytes) */
    pk_value **items;      /* PK_TUPLE, PK_LIST, PK_DICT */
    int64_t count, cap;    /* items used / allocated */
    pk_global global;      /* PK_GLOBAL */
    mhim_pt_dtype dtype;   /* PK_GLOBAL storage class, PK_STORAGE */
    pk_value *storage;     /* PK_TENSOR */
    int ndim;              /* PK_TENSOR */
    int64_t *shape;        /* PK_TENSOR: shape[ndim]; owns one allocation that also holds stride */
    int64_t *stride;       /* PK_TENSOR: stride[ndim] (elements) */
};

/* All values of one loaded pickle; freed together. */
typedef struct {
    pk_value *root;
    pk_value **all;
    int64_t count, cap;
} pk_doc;

/* Run the pickle program data[0..len) and leave its result in doc->root. `where` prefixes error messages
 * (e.g. "bag.pt: data.pkl"). Returns MHIM_OK, or MHIM_EINPUT with one message naming the offending opcode,
 * global or bound; doc is then empty. Free with pk_doc_free in both cases. */
int pk_load(const uint8_t *data, size_t len, const char *where, pk_doc *doc);
void pk_doc_free(pk_doc *doc);

#endif
