/* train/engine_internal.h — the parts of the training engine (mhim/engine.h): data set-up, teacher forward,
 * hard-instance masking, one training step, evaluation, outputs. One engine runs on one thread (the numeric kernels
 * use the OpenMP/BLAS pools underneath). */
#ifndef MHIM_TRAIN_ENGINE_INTERNAL_H
#define MHIM_TRAIN_ENGINE_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "mhim/arena.h"
#include "mhim/bagstore.h"
#include "mhim/common.h"
#include "mhim/cohort.h"
#include "mhim/config.h"
#include "mhim/engine.h"
#include "mhim/mask.h"
#include "mhim/model.h"
#include "mhim/models/abmil.h"
#include "mhim/models/dsmil.h"
#include "mhim/models/transmil.h"
#include "mhim/optim.h"
#include "mhim/rng.h"
#include "mhim/splits.h"

/* ---- data (engine_data.c) ---------------------------------------------------------------------------------- */

typedef struct {
    mhim_label_table labels;
    mhim_cohort cohort;
    mhim_splits splits;
    int64_t n_bags;
    mhim_bag_ref *bags;      /* every case's bags, in case order */
    int64_t *bag_label;      /* [n_bags] class index */
    int64_t *case_first_bag; /* [n_cases] index of the case's first bag */
    int64_t *case_n_bags;    /* [n_cases] */
    mhim_bagstore *store;
    int sharded;             /* data-parallel: the store holds this rank's shard only (sets are not filtered) */
    int64_t dim;             /* feature width */
    int64_t max_instances;   /* largest bag */
} engine_data;

/* Labels, cohort, folds and the bag store of cfg (every bag read once). With dp->size > 1 the store opens only
 * this rank's shard of folds [fold_first, fold_end): positions j % size == rank of each fold's train, val and
 * test lists. MHIM_EINPUT with one message. */
int engine_data_open(engine_data *d, const mhim_config *cfg, const mhim_dp_ops *dp, int fold_first, int fold_end);
void engine_data_close(engine_data *d);
/* The bags of cases[0..n) in order; returns the count, *out is a new array. */
int64_t engine_data_bags_of(const engine_data *d, const int64_t *cases, int64_t n, int64_t **out);

/* Feature standardisation: per-feature mean and 1/std over every instance of bags[0..n) (std 0 -> 1). */
typedef struct {
    float *mean, *inv_std; /* [dim] each, or NULL when off */
} engine_standardizer;
void engine_standardizer_fit(engine_standardizer *z, engine_data *d, const int64_t *bags, int64_t n);
void engine_standardizer_free(engine_standardizer *z);
/* Bag i as fp32 rows: the store's zero-copy view when z is off, else standardised into buf (max_instances·dim). */
int engine_bag_get(engine_data *d, const engine_standardizer *z, int64_t i, mhim_bag_view *view, float *buf,
                   const float **x, int64_t *N);

/* ---- teacher forward in train or eval mode with its per-instance map (engine_teacher.c) ---------------------- */

typedef struct {
    mhim_model_kind kind;
    int attn_layer;
    union {
        mhim_abmil abmil;
        mhim_transmil transmil;
        mhim_dsmil dsmil;
    } net;
} engine_teacher;

/* Bind the per-model network of m on m's layout. MHIM_EINPUT (attn_layer other than 0/1/-1 for TransMIL). */
int engine_teacher_bind(engine_teacher *t, const mhim_model *m, int attn_layer);
size_t engine_teacher_arena_bytes(const engine_teacher *t, int64_t n_max);
/* forward_teacher on all N instances: feat (feat_size) and map (map_rows, N): ABMIL softmax attention, TransMIL
 * per-head cls attention of attn_layer, DSMIL max-class instance logit. dropout NULL = eval mode. */
int engine_teacher_forward(engine_teacher *t, mhim_arena *arena, const float *params, const float *x, int64_t N,
                           const mhim_rng *dropout, float *feat, float *map);

/* ---- the network buffers and one step (engine_step.c) ------------------------------------------------------- */

typedef struct {
    mhim_model *model;
    const mhim_param_layout *L;
    engine_teacher tnet;
    int mhim;                    /* --model=mhim (else pure) */
    int tea_same;                /* tea_type == same: the teacher is the student */
    float *student, *teacher, *grads, *adam_m, *adam_v;
    float *step_grads;           /* [total + ENGINE_STEP_EXTRA]: the step's summed gradients, stop flag, stats */
    double *eval_buf;            /* [3 * max_bags]: p, label, loss per evaluated bag (data-parallel gather) */
    float *best_student, *best_teacher;
    mhim_adam adam;
    mhim_arena arena;
    int64_t feat_size, map_rows, C;
    float *feat_t, *feat_s, *d_feat, *p_s, *p_t, *map, *probs;
    double *eval_p;              /* [max_bags] P(class 1) of the evaluated bags */
    int *eval_y;                 /* [max_bags] their labels */
    int64_t *keep;               /* [max_instances] kept ids, then masked ids */
    float *xbuf;                 /* standardised bag (max_instances·dim) */
    mhim_mask_config mask;
    mhim_mask_workspace mws;
    struct mhim_v2 *v2;          /* v2 --model=mhim: the Merge companion (engine_v2_step.c), else NULL */
    int64_t *perm;               /* v2: [max_instances] Merge shuffle */
    int survival;                /* v2 survival task: NLL survival loss, C-index */
    mhim_mask_v2_config mask2;   /* v2 high-score masking */
    struct engine_device *dev;   /* --device=cuda: the GPU state (train/engine_device.h), else NULL */
} engine_net;

int engine_net_create(engine_net *n, const mhim_config *cfg, int64_t input_dim, int64_t n_classes, int64_t max_inst,
                      int64_t max_bags);
void engine_net_free(engine_net *n);

/* What one step reports (summed over the epoch by the caller). */
typedef struct {
    double loss, cls, cl;
    int64_t patches, kept;
    int guarded;
} engine_step_stats;

typedef struct {
    const mhim_config *cfg;
    uint64_t seed;
    int epoch;
    int64_t bag;     /* store index (keys the dropout and mask streams) */
    double r_h, mm;  /* scheduled values at this iteration */
    const int64_t *given_keep; /* NULL: masking picks the kept ids; else these given_len ids (parity tests) */
    int64_t given_len;
    float censorship; /* survival: 1 = censored case, 0 = event (y is then the time bin) */
    int64_t accum_bags; /* v2 gradient accumulation: bags whose gradients this optimiser step sums (the loss is
                           divided by it); 0 = divide by --accumulation_steps (v1: the loss scale only) */
} engine_step_ctx;

/* Extra floats after the gradients in step_grads: the stop flag, then the step's loss, cls, cl, patches, kept and
 * guarded sums (all-reduced with the gradients in one call). */
#define ENGINE_STEP_EXTRA 7

/* The factor of one bag's loss: 1 / ctx->accum_bags when set, else 1 / --accumulation_steps. */
double engine_step_loss_scale(const engine_step_ctx *ctx);
/* The end of every training step (CPU, GPU, v2): MHIM_EINPUT with the divergence message when st->loss is not
 * finite, else records the bag's instance count N and the kept (or token) count in st. */
int engine_step_finish(engine_step_stats *st, const engine_step_ctx *ctx, int64_t N, int64_t kept);
/* Gradients of one bag x (N, dim) with label y into n->grads: pure or MHIM (§4.2) forward and backward, loss
 * scaled by engine_step_loss_scale. MHIM_EINPUT when the loss is not finite. */
int engine_step_grad(engine_net *n, const engine_step_ctx *ctx, const float *x, int64_t N, int64_t y,
                     engine_step_stats *st);
/* Adam at n->adam.lr with grads (the layout's total floats), then the teacher EMA with momentum mm. */
void engine_step_apply(engine_net *n, const float *grads, double mm);
/* One whole single-bag optimiser step: engine_step_grad, then engine_step_apply with n->grads and ctx->mm. */
int engine_step(engine_net *n, const engine_step_ctx *ctx, const float *x, int64_t N, int64_t y,
                engine_step_stats *st);

/* Evaluate params (eval mode, full bags) on bags[0..nb): scores with threshold thr_fixed (NaN = Youden). With a
 * data-parallel group (dp->size > 1) each rank scores positions j % size == rank and the per-bag figures are
 * summed over the group, so every rank gets the same scores as one process. */
int engine_evaluate(engine_net *n, engine_data *d, const engine_standardizer *z, const mhim_dp_ops *dp,
                    const float *params, const int64_t *bags, int64_t nb, double thr_fixed, mhim_eval_scores *s);

/* ---- outputs (engine_output.c) ------------------------------------------------------------------------------ */

/* Write text to path atomically (temp file in the same folder, fsync, rename, fsync of the folder). */
int engine_write_atomic(const char *path, const char *text, size_t len);
/* Create model_path/project/title (model_path must exist). */
int engine_make_run_dir(const mhim_config *cfg);
/* Peak resident set size of the process in MiB. */
double engine_peak_rss_mib(void);
/* results.csv: one row per finished fold (done[k]) and mean/std rows; version 2 writes the v2 metric columns. */
int engine_write_results(const char *run_dir, const mhim_train_summary *s, const unsigned char *done, int mhim,
                         int version, int survival);
/* Append one line to a file (and fsync it). */
int engine_append_line(const char *path, const char *line);

/* ---- one run: folds, resume state, checkpoints (engine.c, engine_fold.c, engine_ckpt.c) ---------------------- */

#define ENGINE_SCORE_FIELDS 12 /* mhim_eval_scores as doubles, in declaration order, and one spare */

/* Where a run stands; saved in ckp.h5 after every epoch and on a stop request. */
typedef struct {
    int fold;             /* fold being run */
    int epoch, iter;      /* next epoch / next iteration of that epoch */
    int trained;          /* the fold's epochs are over (early stop or num_epoch): test is next */
    mhim_early_stop es;
    double best_auc;      /* best validation AUC (model selection, strict >) */
    int best_epoch;       /* -1 when no model was selected yet */
    mhim_eval_scores best_val;
    double acc[6];        /* epoch sums: loss, cls, cl, patches, kept, guarded */
    double best_teacher;  /* v2: best teacher validation metric (selected separately from the student) */
} engine_cursor;

typedef struct {
    const mhim_config *cfg;
    const mhim_engine_options *opt;
    engine_data data;
    engine_net net;
    engine_cursor cur;
    mhim_train_summary *sum;
    unsigned char *done;  /* [n_folds] fold tested */
    int fold_end;         /* one past the last fold this run trains */
    int writer;           /* this process writes the run's files (not a data-parallel rank other than 0) */
    char *log_path, *jsonl_path, *ckp_path, *options_yaml;
    int lock_fd;          /* the run lock (mhim/run_lock.h) held by the writer, -1 if none */
    char model_config[MHIM_MODEL_CONFIG_TEXT];
} engine_run;

/* Print to stdout (unless quiet) and append to train.log. */
void engine_say(engine_run *r, const char *fmt, ...) MHIM_PRINTF(2, 3);
/* Train, select and test fold r->cur.fold from r->cur (fresh when epoch = iter = 0 and not trained).
 * Returns MHIM_OK, or 1 when a stop was requested (ckp.h5 written), or an error. */
int engine_run_fold(engine_run *r);
/* The seed of fold k's random choices (initial weights, bag order, dropout, masking, Merge shuffle): --seed, or
 * --seed + 100·k with --random_seed (the original v2 re-seeds each fold so). The splits always use --seed. */
uint64_t engine_fold_seed(const mhim_config *cfg, int fold);
/* 1 once mhim_train_request_stop was called. */
int engine_stop_requested(void);

/* ckp.h5: student, teacher, Adam moments, cursor and finished-fold results. */
int engine_save_resume(engine_run *r);
/* Restore the above from ckp.h5 into r (net buffers, cursor, results). */
int engine_load_resume(engine_run *r);
/* The selected student of fold k with its validation metrics: v1 fold_{k}_model_best_auc.h5 (with best_teacher),
 * v2 fold_{k}_model_best.h5 (with the current teacher: call it at the student's best epoch). */
int engine_save_best(engine_run *r, int fold);
/* v2 --model=mhim: fold_{k}_ema_model_best.h5 with best_teacher, its epoch and validation metrics (tval may be
 * NULL: no metrics). */
int engine_save_best_teacher(engine_run *r, int fold, int epoch, const mhim_eval_scores *tval);
/* Load the selected models of fold k back from their files: best_student when `student` (v1: best_teacher with it,
 * from the same file), v2 best_teacher from fold_{k}_ema_model_best.h5 when `teacher`. */
int engine_load_best(engine_run *r, int fold, int student, int teacher);
/* Initialise student/teacher of a fresh fold: seeded init, teacher_init / init_stu_type / no_tea_init. */
int engine_init_fold_params(engine_run *r, int fold);

#endif
