/* Label CSV loader: layout detection (v1 headerless, v2 classification and survival, benchmark
 * `ID,label`), header handling, per-row validation; see docs/data.md. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/labels_private.h"
#include "mhim/common.h"
#include "mhim/log.h"

int mhim_csv_header_parse(const char *text, const char *field, mhim_csv_header *out) {
    static const struct {
        const char *name;
        mhim_csv_header value;
    } names[] = {{"auto", MHIM_CSV_HEADER_AUTO}, {"yes", MHIM_CSV_HEADER_YES}, {"true", MHIM_CSV_HEADER_YES},
                 {"1", MHIM_CSV_HEADER_YES},     {"no", MHIM_CSV_HEADER_NO},   {"false", MHIM_CSV_HEADER_NO},
                 {"0", MHIM_CSV_HEADER_NO}};
    for (size_t i = 0; text && i < MHIM_ARRAY_LEN(names); i++)
        if (!strcasecmp(text, names[i].name)) {
            *out = names[i].value;
            return MHIM_OK;
        }
    return mhim_fail("%s: '%s' is not a header mode (expected auto, yes or no)", field, text ? text : "");
}

/* Column positions of the fields the loader uses (-1 = absent). */
typedef struct {
    int n_columns;
    int id, label, event, status;
    const char *layout; /* for messages */
} columns;

static int cell_is_column_name(const char *cell) {
    static const char *const known[] = {"id",    "label",  "slide_id", "case_id", "patient_id",
                                        "slide", "case",   "patient",  "split",   "study",
                                        "event", "status", "wsi",      "class",   "target"};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(known); i++)
        if (!strcasecmp(cell, known[i])) return 1;
    return 0;
}

static int find_column(const mhim_csv_row *header, const char *name) {
    for (int i = 0; i < header->n_fields; i++)
        if (!strcasecmp(header->fields[i], name)) return i;
    return -1;
}

/* Column layout from the header row (NULL when none) and the width of the first row. */
static int resolve_columns(const char *path, mhim_task task, const mhim_csv_row *header, const mhim_csv_row *first,
                           columns *c) {
    const mhim_csv_row *shape = header ? header : first;
    *c = (columns){.n_columns = shape->n_fields, .id = -1, .label = -1, .event = -1, .status = -1};
    if (task == MHIM_TASK_SURVIVAL) {
        c->layout = "Study,ID,Event,Status[,WSI]";
        if (header) {
            c->id = find_column(header, "ID");
            c->event = find_column(header, "Event");
            c->status = find_column(header, "Status");
            if (c->id < 0 || c->event < 0 || c->status < 0)
                return mhim_fail("%s:%lld: survival header must name the columns ID, Event and Status (layout %s)",
                                 path, (long long)header->line, c->layout);
        } else if (c->n_columns == 4 || c->n_columns == 5) {
            c->id = 1, c->event = 2, c->status = 3;
        } else {
            return mhim_fail("%s:%lld: expected %s columns for a headerless survival CSV, found %d", path,
                             (long long)first->line, c->layout, c->n_columns);
        }
        return MHIM_OK;
    }
    if (header && find_column(header, "ID") >= 0 && find_column(header, "Label") >= 0) {
        c->id = find_column(header, "ID");
        c->label = find_column(header, "Label");
        c->layout = "header with ID and Label";
    } else if (c->n_columns == 2) {
        c->id = 0, c->label = 1, c->layout = "ID,Label";
    } else if (c->n_columns == 4) {
        c->id = 1, c->label = 2, c->layout = "Case,ID,Label,Split";
    } else {
        return mhim_fail("%s:%lld: expected 2 columns (ID,Label), 4 columns (Case,ID,Label,Split) or a header "
                         "naming ID and Label; found %d columns",
                         path, (long long)shape->line, c->n_columns);
    }
    return MHIM_OK;
}

/* auto mode: is the first row a header? (rule documented in docs/data.md) */
static int looks_like_header(const mhim_csv_file *f, mhim_task task) {
    const mhim_csv_row *r0 = &f->rows[0];
    for (int i = 0; i < r0->n_fields; i++)
        if (cell_is_column_name(r0->fields[i])) return 1;
    columns c = {0};
    if (f->n_rows < 2 || resolve_columns("", task, NULL, r0, &c) != MHIM_OK) return 0;
    double x;
    int64_t v;
    if (task == MHIM_TASK_SURVIVAL) /* a non-numeric Event cell followed by numeric ones */
        return c.event < r0->n_fields && !mhim_csv_parse_f64(r0->fields[c.event], &x) &&
               f->rows[1].n_fields > c.event && mhim_csv_parse_f64(f->rows[1].fields[c.event], &x);
    if (c.label >= r0->n_fields || mhim_csv_parse_i64(r0->fields[c.label], &v)) return 0;
    for (int64_t i = 1; i < f->n_rows; i++) /* a non-integer label above integer labels */
        if (f->rows[i].n_fields <= c.label || !mhim_csv_parse_i64(f->rows[i].fields[c.label], &v)) return 0;
    return 1;
}

typedef struct {
    const char *id;
    int64_t line;
} id_ref;

static int cmp_id(const void *a, const void *b) {
    const id_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int check_unique_ids(const mhim_label_table *t) {
    id_ref *refs = mhim_malloc(sizeof(id_ref) * (size_t)t->n_cases);
    for (int64_t i = 0; i < t->n_cases; i++) refs[i] = (id_ref){t->cases[i].id, t->cases[i].line};
    qsort(refs, (size_t)t->n_cases, sizeof(id_ref), cmp_id);
    int rc = MHIM_OK;
    for (int64_t i = 1; i < t->n_cases && rc == MHIM_OK; i++)
        if (!strcmp(refs[i].id, refs[i - 1].id))
            rc = mhim_fail("%s:%lld: duplicate ID '%s' (first seen on line %lld); each case must appear once", t->path,
                           (long long)refs[i].line, refs[i].id, (long long)refs[i - 1].line);
    free(refs);
    return rc;
}

static int parse_survival_row(const char *path, const mhim_csv_row *r, const columns *c, mhim_case *out, int *status,
                              int *missing_event) {
    const char *ev = r->fields[c->event], *st = r->fields[c->status];
    double s;
    *missing_event = ev[0] == '\0';
    if (!*missing_event && !mhim_csv_parse_f64(ev, &out->event_time))
        return mhim_fail("%s:%lld: Event '%s' is not a number (expected the survival time, e.g. 24.3)", path,
                         (long long)r->line, ev);
    if (!mhim_csv_parse_f64(st, &s) || (s != 0.0 && s != 1.0))
        return mhim_fail("%s:%lld: Status '%s' must be 1 (event) or 0 (censored)", path, (long long)r->line, st);
    *status = (int)s;
    out->censorship = 1 - *status;
    return MHIM_OK;
}

/* Fill t->cases from the data rows (survival rows with an empty Event are dropped, as pandas
 * drops NaN events), then the labels. */
static int load_rows(mhim_label_table *t, const mhim_csv_file *f, int64_t first_row, const columns *c,
                     const mhim_label_options *opt) {
    int64_t n = f->n_rows - first_row, dropped = 0;
    t->cases = mhim_calloc((size_t)(n ? n : 1), sizeof(mhim_case));
    int *status = mhim_calloc((size_t)(n ? n : 1), sizeof(int));
    int rc = MHIM_OK;
    for (int64_t i = first_row; i < f->n_rows && rc == MHIM_OK; i++) {
        const mhim_csv_row *r = &f->rows[i];
        if (r->n_fields != c->n_columns) {
            rc = mhim_fail("%s:%lld: expected %d columns (%s), found %d", t->path, (long long)r->line, c->n_columns,
                           c->layout, r->n_fields);
            break;
        }
        const char *id = r->fields[c->id];
        if (!id[0]) {
            rc = mhim_fail("%s:%lld: empty ID (column %d)", t->path, (long long)r->line, c->id + 1);
            break;
        }
        mhim_case *cs = &t->cases[t->n_cases];
        cs->line = r->line;
        if (t->task == MHIM_TASK_SURVIVAL) {
            int missing = 0;
            rc = parse_survival_row(t->path, r, c, cs, &status[t->n_cases], &missing);
            if (rc != MHIM_OK) break;
            if (missing) {
                dropped++;
                memset(cs, 0, sizeof *cs);
                continue;
            }
            cs->label_text = mhim_strdup("");
        } else {
            if (!r->fields[c->label][0]) {
                rc = mhim_fail("%s:%lld: empty Label for '%s' (column %d)", t->path, (long long)r->line, id,
                               c->label + 1);
                break;
            }
            cs->label_text = mhim_strdup(r->fields[c->label]);
        }
        cs->id = mhim_strdup(id);
        t->n_cases++;
    }
    if (rc == MHIM_OK && dropped)
        MHIM_WARN("%s: %lld row(s) with an empty Event dropped (as the original does)", t->path, (long long)dropped);
    if (rc == MHIM_OK && t->n_cases == 0)
        rc = mhim_fail("%s: no data rows%s", t->path, t->header_consumed ? " after the header row" : "");
    if (rc == MHIM_OK) rc = check_unique_ids(t);
    if (rc == MHIM_OK && t->task == MHIM_TASK_SURVIVAL) {
        double *event = mhim_malloc(sizeof(double) * (size_t)t->n_cases);
        int *bins = mhim_malloc(sizeof(int) * (size_t)t->n_cases);
        for (int64_t i = 0; i < t->n_cases; i++) event[i] = t->cases[i].event_time;
        rc = mhim_survival_bins(t->path, event, status, t->n_cases, t->bin_edges, bins);
        for (int64_t i = 0; rc == MHIM_OK && i < t->n_cases; i++) {
            t->cases[i].label = t->cases[i].strat_key = bins[i];
            t->n_uncensored += status[i];
        }
        t->n_classes = t->n_strat = 4;
        t->class_names = mhim_malloc(sizeof(char *) * 4);
        for (int k = 0; k < 4; k++) t->class_names[k] = mhim_asprintf("bin%d", k);
        free(event);
        free(bins);
    } else if (rc == MHIM_OK) {
        rc = mhim_labels_apply_rule(t, opt);
    }
    free(status);
    return rc;
}

static int is_survival(const mhim_label_options *opt) {
    return opt->mhim_version == 2 && opt->datasets && !strncasecmp(opt->datasets, "surv", 4);
}

int mhim_labels_load(const char *path, const mhim_label_options *opt, mhim_label_table *out) {
    memset(out, 0, sizeof *out);
    if (opt->mhim_version != 1 && opt->mhim_version != 2)
        return mhim_fail("mhim_version: %d is not supported (expected 1 or 2)", opt->mhim_version);
    mhim_csv_file f;
    int rc = mhim_csv_read(path, &f);
    if (rc != MHIM_OK) return rc;
    out->path = mhim_strdup(path);
    out->task = is_survival(opt) ? MHIM_TASK_SURVIVAL : MHIM_TASK_CLASSIFICATION;
    if (f.n_rows == 0) {
        rc = mhim_fail("%s: the label CSV is empty (expected rows ID,Label; see docs/data.md)", path);
    } else {
        int header = opt->header == MHIM_CSV_HEADER_YES ||
                     (opt->header == MHIM_CSV_HEADER_AUTO && looks_like_header(&f, out->task));
        out->header_consumed = header;
        columns c = {0};
        if (header && f.n_rows < 2)
            rc = mhim_fail("%s: no data rows after the header row", path);
        else
            rc = resolve_columns(path, out->task, header ? &f.rows[0] : NULL, &f.rows[header ? 1 : 0], &c);
        if (rc == MHIM_OK) rc = load_rows(out, &f, header, &c, opt);
        if (rc == MHIM_OK && header && opt->header == MHIM_CSV_HEADER_YES && !looks_like_header(&f, out->task))
            MHIM_WARN("%s: csv_header=yes consumed the first line '%s,...' as a header (the original v2 "
                      "behaviour); it is not a data row",
                      path, f.rows[0].fields[0]);
    }
    mhim_csv_free(&f);
    if (rc != MHIM_OK) mhim_labels_free(out);
    return rc;
}

void mhim_labels_free(mhim_label_table *t) {
    for (int64_t i = 0; i < t->n_cases; i++) {
        free(t->cases[i].id);
        free(t->cases[i].label_text);
    }
    free(t->cases);
    if (t->class_names)
        for (int k = 0; k < t->n_classes; k++) free(t->class_names[k]);
    free(t->class_names);
    free(t->path);
    memset(t, 0, sizeof *t);
}
