/* v2 metrics (engines/metrics.py) against fixtures/metrics/reference.json: macro and binary
 * classification metrics (values from scikit-learn with torchmetrics' rules), the censored concordance
 * index (counts exactly), bootstrap resample indices (a Python transcription of the Philox streams) and
 * bootstrap means/stds; plus the input errors and the degenerate-resample error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/metrics.h"
#include "test_metrics_json.h"

#define TOL 1e-12

static void expect_cls(ref_tally *t, const char *name, const mhim_cls_metrics *got, const cJSON *want,
                       const char *stat) {
    const char *keys[7] = {"acc", "auc", "precision", "recall", "f1", "ck", "acc_micro"};
    double vals[7] = {got->acc, got->auc, got->precision, got->recall, got->f1, got->ck, got->acc_micro};
    for (int k = 0; k < 7; k++) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(want, keys[k]);
        ref_expect(t, name, keys[k], vals[k], stat ? ref_get(w, stat) : ref_number(w), TOL);
    }
}

static int test_cls(const cJSON *root) {
    ref_tally macro = {.section = "v2 cls macro"}, binary = {.section = "v2 cls binary (bin_metric)"};
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "cls")) {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        int n_classes = (int)ref_get(c, "n_classes");
        int64_t n, nz;
        int *labels = ref_ints(c, "labels", &n);
        double *logits = ref_doubles(c, "logits", &nz);
        mhim_cls_metrics m;
        if (nz != n * n_classes || mhim_cls_metrics_compute(labels, logits, n, n_classes, MHIM_CLS_MACRO, &m))
            printf("FAIL %s rejected: %s\n", name, mhim_error()), macro.failed++;
        else
            expect_cls(&macro, name, &m, cJSON_GetObjectItemCaseSensitive(c, "macro"), NULL);
        if (n_classes == 2) {
            if (mhim_cls_metrics_compute(labels, logits, n, 2, MHIM_CLS_BINARY, &m))
                printf("FAIL %s (binary) rejected: %s\n", name, mhim_error()), binary.failed++;
            else
                expect_cls(&binary, name, &m, cJSON_GetObjectItemCaseSensitive(c, "binary"), NULL);
        }
        free(labels), free(logits);
    }
    return ref_report(&macro) + ref_report(&binary);
}

static int test_cindex(const cJSON *root) {
    ref_tally t = {.section = "v2 concordance index"};
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "cindex")) {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        int64_t n, n2, n3;
        int *event = ref_ints(c, "event", &n);
        double *time = ref_doubles(c, "time", &n2), *est = ref_doubles(c, "estimate", &n3);
        mhim_cindex ci;
        if (n != n2 || n != n3 || mhim_concordance_index(event, time, est, n, MHIM_CINDEX_TIED_TOL, &ci)) {
            printf("FAIL %s rejected: %s\n", name, mhim_error());
            t.failed++;
        } else {
            ref_expect(&t, name, "cindex", ci.cindex, ref_get(c, "cindex"), TOL);
            ref_expect_i64(&t, name, "concordant", ci.concordant, (int64_t)ref_get(c, "concordant"));
            ref_expect_i64(&t, name, "discordant", ci.discordant, (int64_t)ref_get(c, "discordant"));
            ref_expect_i64(&t, name, "tied_risk", ci.tied_risk, (int64_t)ref_get(c, "tied_risk"));
            ref_expect_i64(&t, name, "tied_time", ci.tied_time, (int64_t)ref_get(c, "tied_time"));
        }
        free(event), free(time), free(est);
    }
    return ref_report(&t);
}

static int test_bootstrap(const cJSON *root) {
    ref_tally idx_t = {.section = "bootstrap indices"}, cls_t = {.section = "bootstrap cls mean/std"};
    ref_tally ci_t = {.section = "bootstrap c-index mean/std"};
    const cJSON *boot = cJSON_GetObjectItemCaseSensitive(root, "bootstrap"), *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(boot, "indices")) {
        int64_t n, fold = (int64_t)ref_get(c, "fold"), b = (int64_t)ref_get(c, "b");
        int *want = ref_ints(c, "idx", &n);
        int64_t *got = malloc((size_t)n * sizeof *got);
        mhim_bootstrap_indices(fold, b, n, got);
        for (int64_t k = 0; k < n; k++) ref_expect_i64(&idx_t, "indices", "idx", got[k], want[k]);
        free(want), free(got);
    }
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(boot, "cls")) {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        int n_classes = (int)ref_get(c, "n_classes");
        int64_t n, nz, fold = (int64_t)ref_get(c, "fold"), n_boot = (int64_t)ref_get(c, "n_boot");
        int *labels = ref_ints(c, "labels", &n);
        double *logits = ref_doubles(c, "logits", &nz);
        for (int mode = MHIM_CLS_MACRO; mode <= (n_classes == 2 ? MHIM_CLS_BINARY : MHIM_CLS_MACRO); mode++) {
            const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, mode == MHIM_CLS_MACRO ? "macro" : "binary");
            mhim_cls_bootstrap bs;
            if (mhim_cls_metrics_bootstrap(labels, logits, n, n_classes, (mhim_cls_mode)mode, fold, n_boot, &bs)) {
                printf("FAIL %s rejected: %s\n", name, mhim_error());
                cls_t.failed++;
                continue;
            }
            expect_cls(&cls_t, name, &bs.mean, want, "mean");
            expect_cls(&cls_t, name, &bs.std, want, "std");
        }
        free(labels), free(logits);
    }
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(boot, "cindex")) {
        int64_t n, n2, n3, fold = (int64_t)ref_get(c, "fold"), n_boot = (int64_t)ref_get(c, "n_boot");
        int *event = ref_ints(c, "event", &n);
        double *time = ref_doubles(c, "time", &n2), *est = ref_doubles(c, "estimate", &n3);
        mhim_cindex_bootstrap bs;
        if (mhim_cindex_bootstrap_compute(event, time, est, n, MHIM_CINDEX_TIED_TOL, fold, n_boot, &bs)) {
            printf("FAIL c-index bootstrap rejected: %s\n", mhim_error());
            ci_t.failed++;
        } else {
            ref_expect(&ci_t, "random_40", "mean", bs.mean, ref_get(c, "mean"), TOL);
            ref_expect(&ci_t, "random_40", "std", bs.std, ref_get(c, "std"), TOL);
        }
        free(event), free(time), free(est);
    }
    return ref_report(&idx_t) + ref_report(&cls_t) + ref_report(&ci_t);
}

/* Fails unless the call returned MHIM_EINPUT with a message containing `needle`. */
static int expect_error(const char *what, int rc, const char *needle) {
    int ok = rc == MHIM_EINPUT && strstr(mhim_error(), needle) != NULL;
    printf("%s error: %-34s -> rc %d \"%s\"\n", ok ? "ok  " : "FAIL", what, rc, mhim_error());
    mhim_error_clear();
    return !ok;
}

static int test_errors(void) {
    int fails = 0;
    int labels[3] = {0, 1, 2}, bad_label[3] = {0, 3, 1};
    double logits[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, nan_logits[9] = {1, 0, 0, 0, NAN, 0, 0, 0, 1};
    mhim_cls_metrics m;
    mhim_cls_bootstrap bs;
    fails += expect_error("label out of range", mhim_cls_metrics_compute(bad_label, logits, 3, 3, 0, &m), "[0, 3)");
    fails += expect_error("NaN logit", mhim_cls_metrics_compute(labels, nan_logits, 3, 3, 0, &m), "logit 1");
    fails += expect_error("binary with 3 classes", mhim_cls_metrics_compute(labels, logits, 3, 3, 1, &m),
                          "bin_metric");
    fails += expect_error("one class total", mhim_cls_metrics_compute(labels, logits, 3, 1, 0, &m), "at least 2");
    fails += expect_error("num_bootstrap 0", mhim_cls_metrics_bootstrap(labels, logits, 3, 3, 0, 0, 0, &bs),
                          "num_bootstrap");

    int censored[3] = {0, 0, 0}, last_event[2] = {0, 1}, bad_event[2] = {1, 2}, ev2[2] = {1, 0};
    double time[3] = {1, 2, 3}, est[3] = {0.1, 0.2, 0.3}, nan_time[3] = {1, NAN, 3};
    mhim_cindex ci;
    mhim_cindex_bootstrap cb;
    fails += expect_error("all censored", mhim_concordance_index(censored, time, est, 3, 1e-8, &ci), "all 3");
    fails += expect_error("no comparable pair", mhim_concordance_index(last_event, time, est, 2, 1e-8, &ci),
                          "no comparable pair");
    fails += expect_error("event 2", mhim_concordance_index(bad_event, time, est, 2, 1e-8, &ci), "event indicator");
    fails += expect_error("NaN time", mhim_concordance_index(ev2, nan_time, est, 3, 1e-8, &ci), "survival time");
    fails += expect_error("resample without event",
                          mhim_cindex_bootstrap_compute(ev2, time, est, 2, 1e-8, 0, 50, &cb), "bootstrap resample");

    /* hand-computed: times 1 < 2 < 3, events at 1 and 2, risk decreasing => every pair concordant */
    int ev3[3] = {1, 1, 0};
    double risk[3] = {3, 2, 1};
    fails += check_true("c-index 1.0 on a perfectly ordered case",
                        mhim_concordance_index(ev3, time, risk, 3, 1e-8, &ci) == MHIM_OK && ci.cindex == 1.0 &&
                            ci.concordant == 3);
    /* a single resample: std is NaN as torch.std of one value */
    fails += check_true("one resample: std NaN",
                        mhim_cls_metrics_bootstrap(labels, logits, 3, 3, 0, 0, 1, &bs) == MHIM_OK &&
                            isnan(bs.std.auc) && !isnan(bs.mean.auc));
    return fails;
}

int main(void) {
    cJSON *root = ref_load();
    if (!root) return 1;
    int fails = test_cls(root) + test_cindex(root) + test_bootstrap(root) + test_errors();
    cJSON_Delete(root);
    printf("%s\n", fails ? "FAILED" : "all passed");
    return fails != 0;
}
