/* mhim synth — write a synthetic CLAM-layout cohort (h5_files/<slide>.h5, label.csv); docs/synthetic.md. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "mhim/common.h"
#include "mhim/options.h"
#include "mhim/synth.h"

typedef struct {
    char *out;
    int n_slides;
    double mean_instances;
    double instances_sigma;
    int min_instances;
    int max_instances;
    int feature_dim;
    double positive_fraction;
    double min_signal_fraction;
    double max_signal_fraction;
    double signal_strength;
    int seed;
    int survival;
} synth_settings;

#define T synth_settings
static const mhim_option synth_table[] = {
    MHIM_OPTION_STRING(T, out, NULL, MHIM_OPT_REQUIRED, "Output", "cohort folder to create (h5_files/, label.csv)"),
    MHIM_OPTION_INT(T, n_slides, "60", 1, 999999, 0, "Cohort", "slides (270 ~ CAMELYON16 size)"),
    MHIM_OPTION_DOUBLE(T, positive_fraction, "0.4", 0, 1, 0, "Cohort", "share of tumour (label 1) slides"),
    MHIM_OPTION_INT(T, seed, "1", 0, 2147483647, 0, "Cohort", "seed: equal seeds give byte-identical files"),
    MHIM_OPTION_INT(T, survival, "0", 0, 999999, 0, "Cohort",
                    "0 = classification; K >= 1 = survival cohort of cases with K slides each (v2 label CSV)"),
    MHIM_OPTION_DOUBLE(T, mean_instances, "9000", 1, 1e7, 0, "Bag size",
                       "mean instances per slide (log-normal, before clipping)"),
    MHIM_OPTION_DOUBLE(T, instances_sigma, "0.5", 0, 3, 0, "Bag size", "sigma of log(instances): the heavy tail"),
    MHIM_OPTION_INT(T, min_instances, "1000", 1, 10000000, 0, "Bag size", "smallest slide (clip)"),
    MHIM_OPTION_INT(T, max_instances, "30000", 1, 10000000, 0, "Bag size", "largest slide (clip)"),
    MHIM_OPTION_INT(T, feature_dim, "1024", 1, 65536, 0, "Features", "feature width D (1024 = ResNet-50 layer3)"),
    MHIM_OPTION_DOUBLE(T, min_signal_fraction, "0.01", 0, 1, MHIM_OPT_MIN_OPEN, "Signal",
                       "smallest tumour share of a positive slide's instances (log-uniform)"),
    MHIM_OPTION_DOUBLE(T, max_signal_fraction, "0.10", 0, 1, MHIM_OPT_MIN_OPEN, "Signal",
                       "largest tumour share of a positive slide's instances"),
    MHIM_OPTION_DOUBLE(T, signal_strength, "1.0", 0, 100, 0, "Signal",
                       "shift of the easiest tumour instance along the signal direction (pre-activation SDs)"),
};
#undef T
#define N_OPTIONS ((int)MHIM_ARRAY_LEN(synth_table))

static void print_summary(const char *dir, const mhim_synth_summary *s) {
    printf("synth: wrote %lld slides (%lld positive, %lld negative) to %s\n", (long long)s->n_slides,
           (long long)s->n_positive, (long long)(s->n_slides - s->n_positive), dir);
    printf("  instances per slide: mean %.0f, min %lld, max %lld (total %lld)\n",
           (double)s->instances_total / (double)s->n_slides, (long long)s->instances_min,
           (long long)s->instances_max, (long long)s->instances_total);
    double gb = (double)s->bytes_written / 1e9;
    printf("  written: %.4g %s in %.2f s (%.2f GB/s)\n", gb >= 1 ? gb : gb * 1e3, gb >= 1 ? "GB" : "MB", s->seconds,
           s->seconds > 0 ? gb / s->seconds : 0.0);
}

/* DIR/synth.yaml: the resolved options (mhim synth -c DIR/synth.yaml --out NEW regenerates the cohort). */
static int write_settings(const synth_settings *st) {
    char *path = mhim_asprintf("%s/synth.yaml", st->out);
    FILE *f = fopen(path, "w");
    int rc = f ? MHIM_OK : mhim_fail("cannot write %s", path);
    if (f) {
        mhim_opts_print_yaml(f, synth_table, N_OPTIONS, st, NULL, NULL);
        if (fclose(f) != 0) rc = mhim_fail("cannot write %s (disk full?)", path);
    }
    free(path);
    return rc;
}

static void print_help(void) {
    mhim_opts_print_help(stdout, synth_table, N_OPTIONS,
                         &(mhim_opts_help_style){.usage = "usage: mhim synth --out DIR [options]\n\n"
                                                          "Write a synthetic cohort in the CLAM layout: "
                                                          "DIR/h5_files/<slide>.h5 (features, coords) and "
                                                          "DIR/label.csv (slide_id,label).\n",
                                                 .epilog = "The generator is described in docs/synthetic.md.\n"});
}

/* Generate the cohort described by st and print the summary. */
static int run_synth(const synth_settings *st) {
    mhim_synth_options o = {.n_slides = st->n_slides,
                            .mean_instances = st->mean_instances,
                            .instances_sigma = st->instances_sigma,
                            .min_instances = st->min_instances,
                            .max_instances = st->max_instances,
                            .feature_dim = st->feature_dim,
                            .positive_fraction = st->positive_fraction,
                            .min_signal_fraction = st->min_signal_fraction,
                            .max_signal_fraction = st->max_signal_fraction,
                            .signal_strength = st->signal_strength,
                            .seed = (uint64_t)st->seed};
    mhim_synth_summary summary;
    int rc = st->survival ? mhim_synth_survival_cohort(st->out, &o, st->survival, &summary)
                          : mhim_synth_cohort(st->out, &o, &summary);
    if (rc == MHIM_OK) rc = write_settings(st);
    if (rc == MHIM_OK) print_summary(st->out, &summary);
    return rc;
}

int mhim_cmd_synth(int argc, char **argv) {
    mhim_opt_args args;
    int rc = mhim_opts_collect(synth_table, N_OPTIONS, argc, argv, &args);
    if (rc != MHIM_OK) return mhim_cli_report(rc);
    synth_settings st = {0};
    mhim_opts_set_defaults(synth_table, N_OPTIONS, &st, NULL, 0);
    if (args.help)
        print_help();
    else if (args.n_positional > 0)
        rc = mhim_fail("synth takes no positional arguments (got '%s'); use --out DIR", args.positional[0]);
    else if ((rc = mhim_opts_apply(synth_table, N_OPTIONS, &st, &args)) == MHIM_OK)
        rc = run_synth(&st);
    mhim_opts_free(synth_table, N_OPTIONS, &st);
    mhim_opt_args_free(&args);
    return mhim_cli_report(rc);
}
