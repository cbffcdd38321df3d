/* mhim/params.h — named parameter tensors in one flat float buffer.
 *
 * A model describes its parameters with a spec table whose names are the exact PyTorch
 * state_dict keys ("patch_to_emb.0.weight", ...). mhim_param_layout_init turns the table into
 * offsets; parameters, gradients, Adam m/v and the EMA teacher are separate flat buffers with
 * the SAME layout, so the optimiser, gradient zeroing, clipping, EMA and all-reduce are single
 * loops over `total` floats, and checkpoints/fixtures match tensors by name.
 *
 * Each tensor starts at a multiple of MHIM_PARAM_ALIGN floats (64 bytes); the gaps between
 * tensors are zero in every buffer and stay zero under every update in this library (zero
 * gradient, zero weight => Adam, AdamW, EMA and clipping leave them zero). */
#ifndef MHIM_PARAMS_H
#define MHIM_PARAMS_H

#include <stdint.h>

#define MHIM_PARAM_MAX_DIMS 4
#define MHIM_PARAM_ALIGN 16 /* floats */

/* One row of a model's spec table: name, rank (0..4) and extents (unused extents ignored). */
typedef struct {
    const char *name;
    int ndim;
    int64_t shape[MHIM_PARAM_MAX_DIMS];
} mhim_param_spec;

/* One tensor of a layout: a copy of its spec plus its element count and offset in floats. */
typedef struct {
    char *name;
    int ndim;
    int64_t shape[MHIM_PARAM_MAX_DIMS];
    int64_t numel;
    int64_t offset;
} mhim_param_entry;

typedef struct {
    mhim_param_entry *entries; /* in spec order */
    int64_t count;             /* number of tensors */
    int64_t total;             /* buffer length in floats, including alignment gaps */
    int64_t numel;             /* sum of the tensors' element counts (what PyTorch reports) */
} mhim_param_layout;

/* Build a layout from `count` spec rows. Fails (MHIM_EINPUT, message naming the row) on an empty
 * or duplicate name, a rank outside 0..4, or an extent < 1. On failure *L is left empty. */
int mhim_param_layout_init(mhim_param_layout *L, const mhim_param_spec *spec, int64_t count);
/* Free the layout's tables (not the buffers). */
void mhim_param_layout_free(mhim_param_layout *L);

/* Index of the tensor called `name`, or -1. */
int64_t mhim_param_index(const mhim_param_layout *L, const char *name);
/* Entry of the tensor called `name`, or NULL. */
const mhim_param_entry *mhim_param_find(const mhim_param_layout *L, const char *name);
/* Pointer to tensor `name` inside `buffer` (any of the buffers sharing the layout), or NULL. */
float *mhim_param_tensor(const mhim_param_layout *L, float *buffer, const char *name);
/* Write a shape like "(512, 1024)" (or "()" for a scalar) into out[cap]; returns out. */
char *mhim_param_shape_str(const mhim_param_entry *e, char *out, int cap);

/* A zeroed, 64-byte aligned buffer of L->total floats; release with mhim_params_free. */
float *mhim_params_alloc(const mhim_param_layout *L);
void mhim_params_free(float *buffer);
/* Set all L->total floats of `buffer` to zero (e.g. gradients before a step). */
void mhim_params_zero(const mhim_param_layout *L, float *buffer);
/* dst = src over the whole layout (e.g. teacher <- student). */
void mhim_params_copy(const mhim_param_layout *L, float *dst, const float *src);

#endif
