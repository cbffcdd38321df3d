/* results.csv (per fold, mean, std), written atomically, and the fold aggregation (mhim/results.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/atomic_file.h"
#include "mhim/common.h"
#include "mhim/results.h"

void mhim_results_aggregate(const mhim_results_table *t, double *mean, double *std) {
    for (int j = 0; j < t->n_metrics; j++)
        mhim_numpy_mean_std(t->values + j, t->n_folds, t->n_metrics, 0, &mean[j], &std[j]);
}

/* Shortest of %.15g..%.17g that parses back to v exactly; "nan" / "inf" / "-inf" otherwise. */
static void print_number(FILE *out, double v) {
    if (isnan(v)) {
        fputs("nan", out);
        return;
    }
    if (isinf(v)) {
        fputs(v > 0 ? "inf" : "-inf", out);
        return;
    }
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) break;
    }
    fputs(buf, out);
}

static int check_table(const mhim_results_table *t) {
    if (t->n_folds < 1 || t->n_metrics < 1)
        return mhim_fail("results: %lld folds x %d metrics: expected at least one of each", (long long)t->n_folds,
                         t->n_metrics);
    for (int j = 0; j < t->n_metrics; j++)
        if (!t->names[j] || !*t->names[j] || strpbrk(t->names[j], ",\"\r\n"))
            return mhim_fail("results: column %d name \"%s\": expected a non-empty name without commas, quotes or "
                             "line breaks",
                             j, t->names[j] ? t->names[j] : "");
    return MHIM_OK;
}

static void print_row(FILE *out, const char *label, const double *v, int n) {
    fputs(label, out);
    for (int j = 0; j < n; j++) {
        fputc(',', out);
        print_number(out, v[j]);
    }
    fputc('\n', out);
}

int mhim_results_write_csv(const char *path, const mhim_results_table *t) {
    int rc = check_table(t);
    mhim_atomic_file *f;
    if (rc == MHIM_OK) rc = mhim_atomic_open(path, &f);
    if (rc) return rc;
    FILE *out = mhim_atomic_stream(f);
    fputs("fold", out);
    for (int j = 0; j < t->n_metrics; j++) fprintf(out, ",%s", t->names[j]);
    fputc('\n', out);
    for (int64_t k = 0; k < t->n_folds; k++) {
        char label[24];
        snprintf(label, sizeof label, "%lld", (long long)t->fold_ids[k]);
        print_row(out, label, t->values + k * t->n_metrics, t->n_metrics);
    }
    double *mean = mhim_malloc((size_t)t->n_metrics * sizeof *mean);
    double *std = mhim_malloc((size_t)t->n_metrics * sizeof *std);
    mhim_results_aggregate(t, mean, std);
    print_row(out, "mean", mean, t->n_metrics);
    print_row(out, "std", std, t->n_metrics);
    free(mean);
    free(std);
    return mhim_atomic_commit(f);
}
