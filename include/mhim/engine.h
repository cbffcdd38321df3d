/* mhim/engine.h — the `mhim train` engine: cross-validated training of `--model=pure` (a baseline alone) and
 * `--model=mhim` (MHIM-MIL v1: EMA teacher, masked hard-instance mining, consistency loss), following the
 * original main.py (spec mhim_v1.md §4-6). See docs/training.md for the outputs and the resume protocol.
 *
 * Per fold k = fold_start..cv_fold-1: same initial weights every fold (the original re-seeds), optional
 * teacher/student initialisation from teacher_init, Adam/AdamW with a per-epoch (or per-iteration) LR schedule,
 * a Philox-keyed epoch permutation, the pure or MHIM step per bag, student (and teacher) validation each epoch,
 * early stopping, best-model selection on validation AUC, test of the best student (and teacher) on the test fold;
 * finally mean and population std over folds.
 *
 * Outputs under cfg->run_dir: config.yaml, train.log, metrics.jsonl, results.csv, fold_{k}_model_best_auc.h5 (v2:
 * fold_{k}_model_best.h5 and, for --model=mhim, fold_{k}_ema_model_best.h5) and ckp.h5 (the resume checkpoint,
 * written after every epoch and on SIGTERM/SIGUSR1). */
#ifndef MHIM_ENGINE_H
#define MHIM_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

struct mhim_config;

/* Scores of one evaluated set (bag probability of class 1 against the bag labels). */
typedef struct {
    double acc, auc, prec, rec, f1; /* at the Youden-optimal threshold (or the given one), mhim/metrics.h */
    double thr;                     /* threshold used: pred = p >= thr */
    double acc05, f1_05;            /* at threshold 0.5 */
    double loss;                    /* mean classification loss over the bags */
    double ck, acc_micro;           /* v2 only: Cohen's kappa and micro accuracy (acc is then macro accuracy) */
} mhim_eval_scores;

/* The collectives of a data-parallel group (implemented by src/dist over MPI or NCCL). Every call is made by every
 * rank of the group in the same order; each returns MHIM_OK or an error with one message. */
typedef struct mhim_dp_ops {
    int rank, size;                                     /* this rank in the group, ranks in the group */
    void *ctx;
    int (*sum_f32)(void *ctx, float *buf, int64_t n);   /* in-place sum over the group (the gradient all-reduce) */
    int (*sum_f64)(void *ctx, double *buf, int64_t n);  /* in-place sum over the group (evaluation gather) */
    int (*bcast_f32)(void *ctx, float *buf, int64_t n); /* from group rank 0 to the others */
} mhim_dp_ops;

/* Options of a run that are not training options of the original. */
typedef struct {
    bool standardize;   /* z-score every feature with the mean/std over the training bags of each fold */
    bool quiet;         /* no per-epoch progress lines on stdout (the log still gets them) */
    /* A work unit of a distributed run (src/dist): run fold `unit_fold` alone, with its own files
     * ckp_fold_{k}.h5, train_fold_{k}.log, metrics_fold_{k}.jsonl; no results.csv (the gatherer writes it);
     * config.yaml only from the unit of fold_start. */
    bool unit;
    int unit_fold;
    const mhim_dp_ops *dp; /* data-parallel group (size > 1: sharded bags, all-reduced gradients); NULL = alone */
} mhim_engine_options;

/* Final figures of a run: per-fold test scores of the best student (and teacher for mhim) and their
 * mean / population std over the folds that ran. */
typedef struct {
    int n_folds;                 /* folds run (cv_fold - fold_start) */
    int first_fold;
    mhim_eval_scores *student;   /* [n_folds] */
    mhim_eval_scores *teacher;   /* [n_folds]; zero for pure runs */
    mhim_eval_scores mean, std;  /* of the student */
    bool interrupted;            /* stopped by SIGTERM/SIGUSR1 after writing ckp.h5 */
} mhim_train_summary;

/* Run the whole training described by cfg (already validated with mhim_config_check_training). Installs
 * SIGTERM/SIGUSR1 handlers for the duration of the run. With cfg->auto_resume and an existing run_dir/ckp.h5 the run
 * continues bit-exactly from it. MHIM_EINPUT with one message on bad data/options/checkpoints. On MHIM_OK the
 * caller frees the summary with mhim_train_summary_free. */
int mhim_train_run(const struct mhim_config *cfg, const mhim_engine_options *opt, mhim_train_summary *out);
void mhim_train_summary_free(mhim_train_summary *s);
/* Mean / population std over s's folds, then run_dir/results.csv (atomic), as at the end of a whole run;
 * mhim = the teacher columns. MHIM_EINPUT/EINTERNAL when the file cannot be written. */
int mhim_train_write_results(const char *run_dir, mhim_train_summary *s, bool mhim, const struct mhim_config *cfg);

/* Ask a running mhim_train_run to write its checkpoint and return at the next bag (async-signal-safe). */
void mhim_train_request_stop(void);

/* ---- early stopping (utils.EarlyStopping of the original, called with val_loss = -AUC) ---------------------- */
typedef struct {
    int patience;   /* epochs without improvement before stopping */
    int stop_epoch; /* stopping is allowed only when epoch > stop_epoch */
    int stage;      /* epochs < stage score 0 (save_best_model_stage * num_epoch, rounded up) */
    int has_best;   /* a score has been recorded */
    double best;    /* best score so far */
    int counter;    /* epochs since the last score >= best */
} mhim_early_stop;

void mhim_early_stop_init(mhim_early_stop *es, int patience, int stop_epoch, int stage);
/* Record the validation AUC of `epoch`; returns 1 when training must stop after this epoch. Ties (score == best)
 * reset the counter, as in the original. */
int mhim_early_stop_update(mhim_early_stop *es, int epoch, double val_auc);

#endif
