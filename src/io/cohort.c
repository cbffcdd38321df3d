/* Cohort: feature-folder detection under dataset_root and case -> slide file matching (exact
 * `<id>.<ext>` or the original's substring rule), see mhim/cohort.h and docs/data.md. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "mhim/cohort.h"
#include "mhim/common.h"
#include "mhim/log.h"

int mhim_match_mode_parse(const char *text, const char *field, mhim_match_mode *out) {
    if (text && !strcasecmp(text, "auto"))
        *out = MHIM_MATCH_AUTO;
    else if (text && !strcasecmp(text, "exact"))
        *out = MHIM_MATCH_EXACT;
    else if (text && !strcasecmp(text, "substring"))
        *out = MHIM_MATCH_SUBSTRING;
    else
        return mhim_fail("%s: '%s' is not a match mode (expected auto, exact or substring)", field, text ? text : "");
    return MHIM_OK;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_feature_folder_name(const char *name) {
    return !strcmp(name, "pt") || !strcmp(name, "pt_files") || !strcmp(name, "h5_files") ||
           !strncmp(name, "features_", 9);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Names of the entries of `dir` accepted by keep(dir, name), sorted; returns the count or -1. */
static int64_t list_dir(const char *dir, int (*keep)(const char *dir, const char *name), char ***out) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int64_t n = 0, cap = 64;
    char **names = mhim_malloc(sizeof(char *) * (size_t)cap);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !keep(dir, e->d_name)) continue;
        if (n == cap) names = mhim_realloc(names, sizeof(char *) * (size_t)(cap *= 2));
        names[n++] = mhim_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), cmp_str);
    *out = names;
    return n;
}

static void free_names(char **names, int64_t n) {
    for (int64_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int keep_feature_folder(const char *dir, const char *name) {
    if (!is_feature_folder_name(name)) return 0;
    char *path = mhim_asprintf("%s/%s", dir, name);
    int ok = is_dir(path);
    free(path);
    return ok;
}

int mhim_cohort_find_feature_dir(const char *dataset_root, char **out_dir, int *n_found) {
    *out_dir = NULL;
    if (n_found) *n_found = -1;
    if (!dataset_root || !dataset_root[0])
        return mhim_fail("dataset_root: not set (expected the folder that holds pt/, pt_files/, h5_files/ or "
                         "features_*/)");
    char **names = NULL;
    int64_t n = list_dir(dataset_root, keep_feature_folder, &names);
    if (n_found) *n_found = (int)MHIM_MIN(n, 1000);
    if (n < 0) return mhim_fail("dataset_root: cannot open '%s' (%s)", dataset_root, strerror(errno ? errno : ENOENT));
    int rc = MHIM_OK;
    if (n == 0) {
        rc = mhim_fail("dataset_root: no feature folder in '%s' (looked for pt/, pt_files/, h5_files/, features_*/); "
                       "set feature_dir to the folder of the .pt/.h5 files",
                       dataset_root);
    } else if (n > 1) {
        char found[512] = "";
        for (int64_t i = 0; i < n; i++) {
            size_t used = strlen(found);
            snprintf(found + used, sizeof found - used, "%s%s/", i ? ", " : "", names[i]);
        }
        rc = mhim_fail("dataset_root: several feature folders in '%s' (%s); set feature_dir to choose one",
                       dataset_root, found);
    } else {
        *out_dir = mhim_asprintf("%s/%s", dataset_root, names[0]);
    }
    free_names(names, n);
    return rc;
}

/* Feature files: .pt, .pth, .h5 (regular files or links to them). */
static int keep_feature_file(const char *dir, const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name || (strcmp(dot, ".pt") && strcmp(dot, ".pth") && strcmp(dot, ".h5"))) return 0;
    char *path = mhim_asprintf("%s/%s", dir, name);
    struct stat st;
    int ok = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    return ok;
}

static mhim_match_mode resolve_match(const mhim_cohort_options *opt) {
    if (opt->match != MHIM_MATCH_AUTO) return opt->match;
    char *ds = mhim_strdup(opt->datasets ? opt->datasets : "");
    for (char *p = ds; *p; p++) *p = (char)tolower((unsigned char)*p);
    int substring;
    if (opt->mhim_version == 1)
        substring = !strcmp(ds, "tcga");
    else
        substring = !strncmp(ds, "surv", 4) || !strncmp(ds, "bio", 3) || strstr(ds, "nsclc") || strstr(ds, "brca") ||
                    strstr(ds, "call") || strstr(ds, "panda");
    free(ds);
    return substring ? MHIM_MATCH_SUBSTRING : MHIM_MATCH_EXACT;
}

/* Length of the file name without its extension. */
static size_t stem_len(const char *name) { return (size_t)(strrchr(name, '.') - name); }

static int resolve_dir(const mhim_cohort_options *opt, char **dir) {
    if (!opt->feature_dir || !opt->feature_dir[0]) return mhim_cohort_find_feature_dir(opt->dataset_root, dir, NULL);
    if (opt->feature_dir[0] == '/' || !opt->dataset_root || !opt->dataset_root[0])
        *dir = mhim_strdup(opt->feature_dir);
    else
        *dir = mhim_asprintf("%s/%s", opt->dataset_root, opt->feature_dir);
    if (!is_dir(*dir)) {
        int rc = mhim_fail("feature_dir: '%s' is not a folder (expected the folder of the .pt/.h5 feature files; a "
                           "relative path is taken from dataset_root)",
                           *dir);
        free(*dir);
        *dir = NULL;
        return rc;
    }
    return MHIM_OK;
}

int mhim_cohort_build(const mhim_label_table *labels, const mhim_cohort_options *opt, mhim_cohort *out) {
    memset(out, 0, sizeof *out);
    char *dir = NULL;
    int rc = resolve_dir(opt, &dir);
    if (rc != MHIM_OK) return rc;
    char **files = NULL;
    int64_t n_files = list_dir(dir, keep_feature_file, &files);
    if (n_files < 0) {
        rc = mhim_fail("feature_dir: cannot open '%s' (%s)", dir, strerror(errno ? errno : EIO));
        free(dir);
        return rc;
    }
    out->feature_dir = dir;
    out->match = resolve_match(opt);
    out->n_cases = labels->n_cases;
    out->cases = mhim_calloc((size_t)(labels->n_cases ? labels->n_cases : 1), sizeof(mhim_cohort_case));
    int64_t *owners = mhim_calloc((size_t)(n_files ? n_files : 1), sizeof(int64_t));
    char **hits = mhim_malloc(sizeof(char *) * (size_t)(n_files ? n_files : 1));
    for (int64_t i = 0; i < labels->n_cases; i++) {
        const char *id = labels->cases[i].id;
        size_t id_len = strlen(id);
        int64_t n_hits = 0;
        for (int64_t f = 0; f < n_files; f++) {
            int match = out->match == MHIM_MATCH_EXACT ? stem_len(files[f]) == id_len && !strncmp(files[f], id, id_len)
                                                       : strstr(files[f], id) != NULL;
            if (!match) continue;
            hits[n_hits++] = mhim_asprintf("%s/%s", dir, files[f]);
            owners[f]++;
        }
        if (out->match == MHIM_MATCH_EXACT && n_hits > 1) {
            rc = mhim_fail("%s: %lld files are named '%s.*' (e.g. '%s' and '%s'); keep one feature format per "
                           "folder",
                           dir, (long long)n_hits, id, hits[0], hits[1]);
            for (int64_t h = 0; h < n_hits; h++) free(hits[h]);
            break;
        }
        mhim_cohort_case *cc = &out->cases[i];
        cc->n_slides = n_hits;
        cc->slides = mhim_malloc(sizeof(char *) * (size_t)(n_hits ? n_hits : 1));
        memcpy(cc->slides, hits, sizeof(char *) * (size_t)n_hits);
        out->n_slides += n_hits;
        out->n_missing += n_hits == 0;
    }
    int64_t shared = 0, first_shared = -1;
    for (int64_t f = 0; f < n_files; f++)
        if (owners[f] > 1 && shared++ == 0) first_shared = f;
    if (rc == MHIM_OK && shared)
        MHIM_WARN("%s: %lld feature file(s) match more than one case ID by substring (e.g. '%s'); set the match "
                  "mode to exact if IDs are full file names",
                  dir, (long long)shared, files[first_shared]);
    free(owners);
    free(hits);
    free_names(files, n_files);
    if (rc != MHIM_OK) mhim_cohort_free(out);
    return rc;
}

void mhim_cohort_free(mhim_cohort *c) {
    for (int64_t i = 0; c->cases && i < c->n_cases; i++) {
        for (int64_t s = 0; s < c->cases[i].n_slides; s++) free(c->cases[i].slides[s]);
        free(c->cases[i].slides);
    }
    free(c->cases);
    free(c->feature_dir);
    memset(c, 0, sizeof *c);
}

int mhim_cohort_check(const mhim_cohort *c, const mhim_label_table *labels) {
    if (c->n_missing == 0) return MHIM_OK;
    char list[512] = "";
    int64_t shown = 0;
    for (int64_t i = 0; i < c->n_cases && shown < 5; i++) {
        if (c->cases[i].n_slides) continue;
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s'%s'", shown++ ? ", " : "", labels->cases[i].id);
    }
    char more[64] = "";
    if (c->n_missing > 5) snprintf(more, sizeof more, " ... and %lld more", (long long)(c->n_missing - 5));
    return mhim_fail("%s: %lld of %lld cases of %s have no feature file: %s%s (%s match of the ID against .pt/.pth/.h5 "
                     "file names; check dataset_root/feature_dir, or remove those rows from the label CSV)",
                     c->feature_dir, (long long)c->n_missing, (long long)c->n_cases, labels->path, list, more,
                     c->match == MHIM_MATCH_EXACT ? "exact <id>.<ext>" : "substring");
}

int64_t mhim_cohort_bags(const mhim_cohort *c, mhim_task task, const int64_t *case_idx, int64_t n, mhim_bag_ref **out) {
    int64_t n_bags = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t s = c->cases[case_idx[i]].n_slides;
        n_bags += task == MHIM_TASK_SURVIVAL ? (s > 0) : s;
    }
    mhim_bag_ref *bags = mhim_malloc(sizeof(mhim_bag_ref) * (size_t)(n_bags ? n_bags : 1));
    int64_t b = 0;
    for (int64_t i = 0; i < n; i++) {
        const mhim_cohort_case *cc = &c->cases[case_idx[i]];
        if (task == MHIM_TASK_SURVIVAL) {
            if (cc->n_slides) bags[b++] = (mhim_bag_ref){case_idx[i], cc->n_slides, cc->slides};
        } else {
            for (int64_t s = 0; s < cc->n_slides; s++) bags[b++] = (mhim_bag_ref){case_idx[i], 1, cc->slides + s};
        }
    }
    *out = bags;
    return n_bags;
}
