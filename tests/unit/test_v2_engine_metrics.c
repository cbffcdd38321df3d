/* The v2 engine's survival scoring: a hand-checked C-index with tied times, tied risks and censoring; the
 * C-index and its pair counts against scikit-survival's concordance_index_censored (fixtures/metrics/
 * cindex_sksurv.json, tests/reference/gen_v2_engine_cindex.py); risk = -sum(cumprod(1 - sigmoid(z))) against
 * numpy float32; and the v2 model-selection metric (best_idx). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/metrics.h"
#include "train/engine_v2.h"

/* Six cases (time, event, risk):
 *   0: (2, event, 0.90)  1: (2, censored, 0.50)  2: (4, event, 0.50)  3: (4, event, 0.70)  4: (6, censored, 0.50)
 *   5: (8, event, 0.95)
 * Comparable pairs (i has the event; j later, or censored at the same time): 0-1 (tied time, censored), 0-2, 0-3,
 * 0-4, 0-5; 2-4, 2-5 (2-3 both events at t=4: not comparable); 3-4, 3-5. That is 9 pairs:
 * concordant 0-1 0-2 0-3 0-4 3-4 = 5, discordant 0-5 2-5 3-5 = 3, tied risk 2-4 = 1, tied time 1.
 * C = (5 + 0.5) / 9. */
static int test_hand(void) {
    const int event[6] = {1, 0, 1, 1, 0, 1};
    const double time[6] = {2, 2, 4, 4, 6, 8}, risk[6] = {0.90, 0.50, 0.50, 0.70, 0.50, 0.95};
    mhim_cindex ci;
    int fails = check_true("hand example accepted", mhim_concordance_index(event, time, risk, 6, 1e-8, &ci) == 0);
    printf("hand example: cindex %.9f (want %.9f), concordant %lld/5 discordant %lld/3 tied_risk %lld/1 "
           "tied_time %lld/1\n",
           ci.cindex, 5.5 / 9.0, (long long)ci.concordant, (long long)ci.discordant, (long long)ci.tied_risk,
           (long long)ci.tied_time);
    fails += check_true("hand example C-index", ci.cindex == 5.5 / 9.0);
    fails += check_true("hand example counts",
                        ci.concordant == 5 && ci.discordant == 3 && ci.tied_risk == 1 && ci.tied_time == 1);
    return fails;
}

static double *doubles(const cJSON *obj, const char *key, int *n) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
    *n = cJSON_GetArraySize(arr);
    double *v = mhim_malloc((size_t)MHIM_MAX(*n, 1) * sizeof *v);
    for (int i = 0; i < *n; i++) v[i] = cJSON_GetArrayItem(arr, i)->valuedouble;
    return v;
}

static double num(const cJSON *obj, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(obj, key)->valuedouble;
}

static int test_sksurv(const cJSON *root) {
    int fails = 0, cases = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "cindex")) {
        int n, n2, n3;
        double *ev = doubles(c, "event", &n), *time = doubles(c, "time", &n2), *risk = doubles(c, "risk", &n3);
        int *event = mhim_malloc((size_t)n * sizeof *event);
        for (int i = 0; i < n; i++) event[i] = (int)ev[i];
        mhim_cindex ci = {0};
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        int rc = n == n2 && n == n3 ? mhim_concordance_index(event, time, risk, n, MHIM_CINDEX_TIED_TOL, &ci) : -1;
        printf("sksurv '%s' (n=%d): cindex %.15f want %.15f; concordant %lld/%g discordant %lld/%g tied_risk "
               "%lld/%g tied_time %lld/%g\n",
               name, n, ci.cindex, num(c, "cindex"), (long long)ci.concordant, num(c, "concordant"),
               (long long)ci.discordant, num(c, "discordant"), (long long)ci.tied_risk, num(c, "tied_risk"),
               (long long)ci.tied_time, num(c, "tied_time"));
        int ok = rc == MHIM_OK && fabs(ci.cindex - num(c, "cindex")) <= 1e-15 &&
                 (double)ci.concordant == num(c, "concordant") && (double)ci.discordant == num(c, "discordant") &&
                 (double)ci.tied_risk == num(c, "tied_risk") && (double)ci.tied_time == num(c, "tied_time");
        fails += check_true(name, ok);
        cases++;
        free(ev);
        free(time);
        free(risk);
        free(event);
    }
    fails += check_true("sksurv cases present", cases >= 5);
    return fails;
}

static int test_risk(const cJSON *root) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "risk");
    int nz, nr;
    double *z = doubles(r, "logits", &nz), *want = doubles(r, "risk", &nr);
    const int bins = (int)num(r, "bins");
    int fails = check_true("risk fixture shape", nz == nr * bins && bins <= ENGINE_V2_MAX_BINS);
    double worst = 0;
    for (int i = 0; i < nr && !fails; i++) {
        float zf[ENGINE_V2_MAX_BINS];
        for (int c = 0; c < bins; c++) zf[c] = (float)z[i * bins + c];
        worst = fmax(worst, fabs(engine_v2_survival_risk(zf, bins) - want[i]));
    }
    printf("risk = -sum S of %d bags: max |diff| vs numpy float32 %.3g (tolerance 1e-6)\n", nr, worst);
    fails += check_true("risk vs numpy", worst <= 1e-6);
    free(z);
    free(want);
    return fails;
}

static int test_select(void) {
    mhim_eval_scores s = {0};
    s.acc = 0.6;
    s.auc = 0.8;
    int fails = check_true("binary selects AUC", engine_v2_select_metric(&s, 2, 0) == 0.8);
    fails += check_true("multi-class selects macro accuracy", engine_v2_select_metric(&s, 3, 0) == 0.6);
    fails += check_true("survival selects the C-index", engine_v2_select_metric(&s, 4, 1) == 0.8);
    return fails;
}

int main(void) {
    size_t len;
    char *text = test_read_file("fixtures/metrics/cindex_sksurv.json", &len);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root) {
        printf("FAIL cannot read fixtures/metrics/cindex_sksurv.json (run from tests/)\n");
        return 1;
    }
    int fails = test_hand() + test_sksurv(root) + test_risk(root) + test_select();
    cJSON_Delete(root);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
