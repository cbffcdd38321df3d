/* `mhim splits [-c FILE] [--option=value ...] [--format table|csv|json]` — print the cross-validation fold assignment that
 * `mhim train` uses for the same configuration: per fold and set (train/val/test), each case with
 * its label and number of slide files, then per-fold counts. Works without feature files (label
 * and fold view only, with a note); reports cases whose feature files are missing (exit 2). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "mhim/cohort.h"
#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/log.h"
#include "mhim/splits.h"

typedef enum { FORMAT_TABLE, FORMAT_CSV, FORMAT_JSON } out_format;

typedef struct {
    out_format format;
    int help;
} splits_flags;

static const char *const set_names[3] = {"train", "val", "test"};

static void print_usage(void) {
    printf("usage: mhim splits [-c FILE[,FILE]] [--option=value ...] [--format table|csv|json]\n"
           "Prints the cross-validation folds (train/val/test cases, labels, slide files) that mhim train uses.\n"
           "  --format         table (default), csv (fold,set,case_id,label,label_text,slides[,event,censorship])\n"
           "                   or json\n"
           "Label CSV layouts, header detection, split modes and fidelity notes: docs/data.md.\n"
           "All training options are accepted:\n\n");
}

/* Take the splits-only flags out of argv (kept in order in *rest, argv[0] included). */
static int take_flags(int argc, char **argv, splits_flags *f, int *n_rest, char **rest) {
    *f = (splits_flags){FORMAT_TABLE, 0};
    *n_rest = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *value = NULL, *name = NULL;
        static const char *const own[] = {"--format"};
        for (size_t k = 0; k < MHIM_ARRAY_LEN(own) && i > 0; k++) {
            size_t len = strlen(own[k]);
            if (!strncmp(a, own[k], len) && (a[len] == '=' || a[len] == '\0')) {
                name = own[k];
                if (a[len] == '=')
                    value = a + len + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                else
                    return mhim_fail("%s: missing value", name);
            }
        }
        if (!name) {
            if (i > 0 && (!strcmp(a, "--help") || !strcmp(a, "-h"))) f->help = 1;
            rest[(*n_rest)++] = argv[i];
            continue;
        }
        if (!strcmp(name, "--format")) {
            if (!strcmp(value, "table"))
                f->format = FORMAT_TABLE;
            else if (!strcmp(value, "csv"))
                f->format = FORMAT_CSV;
            else if (!strcmp(value, "json"))
                f->format = FORMAT_JSON;
            else
                return mhim_fail("--format=%s: expected table, csv or json", value);
        }
    }
    return MHIM_OK;
}

/* The label CSV the original reads: csv_path, else <dataset_root>/label.csv. */
static int label_path(const mhim_config *cfg, char **out) {
    *out = NULL;
    if (cfg->csv_path && cfg->csv_path[0])
        *out = mhim_strdup(cfg->csv_path);
    else if (cfg->dataset_root && cfg->dataset_root[0])
        *out = mhim_asprintf("%s/label.csv", cfg->dataset_root);
    else
        return mhim_fail("dataset_root: not set (expected the folder with label.csv, or set csv_path)");
    struct stat st;
    if (stat(*out, &st) == 0 && S_ISDIR(st.st_mode)) {
        int rc = mhim_fail("csv_path: '%s' is a folder; per-fold fold_{k}.csv folders are not supported, give a "
                           "label CSV and, for fixed folds, split_file",
                           *out);
        free(*out);
        *out = NULL;
        return rc;
    }
    return MHIM_OK;
}

/* Build the cohort when features are available. *have = 0 (with a note) when no feature folder
 * exists and none was configured; missing files are reported by the caller. */
static int load_cohort(const mhim_config *cfg, const mhim_label_table *t, mhim_cohort *c, int *have) {
    *have = 0;
    mhim_match_mode match;
    if (mhim_match_mode_parse(cfg->feature_match, "--feature_match", &match) != MHIM_OK) return MHIM_EINPUT;
    if (!cfg->feature_dir || !cfg->feature_dir[0]) {
        char *dir = NULL;
        int n_found = 0;
        if (mhim_cohort_find_feature_dir(cfg->dataset_root, &dir, &n_found) != MHIM_OK) {
            if (n_found > 1) return MHIM_EINPUT; /* ambiguous: the user must choose */
            MHIM_INFO("note: %s; showing labels and folds only", mhim_error());
            mhim_error_clear();
            return MHIM_OK;
        }
        free(dir);
    }
    mhim_cohort_options opt = {cfg->dataset_root, cfg->feature_dir, match, cfg->datasets, cfg->version};
    int rc = mhim_cohort_build(t, &opt, c);
    *have = rc == MHIM_OK;
    return rc;
}

static int64_t slides_of(const mhim_cohort *c, int have, int64_t i) { return have ? c->cases[i].n_slides : -1; }

static void list_of(const mhim_fold *fd, int set, const int64_t **idx, int64_t *n) {
    *idx = set == 0 ? fd->train : set == 1 ? fd->val : fd->test;
    *n = set == 0 ? fd->n_train : set == 1 ? fd->n_val : fd->n_test;
}

static void print_table(const mhim_label_table *t, const mhim_splits *s, const mhim_cohort *c, int have, int first) {
    printf("%-5s %-5s %-40s %-6s %s\n", "fold", "set", "case_id", "label", have ? "slides" : "slides(n/a)");
    for (int k = first; k < s->n_folds; k++)
        for (int set = 0; set < 3; set++) {
            const int64_t *idx;
            int64_t n;
            list_of(&s->folds[k], set, &idx, &n);
            for (int64_t i = 0; i < n; i++) {
                const mhim_case *cs = &t->cases[idx[i]];
                printf("%-5d %-5s %-40s %-6d %lld\n", k, set_names[set], cs->id, cs->label,
                       (long long)slides_of(c, have, idx[i]));
            }
        }
    printf("\n%-5s %7s %7s %7s   per class (train/val/test):", "fold", "train", "val", "test");
    for (int l = 0; l < t->n_classes; l++) printf(" %s=%d", t->class_names[l], l);
    printf("\n");
    for (int k = first; k < s->n_folds; k++) {
        const mhim_fold *fd = &s->folds[k];
        printf("%-5d %7lld %7lld %7lld  %s", k, (long long)fd->n_train, (long long)fd->n_val, (long long)fd->n_test,
               fd->val_is_test ? " (val = test)" : "");
        for (int l = 0; l < t->n_classes; l++) {
            int64_t cnt[3] = {0, 0, 0};
            for (int set = 0; set < 3; set++) {
                const int64_t *idx;
                int64_t n;
                list_of(fd, set, &idx, &n);
                for (int64_t i = 0; i < n; i++) cnt[set] += t->cases[idx[i]].label == l;
            }
            printf(" %d:%lld/%lld/%lld", l, (long long)cnt[0], (long long)cnt[1], (long long)cnt[2]);
        }
        printf("\n");
    }
}

static void print_csv(const mhim_label_table *t, const mhim_splits *s, const mhim_cohort *c, int have, int first) {
    int surv = t->task == MHIM_TASK_SURVIVAL;
    printf("fold,set,case_id,label,label_text,slides%s\n", surv ? ",event,censorship" : "");
    for (int k = first; k < s->n_folds; k++)
        for (int set = 0; set < 3; set++) {
            const int64_t *idx;
            int64_t n;
            list_of(&s->folds[k], set, &idx, &n);
            for (int64_t i = 0; i < n; i++) {
                const mhim_case *cs = &t->cases[idx[i]];
                int quote = strpbrk(cs->id, ",\"") != NULL || strpbrk(cs->label_text, ",\"") != NULL;
                if (quote) /* IDs with commas or quotes are rare; keep the output valid CSV */
                    printf("%d,%s,\"%s\",%d,\"%s\",%lld", k, set_names[set], cs->id, cs->label, cs->label_text,
                           (long long)slides_of(c, have, idx[i]));
                else
                    printf("%d,%s,%s,%d,%s,%lld", k, set_names[set], cs->id, cs->label, cs->label_text,
                           (long long)slides_of(c, have, idx[i]));
                if (surv) printf(",%.17g,%d", cs->event_time, cs->censorship);
                printf("\n");
            }
        }
}

static void print_json(const mhim_config *cfg, const char *path, const mhim_label_table *t, const mhim_splits *s,
                       const mhim_cohort *c, int have, int first) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "label_csv", path);
    cJSON_AddNumberToObject(root, "mhim_version", cfg->version);
    cJSON_AddNumberToObject(root, "seed", cfg->seed);
    cJSON_AddNumberToObject(root, "val_ratio", cfg->val_ratio);
    cJSON_AddBoolToObject(root, "header_consumed", t->header_consumed);
    if (have)
        cJSON_AddStringToObject(root, "feature_dir", c->feature_dir);
    else
        cJSON_AddNullToObject(root, "feature_dir");
    cJSON *classes = cJSON_AddArrayToObject(root, "classes");
    for (int l = 0; l < t->n_classes; l++) cJSON_AddItemToArray(classes, cJSON_CreateString(t->class_names[l]));
    cJSON *folds = cJSON_AddArrayToObject(root, "folds");
    for (int k = first; k < s->n_folds; k++) {
        cJSON *fold = cJSON_CreateObject();
        cJSON_AddNumberToObject(fold, "fold", k);
        cJSON_AddBoolToObject(fold, "val_is_test", s->folds[k].val_is_test);
        for (int set = 0; set < 3; set++) {
            const int64_t *idx;
            int64_t n;
            list_of(&s->folds[k], set, &idx, &n);
            cJSON *arr = cJSON_AddArrayToObject(fold, set_names[set]);
            for (int64_t i = 0; i < n; i++) {
                const mhim_case *cs = &t->cases[idx[i]];
                cJSON *item = cJSON_CreateObject();
                cJSON_AddStringToObject(item, "id", cs->id);
                cJSON_AddNumberToObject(item, "label", cs->label);
                if (t->task == MHIM_TASK_SURVIVAL) {
                    cJSON_AddNumberToObject(item, "event", cs->event_time);
                    cJSON_AddNumberToObject(item, "censorship", cs->censorship);
                }
                if (have) cJSON_AddNumberToObject(item, "slides", (double)c->cases[idx[i]].n_slides);
                cJSON_AddItemToArray(arr, item);
            }
        }
        cJSON_AddItemToArray(folds, fold);
    }
    char *text = cJSON_Print(root);
    printf("%s\n", text);
    free(text);
    cJSON_Delete(root);
}

/* Everything after option parsing; returns the exit status. */
static int run(const mhim_config *cfg, const splits_flags *f) {
    char *path = NULL;
    int rc = label_path(cfg, &path);
    mhim_label_table t = {0};
    mhim_csv_header header = MHIM_CSV_HEADER_AUTO;
    if (rc == MHIM_OK) rc = mhim_csv_header_parse(cfg->csv_header, "csv_header", &header);
    if (rc == MHIM_OK) {
        mhim_label_options lopt = {cfg->datasets, cfg->version, header};
        rc = mhim_labels_load(path, &lopt, &t);
    }
    mhim_splits s = {0};
    if (rc == MHIM_OK) {
        mhim_split_options sopt = {cfg->version,   cfg->cv_fold,    cfg->seed,
                                   cfg->val_ratio, cfg->split_file, cfg->split_rep};
        rc = mhim_splits_make(&t, &sopt, &s);
    }
    if (rc == MHIM_OK && cfg->fold_start >= s.n_folds)
        rc = mhim_fail("fold_start: %d but there are only %d folds", cfg->fold_start, s.n_folds);
    mhim_cohort c = {0};
    int have = 0, missing_rc = MHIM_OK;
    if (rc == MHIM_OK) rc = load_cohort(cfg, &t, &c, &have);
    if (rc == MHIM_OK && have && c.n_missing) {
        if (t.task == MHIM_TASK_SURVIVAL) { /* the original drops them after splitting */
            unsigned char *keep = mhim_malloc((size_t)t.n_cases);
            for (int64_t i = 0; i < t.n_cases; i++) keep[i] = c.cases[i].n_slides > 0;
            mhim_splits_filter(&s, keep);
            free(keep);
            MHIM_WARN("%lld survival case(s) without feature files dropped from every fold (as the original does)",
                      (long long)c.n_missing);
        } else {
            missing_rc = mhim_cohort_check(&c, &t);
        }
    }
    if (rc == MHIM_OK) {
        if (f->format == FORMAT_TABLE) {
            printf("# %s: %lld cases (%s), mhim_version %d, %s, cv_fold %d, seed %d, val_ratio %g%s\n", path,
                   (long long)t.n_cases, t.task == MHIM_TASK_SURVIVAL ? "survival, 4 bins" : "classification",
                   cfg->version, cfg->split_file && cfg->split_file[0] ? "split_file" : "seeded split", s.n_folds,
                   cfg->seed, cfg->val_ratio, t.header_consumed ? ", first line read as header" : "");
            if (have)
                printf("# features: %s (%s match, %lld slide files, %lld cases without files)\n", c.feature_dir,
                       c.match == MHIM_MATCH_EXACT ? "exact" : "substring", (long long)c.n_slides,
                       (long long)c.n_missing);
            else
                printf("# features: none found (label and fold view only)\n");
            print_table(&t, &s, &c, have, cfg->fold_start);
        } else if (f->format == FORMAT_CSV) {
            print_csv(&t, &s, &c, have, cfg->fold_start);
        } else {
            print_json(cfg, path, &t, &s, &c, have, cfg->fold_start);
        }
        fflush(stdout);
    }
    if (have) mhim_cohort_free(&c);
    mhim_splits_free(&s);
    mhim_labels_free(&t);
    free(path);
    return rc != MHIM_OK ? rc : missing_rc;
}

int mhim_cmd_splits(int argc, char **argv) {
    splits_flags f;
    char **rest = mhim_malloc(sizeof(char *) * (size_t)(argc + 1));
    int n_rest = 0;
    int rc = take_flags(argc, argv, &f, &n_rest, rest);
    if (rc == MHIM_OK && f.help) print_usage();
    mhim_config cfg;
    bool help = false;
    if (rc == MHIM_OK) rc = mhim_config_from_command(&cfg, n_rest, rest, false, &help);
    free(rest);
    if (rc != MHIM_OK) return mhim_cli_report(rc);
    if (help) return 0;
    rc = run(&cfg, &f);
    mhim_config_free(&cfg);
    return mhim_cli_report(rc);
}
