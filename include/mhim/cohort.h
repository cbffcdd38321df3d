/* mhim/cohort.h — the label table (cases read from a label CSV) and the cohort (cases matched to
 * slide feature files under dataset_root). Layouts, header detection, label rules and matching
 * rules are documented for users in docs/data.md. */
#ifndef MHIM_COHORT_H
#define MHIM_COHORT_H

#include <stdint.h>

/* ---- label CSV ----------------------------------------------------------------------------- */

typedef enum {
    MHIM_CSV_HEADER_AUTO = 0, /* take the first row as a header only when it looks like one */
    MHIM_CSV_HEADER_YES,      /* always consume the first row (pandas read_csv; the original v2) */
    MHIM_CSV_HEADER_NO        /* never (csv.reader; the original v1) */
} mhim_csv_header;

typedef enum { MHIM_TASK_CLASSIFICATION = 0, MHIM_TASK_SURVIVAL } mhim_task;

/* Parse "auto|yes|no" (also true/false, 1/0); returns MHIM_OK or MHIM_EINPUT naming `field`. */
int mhim_csv_header_parse(const char *text, const char *field, mhim_csv_header *out);

typedef struct {
    const char *datasets;   /* the original `datasets` name; selects the label rule (docs/data.md) */
    int mhim_version;       /* 1 or 2 */
    mhim_csv_header header; /* how to treat the first row */
} mhim_label_options;

typedef struct {
    char *id;          /* case (v2, TCGA) or slide (C16) ID, matched against feature file names */
    char *label_text;  /* the raw label cell ("" for survival) */
    int label;         /* model target: class index, or survival bin 0..3 */
    int strat_key;     /* stratification class: rank of the raw label value among the distinct raw
                        * values in ascending (np.unique) order; survival: the bin */
    double event_time; /* survival: Event (months); 0 for classification */
    int censorship;    /* survival: 1 - Status; 0 for classification */
    int64_t line;      /* 1-based line of the row in the CSV (for messages) */
} mhim_case;

typedef struct {
    char *path;              /* the CSV file it was read from */
    mhim_task task;
    int64_t n_cases;
    mhim_case *cases;        /* in file order (rows with a missing survival Event dropped) */
    int n_classes;           /* classes of `label` (survival: 4) */
    int n_strat;             /* distinct strat_key values */
    int header_consumed;     /* 1 when the first row was taken as the header */
    char **class_names;      /* [n_classes] name of each class index (class names sorted, or
                              * the rule's names, or the integer as text) */
    double bin_edges[5];     /* survival: the 4-bin edges after the min/max adjustment */
    int64_t n_uncensored;    /* survival: rows with Status == 1 */
} mhim_label_table;

/* Read and validate a label CSV (layouts in docs/data.md). On error `out` is left empty and one
 * line names path:line, the field and what was expected. Free with mhim_labels_free. */
int mhim_labels_load(const char *path, const mhim_label_options *opt, mhim_label_table *out);
void mhim_labels_free(mhim_label_table *t);

/* ---- cohort: cases -> slide feature files -------------------------------------------------- */

typedef enum {
    MHIM_MATCH_AUTO = 0,  /* exact for v1 camelyon16 and non-original dataset names, else substring */
    MHIM_MATCH_EXACT,     /* slide file = <id>.<ext> */
    MHIM_MATCH_SUBSTRING  /* every feature file whose name contains the ID (the original TCGA / v2) */
} mhim_match_mode;

/* Parse "auto|exact|substring". */
int mhim_match_mode_parse(const char *text, const char *field, mhim_match_mode *out);

typedef struct {
    const char *dataset_root; /* folder holding the feature folder */
    const char *feature_dir;  /* explicit feature folder (absolute, or relative to dataset_root);
                               * NULL or "" => detect pt/, pt_files/, h5_files/ or features_<x>/ */
    mhim_match_mode match;
    const char *datasets;     /* for MHIM_MATCH_AUTO */
    int mhim_version;         /* for MHIM_MATCH_AUTO */
} mhim_cohort_options;

typedef struct {
    int64_t n_slides;
    char **slides; /* full paths of the case's feature files, sorted by file name */
} mhim_cohort_case;

typedef struct {
    char *feature_dir;        /* the folder used */
    mhim_match_mode match;    /* the resolved mode (never AUTO) */
    int64_t n_cases;          /* = label table n_cases; cases[i] belongs to label case i */
    mhim_cohort_case *cases;
    int64_t n_missing;        /* cases with no feature file */
    int64_t n_slides;         /* total slide files matched (a file shared by two cases counts twice) */
} mhim_cohort;

/* Find the feature folder under dataset_root: exactly one of pt/, pt_files/, h5_files/,
 * features_<x>/ must exist. *out_dir is a new heap string. Errors list what was looked for/found;
 * n_found (may be NULL) receives the number of candidate folders (-1: dataset_root unreadable). */
int mhim_cohort_find_feature_dir(const char *dataset_root, char **out_dir, int *n_found);

/* Match every case of `labels` to its feature files (.pt, .pth, .h5 files of the feature folder).
 * Cases with no file are recorded (n_missing) but are not an error here; see mhim_cohort_check. */
int mhim_cohort_build(const mhim_label_table *labels, const mhim_cohort_options *opt, mhim_cohort *out);
void mhim_cohort_free(mhim_cohort *c);

/* MHIM_OK when every case has a feature file; else an error listing the first 5 missing IDs,
 * "... and N more", and a hint. */
int mhim_cohort_check(const mhim_cohort *c, const mhim_label_table *labels);

/* One training/evaluation item: a case index and the feature files that form the bag. */
typedef struct {
    int64_t case_index;
    int64_t n_files;
    char *const *files; /* borrowed from the cohort */
} mhim_bag_ref;

/* Expand a list of case indices into bags, in order: classification = one bag per slide file
 * (label of its case); survival = one bag per case holding all its slide files (concatenated by
 * the loader). Cases without files yield no bag. Returns the bag count; *out is a new array. */
int64_t mhim_cohort_bags(const mhim_cohort *c, mhim_task task, const int64_t *case_idx, int64_t n,
                         mhim_bag_ref **out);

#endif
