/* scikit-learn StratifiedKFold without shuffling (the >= 0.22 allocation algorithm). */
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/log.h"
#include "mhim/splits.h"

int mhim_stratified_kfold(const int *strat, int64_t n, int n_splits, const char *what, int *fold_of) {
    if (n_splits < 2) return mhim_fail("cv_fold: %d folds requested; k-fold needs at least 2", n_splits);
    if (n_splits > n)
        return mhim_fail("%s: cannot make %d folds from %lld cases (cv_fold must not exceed the number of cases)",
                         what, n_splits, (long long)n);
    /* encode classes by order of first appearance */
    int64_t n_classes = 0;
    int *first_keys = mhim_malloc(sizeof(int) * (size_t)n);
    int64_t *enc = mhim_malloc(sizeof(int64_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = 0;
        while (c < n_classes && first_keys[c] != strat[i]) c++;
        if (c == n_classes) first_keys[n_classes++] = strat[i];
        enc[i] = c;
    }
    int64_t *count = mhim_calloc((size_t)n_classes, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) count[enc[i]]++;
    int64_t min_count = n, max_count = 0;
    for (int64_t c = 0; c < n_classes; c++) {
        min_count = MHIM_MIN(min_count, count[c]);
        max_count = MHIM_MAX(max_count, count[c]);
    }
    int rc = MHIM_OK;
    if (max_count < n_splits) {
        rc = mhim_fail("%s: cv_fold=%d is larger than the number of cases of every class (largest class: %lld)",
                       what, n_splits, (long long)max_count);
    } else {
        if (min_count < n_splits)
            MHIM_WARN("%s: the smallest class has only %lld cases, fewer than cv_fold=%d", what, (long long)min_count,
                      n_splits);
        /* y_order = sorted codes; allocation[f][c] = count of c in y_order[f::K] */
        int64_t *alloc = mhim_calloc((size_t)n_splits * (size_t)n_classes, sizeof(int64_t));
        for (int64_t c = 0, pos = 0; c < n_classes; c++)
            for (int64_t j = 0; j < count[c]; j++, pos++) alloc[(pos % n_splits) * n_classes + c]++;
        /* the samples of class c, in data order, get folds 0 x alloc[0][c], 1 x alloc[1][c], ... */
        int64_t *next_fold = mhim_calloc((size_t)n_classes, sizeof(int64_t));
        int64_t *used = mhim_calloc((size_t)n_classes, sizeof(int64_t));
        for (int64_t i = 0; i < n; i++) {
            int64_t c = enc[i];
            while (used[c] == alloc[next_fold[c] * n_classes + c]) {
                next_fold[c]++;
                used[c] = 0;
            }
            fold_of[i] = (int)next_fold[c];
            used[c]++;
        }
        free(alloc);
        free(next_fold);
        free(used);
    }
    free(first_keys);
    free(enc);
    free(count);
    return rc;
}
