/* mhim/options.h — table-driven command-line and YAML option engine, shared by every command.
 *
 * A command describes its options once, as a static table of mhim_option rows that point (offsetof)
 * into the command's own settings struct. The engine then provides:
 *   - layered values: table defaults < caller default overlay < YAML files (-c a.yaml[,b.yaml] or
 *     --config FILE, repeatable, later files win) < command-line flags (later flags win);
 *   - flags parsed with getopt_long: `--key=value` and `--key value`; bool switches take no separate
 *     value (`--mrh_sche` or `--mrh_sche=false`); positional arguments are returned in order;
 *   - YAML files read with libyaml: a flat mapping of option names to scalars;
 *   - type and range checks with one-line errors naming where the value came from
 *     ("--mask_ratio_h=1.5: expected a number in [0, 1]", "a.yaml:3: unknown option 'lrr' (did you
 *     mean lr?)"), returned as MHIM_EINPUT with the message in mhim_error();
 *   - `--help` text and a YAML dump generated from the table (the dump can be read back with -c).
 *
 * Minimal use (one call does collect + defaults + apply + required check):
 *
 *     typedef struct { int n_bags; double ratio; char *out; bool verbose; } synth_opts;
 *     #define T synth_opts
 *     static const mhim_option table[] = {
 *         MHIM_OPTION_INT(T, n_bags, "100", 1, INFINITY, 0, "Cohort", "number of bags"),
 *         MHIM_OPTION_DOUBLE(T, ratio, "0.5", 0, 1, 0, "Cohort", "fraction of positive bags"),
 *         MHIM_OPTION_STRING(T, out, NULL, MHIM_OPT_REQUIRED, "Output", "output folder"),
 *         MHIM_OPTION_BOOL(T, verbose, "false", MHIM_OPT_SWITCH, "Output", "log every bag"),
 *     };
 *     synth_opts o = {0}; mhim_opt_args args;
 *     int rc = mhim_opts_parse(table, MHIM_ARRAY_LEN(table), &o, argc, argv, &args);
 *     if (rc) return mhim_cli_report(rc);
 *     if (args.help) { mhim_opts_print_help(stdout, table, n, &(mhim_opts_help_style){.usage = "..."}); ... }
 *     ... use o ...; mhim_opts_free(table, n, &o); mhim_opt_args_free(&args);
 *
 * Storage types (checked at compile time by the MHIM_OPTION_* macros): BOOL -> bool, INT -> int,
 * DOUBLE -> double, STRING and CHOICE -> char * (heap copy owned by the struct, NULL allowed for
 * STRING; free with mhim_opts_free). Option names are the struct field names.
 *
 * Value syntax: bool = true|false|yes|no|on|off|1|0 (any case); int = decimal integer; double =
 * strtod syntax, finite; CHOICE = one of the '|'-separated words. In YAML a plain `null`, `~` or an
 * empty value sets a STRING option to NULL where NULL is one of its values: its default is NULL and it is not
 * REQUIRED, or it carries MHIM_OPT_NULLABLE; any other option refuses null (so code may rely on the field being
 * set). A quoted "null" is the literal text.
 * Option names must be given in full (abbreviations are rejected with the full name as a hint).
 * Not thread-safe (getopt_long keeps global state); parse on one thread at start-up. */
#ifndef MHIM_OPTIONS_H
#define MHIM_OPTIONS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    MHIM_OPT_BOOL,
    MHIM_OPT_INT,
    MHIM_OPT_DOUBLE,
    MHIM_OPT_STRING,
    MHIM_OPT_CHOICE
} mhim_opt_type;

/* Flags of an option row. Bits from MHIM_OPT_USER(0) upward are free for the caller (e.g. tags
 * such as "only in version 1") and ignored by the engine. */
enum {
    MHIM_OPT_SWITCH = 1u << 0,      /* BOOL: bare `--name` sets true (argparse store_true) */
    MHIM_OPT_STORE_FALSE = 1u << 1, /* BOOL: bare `--name` sets FALSE (argparse store_false) */
    MHIM_OPT_REQUIRED = 1u << 2,    /* must be given by a YAML file or a flag */
    MHIM_OPT_MIN_OPEN = 1u << 3,    /* value must be > min (default: >= min) */
    MHIM_OPT_MAX_OPEN = 1u << 4,    /* value must be < max (default: <= max) */
    MHIM_OPT_NO_EFFECT = 1u << 5,   /* accepted for compatibility only: help says so, changing it warns */
    MHIM_OPT_NULLABLE = 1u << 6,    /* STRING with a non-NULL default that a YAML null may still set to NULL */
};
#define MHIM_OPT_USER(n) (1u << (16 + (n)))

typedef struct mhim_option {
    const char *name;    /* long option name == YAML key == struct field name */
    mhim_opt_type type;
    size_t offset;       /* offsetof(struct, field) */
    const char *def;     /* default as text; NULL = false / 0 / NULL string */
    double min, max;     /* INT/DOUBLE range (-INFINITY / INFINITY = unbounded); see *_OPEN flags */
    const char *choices; /* CHOICE: "cosine|step|const" */
    unsigned flags;
    const char *group;   /* heading in --help and in the YAML dump (rows of a group may be apart) */
    const char *help;    /* one line */
} mhim_option;

/* Compile-time check that `field` of struct T has storage type ctype, yielding its offset. */
#define MHIM_OPT_FIELD_(T, field, ctype) _Generic(((T *)0)->field, ctype: offsetof(T, field))
#define MHIM_OPTION_BOOL(T, field, def, flags, group, help) \
    {#field, MHIM_OPT_BOOL, MHIM_OPT_FIELD_(T, field, bool), def, -INFINITY, INFINITY, NULL, flags, group, help}
#define MHIM_OPTION_INT(T, field, def, lo, hi, flags, group, help) \
    {#field, MHIM_OPT_INT, MHIM_OPT_FIELD_(T, field, int), def, lo, hi, NULL, flags, group, help}
#define MHIM_OPTION_DOUBLE(T, field, def, lo, hi, flags, group, help) \
    {#field, MHIM_OPT_DOUBLE, MHIM_OPT_FIELD_(T, field, double), def, lo, hi, NULL, flags, group, help}
#define MHIM_OPTION_STRING(T, field, def, flags, group, help) \
    {#field, MHIM_OPT_STRING, MHIM_OPT_FIELD_(T, field, char *), def, -INFINITY, INFINITY, NULL, flags, group, help}
#define MHIM_OPTION_CHOICE(T, field, def, choices, flags, group, help) \
    {#field, MHIM_OPT_CHOICE, MHIM_OPT_FIELD_(T, field, char *), def, -INFINITY, INFINITY, choices, flags, group, help}

/* A replacement default ("name", "text") layered over the table default (e.g. per-version defaults). */
typedef struct mhim_opt_default {
    const char *name;
    const char *value;
} mhim_opt_default;

/* One value given by the user, in application order. */
typedef struct mhim_opt_setting {
    int index;    /* row in the table */
    char *value;  /* text as given ("true"/"false" for bare switches); NULL = YAML null */
    char *origin; /* where it came from, for messages: "--lr" or "run.yaml:3" */
} mhim_opt_setting;

/* Everything the user gave (owned; free with mhim_opt_args_free). */
typedef struct mhim_opt_args {
    bool help;                   /* -h / --help was given: print help and exit 0 */
    int n_positional;
    char **positional;           /* non-option arguments, in order */
    int n_files;
    char **files;                /* YAML files read, in order */
    int n_settings;
    mhim_opt_setting *settings;  /* YAML values (file order), then flags (command-line order) */
} mhim_opt_args;

/* Parse argv (argv[0] = command name, skipped) and read the YAML files named by -c/--config.
 * Checks every name and value (type, range, choice) without storing anything. On error returns
 * MHIM_EINPUT with one message; *out is then empty. */
int mhim_opts_collect(const mhim_option *table, int n, int argc, char **argv, mhim_opt_args *out);
void mhim_opt_args_free(mhim_opt_args *args);
/* The last setting of option `name`, or NULL if the user did not give it. */
const mhim_opt_setting *mhim_opt_args_find(const mhim_opt_args *args, const mhim_option *table, const char *name);

/* Store the table defaults, then the overlay (may be NULL/0) into obj. obj's string fields must
 * be NULL or owned heap strings (they are freed); zero the struct before the first call. */
void mhim_opts_set_defaults(const mhim_option *table, int n, void *obj, const mhim_opt_default *overlay,
                            int n_overlay);
/* Store every setting of args into obj (later ones win), warn about MHIM_OPT_NO_EFFECT options
 * whose value changes, and check that MHIM_OPT_REQUIRED options were given. MHIM_EINPUT on error. */
int mhim_opts_apply(const mhim_option *table, int n, void *obj, const mhim_opt_args *args);
/* collect + set_defaults (no overlay) + apply; obj must be zeroed (or hold engine-owned strings).
 * On error nothing needs freeing. */
int mhim_opts_parse(const mhim_option *table, int n, void *obj, int argc, char **argv, mhim_opt_args *out);

/* Set one option from text (checked like user input; origin names the source in messages, e.g.
 * "--lr"; NULL = "--<name>"). MHIM_EINPUT for an unknown name or a bad value. */
int mhim_opts_set(const mhim_option *table, int n, void *obj, const char *name, const char *value,
                  const char *origin);
/* Row of `name`, or NULL. */
const mhim_option *mhim_opts_find(const mhim_option *table, int n, const char *name);
/* Free the strings of obj's STRING/CHOICE fields and set them to NULL. */
void mhim_opts_free(const mhim_option *table, int n, void *obj);

/* Presentation of --help. Every field is optional. */
typedef struct mhim_opts_help_style {
    const char *usage;                      /* printed first, verbatim */
    const mhim_opt_default *alt;            /* second set of defaults shown as "<alt_label>: value" */
    int n_alt;
    const char *alt_label;
    const char *(*tag)(const mhim_option *opt); /* extra note per option (e.g. "v1 only"), or NULL */
    const char *epilog;                     /* printed last, verbatim */
} mhim_opts_help_style;
/* Every option, grouped, with its value syntax, help and default. */
void mhim_opts_print_help(FILE *out, const mhim_option *table, int n, const mhim_opts_help_style *style);

/* Write "name: value" lines (with "# group" headings) for the options accepted by keep(opt, ctx)
 * (keep NULL = all); the result can be read back with -c. */
void mhim_opts_print_yaml(FILE *out, const mhim_option *table, int n, const void *obj,
                          bool (*keep)(const mhim_option *opt, const void *ctx), const void *ctx);
/* Text of the option's current value in obj as written by print_yaml (unquoted); heap string. */
char *mhim_opts_value_text(const mhim_option *opt, const void *obj);

/* Parse a byte size: "0", "512", "512K", "8M", "8G", "1T" (binary multiples, optional trailing
 * "B"/"iB", any case). MHIM_EINPUT with a message for anything else or overflow. */
int mhim_parse_bytes(const char *text, int64_t *out);

#endif
