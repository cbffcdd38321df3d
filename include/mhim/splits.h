/* mhim/splits.h — cross-validation folds over a label table, reproducing the original programs:
 * v1 (random.shuffle + StratifiedKFold + per-class Python-random val split), v2 (DataFrame.sample
 * + StratifiedKFold + per-label RandomState val split), or a user split file (ID,fold or
 * ID,rep,fold). Same CSV + options => same folds, in the same order, as the original. */
#ifndef MHIM_SPLITS_H
#define MHIM_SPLITS_H

#include <stdint.h>

#include "mhim/cohort.h"

typedef struct {
    int mhim_version;       /* 1 or 2: which original algorithm generates folds and val splits */
    int cv_fold;            /* number of folds K > 1; with a split file, <= 1 means "as in the file" */
    int64_t seed;           /* v1: random.seed(|seed|); v2: RandomState(seed), 0 <= seed < 2^32 */
    double val_ratio;       /* 0 => val set := test set; else per-class fraction of the train fold */
    const char *split_file; /* NULL or "" => generate; else a CSV with header ID,fold or ID,rep,fold */
    int split_rep;          /* repetition selected from an ID,rep,fold file */
} mhim_split_options;

typedef struct {
    int64_t n_train, n_val, n_test;
    int64_t *train, *val, *test; /* case indices into the label table, in the original's order */
    int val_is_test;             /* val_ratio == 0: val is a copy of test */
} mhim_fold;

typedef struct {
    int n_folds;
    mhim_fold *folds;
} mhim_splits;

/* Build all folds. Errors (one line): bad options, StratifiedKFold impossibilities (more folds
 * than cases, every class smaller than K), split-file problems (unknown/missing/duplicate IDs,
 * folds not 0..K-1, K != cv_fold). Free with mhim_splits_free. */
int mhim_splits_make(const mhim_label_table *labels, const mhim_split_options *opt, mhim_splits *out);
void mhim_splits_free(mhim_splits *s);

/* Drop every case i with keep[i] == 0 from all folds, keeping the order of the others (v2
 * survival: cases without feature files are dropped after splitting). */
void mhim_splits_filter(mhim_splits *s, const unsigned char *keep);

/* scikit-learn (>= 0.22) StratifiedKFold(n_splits, shuffle=False) test-fold id of each of the n
 * samples with class keys strat[] (any ints; classes are encoded by first appearance).
 * `what` names the data in messages. */
int mhim_stratified_kfold(const int *strat, int64_t n, int n_splits, const char *what, int *fold_of);

#endif
