/* `mhim train [-c FILE] [--option=value ...] [--standardize] [--quiet]` — train MIL / MHIM models with
 * cross-validation (original option names; docs/training.md). The resolved configuration goes to
 * <run_dir>/config.yaml; progress lines to stdout; results to <run_dir>/results.csv. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/engine.h"

/* Take the engine-only switches out of argv (the rest, argv[0] included, goes to the option parser). */
static int take_engine_flags(int argc, char **argv, mhim_engine_options *o, char **rest) {
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && !strcmp(argv[i], "--standardize"))
            o->standardize = true;
        else if (i > 0 && !strcmp(argv[i], "--quiet"))
            o->quiet = true;
        else
            rest[n++] = argv[i];
    }
    return n;
}

int mhim_cmd_train(int argc, char **argv) {
    mhim_engine_options eo = {false, false};
    char **rest = mhim_malloc((size_t)(argc + 1) * sizeof *rest);
    int n = take_engine_flags(argc, argv, &eo, rest);
    rest[n] = NULL;
    mhim_config cfg;
    bool help;
    int rc = mhim_config_from_command(&cfg, n, rest, true, &help);
    free(rest);
    if (rc != MHIM_OK) return mhim_cli_report(rc);
    if (help) {
        printf("\nEngine switches:\n"
               "  --standardize                   z-score features with each fold's training-bag statistics\n"
               "  --quiet                         no progress lines on stdout (train.log keeps them)\n");
        return 0;
    }
    mhim_train_summary sum;
    rc = mhim_train_run(&cfg, &eo, &sum);
    mhim_config_free(&cfg);
    if (rc != MHIM_OK) return mhim_cli_report(rc);
    mhim_train_summary_free(&sum);
    return 0;
}
