/* Human-readable results: the aligned per-fold table and the original's "Cross validation" lines. */
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/results.h"

static void print_values(FILE *out, const char *label, const double *v, const mhim_results_table *t, int digits) {
    fprintf(out, "%-6s", label);
    for (int j = 0; j < t->n_metrics; j++) {
        int width = MHIM_MAX((int)strlen(t->names[j]), digits + 3);
        fprintf(out, "  %*.*f", width, digits, v[j]);
    }
    fputc('\n', out);
}

void mhim_results_print_table(FILE *out, const mhim_results_table *t, int digits) {
    MHIM_ASSERT(digits >= 1 && digits <= 9 && t->n_folds >= 1);
    fprintf(out, "%-6s", "fold");
    for (int j = 0; j < t->n_metrics; j++) fprintf(out, "  %*s", MHIM_MAX((int)strlen(t->names[j]), digits + 3),
                                                    t->names[j]);
    fputc('\n', out);
    for (int64_t k = 0; k < t->n_folds; k++) {
        char label[24];
        snprintf(label, sizeof label, "%lld", (long long)t->fold_ids[k]);
        print_values(out, label, t->values + k * t->n_metrics, t, digits);
    }
    double *mean = mhim_malloc((size_t)t->n_metrics * sizeof *mean);
    double *std = mhim_malloc((size_t)t->n_metrics * sizeof *std);
    mhim_results_aggregate(t, mean, std);
    print_values(out, "mean", mean, t, digits);
    print_values(out, "std", std, t, digits);
    free(mean);
    free(std);
}

int mhim_results_print_cross_validation(FILE *out, const mhim_results_table *t, const char *const *names, int n,
                                        int digits) {
    if (t->n_folds < 1) return mhim_fail("results: no fold results to summarise");
    for (int i = 0; i < n; i++) {
        int col = -1;
        for (int j = 0; j < t->n_metrics && col < 0; j++)
            if (strcmp(t->names[j], names[i]) == 0) col = j;
        if (col < 0) return mhim_fail("results: no column \"%s\" in the results table", names[i]);
    }
    for (int i = 0; i < n; i++) {
        int col = 0;
        while (strcmp(t->names[col], names[i]) != 0) col++;
        double mean, std;
        mhim_numpy_mean_std(t->values + col, t->n_folds, t->n_metrics, 0, &mean, &std);
        fprintf(out, "Cross validation %s mean: %.*f, std %.*f \n", names[i], digits, mean, digits, std);
    }
    return MHIM_OK;
}
