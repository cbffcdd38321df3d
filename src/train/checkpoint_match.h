/* train/checkpoint_match.h — the by-name matching shared by the .pt and the HDF5 checkpoint loaders.
 * A loader lists the tensors of one section as a key set, then ckpt_match_load compares it with the layout,
 * reports every mismatch in one message, and reads the matched tensors through the loader's callback. */
#ifndef MHIM_TRAIN_CHECKPOINT_MATCH_H
#define MHIM_TRAIN_CHECKPOINT_MATCH_H

#include <stdint.h>

#include "mhim/checkpoint.h"
#include "mhim/params.h"

#define CKPT_MAX_DIMS 8

typedef enum {
    CKPT_KEY_FLOAT = 1, /* floating-point tensor: loadable */
    CKPT_KEY_OTHER      /* integer/bool tensor or a non-tensor value: loadable into nothing */
} ckpt_key_kind;

typedef struct {
    char *name; /* the state_dict key (section and "module." prefixes removed), owned */
    ckpt_key_kind kind;
    int ndim;
    int64_t shape[CKPT_MAX_DIMS];
    int64_t source; /* the loader's own index (pt entry, h5 dataset) */
} ckpt_key;

typedef struct {
    int64_t count, cap;
    ckpt_key *keys;
} ckpt_keyset;

/* Append a key (name copied). */
void ckpt_keyset_add(ckpt_keyset *ks, const char *name, ckpt_key_kind kind, int ndim, const int64_t *shape,
                     int64_t source);
/* Remove a "module." prefix from every key if all keys have it (DataParallel checkpoints). */
void ckpt_keyset_strip_module(ckpt_keyset *ks);
void ckpt_keyset_free(ckpt_keyset *ks);

/* Read source tensor `source` (n floats) into dst; MHIM_EINPUT with a message on failure. */
typedef int (*ckpt_read_fn)(void *ctx, int64_t source, float *dst, int64_t n);

/* Match ks against L under opts (see mhim/checkpoint.h), then read every matched tensor into params through
 * read(ctx, ...). `path` and `section` ("" = whole file) appear in messages and the report. */
int ckpt_match_load(const char *path, const char *section, const ckpt_keyset *ks, const mhim_param_layout *L,
                    float *params, const mhim_load_opts *opts, ckpt_read_fn read, void *ctx,
                    mhim_load_report *report);

/* The two loaders behind mhim_ckpt_load (same contract). */
int ckpt_load_pt(const char *path, const mhim_param_layout *L, float *params, const mhim_load_opts *opts,
                 mhim_load_report *report);
int ckpt_load_h5(const char *path, const mhim_param_layout *L, float *params, const mhim_load_opts *opts,
                 mhim_load_report *report);

#endif
