/* io/labels_private.h — pieces of the label-CSV loader shared between its files: the CSV
 * tokenizer (also used for split files), the classification label rules and the survival bins. */
#ifndef MHIM_IO_LABELS_PRIVATE_H
#define MHIM_IO_LABELS_PRIVATE_H

#include <stdint.h>

#include "mhim/cohort.h"

/* ---- CSV tokenizer (labels_csv.c) ---- */
typedef struct {
    int64_t line;  /* 1-based line where the record starts */
    int n_fields;
    char **fields; /* unquoted; unquoted fields trimmed of surrounding spaces/tabs */
} mhim_csv_row;

typedef struct {
    int64_t n_rows;
    mhim_csv_row *rows; /* blank lines skipped */
} mhim_csv_file;

/* Read a whole CSV file: UTF-8 BOM skipped, LF or CRLF line ends, a missing final newline
 * accepted, RFC 4180 quoting ("a,b" and "" inside quotes). Errors: unreadable file, unterminated
 * quote, text after a closing quote. An empty file yields n_rows = 0 (callers decide). */
int mhim_csv_read(const char *path, mhim_csv_file *out);
void mhim_csv_free(mhim_csv_file *f);

/* Parse a whole cell as a base-10 integer (optional sign); 1 on success. */
int mhim_csv_parse_i64(const char *text, int64_t *out);
/* Parse a whole cell as a finite double; 1 on success. */
int mhim_csv_parse_f64(const char *text, double *out);

/* ---- classification labels (labels_rules.c) ---- */
/* Fill label, strat_key, n_classes, n_strat and class_names of a classification table whose
 * cases carry label_text, following the rule selected by datasets/version (docs/data.md). */
int mhim_labels_apply_rule(mhim_label_table *t, const mhim_label_options *opt);

/* ---- survival bins (labels_survival.c) ---- */
/* pd.qcut quartiles of event[] over rows with status 1, edges[0] := min(all) - 1e-6,
 * edges[4] := max(all) + 1e-6, bin = left-closed interval of each event (pd.cut right=False).
 * Errors name `path` (no uncensored rows, repeated quartile edges). */
int mhim_survival_bins(const char *path, const double *event, const int *status, int64_t n, double edges[5],
                       int *bins);

#endif
