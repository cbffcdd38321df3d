/* `mhim train [-c FILE] [--option=value ...]` — train MIL / MHIM models with
 * cross-validation (original option names; docs/training.md). The resolved configuration goes to
 * <run_dir>/config.yaml; progress lines to stdout; results to <run_dir>/results.csv. */

#include "cli/commands.h"
#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/engine.h"

int mhim_cmd_train(int argc, char **argv) {
    mhim_config cfg;
    bool help;
    int rc = mhim_config_from_command(&cfg, argc, argv, true, &help);
    if (rc != MHIM_OK) return mhim_cli_report(rc);
    if (help) return 0;
    mhim_engine_options eo = {cfg.standardize, cfg.quiet};
    mhim_train_summary sum;
    rc = mhim_train_run(&cfg, &eo, &sum);
    mhim_config_free(&cfg);
    if (rc != MHIM_OK) return mhim_cli_report(rc);
    mhim_train_summary_free(&sum);
    return 0;
}
