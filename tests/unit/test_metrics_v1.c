/* v1 metrics (utils.five_scores) and the fold aggregation against scikit-learn / numpy values in
 * fixtures/metrics/reference.json: ROC points and thresholds exactly, AUC to 1e-12, the scores at the
 * Youden threshold and at 0.5, confusion counts exactly, np.mean / np.std bit for bit; plus the
 * input errors (one class, bad labels, non-finite or out-of-range scores). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/metrics.h"
#include "test_metrics_json.h"

#define AUC_TOL 1e-12
#define SCORE_TOL 1e-12

static void expect_scores(ref_tally *t, const char *name, const mhim_five_scores *got, const cJSON *want) {
    ref_expect(t, name, "accuracy", got->accuracy, ref_get(want, "accuracy"), SCORE_TOL);
    ref_expect(t, name, "auc", got->auc, ref_get(want, "auc"), AUC_TOL);
    ref_expect(t, name, "precision", got->precision, ref_get(want, "precision"), SCORE_TOL);
    ref_expect(t, name, "recall", got->recall, ref_get(want, "recall"), SCORE_TOL);
    ref_expect(t, name, "fscore", got->fscore, ref_get(want, "fscore"), SCORE_TOL);
    ref_expect(t, name, "threshold", got->threshold, ref_get(want, "threshold"), 0);
    ref_expect_i64(t, name, "tp", got->tp, (int64_t)ref_get(want, "tp"));
    ref_expect_i64(t, name, "fp", got->fp, (int64_t)ref_get(want, "fp"));
}

static int test_v1_cases(const cJSON *root) {
    ref_tally roc = {.section = "v1 roc_curve"}, youden = {.section = "v1 five_scores (Youden)"},
              half = {.section = "v1 five_scores (0.5)"};
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "v1")) {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        int64_t n, n2, n_pts;
        int *labels = ref_ints(c, "labels", &n);
        double *scores = ref_doubles(c, "scores", &n2);
        int *fps = ref_ints(c, "roc_fps", &n_pts);
        int *tps = ref_ints(c, "roc_tps", &n_pts);
        double *thr = ref_doubles(c, "roc_thresholds", &n_pts);
        mhim_roc_curve curve;
        if (n != n2 || mhim_roc_curve_compute(labels, scores, n, &curve) != MHIM_OK) {
            printf("FAIL %s: roc curve rejected: %s\n", name, mhim_error());
            roc.failed++;
        } else {
            ref_expect_i64(&roc, name, "n_points", curve.n_points, n_pts);
            for (int64_t k = 0; k < n_pts && k < curve.n_points; k++) {
                ref_expect_i64(&roc, name, "fps", curve.fps[k], fps[k]);
                ref_expect_i64(&roc, name, "tps", curve.tps[k], tps[k]);
                ref_expect(&roc, name, "thresholds", curve.thresholds[k], thr[k], 0);
            }
            mhim_roc_curve_free(&curve);
        }
        mhim_five_scores s;
        if (mhim_five_scores_youden(labels, scores, n, &s) == MHIM_OK)
            expect_scores(&youden, name, &s, cJSON_GetObjectItemCaseSensitive(c, "youden"));
        else
            printf("FAIL %s: five_scores rejected: %s\n", name, mhim_error()), youden.failed++;
        if (mhim_five_scores_at(labels, scores, n, 0.5, &s) == MHIM_OK)
            expect_scores(&half, name, &s, cJSON_GetObjectItemCaseSensitive(c, "half"));
        else
            printf("FAIL %s: five_scores at 0.5 rejected: %s\n", name, mhim_error()), half.failed++;
        double auc;
        if (mhim_roc_auc(labels, scores, n, &auc) == MHIM_OK)
            ref_expect(&youden, name, "roc_auc", auc,
                       ref_get(cJSON_GetObjectItemCaseSensitive(c, "youden"), "auc"), AUC_TOL);
        free(labels), free(scores), free(fps), free(tps), free(thr);
    }
    return ref_report(&roc) + ref_report(&youden) + ref_report(&half);
}

static int test_aggregate(const cJSON *root) {
    ref_tally t = {.section = "np.mean / np.std (ddof=0)"};
    const cJSON *c;
    int k = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "aggregate")) {
        int64_t n;
        double *x = ref_doubles(c, "values", &n), mean, std;
        char name[32];
        snprintf(name, sizeof name, "case%d(n=%lld)", k++, (long long)n);
        mhim_numpy_mean_std(x, n, 1, 0, &mean, &std);
        ref_expect(&t, name, "mean", mean, ref_get(c, "mean"), 0);
        ref_expect(&t, name, "std", std, ref_get(c, "std"), 0);
        free(x);
    }
    /* strided access: every second value of an interleaved copy */
    double pairs[8] = {0.25, -1, 0.5, -1, 0.75, -1, 1.0, -1}, mean, std;
    mhim_numpy_mean_std(pairs, 4, 2, 0, &mean, &std);
    ref_expect(&t, "strided", "mean", mean, 0.625, 0);
    ref_expect(&t, "strided", "std", std, sqrt(0.078125), 0);
    return ref_report(&t);
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
    int one_class[3] = {1, 1, 1}, labels[3] = {0, 1, 1}, bad_label[3] = {0, 2, 1};
    double scores[3] = {0.2, 0.7, 0.9}, nan_score[3] = {0.2, NAN, 0.9}, big[3] = {0.2, 1.5, 0.9};
    mhim_five_scores s;
    mhim_roc_curve curve;
    double auc;
    fails += expect_error("one class (youden)", mhim_five_scores_youden(one_class, scores, 3, &s), "both classes");
    fails += expect_error("one class (at 0.5)", mhim_five_scores_at(one_class, scores, 3, 0.5, &s), "both classes");
    fails += expect_error("one class (auc)", mhim_roc_auc(one_class, scores, 3, &auc), "label 1");
    fails += expect_error("label 2", mhim_roc_curve_compute(bad_label, scores, 3, &curve), "expected 0 or 1");
    fails += expect_error("NaN score", mhim_five_scores_youden(labels, nan_score, 3, &s), "case 1");
    fails += expect_error("score 1.5 (not a probability)", mhim_five_scores_youden(labels, big, 3, &s),
                          "probability");
    fails += expect_error("no cases", mhim_roc_auc(labels, scores, 0, &auc), "at least 1");
    fails += expect_error("NaN threshold", mhim_five_scores_at(labels, scores, 3, NAN, &s), "threshold");
    /* scores outside [0, 1] are still fine for the AUC and the curve */
    fails += check_true("roc_auc accepts logits", mhim_roc_auc(labels, big, 3, &auc) == MHIM_OK && auc == 1.0);
    return fails;
}

int main(void) {
    cJSON *root = ref_load();
    if (!root) return 1;
    int fails = test_v1_cases(root) + test_aggregate(root) + test_errors();
    cJSON_Delete(root);
    printf("%s\n", fails ? "FAILED" : "all passed");
    return fails != 0;
}
