/* Generated cross-validation folds: the v1 and v2 algorithms of the original programs
 * (spec v1 §2.4, spec v2 §2.4), and the fold helpers shared with split files. */
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/splits.h"
#include "train/splits_private.h"

void mhim_fold_from_ids(mhim_fold *fold, const int64_t *cases, const int *fold_of, int64_t n, int k) {
    int64_t n_test = 0;
    for (int64_t p = 0; p < n; p++) n_test += fold_of[p] == k;
    fold->test = mhim_malloc(sizeof(int64_t) * (size_t)(n_test ? n_test : 1));
    fold->train = mhim_malloc(sizeof(int64_t) * (size_t)(n - n_test ? n - n_test : 1));
    fold->n_test = fold->n_train = 0;
    for (int64_t p = 0; p < n; p++) {
        if (fold_of[p] == k) fold->test[fold->n_test++] = cases[p];
        else fold->train[fold->n_train++] = cases[p];
    }
}

void mhim_fold_split_val(mhim_fold *fold, const mhim_label_table *t, int mhim_version, double val_ratio,
                         mhim_mt19937 *py_rng, uint32_t np_seed) {
    int64_t n = fold->n_train;
    if (val_ratio == 0.0) {
        fold->val_is_test = 1;
        fold->n_val = fold->n_test;
        fold->val = mhim_malloc(sizeof(int64_t) * (size_t)(fold->n_test ? fold->n_test : 1));
        memcpy(fold->val, fold->test, sizeof(int64_t) * (size_t)fold->n_test);
        return;
    }
    /* classes in processing order */
    int *classes = mhim_malloc(sizeof(int) * (size_t)(t->n_strat ? t->n_strat : 1));
    int n_classes = 0;
    if (mhim_version == 1) { /* np.unique: ascending raw label */
        for (int k = 0; k < t->n_strat; k++) classes[n_classes++] = k;
    } else { /* Series.unique(): first appearance in the train fold */
        for (int64_t i = 0; i < n; i++) {
            int key = t->cases[fold->train[i]].strat_key, seen = 0;
            for (int c = 0; c < n_classes && !seen; c++) seen = classes[c] == key;
            if (!seen) classes[n_classes++] = key;
        }
    }
    int64_t *val = mhim_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    int64_t *train = mhim_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    int64_t *members = mhim_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    int64_t *perm = mhim_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    int64_t n_val = 0, n_train = 0;
    for (int c = 0; c < n_classes; c++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (t->cases[fold->train[i]].strat_key == classes[c]) members[m++] = fold->train[i];
        int64_t offset = (int64_t)((double)m * val_ratio); /* int(n_total * ratio) */
        if (mhim_version == 1) {
            mhim_pyrandom_shuffle(py_rng, members, m);
        } else { /* label_df.sample(frac=1, random_state=seed) */
            mhim_mt19937 rs;
            mhim_nplegacy_seed(&rs, np_seed);
            mhim_nplegacy_permutation(&rs, m, perm);
            for (int64_t i = 0; i < m; i++) perm[i] = members[perm[i]];
            memcpy(members, perm, sizeof(int64_t) * (size_t)m);
        }
        for (int64_t i = 0; i < m; i++) {
            if (i < offset) val[n_val++] = members[i];
            else train[n_train++] = members[i];
        }
    }
    free(fold->train);
    fold->train = train;
    fold->n_train = n_train;
    fold->val = val;
    fold->n_val = n_val;
    fold->val_is_test = 0;
    free(classes);
    free(members);
    free(perm);
}

int mhim_splits_check_np_seed(int64_t seed) {
    if (seed < 0 || seed > (int64_t)UINT32_MAX)
        return mhim_fail("seed: %lld is outside 0..4294967295, the range numpy's RandomState accepts (the "
                         "mhim_version 2 split)",
                         (long long)seed);
    return MHIM_OK;
}

static int check_options(const mhim_split_options *opt) {
    if (opt->mhim_version != 1 && opt->mhim_version != 2)
        return mhim_fail("mhim_version: %d is not supported (expected 1 or 2)", opt->mhim_version);
    if (!(opt->val_ratio >= 0.0 && opt->val_ratio < 1.0))
        return mhim_fail("val_ratio: %g must be in [0, 1) (0 = validate on the test fold)", opt->val_ratio);
    return MHIM_OK;
}

static uint64_t abs_seed(int64_t seed) { return seed < 0 ? (uint64_t)0 - (uint64_t)seed : (uint64_t)seed; }

/* Generated folds: shuffle the table order, StratifiedKFold on the shuffled labels, val split. */
static int generate(const mhim_label_table *t, const mhim_split_options *opt, mhim_splits *out) {
    if (opt->mhim_version == 2 && mhim_splits_check_np_seed(opt->seed) != MHIM_OK) return MHIM_EINPUT;
    int64_t n = t->n_cases;
    int64_t *order = mhim_malloc(sizeof(int64_t) * (size_t)n);
    mhim_mt19937 py_rng;
    mhim_pyrandom_seed(&py_rng, abs_seed(opt->seed)); /* random.seed(seed) from seed_torch */
    if (opt->mhim_version == 1) { /* random.shuffle(index) */
        for (int64_t i = 0; i < n; i++) order[i] = i;
        mhim_pyrandom_shuffle(&py_rng, order, n);
    } else { /* df.sample(frac=1, random_state=seed) */
        mhim_mt19937 rs;
        mhim_nplegacy_seed(&rs, (uint32_t)opt->seed);
        mhim_nplegacy_permutation(&rs, n, order);
    }
    int *strat = mhim_malloc(sizeof(int) * (size_t)n);
    int *fold_of = mhim_malloc(sizeof(int) * (size_t)n);
    for (int64_t p = 0; p < n; p++) strat[p] = t->cases[order[p]].strat_key;
    int rc = mhim_stratified_kfold(strat, n, opt->cv_fold, t->path, fold_of);
    if (rc == MHIM_OK) {
        out->n_folds = opt->cv_fold;
        out->folds = mhim_calloc((size_t)opt->cv_fold, sizeof(mhim_fold));
        for (int k = 0; k < opt->cv_fold; k++) {
            mhim_fold_from_ids(&out->folds[k], order, fold_of, n, k);
            mhim_fold_split_val(&out->folds[k], t, opt->mhim_version, opt->val_ratio, &py_rng, (uint32_t)opt->seed);
        }
    }
    free(order);
    free(strat);
    free(fold_of);
    return rc;
}

int mhim_splits_make(const mhim_label_table *labels, const mhim_split_options *opt, mhim_splits *out) {
    memset(out, 0, sizeof *out);
    int rc = check_options(opt);
    if (rc != MHIM_OK) return rc;
    if (opt->split_file && opt->split_file[0]) rc = mhim_splits_build_from_file(labels, opt, out);
    else rc = generate(labels, opt, out);
    if (rc != MHIM_OK) mhim_splits_free(out);
    return rc;
}

void mhim_splits_free(mhim_splits *s) {
    for (int k = 0; s->folds && k < s->n_folds; k++) {
        free(s->folds[k].train);
        free(s->folds[k].val);
        free(s->folds[k].test);
    }
    free(s->folds);
    memset(s, 0, sizeof *s);
}

static void filter_list(int64_t *list, int64_t *n, const unsigned char *keep) {
    int64_t m = 0;
    for (int64_t i = 0; i < *n; i++)
        if (keep[list[i]]) list[m++] = list[i];
    *n = m;
}

void mhim_splits_filter(mhim_splits *s, const unsigned char *keep) {
    for (int k = 0; k < s->n_folds; k++) {
        filter_list(s->folds[k].train, &s->folds[k].n_train, keep);
        filter_list(s->folds[k].val, &s->folds[k].n_val, keep);
        filter_list(s->folds[k].test, &s->folds[k].n_test, keep);
    }
}
