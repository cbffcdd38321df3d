/* Unit tests of the option engine (mhim/options.h): layering, flag syntax, switches, store_false,
 * range/choice errors, unknown names with hints, YAML errors with file:line, YAML round trip,
 * byte sizes and the generated help. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/options.h"

typedef struct {
    double ratio;
    int folds;
    bool sche;
    bool stop;
    char *sched;
    char *path;
    char *title;
    char *init;
} demo_opts;

#define T demo_opts
static const mhim_option table[] = {
    MHIM_OPTION_DOUBLE(T, ratio, "0", 0, 1, 0, "Masking", "mask ratio"),
    MHIM_OPTION_INT(T, folds, "3", 2, INFINITY, 0, "Data", "number of folds"),
    MHIM_OPTION_BOOL(T, sche, "false", MHIM_OPT_SWITCH, "Masking", "decay the ratio"),
    MHIM_OPTION_BOOL(T, stop, "true", MHIM_OPT_STORE_FALSE, "Training", "early stopping"),
    MHIM_OPTION_CHOICE(T, sched, "cosine", "cosine|step|const", 0, "Training", "LR schedule"),
    MHIM_OPTION_STRING(T, path, NULL, 0, "Data", "teacher path"),
    MHIM_OPTION_STRING(T, title, "default", 0, "Data", "run title"),
    MHIM_OPTION_STRING(T, init, "none", MHIM_OPT_NULLABLE, "Data", "teacher init (none; null allowed)"),
};
#undef T
static const int n_table = (int)MHIM_ARRAY_LEN(table);

static char tmpdir[1024];

static void write_file(const char *name, const char *text, char *path_out, size_t size) {
    snprintf(path_out, size, "%s/%s", tmpdir, name);
    FILE *f = fopen(path_out, "w");
    if (!f) {
        perror(path_out);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* Parse a NULL-terminated argv list (argv[0] = "demo"); returns the status. */
static int parse(demo_opts *o, mhim_opt_args *args, const char **list) {
    int argc = 0;
    char *argv[64];
    argv[argc++] = "demo";
    for (; *list; list++) argv[argc++] = (char *)*list;
    argv[argc] = NULL;
    mhim_opts_free(table, n_table, o);
    memset(o, 0, sizeof *o);
    mhim_error_clear();
    return mhim_opts_parse(table, n_table, o, argc, argv, args);
}

/* Expect a failure whose message equals want exactly (or contains it when substring). */
static int expect_error(const char *name, const char **list, const char *want, int substring) {
    demo_opts o = {0};
    mhim_opt_args args;
    int rc = parse(&o, &args, list);
    const char *got = mhim_error();
    int ok = rc == MHIM_EINPUT && (substring ? strstr(got, want) != NULL : !strcmp(got, want));
    printf("%s %s: rc=%d message='%s' want%s '%s'\n", ok ? "ok  " : "FAIL", name, rc, got,
           substring ? " substring" : "", want);
    mhim_opts_free(table, n_table, &o);
    return !ok;
}

static int test_defaults_and_flag_forms(void) {
    int fails = 0;
    demo_opts o = {0};
    mhim_opt_args args;
    fails += check_true("defaults parse", parse(&o, &args, (const char *[]){NULL}) == MHIM_OK);
    fails += check_true("default ratio 0", o.ratio == 0.0);
    fails += check_true("default folds 3", o.folds == 3);
    fails += check_true("default stop true", o.stop);
    fails += check_true("default sched cosine", !strcmp(o.sched, "cosine"));
    fails += check_true("default path NULL", o.path == NULL);
    mhim_opt_args_free(&args);

    const char *forms[] = {"--ratio=0.5", "--folds", "4", "--sched", "step", "pos1", "--sche", "--stop",
                           "--title=", "pos2", NULL};
    fails += check_true("flag forms parse", parse(&o, &args, forms) == MHIM_OK);
    fails += check_true("--ratio=0.5", o.ratio == 0.5);
    fails += check_true("--folds 4", o.folds == 4);
    fails += check_true("--sched step", !strcmp(o.sched, "step"));
    fails += check_true("bare switch sets true", o.sche);
    fails += check_true("bare store_false flag sets false", !o.stop);
    fails += check_true("--title= gives empty text", o.title && o.title[0] == '\0');
    fails += check_true("two positionals in order", args.n_positional == 2 && !strcmp(args.positional[0], "pos1") &&
                                                        !strcmp(args.positional[1], "pos2"));
    mhim_opt_args_free(&args);

    fails += check_true("--sche=false", parse(&o, &args, (const char *[]){"--sche=false", NULL}) == 0 && !o.sche);
    mhim_opt_args_free(&args);
    fails += check_true("--stop=true keeps early stopping on",
                        parse(&o, &args, (const char *[]){"--stop=true", NULL}) == 0 && o.stop);
    mhim_opt_args_free(&args);
    fails += check_true("later flag wins",
                        parse(&o, &args, (const char *[]){"--folds=5", "--folds=6", NULL}) == 0 && o.folds == 6);
    mhim_opt_args_free(&args);
    fails += check_true("-h sets help", parse(&o, &args, (const char *[]){"-h", NULL}) == 0 && args.help);
    mhim_opt_args_free(&args);
    mhim_opts_free(table, n_table, &o);
    return fails;
}

static int test_layers(void) {
    int fails = 0;
    char a[1200], b[1200];
    write_file("a.yaml", "# first\nratio: 0.25\nfolds: 5\nsched: step\npath: /teacher\n", a, sizeof a);
    write_file("b.yaml", "folds: 7\npath: null\n", b, sizeof b);
    char list[2500];
    snprintf(list, sizeof list, "%s,%s", a, b);
    demo_opts o = {0};
    mhim_opt_args args;
    fails += check_true("two YAML files parse", parse(&o, &args, (const char *[]){"-c", list, NULL}) == MHIM_OK);
    fails += check_true("yaml a: ratio 0.25", o.ratio == 0.25);
    fails += check_true("yaml b wins over a: folds 7", o.folds == 7);
    fails += check_true("yaml null clears path", o.path == NULL);
    fails += check_true("files recorded", args.n_files == 2);
    mhim_opt_args_free(&args);

    /* flags beat YAML regardless of their position; "-c=FILE" is accepted like argparse does */
    char eq[1300];
    snprintf(eq, sizeof eq, "-c=%s", a);
    fails += check_true("flag before -c still wins",
                        parse(&o, &args, (const char *[]){"--folds=9", eq, NULL}) == MHIM_OK && o.folds == 9 &&
                            o.ratio == 0.25 && !strcmp(o.path, "/teacher"));
    const mhim_opt_setting *s = mhim_opt_args_find(&args, table, "folds");
    fails += check_true("last setting of folds is the flag", s && !strcmp(s->origin, "--folds"));
    fails += check_true("unset option has no setting", mhim_opt_args_find(&args, table, "sche") == NULL);
    mhim_opt_args_free(&args);
    fails += check_true("--config FILE form",
                        parse(&o, &args, (const char *[]){"--config", a, NULL}) == MHIM_OK && o.folds == 5);
    mhim_opt_args_free(&args);
    mhim_opts_free(table, n_table, &o);
    return fails;
}

static int test_errors(void) {
    int fails = 0;
    fails += expect_error("range", (const char *[]){"--ratio=1.5", NULL}, "--ratio=1.5: expected a number in [0, 1]", 0);
    fails += expect_error("not a number", (const char *[]){"--ratio=abc", NULL},
                          "--ratio=abc: expected a number in [0, 1]", 0);
    fails += expect_error("int minimum", (const char *[]){"--folds=1", NULL}, "--folds=1: expected an integer >= 2", 0);
    fails += expect_error("int syntax", (const char *[]){"--folds", "2.5", NULL},
                          "--folds=2.5: expected an integer >= 2", 0);
    fails += expect_error("choice", (const char *[]){"--sched=foo", NULL},
                          "--sched=foo: expected one of cosine|step|const", 0);
    fails += expect_error("bool value", (const char *[]){"--sche=maybe", NULL},
                          "--sche=maybe: expected true or false", 0);
    fails += expect_error("unknown + hint", (const char *[]){"--ratoi=0.1", NULL},
                          "unknown option --ratoi (did you mean --ratio?)", 0);
    fails += expect_error("unknown without hint", (const char *[]){"--zzzzzzzz", NULL},
                          "unknown option --zzzzzzzz", 1);
    fails += expect_error("abbreviation", (const char *[]){"--fol=3", NULL},
                          "--fol=3: abbreviated option names are not accepted; write --folds", 0);
    fails += expect_error("missing value", (const char *[]){"--folds", NULL}, "--folds: expected a value", 1);
    fails += expect_error("single dash", (const char *[]){"-x", NULL}, "unknown option '-x'", 1);
    fails += expect_error("missing file", (const char *[]){"-c", "/nonexistent/x.yaml", NULL},
                          "cannot read config file '/nonexistent/x.yaml'", 1);

    char p[1200], want[1400];
    write_file("unknown.yaml", "ratio: 0.1\n\nfodls: 4\n", p, sizeof p);
    snprintf(want, sizeof want, "%s:3: unknown option 'fodls' (did you mean folds?)", p);
    fails += expect_error("yaml unknown key", (const char *[]){"-c", p, NULL}, want, 0);

    write_file("syntax.yaml", "ratio: 0.1\n\nfolds: 4: 5\n", p, sizeof p);
    snprintf(want, sizeof want, "%s:3: YAML syntax error", p);
    fails += expect_error("yaml syntax error", (const char *[]){"-c", p, NULL}, want, 1);

    write_file("indent.yaml", "ratio: 0.1\nfolds: \"4\n", p, sizeof p);
    snprintf(want, sizeof want, "%s:3: YAML syntax error", p);
    fails += expect_error("yaml unterminated quote", (const char *[]){"-c", p, NULL}, want, 1);

    write_file("value.yaml", "folds: 1\n", p, sizeof p);
    snprintf(want, sizeof want, "%s:1: folds=1: expected an integer >= 2", p);
    fails += expect_error("yaml bad value", (const char *[]){"-c", p, NULL}, want, 0);

    /* null only where NULL is one of the option's values: a STRING defaulting to NULL, or one marked NULLABLE */
    write_file("null_title.yaml", "ratio: 0.1\ntitle: ~\n", p, sizeof p);
    snprintf(want, sizeof want,
             "%s:2: title: expected a value, got null (give one, or remove the setting to keep the default)", p);
    fails += expect_error("yaml null for a text option with a default", (const char *[]){"-c", p, NULL}, want, 0);
    write_file("null_folds.yaml", "folds:\n", p, sizeof p);
    fails += expect_error("yaml empty value for an integer", (const char *[]){"-c", p, NULL},
                          "folds: expected a value, got null", 1);
    write_file("null_init.yaml", "init: null\npath: ~\n", p, sizeof p);
    {
        demo_opts o = {0};
        mhim_opt_args args;
        int ok = parse(&o, &args, (const char *[]){"-c", p, NULL}) == MHIM_OK && !o.init && !o.path;
        fails += check_true("yaml null accepted by a NULLABLE option and a NULL-default one", ok);
        if (ok) mhim_opt_args_free(&args);
        mhim_opts_free(table, n_table, &o);
    }

    write_file("list.yaml", "folds:\n  - 1\n", p, sizeof p);
    snprintf(want, sizeof want, "%s:2: folds: expected a single value", p);
    fails += expect_error("yaml list value", (const char *[]){"-c", p, NULL}, want, 1);

    write_file("dup.yaml", "folds: 4\nfolds: 5\n", p, sizeof p);
    snprintf(want, sizeof want, "%s:2: option 'folds' is given twice", p);
    fails += expect_error("yaml duplicate key", (const char *[]){"-c", p, NULL}, want, 1);

    write_file("seq.yaml", "- folds\n", p, sizeof p);
    snprintf(want, sizeof want, "%s:1: expected a mapping", p);
    fails += expect_error("yaml not a mapping", (const char *[]){"-c", p, NULL}, want, 1);

    write_file("empty.yaml", "# nothing\n", p, sizeof p);
    demo_opts o = {0};
    mhim_opt_args args;
    fails += check_true("empty YAML file is accepted", parse(&o, &args, (const char *[]){"-c", p, NULL}) == MHIM_OK);
    mhim_opt_args_free(&args);
    mhim_opts_free(table, n_table, &o);
    return fails;
}

static int test_required_and_set(void) {
    typedef struct { char *out; int n; } req_opts;
    static const mhim_option req[] = {
        MHIM_OPTION_STRING(req_opts, out, NULL, MHIM_OPT_REQUIRED, "Output", "output folder"),
        MHIM_OPTION_INT(req_opts, n, "1", 1, 10, 0, "Output", "count"),
    };
    int fails = 0;
    req_opts o = {0};
    mhim_opt_args args;
    char *argv[] = {"req", NULL};
    int rc = mhim_opts_parse(req, 2, &o, 1, argv, &args);
    printf("required: rc=%d message='%s'\n", rc, mhim_error());
    fails += check_true("missing required option is an error",
                        rc == MHIM_EINPUT && strstr(mhim_error(), "missing required option --out"));
    char *argv2[] = {"req", "--out", "x", NULL};
    fails += check_true("required given", mhim_opts_parse(req, 2, &o, 3, argv2, &args) == MHIM_OK && !strcmp(o.out, "x"));
    fails += check_true("set by text", mhim_opts_set(req, 2, &o, "n", "7", NULL) == MHIM_OK && o.n == 7);
    fails += check_true("set out of range",
                        mhim_opts_set(req, 2, &o, "n", "11", NULL) == MHIM_EINPUT &&
                            !strcmp(mhim_error(), "--n=11: expected an integer in [1, 10]"));
    fails += check_true("set unknown", mhim_opts_set(req, 2, &o, "m", "1", NULL) == MHIM_EINPUT);
    fails += check_true("a required text option refuses null",
                        mhim_opts_set(req, 2, &o, "out", NULL, NULL) == MHIM_EINPUT && o.out && !strcmp(o.out, "x"));
    mhim_opt_args_free(&args);
    mhim_opts_free(req, 2, &o);
    return fails;
}

static int test_round_trip(void) {
    int fails = 0;
    demo_opts o = {0}, back = {0};
    mhim_opt_args args;
    const char *list[] = {"--ratio=0.1", "--folds=11", "--sche", "--stop", "--sched=const",
                          "--path=a: b #c \"q\"", "--title=null", NULL};
    fails += check_true("round trip source parses", parse(&o, &args, list) == MHIM_OK);
    mhim_opt_args_free(&args);
    char path[1200];
    snprintf(path, sizeof path, "%s/dump.yaml", tmpdir);
    FILE *f = fopen(path, "w");
    mhim_opts_print_yaml(f, table, n_table, &o, NULL, NULL);
    fclose(f);
    fails += check_true("dump reads back", parse(&back, &args, (const char *[]){"-c", path, NULL}) == MHIM_OK);
    if (mhim_error()[0]) printf("  message: %s\n", mhim_error());
    mhim_opt_args_free(&args);
    for (int i = 0; i < n_table; i++) {
        char *x = mhim_opts_value_text(&table[i], &o), *y = mhim_opts_value_text(&table[i], &back);
        int same = (!x && !y) || (x && y && !strcmp(x, y));
        printf("%s round trip %s: '%s' -> '%s'\n", same ? "ok  " : "FAIL", table[i].name, x ? x : "(null)",
               y ? y : "(null)");
        fails += !same;
        free(x);
        free(y);
    }
    mhim_opts_free(table, n_table, &o);
    mhim_opts_free(table, n_table, &back);
    return fails;
}

static int test_bytes_and_help(void) {
    int fails = 0;
    struct { const char *text; int64_t want; } good[] = {
        {"0", 0}, {"512", 512}, {"512K", 512 << 10}, {"8M", 8 << 20}, {"8G", (int64_t)8 << 30},
        {"1T", (int64_t)1 << 40}, {"2GiB", (int64_t)2 << 30}, {"3mb", 3 << 20},
    };
    for (size_t i = 0; i < MHIM_ARRAY_LEN(good); i++) {
        int64_t v = -1;
        int rc = mhim_parse_bytes(good[i].text, &v);
        char name[64];
        snprintf(name, sizeof name, "bytes %s", good[i].text);
        fails += check_true(name, rc == MHIM_OK && v == good[i].want);
    }
    const char *bad[] = {"", "-1", "8X", "G", "1.5G", "99999999999999999999", "9000000000T"};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(bad); i++) {
        int64_t v;
        char name[64];
        snprintf(name, sizeof name, "bytes '%s' rejected", bad[i]);
        fails += check_true(name, mhim_parse_bytes(bad[i], &v) == MHIM_EINPUT);
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/help.txt", tmpdir);
    FILE *f = fopen(path, "w+");
    mhim_opts_help_style style = {.usage = "usage: demo", .alt = (mhim_opt_default[]){{"folds", "5"}}, .n_alt = 1,
                                  .alt_label = "v2"};
    mhim_opts_print_help(f, table, n_table, &style);
    rewind(f);
    char text[8192] = {0};
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);
    fails += check_true("help has groups", strstr(text, "\nMasking:\n") && strstr(text, "\nTraining:\n"));
    fails += check_true("help shows switch syntax", strstr(text, "--sche[=BOOL]") != NULL);
    fails += check_true("help shows choices", strstr(text, "--sched={cosine|step|const}") != NULL);
    fails += check_true("help shows default and alt default", strstr(text, "(default: 3; v2: 5)") != NULL);
    fails += check_true("help explains store_false", strstr(text, "the bare flag sets false") != NULL);
    return fails;
}

int main(void) {
    const char *base = getenv("MHIM_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/options", base ? base : "/tmp");
    mkdir(base ? base : "/tmp", 0755);
    mkdir(tmpdir, 0755);
    int fails = 0;
    fails += test_defaults_and_flag_forms();
    fails += test_layers();
    fails += test_errors();
    fails += test_required_and_set();
    fails += test_round_trip();
    fails += test_bytes_and_help();
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
