/* mhim — command dispatcher: `mhim <command> [options]`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "mhim/common.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", mhim_cmd_train, "train MIL / MHIM models with cross-validation (original option names)"},
    {"predict", mhim_cmd_predict, "score bags with a trained checkpoint"},
    {"config", mhim_cmd_config, "print the fully resolved configuration (defaults < YAML < flags)"},
    {"splits", mhim_cmd_splits, "print the cross-validation fold assignment of a label CSV"},
    {"synth", mhim_cmd_synth, "generate a synthetic CLAM-layout cohort (h5 bags + label CSV)"},
    {"info", mhim_cmd_info, "describe an .h5 / .pt feature or checkpoint file"},
    {"sweep-summary", mhim_cmd_sweep_summary, "sweep_results.csv and a table from the point folders of a sweep"},
};

int mhim_cli_report(int status) {
    if (status != 0) fprintf(stderr, "mhim: error: %s\n", mhim_error());
    return status;
}

static void usage(FILE *out) {
    fprintf(out, "usage: mhim <command> [options]   (mhim <command> --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < MHIM_ARRAY_LEN(commands); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nmhim %s — masked hard instance mining (MHIM-MIL v1/v2) for whole-slide images\n",
            MHIM_VERSION);
}

/* Both thread pools read their idle policy once, when they start (before main), so when the user has not chosen
 * one the process re-executes itself once with these values (if the re-exec fails it simply continues):
 * - OMP_WAIT_POLICY=passive: with the default policy idle OpenMP workers spin while OpenBLAS runs a GEMM on the
 *   same cores (measured: 44 ms passive vs 51-87 ms otherwise for a 8000x1024x512 GEMM);
 * - OPENBLAS_THREAD_TIMEOUT=4 (2^4 cycles, OpenBLAS's minimum): idle OpenBLAS workers go to sleep at once
 *   instead of calling sched_yield for ~2^28 cycles while our OpenMP loops run between GEMMs (measured: training
 *   steps 5-12% faster; docs/numerics.md). */
static void ensure_idle_policies(char **argv) {
    int changed = 0;
    if (!getenv("OMP_WAIT_POLICY")) changed += !setenv("OMP_WAIT_POLICY", "passive", 1);
    if (!getenv("OPENBLAS_THREAD_TIMEOUT")) changed += !setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
    if (changed) execv("/proc/self/exe", argv);
}

int main(int argc, char **argv) {
    ensure_idle_policies(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("mhim %s\n", MHIM_VERSION);
        return 0;
    }
    for (size_t i = 0; i < MHIM_ARRAY_LEN(commands); i++)
        if (!strcmp(name, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mhim: error: unknown command '%s' (commands: train, predict, config, splits, synth, info; "
                    "see mhim --help)\n", name);
    return 2;
}
