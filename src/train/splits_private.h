/* train/splits_private.h — helpers shared by the generated (splits.c) and file (splits_file.c)
 * fold builders. */
#ifndef MHIM_TRAIN_SPLITS_PRIVATE_H
#define MHIM_TRAIN_SPLITS_PRIVATE_H

#include "mhim/mt19937.h"
#include "mhim/splits.h"

/* Fill fold->train/test from the test-fold id of each listed case: test = cases[p] with
 * fold_of[p] == k, train = the others, both in list order. */
void mhim_fold_from_ids(mhim_fold *fold, const int64_t *cases, const int *fold_of, int64_t n, int k);

/* Move a val_ratio share of each class of fold->train to fold->val following the original of
 * `mhim_version` (v1: classes in ascending order, Python random.shuffle on `py_rng`, continuing
 * its stream; v2: classes in order of first appearance, each shuffled by a fresh
 * RandomState(seed)). val_ratio == 0 => val := copy of test. */
void mhim_fold_split_val(mhim_fold *fold, const mhim_label_table *t, int mhim_version, double val_ratio,
                         mhim_mt19937 *py_rng, uint32_t np_seed);

/* Folds from opt->split_file (splits_file.c); same contract as mhim_splits_make. */
int mhim_splits_build_from_file(const mhim_label_table *t, const mhim_split_options *opt, mhim_splits *out);

/* v2 seeds must fit numpy's RandomState: 0 <= seed < 2^32. */
int mhim_splits_check_np_seed(int64_t seed);

#endif
