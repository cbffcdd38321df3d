/* Training data: label CSV -> cohort -> folds -> one bag store over every bag (read once for all folds and
 * epochs), plus the optional per-fold feature standardisation. See train/engine_internal.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mhim/common.h"
#include "mhim/log.h"
#include "train/engine_internal.h"

static int label_csv_path(const mhim_config *cfg, char **out) {
    if (cfg->csv_path && cfg->csv_path[0])
        *out = mhim_strdup(cfg->csv_path);
    else if (cfg->dataset_root && cfg->dataset_root[0])
        *out = mhim_asprintf("%s/label.csv", cfg->dataset_root);
    else
        return mhim_fail("dataset_root: not set (expected the folder with label.csv and the feature folder)");
    struct stat st;
    if (stat(*out, &st) != 0 || !S_ISREG(st.st_mode))
        return mhim_fail("label CSV '%s' not found (set --csv_path, or put label.csv in --dataset_root)", *out);
    return MHIM_OK;
}

/* Mark the bags at positions j % size == rank of cases[0..n)'s bag list. */
static void mark_shard(const engine_data *d, const int64_t *cases, int64_t n, int rank, int size, unsigned char *sel) {
    int64_t j = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t b = 0; b < d->case_n_bags[cases[i]]; b++, j++)
            if (j % size == rank) sel[d->case_first_bag[cases[i]] + b] = 1;
}

/* This rank's bags over folds [first, end) (train, val or test lists, as engine_run_fold builds them). */
static unsigned char *shard_subset(const engine_data *d, const mhim_dp_ops *dp, int first, int end) {
    unsigned char *sel = mhim_calloc((size_t)MHIM_MAX(d->n_bags, 1), 1);
    for (int k = first; k < end && k < d->splits.n_folds; k++) {
        const mhim_fold *f = &d->splits.folds[k];
        mark_shard(d, f->train, f->n_train, dp->rank, dp->size, sel);
        mark_shard(d, f->test, f->n_test, dp->rank, dp->size, sel);
        if (!f->val_is_test) mark_shard(d, f->val, f->n_val, dp->rank, dp->size, sel);
    }
    return sel;
}

static int open_store(engine_data *d, const mhim_config *cfg, const unsigned char *subset) {
    mhim_bagstore_options so = {MHIM_STORE_FP32, mhim_config_memory_budget(cfg), subset, cfg->skip_bad_bags};
    if (mhim_store_dtype_parse(cfg->store_dtype, "--store_dtype", &so.dtype) != MHIM_OK) return MHIM_EINPUT;
    mhim_bag_source *src = mhim_malloc((size_t)MHIM_MAX(d->n_bags, 1) * sizeof *src);
    for (int64_t i = 0; i < d->n_bags; i++)
        src[i] = (mhim_bag_source){d->labels.cases[d->bags[i].case_index].id, d->bags[i].n_files,
                                   (const char *const *)d->bags[i].files};
    int rc = mhim_bagstore_open(src, d->n_bags, &so, &d->store);
    free(src);
    if (rc != MHIM_OK) return rc;
    d->dim = mhim_bagstore_dim(d->store);
    for (int64_t i = 0; i < d->n_bags; i++) d->max_instances = MHIM_MAX(d->max_instances, mhim_bagstore_n_instances(d->store, i));
    char skipped[512];
    mhim_bagstore_skip_summary(d->store, 5, skipped, sizeof skipped);
    if (skipped[0]) MHIM_WARN("%s", skipped);
    return MHIM_OK;
}

int engine_data_open(engine_data *d, const mhim_config *cfg, const mhim_dp_ops *dp, int fold_first, int fold_end) {
    memset(d, 0, sizeof *d);
    char *csv = NULL;
    mhim_csv_header header;
    mhim_match_mode match;
    int rc = label_csv_path(cfg, &csv);
    if (rc == MHIM_OK) rc = mhim_csv_header_parse(cfg->csv_header, "--csv_header", &header);
    if (rc == MHIM_OK) rc = mhim_match_mode_parse(cfg->feature_match, "--feature_match", &match);
    mhim_label_options lopt = {cfg->datasets, cfg->version, header};
    if (rc == MHIM_OK) rc = mhim_labels_load(csv, &lopt, &d->labels);
    if (rc == MHIM_OK && d->labels.task != MHIM_TASK_CLASSIFICATION && cfg->version != 2)
        rc = mhim_fail("%s: survival labels need MHIM-v2 (--mhim_version=2 and --datasets=surv_*)", csv);
    if (rc == MHIM_OK && d->labels.n_classes != cfg->n_classes)
        rc = mhim_fail("%s: %d classes in the labels but --n_classes=%d (set --n_classes=%d)", csv,
                       d->labels.n_classes, cfg->n_classes, d->labels.n_classes);
    mhim_cohort_options copt = {cfg->dataset_root, cfg->feature_dir, match, cfg->datasets, cfg->version};
    if (rc == MHIM_OK) rc = mhim_cohort_build(&d->labels, &copt, &d->cohort);
    if (rc == MHIM_OK) rc = mhim_cohort_check(&d->cohort, &d->labels);
    mhim_split_options sopt = {cfg->version, cfg->cv_fold, cfg->seed, cfg->val_ratio, cfg->split_file,
                               cfg->split_rep};
    if (rc == MHIM_OK) rc = mhim_splits_make(&d->labels, &sopt, &d->splits);
    if (rc == MHIM_OK && d->splits.n_folds <= cfg->fold_start)
        rc = mhim_fail("--fold_start=%d: the splits have only %d folds", cfg->fold_start, d->splits.n_folds);
    free(csv);
    if (rc != MHIM_OK) return rc;
    const int64_t nc = d->labels.n_cases;
    int64_t *all = mhim_malloc((size_t)nc * sizeof *all);
    for (int64_t i = 0; i < nc; i++) all[i] = i;
    d->n_bags = mhim_cohort_bags(&d->cohort, d->labels.task, all, nc, &d->bags);
    free(all);
    d->bag_label = mhim_malloc((size_t)MHIM_MAX(d->n_bags, 1) * sizeof *d->bag_label);
    d->case_first_bag = mhim_calloc((size_t)nc, sizeof *d->case_first_bag);
    d->case_n_bags = mhim_calloc((size_t)nc, sizeof *d->case_n_bags);
    for (int64_t i = d->n_bags - 1; i >= 0; i--) {
        int64_t c = d->bags[i].case_index;
        d->bag_label[i] = d->labels.cases[c].label;
        d->case_first_bag[c] = i;
        d->case_n_bags[c]++;
    }
    if (!dp || dp->size <= 1) return open_store(d, cfg, NULL);
    if (cfg->skip_bad_bags || cfg->standardize)
        return mhim_fail("--group_size=%d: --%s needs every bag on one rank (use --group_size=1)", dp->size,
                         cfg->skip_bad_bags ? "skip_bad_bags" : "standardize");
    d->sharded = 1;
    unsigned char *subset = shard_subset(d, dp, fold_first, fold_end);
    rc = open_store(d, cfg, subset);
    free(subset);
    if (rc == MHIM_OK && d->dim == 0)
        rc = mhim_fail("--group_size=%d: data-parallel rank %d has no bag of these folds (the cohort is too small for "
                       "the group; lower --group_size)",
                       dp->size, dp->rank);
    return rc;
}

void engine_data_close(engine_data *d) {
    mhim_bagstore_close(d->store);
    free(d->bags);
    free(d->bag_label);
    free(d->case_first_bag);
    free(d->case_n_bags);
    mhim_splits_free(&d->splits);
    mhim_cohort_free(&d->cohort);
    mhim_labels_free(&d->labels);
    memset(d, 0, sizeof *d);
}

int64_t engine_data_bags_of(const engine_data *d, const int64_t *cases, int64_t n, int64_t **out) {
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) total += d->case_n_bags[cases[i]];
    *out = mhim_malloc((size_t)MHIM_MAX(total, 1) * sizeof **out);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t b = 0; b < d->case_n_bags[cases[i]]; b++) {
            int64_t bag = d->case_first_bag[cases[i]] + b;
            if (d->sharded || mhim_bagstore_available(d->store, bag)) (*out)[k++] = bag;
        }
    return k;
}

void engine_standardizer_fit(engine_standardizer *z, engine_data *d, const int64_t *bags, int64_t n) {
    const int64_t D = d->dim;
    double *sum = mhim_calloc((size_t)D, sizeof *sum), *sq = mhim_calloc((size_t)D, sizeof *sq);
    int64_t rows = 0;
    mhim_bag_view v = MHIM_BAG_VIEW_INIT;
    for (int64_t b = 0; b < n; b++) {
        if (mhim_bagstore_get(d->store, bags[b], &v) != MHIM_OK) continue; /* reported when training reads it */
        for (int64_t r = 0; r < v.n; r++)
            for (int64_t j = 0; j < D; j++) {
                double x = v.x[r * D + j];
                sum[j] += x;
                sq[j] += x * x;
            }
        rows += v.n;
    }
    mhim_bag_view_free(&v);
    z->mean = mhim_malloc((size_t)D * sizeof(float));
    z->inv_std = mhim_malloc((size_t)D * sizeof(float));
    for (int64_t j = 0; j < D; j++) {
        double mean = rows ? sum[j] / (double)rows : 0.0;
        double var = rows ? sq[j] / (double)rows - mean * mean : 0.0;
        double sd = var > 1e-12 ? sqrt(var) : 1.0;
        z->mean[j] = (float)mean;
        z->inv_std[j] = (float)(1.0 / sd);
    }
    free(sum);
    free(sq);
}

void engine_standardizer_free(engine_standardizer *z) {
    free(z->mean);
    free(z->inv_std);
    z->mean = z->inv_std = NULL;
}

int engine_bag_get(engine_data *d, const engine_standardizer *z, int64_t i, mhim_bag_view *view, float *buf,
                   const float **x, int64_t *N) {
    int rc = mhim_bagstore_get(d->store, i, view);
    if (rc != MHIM_OK) return rc;
    *N = view->n;
    if (!z || !z->mean) {
        *x = view->x;
        return MHIM_OK;
    }
    const int64_t D = d->dim;
    for (int64_t r = 0; r < view->n; r++)
        for (int64_t j = 0; j < D; j++) buf[r * D + j] = (view->x[r * D + j] - z->mean[j]) * z->inv_std[j];
    *x = buf;
    return MHIM_OK;
}
