/* `mhim sweep-summary RUN_DIR` — RUN_DIR/sweep_results.csv from the point folders of a sweep (one row per
 * finished point, sorted by mean AUC) and a one-screen table (docs/distributed.md). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "mhim/common.h"
#include "mhim/dist.h"

int mhim_cmd_sweep_summary(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: mhim sweep-summary RUN_DIR\n"
               "  reads RUN_DIR/*/results.csv and sweep_point.tsv of every sweep point and writes\n"
               "  RUN_DIR/sweep_results.csv: point, option values, <metric>_mean and <metric>_std of every metric,\n"
               "  sorted by mean AUC (descending; ties by point index); prints the best points.\n");
        return 0;
    }
    if (argc != 2) {
        mhim_fail("mhim sweep-summary: expected one argument, the sweep run folder (model_path/project/title)");
        return mhim_cli_report(MHIM_EINPUT);
    }
    return mhim_cli_report(mhim_sweep_summary(argv[1], stdout));
}
