/* mhim/checkpoint.h — model weights in and out: PyTorch .pt state_dicts (read) and mhim's own HDF5
 * checkpoints (read and write). See docs/checkpoints.md for the file layout and the PyTorch snippet.
 *
 * Matching: tensors are matched BY NAME against a mhim_param_layout (names = PyTorch state_dict keys), like
 * torch's load_state_dict. Every mismatch is collected first and reported in ONE message: model keys missing
 * from the file, file keys the model lacks ("unexpected"), and keys present in both with different shapes
 * ("mis-shaped"). Strict mode fails on any of the three; non-strict mode (load_state_dict(strict=False)) loads
 * the intersection and fails only on mis-shaped keys (as torch does). Nothing is written into the parameter
 * buffer unless the whole match succeeded (a later archive read error can still leave it partly written).
 *
 * Our HDF5 checkpoint (format "mhim-checkpoint", version 1):
 *   /           attributes format, format_version, model, model_config, options_yaml (optional), fold, epoch,
 *               adam_step (when Adam moments are stored)
 *   /model      one float32 dataset per state_dict key, shaped like the tensor (the student / trained model)
 *   /teacher    optional, same keys (EMA teacher)
 *   /adam_m, /adam_v   optional, same keys (Adam first and second moments)
 *   /metrics    float64 attributes, one per metric, in the order given
 *   /state      optional named int64 / float64 arrays (RNG cursors, epoch, early-stopping state) for resume
 * It is written atomically: a temporary file in the same folder, fsync, rename over the target, fsync of the
 * folder, so a crash leaves either the old or the new complete file.
 * libhdf5 here is serial and not thread-safe: call these from one thread. */
#ifndef MHIM_CHECKPOINT_H
#define MHIM_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "mhim/params.h"

#define MHIM_CKPT_FORMAT "mhim-checkpoint"
#define MHIM_CKPT_FORMAT_VERSION 1

typedef enum { MHIM_LOAD_STRICT = 0, MHIM_LOAD_NONSTRICT = 1 } mhim_load_mode;

typedef struct {
    mhim_load_mode mode;
    /* Which state_dict inside the file. .pt: NULL = auto (entries under "model." if any, else "state_dict.",
     * else the whole file); otherwise that top-level key, e.g. "teacher". .h5: NULL = "model"; otherwise the
     * group ("teacher", "adam_m", "adam_v"). A DataParallel "module." prefix on every key is removed. */
    const char *section;
    /* Load only the model keys starting with this prefix (e.g. "patch_to_emb." for the original's
     * init_stu_type=fc); other model keys are neither loaded nor missing, other file keys not unexpected.
     * NULL = every key. */
    const char *only_prefix;
    /* What the layout is, for messages ("model abmil"); NULL = "the model". */
    const char *what;
} mhim_load_opts;

typedef struct {
    int64_t loaded;     /* tensors copied into the buffer */
    int64_t missing;    /* model keys absent from the file (non-strict loads only) */
    int64_t unexpected; /* file keys the model does not have (non-strict loads only) */
    char section[64];   /* the section that was read ("" = whole .pt file) */
    char text[768];     /* one line: "loaded 6 of 6 tensors; missing: ...; unexpected: ..." */
} mhim_load_report;

/* Load the state_dict of `path` into params (a buffer of layout L) by name. The format follows the file name:
 * .pt/.pth = torch.save archive (float32/float16/bfloat16/float64 tensors, converted to float32), .h5/.hdf5 =
 * mhim checkpoint. opts may be NULL (strict, auto section). report may be NULL. MHIM_EINPUT with one message
 * (file, section, the lists of missing/unexpected/mis-shaped keys and a hint) on any mismatch or bad file. */
int mhim_ckpt_load(const char *path, const mhim_param_layout *L, float *params, const mhim_load_opts *opts,
                   mhim_load_report *report);

/* A named array of the /state group: exactly one of i64 / f64 is non-NULL. */
typedef struct {
    const char *name;
    int64_t n;
    const int64_t *i64;
    const double *f64;
} mhim_ckpt_array;

/* Everything a checkpoint holds. Optional parts are NULL / 0. */
typedef struct {
    const char *model;        /* registry name ("abmil", "transmil", "dsmil"); required */
    const char *model_config; /* the registry's one-line model configuration text; required */
    const char *options_yaml; /* resolved options as YAML text, or NULL */
    int fold, epoch;          /* -1 when not applicable */
    int n_metrics;
    const char *const *metric_names; /* n_metrics names (no '/'), e.g. "val_auc" */
    const double *metric_values;
    const mhim_param_layout *layout; /* required */
    const float *params;             /* required: the model weights (layout) */
    const float *teacher;            /* optional, same layout */
    const float *adam_m, *adam_v;    /* optional (both or neither), same layout */
    int64_t adam_step;               /* stored when adam_m is */
    int n_state;
    const mhim_ckpt_array *state;
} mhim_ckpt_contents;

/* Write c to `path` atomically (see above). MHIM_EINPUT when the folder does not exist or is not writable,
 * MHIM_EINTERNAL when writing fails (disk full); either way `path` is unchanged and no temporary is left. */
int mhim_ckpt_write(const char *path, const mhim_ckpt_contents *c);

/* Metadata of an mhim checkpoint (owned strings). */
typedef struct {
    int format_version;
    char *model;
    char *model_config;
    char *options_yaml; /* NULL when absent */
    int fold, epoch;
    int n_metrics;
    char **metric_names;
    double *metric_values;
    bool has_teacher, has_adam;
    int64_t adam_step;
    int64_t n_tensors; /* datasets in /model */
} mhim_ckpt_info;

/* Read the metadata of an mhim HDF5 checkpoint. MHIM_EINPUT if the file is not one (names what is missing).
 * On failure *info is left empty; free with mhim_ckpt_info_free in either case. */
int mhim_ckpt_read_info(const char *path, mhim_ckpt_info *info);
void mhim_ckpt_info_free(mhim_ckpt_info *info);

/* Read /state/<name> (exactly n values) as int64 or float64. MHIM_EINPUT if absent or of another length. */
int mhim_ckpt_read_state_i64(const char *path, const char *name, int64_t *dst, int64_t n);
int mhim_ckpt_read_state_f64(const char *path, const char *name, double *dst, int64_t n);

/* 1 if `path` names an HDF5 checkpoint (.h5/.hdf5), 0 for a torch.save file (.pt/.pth); MHIM_EINPUT-style -1
 * with a message for any other extension. */
int mhim_ckpt_is_h5(const char *path);

#endif
