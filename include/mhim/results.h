/* mhim/results.h — machine-readable and human-readable training results.
 *
 *   results.csv    per-fold metrics plus "mean" and "std" rows (np.mean / np.std with ddof = 0, as the
 *                  original aggregates), written atomically (mhim/atomic_file.h).
 *   metrics.jsonl  one JSON object per line (one per epoch and fold), serialised by cJSON and appended
 *                  durably: each record is a single write() on an O_APPEND descriptor followed by
 *                  fdatasync. A run killed mid-write can leave at most one partial last line; opening
 *                  the file again removes it, and also drops the records a resumed run will rewrite.
 *   tables         the final per-fold/mean/std table, and the original programs' closing lines
 *                  "Cross validation <metric> mean: %.3f, std %.3f " (v1; v2 prints 4 digits). */
#ifndef MHIM_RESULTS_H
#define MHIM_RESULTS_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "mhim/metrics.h"

/* Per-fold metrics: n_folds rows of n_metrics values (row-major), one name per column. Names are
 * non-empty and free of ',', '"', and line breaks (checked by the CSV writer). */
typedef struct {
    int n_metrics;
    const char *const *names;
    int64_t n_folds;
    const int64_t *fold_ids; /* fold index of each row (the original's k) */
    const double *values;    /* n_folds * n_metrics */
} mhim_results_table;

/* Column mean and population std (numpy order) into mean[n_metrics], std[n_metrics]. n_folds >= 1. */
void mhim_results_aggregate(const mhim_results_table *t, double *mean, double *std);

/* Write results.csv atomically: header "fold,<names>", rows "<fold_id>,<values>", then "mean,..." and
 * "std,...". Numbers use the shortest of %.15g / %.16g / %.17g that reads back exactly; NaN is "nan".
 * Fails (MHIM_EINPUT) on n_folds < 1, n_metrics < 1 or a bad column name, or as mhim_atomic_*. */
int mhim_results_write_csv(const char *path, const mhim_results_table *t);

/* Aligned table with one row per fold, then mean and std, `digits` decimals (1..9). */
void mhim_results_print_table(FILE *out, const mhim_results_table *t, int digits);

/* The original's closing lines for the listed columns, in that order:
 * "Cross validation <name> mean: %.<digits>f, std %.<digits>f \n" (v1: digits 3, v2: 4).
 * Fails (MHIM_EINPUT) when a name is not a column of the table or there is no fold. */
int mhim_results_print_cross_validation(FILE *out, const mhim_results_table *t, const char *const *names, int n,
                                        int digits);

/* ---- metrics.jsonl ------------------------------------------------------------------------------ */

typedef struct mhim_jsonl mhim_jsonl;

/* Open (create if missing) `path` for appending records. Keeps the first `keep_records` complete lines
 * (all of them when keep_records < 0) and truncates everything after them, including a partial last
 * line, then fsyncs; *records (may be NULL) receives the number of records kept. A resumed run passes
 * the record count stored in its checkpoint. */
int mhim_jsonl_open(const char *path, int64_t keep_records, mhim_jsonl **out, int64_t *records);
/* Append `record` (a JSON object) as one line. MHIM_EINTERNAL when the write or sync fails. */
int mhim_jsonl_append(mhim_jsonl *w, const cJSON *record);
/* Records in the file (kept + appended). */
int64_t mhim_jsonl_records(const mhim_jsonl *w);
void mhim_jsonl_close(mhim_jsonl *w);

/* Add the fields of a metric set to a JSON object as numbers named <prefix><field>, e.g. prefix
 * "val_" gives val_accuracy, val_auc, ... (NaN is written as null by cJSON). */
void mhim_json_add_five_scores(cJSON *obj, const char *prefix, const mhim_five_scores *s);
void mhim_json_add_cls_metrics(cJSON *obj, const char *prefix, const mhim_cls_metrics *m);

#endif
