/* sweep_results.csv of a sweep run folder (mhim/dist.h): one row per finished point with its option values and
 * the mean and std of every metric of its results.csv, sorted by mean AUC descending (ties by point index). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mhim/atomic_file.h"
#include "mhim/common.h"
#include "mhim/dist.h"

typedef struct {
    char *folder;
    int64_t index;
    char *keys, *values; /* tab-separated lines of sweep_point.tsv (without the "point" column) */
    char *columns;       /* results.csv header without "fold," */
    char *mean, *std;    /* the mean and std rows without their first field */
    double auc;
} point_row;

static char *read_line(FILE *f) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    return line;
}

/* "point\tk1\tk2" / "3\tv1\tv2" of dir/sweep_point.tsv. */
static int read_point_file(const char *dir, point_row *p) {
    char *path = mhim_asprintf("%s/sweep_point.tsv", dir);
    FILE *f = fopen(path, "r");
    int rc = MHIM_OK;
    char *head = f ? read_line(f) : NULL, *vals = f ? read_line(f) : NULL;
    char *tab_h = head ? strchr(head, '\t') : NULL, *tab_v = vals ? strchr(vals, '\t') : NULL;
    if (!f || !head || !vals || strncmp(head, "point", 5) || !tab_h || !tab_v)
        rc = mhim_fail("%s: expected a header 'point<TAB>option...' and one row of values (written by mhim train "
                       "for every sweep point)",
                       path);
    if (rc == MHIM_OK) {
        *tab_v = '\0';
        p->index = strtoll(vals, NULL, 10);
        p->keys = mhim_strdup(tab_h + 1);
        p->values = mhim_strdup(tab_v + 1);
    }
    if (f) fclose(f);
    free(head);
    free(vals);
    free(path);
    return rc;
}

/* The header, mean and std rows of dir/results.csv; returns 0 when the point has not finished. */
static int read_results(const char *dir, point_row *p) {
    char *path = mhim_asprintf("%s/results.csv", dir);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f) return 0;
    char *line;
    for (int first = 1; (line = read_line(f)); first = 0) {
        char *comma = strchr(line, ',');
        if (comma && first) p->columns = mhim_strdup(comma + 1);
        else if (comma && !strncmp(line, "mean,", 5)) p->mean = mhim_strdup(comma + 1);
        else if (comma && !strncmp(line, "std,", 4)) p->std = mhim_strdup(comma + 1);
        free(line);
    }
    fclose(f);
    if (!p->columns || !p->mean || !p->std) return 0;
    /* mean AUC: the field under the "auc" column */
    char *cols = mhim_strdup(p->columns), *vals = mhim_strdup(p->mean), *sc, *sv;
    p->auc = -1.0;
    for (char *c = strtok_r(cols, ",", &sc), *v = strtok_r(vals, ",", &sv); c && v;
         c = strtok_r(NULL, ",", &sc), v = strtok_r(NULL, ",", &sv))
        if (!strcmp(c, "auc")) p->auc = strtod(v, NULL);
    free(cols);
    free(vals);
    return 1;
}

static void row_free(point_row *p) {
    free(p->folder);
    free(p->keys);
    free(p->values);
    free(p->columns);
    free(p->mean);
    free(p->std);
}

static int by_auc(const void *a, const void *b) {
    const point_row *x = a, *y = b;
    if (x->auc != y->auc) return x->auc > y->auc ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Replace tabs by commas (sweep_point.tsv fields -> CSV). */
static char *tabs_to_commas(const char *s) {
    char *c = mhim_strdup(s);
    for (char *p = c; *p; p++)
        if (*p == '\t') *p = ',';
    return c;
}

/* "a,b" -> "a_mean,a_std,b_mean,b_std"; "m1,m2" + "s1,s2" -> "m1,s1,m2,s2". */
static void interleave(FILE *out, const char *a, const char *b, const char *sa, const char *sb) {
    char *x = mhim_strdup(a), *y = mhim_strdup(b), *px, *py;
    int first = 1;
    for (char *u = strtok_r(x, ",", &px), *v = strtok_r(y, ",", &py); u && v;
         u = strtok_r(NULL, ",", &px), v = strtok_r(NULL, ",", &py), first = 0)
        fprintf(out, "%s%s%s,%s%s", first ? "" : ",", u, sa, v, sb);
    free(x);
    free(y);
}

/* Value of column `name` in a CSV row with header cols (NULL if absent); heap string. */
static char *field(const char *cols, const char *row, const char *name) {
    char *c = mhim_strdup(cols), *v = mhim_strdup(row), *sc, *sv, *out = NULL;
    for (char *a = strtok_r(c, ",", &sc), *b = strtok_r(v, ",", &sv); a && b;
         a = strtok_r(NULL, ",", &sc), b = strtok_r(NULL, ",", &sv))
        if (!strcmp(a, name)) out = mhim_strdup(b);
    free(c);
    free(v);
    return out;
}

static void print_table(FILE *t, const point_row *rows, int64_t n, int64_t unfinished) {
    fprintf(t, "%-4s %-5s %-17s %-17s %-17s %s\n", "rank", "point", "auc mean+-std", "accuracy", "fscore", "folder");
    for (int64_t i = 0; i < n && i < 40; i++) {
        const point_row *p = &rows[i];
        const char *names[] = {"auc", "accuracy", "fscore"};
        fprintf(t, "%-4lld %-5lld", (long long)i + 1, (long long)p->index);
        for (int k = 0; k < 3; k++) {
            char *m = field(p->columns, p->mean, names[k]), *s = field(p->columns, p->std, names[k]);
            char cell[64];
            snprintf(cell, sizeof cell, "%.4f+-%.4f", m ? strtod(m, NULL) : 0.0, s ? strtod(s, NULL) : 0.0);
            fprintf(t, " %-17s", cell);
            free(m);
            free(s);
        }
        fprintf(t, " %s\n", p->folder);
    }
    if (n > 40) fprintf(t, "... %lld more points in sweep_results.csv\n", (long long)(n - 40));
    if (unfinished) fprintf(t, "%lld point(s) not finished (no mean row in results.csv)\n", (long long)unfinished);
}

int mhim_sweep_summary(const char *run_dir, FILE *table) {
    DIR *d = opendir(run_dir);
    if (!d) return mhim_fail("%s: cannot open the sweep run folder: %s", run_dir, strerror(errno));
    char **names = NULL;
    int64_t n_names = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char *dir = mhim_asprintf("%s/%s/sweep_point.tsv", run_dir, e->d_name);
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISREG(st.st_mode)) {
            names = mhim_realloc(names, (size_t)(n_names + 1) * sizeof *names);
            names[n_names++] = mhim_strdup(e->d_name);
        }
        free(dir);
    }
    closedir(d);
    if (n_names) qsort(names, (size_t)n_names, sizeof *names, by_name);
    point_row *rows = mhim_calloc((size_t)MHIM_MAX(n_names, 1), sizeof *rows);
    int64_t n = 0, unfinished = 0;
    int rc = MHIM_OK;
    for (int64_t i = 0; i < n_names && rc == MHIM_OK; i++) {
        char *dir = mhim_asprintf("%s/%s", run_dir, names[i]);
        point_row p = {.folder = mhim_strdup(names[i])};
        rc = read_point_file(dir, &p);
        if (rc == MHIM_OK && read_results(dir, &p)) {
            if (n > 0 && (strcmp(p.keys, rows[0].keys) || strcmp(p.columns, rows[0].columns)))
                rc = mhim_fail("%s: its options or metrics differ from those of %s (one sweep per run folder)", dir,
                               rows[0].folder);
            rows[n++] = p;
        } else {
            unfinished += rc == MHIM_OK;
            row_free(&p);
        }
        free(dir);
    }
    if (rc == MHIM_OK && n == 0)
        rc = mhim_fail("%s: no finished sweep point (expected point folders with sweep_point.tsv and a results.csv "
                       "with mean/std rows)",
                       run_dir);
    if (rc == MHIM_OK) {
        qsort(rows, (size_t)n, sizeof *rows, by_auc);
        char *text = NULL, *keys = tabs_to_commas(rows[0].keys);
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        fprintf(f, "point,%s,", keys);
        interleave(f, rows[0].columns, rows[0].columns, "_mean", "_std");
        fputc('\n', f);
        for (int64_t i = 0; i < n; i++) {
            char *vals = tabs_to_commas(rows[i].values);
            fprintf(f, "%lld,%s,", (long long)rows[i].index, vals);
            interleave(f, rows[i].mean, rows[i].std, "", "");
            fputc('\n', f);
            free(vals);
        }
        fclose(f);
        free(keys);
        char *path = mhim_asprintf("%s/sweep_results.csv", run_dir);
        rc = mhim_atomic_write(path, text, len);
        free(path);
        free(text);
        if (rc == MHIM_OK && table) print_table(table, rows, n, unfinished);
    }
    for (int64_t i = 0; i < n; i++) row_free(&rows[i]);
    for (int64_t i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(rows);
    return rc;
}
