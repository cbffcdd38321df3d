/* Cohort: feature-folder detection, exact and substring case -> file matching (sorted by file
 * name), missing-file reporting and bag expansion, on small folders made under MHIM_TEST_TMP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "mhim/cohort.h"
#include "mhim/common.h"

static char tmp_dir[1024];

static char *make_dir(const char *rel) {
    char *path = mhim_asprintf("%s/%s", tmp_dir, rel);
    mkdir(path, 0755);
    return path;
}

static void touch(const char *dir, const char *name) {
    char *path = mhim_asprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
    free(path);
}

static int load_labels(const char *name, const char *content, const char *datasets, int version, mhim_label_table *t) {
    char *path = mhim_asprintf("%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
    mhim_label_options opt = {datasets, version, MHIM_CSV_HEADER_AUTO};
    int rc = mhim_labels_load(path, &opt, t);
    if (rc) printf("%s: %s\n", name, mhim_error());
    free(path);
    return rc;
}

static const char *base(const char *path) { return strrchr(path, '/') ? strrchr(path, '/') + 1 : path; }

static int test_detection(void) {
    int fails = 0;
    char *root = make_dir("det_one"), *pt = make_dir("det_one/pt_files");
    char *found = NULL;
    int n_found = 0;
    int rc = mhim_cohort_find_feature_dir(root, &found, &n_found);
    printf("one folder -> %s\n", found ? found : mhim_error());
    fails += check_true("pt_files/ detected", rc == MHIM_OK && n_found == 1 && !strcmp(base(found), "pt_files"));
    free(found);
    char *root2 = make_dir("det_two"), *a = make_dir("det_two/pt"), *b = make_dir("det_two/features_uni");
    rc = mhim_cohort_find_feature_dir(root2, &found, &n_found);
    printf("two folders -> %s\n", mhim_error());
    fails += check_true("ambiguous folders listed", rc == MHIM_EINPUT && strstr(mhim_error(), "features_uni/") &&
                                                        strstr(mhim_error(), "pt/") &&
                                                        strstr(mhim_error(), "feature_dir") && n_found == 2);
    char *root3 = make_dir("det_none");
    rc = mhim_cohort_find_feature_dir(root3, &found, &n_found);
    printf("no folder -> %s\n", mhim_error());
    fails += check_true("no folder: what was looked for",
                        rc == MHIM_EINPUT && strstr(mhim_error(), "h5_files/") && n_found == 0);
    rc = mhim_cohort_find_feature_dir("/nonexistent/root", &found, &n_found);
    fails += check_true("missing dataset_root", rc == MHIM_EINPUT && strstr(mhim_error(), "/nonexistent/root"));
    free(root), free(pt), free(root2), free(a), free(b), free(root3);
    return fails;
}

static int test_substring(void) {
    int fails = 0;
    char *root = make_dir("tcga"), *dir = make_dir("tcga/pt_files");
    touch(dir, "TCGA-AA-0001-01Z-00-DX2.def.pt");
    touch(dir, "TCGA-AA-0001-01Z-00-DX1.abc.pt");
    touch(dir, "TCGA-BB-0002-01Z-00-DX1.pt");
    touch(dir, "TCGA-CC-0003-01Z-00-DX1.h5");
    touch(dir, "TCGA-CC-0003-notes.txt");
    mhim_label_table t;
    if (load_labels("tcga.csv", "TCGA-AA-0001,LUAD\nTCGA-BB-0002,LUSC\nTCGA-CC-0003,LUAD\nTCGA-DD-0004,LUSC\n", "tcga",
                    1, &t))
        return 1;
    mhim_cohort_options opt = {.dataset_root = root, .datasets = "tcga", .mhim_version = 1};
    mhim_cohort c;
    if (mhim_cohort_build(&t, &opt, &c)) {
        printf("build: %s\n", mhim_error());
        mhim_labels_free(&t);
        return 1;
    }
    printf("substring: %lld slides, %lld missing\n", (long long)c.n_slides, (long long)c.n_missing);
    fails += check_true("substring mode chosen for v1 tcga", c.match == MHIM_MATCH_SUBSTRING);
    fails += check_true("two slides sorted by name", c.cases[0].n_slides == 2 && strstr(c.cases[0].slides[0], "DX1") &&
                                                         strstr(c.cases[0].slides[1], "DX2"));
    fails += check_true(".h5 matched, .txt ignored", c.cases[2].n_slides == 1 && strstr(c.cases[2].slides[0], ".h5"));
    fails += check_true("missing case counted", c.n_missing == 1 && c.cases[3].n_slides == 0 && c.n_slides == 4);
    int rc = mhim_cohort_check(&c, &t);
    printf("check -> %s\n", mhim_error());
    fails += check_true("missing case reported", rc == MHIM_EINPUT && strstr(mhim_error(), "'TCGA-DD-0004'") &&
                                                     strstr(mhim_error(), "1 of 4 cases"));
    int64_t idx[3] = {0, 1, 3};
    mhim_bag_ref *bags = NULL;
    int64_t n = mhim_cohort_bags(&c, MHIM_TASK_CLASSIFICATION, idx, 3, &bags);
    fails +=
        check_true("classification: one bag per slide", n == 3 && bags[1].case_index == 0 && bags[2].case_index == 1);
    free(bags);
    n = mhim_cohort_bags(&c, MHIM_TASK_SURVIVAL, idx, 3, &bags);
    fails += check_true("survival: one bag per case with all slides",
                        n == 2 && bags[0].n_files == 2 && bags[1].n_files == 1);
    free(bags);
    mhim_cohort_free(&c);
    mhim_labels_free(&t);
    free(root), free(dir);
    return fails;
}

static int test_exact(void) {
    int fails = 0;
    char *root = make_dir("c16"), *dir = make_dir("c16/pt");
    touch(dir, "tumor_001.pt");
    touch(dir, "tumor_0010.pt");
    touch(dir, "normal_001.pt");
    mhim_label_table t;
    if (load_labels("c16.csv",
                    "tumor_001,1\nnormal_001,0\ntumor_002,1\ntumor_003,1\ntumor_004,1\ntumor_005,1\n"
                    "tumor_006,1\ntumor_007,1\n",
                    "camelyon16", 1, &t))
        return 1;
    mhim_cohort_options opt = {.dataset_root = root, .datasets = "camelyon16", .mhim_version = 1};
    mhim_cohort c;
    if (mhim_cohort_build(&t, &opt, &c)) {
        printf("build: %s\n", mhim_error());
        mhim_labels_free(&t);
        return 1;
    }
    fails += check_true("exact: tumor_001 does not take tumor_0010",
                        c.match == MHIM_MATCH_EXACT && c.cases[0].n_slides == 1 &&
                            !strcmp(base(c.cases[0].slides[0]), "tumor_001.pt"));
    int rc = mhim_cohort_check(&c, &t);
    printf("check -> %s\n", mhim_error());
    fails += check_true("first 5 missing and the rest counted",
                        rc == MHIM_EINPUT && strstr(mhim_error(), "'tumor_006'") &&
                            !strstr(mhim_error(), "'tumor_007'") && strstr(mhim_error(), "... and 1 more"));
    mhim_cohort_free(&c);
    opt.match = MHIM_MATCH_SUBSTRING;
    if (mhim_cohort_build(&t, &opt, &c) == MHIM_OK) {
        fails += check_true("substring: tumor_001 also takes tumor_0010", c.cases[0].n_slides == 2);
        mhim_cohort_free(&c);
    } else {
        fails++;
    }
    /* explicit feature_dir, relative to dataset_root; a non-folder is an error */
    opt = (mhim_cohort_options){.dataset_root = root, .feature_dir = "pt", .match = MHIM_MATCH_EXACT};
    rc = mhim_cohort_build(&t, &opt, &c);
    fails += check_true("explicit feature_dir", rc == MHIM_OK && c.cases[1].n_slides == 1);
    if (rc == MHIM_OK) mhim_cohort_free(&c);
    opt.feature_dir = "nope";
    rc = mhim_cohort_build(&t, &opt, &c);
    printf("bad feature_dir -> %s\n", mhim_error());
    fails += check_true("feature_dir not a folder", rc == MHIM_EINPUT && strstr(mhim_error(), "feature_dir"));
    /* the same ID in two formats is ambiguous in exact mode */
    touch(dir, "normal_001.h5");
    opt.feature_dir = "pt";
    rc = mhim_cohort_build(&t, &opt, &c);
    printf("two formats -> %s\n", mhim_error());
    fails += check_true("exact: two files for one ID", rc == MHIM_EINPUT && strstr(mhim_error(), "normal_001"));
    mhim_match_mode m;
    fails += check_true("match mode parse", mhim_match_mode_parse("Substring", "m", &m) == MHIM_OK &&
                                                m == MHIM_MATCH_SUBSTRING &&
                                                mhim_match_mode_parse("fuzzy", "m", &m) == MHIM_EINPUT);
    mhim_labels_free(&t);
    free(root), free(dir);
    return fails;
}

int main(void) {
    const char *tmp = getenv("MHIM_TEST_TMP");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/splits_cohort", tmp ? tmp : "/tmp");
    mkdir(tmp ? tmp : "/tmp", 0755);
    char *clean = mhim_asprintf("rm -rf '%s'", tmp_dir); /* start from empty folders on every run */
    if (system(clean) != 0) printf("could not clear %s\n", tmp_dir);
    free(clean);
    mkdir(tmp_dir, 0755);
    int fails = test_detection() + test_substring() + test_exact();
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "OK", fails);
    return fails ? 1 : 0;
}
