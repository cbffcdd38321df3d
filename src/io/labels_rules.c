/* Classification label rules: raw label cell -> class index, by the original `datasets` name
 * (v1 main.py / dataloader.py; v2 FeatClsDataset), plus the stratification keys. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "io/labels_private.h"
#include "mhim/common.h"
#include "mhim/log.h"

typedef enum {
    RULE_INTEGER, /* int(label) */
    RULE_NAMED,   /* label == name -> 0, anything else -> 1 */
    RULE_GENERIC  /* integers as-is, otherwise sorted class names -> 0..C-1 */
} label_rule;

static char *lower_copy(const char *s) {
    char *d = mhim_strdup(s ? s : "");
    for (char *p = d; *p; p++) *p = (char)tolower((unsigned char)*p);
    return d;
}

static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* Select the rule; *name is the class-0 name for RULE_NAMED (NULL otherwise). */
static label_rule select_rule(const mhim_label_table *t, const mhim_label_options *opt, const char **name) {
    char *ds = lower_copy(opt->datasets);
    *name = NULL;
    if (opt->mhim_version == 1) {
        if (!strcmp(ds, "tcga")) *name = "LUAD";
    } else if (strncmp(ds, "bio", 3) && strstr(ds, "nsclc")) {
        *name = "LUAD";
    } else if (strncmp(ds, "bio", 3) && strstr(ds, "brca")) {
        *name = "IDC";
    } else if (strncmp(ds, "bio", 3) && strstr(ds, "call") && !all_digits(t->cases[0].label_text)) {
        *name = "normal"; /* the original tests only the first label: digits => labels kept */
    }
    label_rule rule = RULE_GENERIC;
    if (*name)
        rule = RULE_NAMED;
    else if (opt->mhim_version == 1 ? !strcmp(ds, "camelyon16")
                                    : !strncmp(ds, "bio", 3) || strstr(ds, "call") || strstr(ds, "panda"))
        rule = RULE_INTEGER;
    free(ds);
    return rule;
}

static int all_integers(const mhim_label_table *t) {
    int64_t v;
    for (int64_t i = 0; i < t->n_cases; i++)
        if (!mhim_csv_parse_i64(t->cases[i].label_text, &v)) return 0;
    return 1;
}

/* Sort key of a raw label value: the integer value when the column is numeric (pandas parses an
 * all-integer column as int64), else the text (Python str order = UTF-8 byte order). */
typedef struct {
    int64_t num;
    const char *text; /* "" when numeric */
} raw_key;

static raw_key make_key(const char *label_text, int numeric) {
    raw_key k = {0, label_text};
    if (numeric) {
        mhim_csv_parse_i64(label_text, &k.num);
        k.text = "";
    }
    return k;
}

static int cmp_key(const void *a, const void *b) {
    const raw_key *x = a, *y = b;
    if (x->num != y->num) return x->num < y->num ? -1 : 1;
    return strcmp(x->text, y->text);
}

/* Distinct raw label values in ascending order; returns the count, *out a new array. */
static int64_t distinct_sorted(const mhim_label_table *t, int numeric, raw_key **out) {
    raw_key *v = mhim_malloc(sizeof(raw_key) * (size_t)t->n_cases);
    for (int64_t i = 0; i < t->n_cases; i++) v[i] = make_key(t->cases[i].label_text, numeric);
    qsort(v, (size_t)t->n_cases, sizeof(raw_key), cmp_key);
    int64_t n = 0;
    for (int64_t i = 0; i < t->n_cases; i++)
        if (n == 0 || cmp_key(&v[n - 1], &v[i]) != 0) v[n++] = v[i];
    *out = v;
    return n;
}

/* Rank of a label among the distinct values (present by construction). */
static int rank_of(const raw_key *values, int64_t n, const char *label_text, int numeric) {
    raw_key k = make_key(label_text, numeric);
    const raw_key *hit = bsearch(&k, values, (size_t)n, sizeof(raw_key), cmp_key);
    MHIM_ASSERT(hit != NULL);
    return (int)(hit - values);
}

int mhim_labels_apply_rule(mhim_label_table *t, const mhim_label_options *opt) {
    const char *name0 = NULL;
    label_rule rule = select_rule(t, opt, &name0);
    int numeric = all_integers(t);
    /* v1 keeps labels as strings (csv.reader); v2 stratifies on what pandas parsed. */
    int strat_numeric = opt->mhim_version == 2 && numeric;
    raw_key *values = NULL;
    int64_t n_values = distinct_sorted(t, strat_numeric, &values);
    for (int64_t i = 0; i < t->n_cases; i++)
        t->cases[i].strat_key = rank_of(values, n_values, t->cases[i].label_text, strat_numeric);
    t->n_strat = (int)n_values;
    free(values);

    if (rule == RULE_GENERIC && numeric) rule = RULE_INTEGER;
    int rc = MHIM_OK;
    if (rule == RULE_INTEGER) {
        int64_t max_label = 0;
        for (int64_t i = 0; i < t->n_cases && rc == MHIM_OK; i++) {
            int64_t v;
            const mhim_case *c = &t->cases[i];
            if (!mhim_csv_parse_i64(c->label_text, &v) || v < 0 || v > 1000000)
                rc = mhim_fail("%s:%lld: Label '%s' of '%s' is not a class index (datasets '%s' expects integer "
                               "labels 0..C-1)",
                               t->path, (long long)c->line, c->label_text, c->id, opt->datasets ? opt->datasets : "");
            else {
                t->cases[i].label = (int)v;
                max_label = v > max_label ? v : max_label;
            }
        }
        if (rc != MHIM_OK) return rc;
        t->n_classes = (int)max_label + 1;
        t->class_names = mhim_malloc(sizeof(char *) * (size_t)t->n_classes);
        for (int k = 0; k < t->n_classes; k++) t->class_names[k] = mhim_asprintf("%d", k);
    } else if (rule == RULE_NAMED) {
        const char *other = NULL;
        int several_others = 0;
        for (int64_t i = 0; i < t->n_cases; i++) {
            mhim_case *c = &t->cases[i];
            c->label = strcmp(c->label_text, name0) == 0 ? 0 : 1;
            if (c->label == 1) {
                if (other && strcmp(other, c->label_text)) several_others = 1;
                if (!other) other = c->label_text;
            }
        }
        t->n_classes = 2;
        t->class_names = mhim_malloc(sizeof(char *) * 2);
        t->class_names[0] = mhim_strdup(name0);
        t->class_names[1] = other && !several_others ? mhim_strdup(other) : mhim_asprintf("not %s", name0);
        if (several_others)
            MHIM_WARN("%s: datasets '%s' maps %s -> 0 and every other label -> 1, and the file has more than "
                      "two label values",
                      t->path, opt->datasets, name0);
    } else {
        raw_key *names = NULL;
        int64_t n_names = distinct_sorted(t, 0, &names);
        for (int64_t i = 0; i < t->n_cases; i++) t->cases[i].label = rank_of(names, n_names, t->cases[i].label_text, 0);
        t->n_classes = (int)n_names;
        t->class_names = mhim_malloc(sizeof(char *) * (size_t)n_names);
        for (int64_t k = 0; k < n_names; k++) {
            t->class_names[k] = mhim_strdup(names[k].text);
            MHIM_INFO("%s: class %lld = '%s'", t->path, (long long)k, names[k].text);
        }
        free(names);
    }
    return MHIM_OK;
}
