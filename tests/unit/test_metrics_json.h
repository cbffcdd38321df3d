/* tests/unit/test_metrics_json.h — helpers of the metric tests: read fixtures/metrics/reference.json
 * (written by tests/reference/gen_metrics_reference.py) and compare values with one summary line per
 * section. JSON null stands for NaN. Arrays returned by ref_* are malloc'ed; the caller frees them. */
#ifndef MHIM_TEST_METRICS_JSON_H
#define MHIM_TEST_METRICS_JSON_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The parsed reference file, or NULL (with a FAIL line). */
static cJSON *ref_load(void) {
    const char *path = "fixtures/metrics/reference.json";
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("FAIL cannot open %s (run from tests/)\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    size_t got = fread(text, 1, (size_t)size, f);
    fclose(f);
    text[got] = 0;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) printf("FAIL %s is not valid JSON\n", path);
    return root;
}

static double ref_number(const cJSON *item) { return cJSON_IsNumber(item) ? item->valuedouble : NAN; }
static double ref_get(const cJSON *obj, const char *key) {
    return ref_number(cJSON_GetObjectItemCaseSensitive(obj, key));
}

static double *ref_doubles(const cJSON *obj, const char *key, int64_t *n) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
    *n = cJSON_GetArraySize(arr);
    double *out = malloc((size_t)(*n > 0 ? *n : 1) * sizeof *out);
    int64_t i = 0;
    for (const cJSON *v = arr ? arr->child : NULL; v; v = v->next) out[i++] = ref_number(v);
    return out;
}

static int *ref_ints(const cJSON *obj, const char *key, int64_t *n) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
    *n = cJSON_GetArraySize(arr);
    int *out = malloc((size_t)(*n > 0 ? *n : 1) * sizeof *out);
    int64_t i = 0;
    for (const cJSON *v = arr ? arr->child : NULL; v; v = v->next) out[i++] = v->valueint;
    return out;
}

/* Running comparison of one section: counts, worst error, bit-exact count; prints mismatches. */
typedef struct {
    const char *section;
    int64_t compared, exact, failed;
    double worst;
} ref_tally;

/* |got - want| <= tol (both NaN counts as equal). */
static void ref_expect(ref_tally *t, const char *name, const char *field, double got, double want, double tol) {
    t->compared++;
    int both_nan = isnan(got) && isnan(want);
    double err = both_nan ? 0 : fabs(got - want);
    t->exact += both_nan || got == want;
    if (err > t->worst || isnan(err)) t->worst = isnan(err) ? INFINITY : err;
    if (!(err <= tol)) {
        t->failed++;
        if (t->failed <= 10)
            printf("FAIL %s %s.%s: got %.17g want %.17g\n", t->section, name, field, got, want);
    }
}

/* Exact equality of counts. */
static void ref_expect_i64(ref_tally *t, const char *name, const char *field, int64_t got, int64_t want) {
    ref_expect(t, name, field, (double)got, (double)want, 0);
}

/* One summary line; returns 1 when something failed or nothing was compared. */
static int ref_report(const ref_tally *t) {
    int bad = t->failed > 0 || t->compared == 0;
    printf("%s %-28s %lld values compared, %lld bit-exact, max abs error %.3g%s\n", bad ? "FAIL" : "ok  ",
           t->section, (long long)t->compared, (long long)t->exact, t->worst,
           t->compared == 0 ? " (nothing compared)" : "");
    return bad;
}

#endif
