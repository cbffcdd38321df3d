/* `mhim train [-c FILE] [--option=value ...]` — train MIL / MHIM models with
 * cross-validation (original option names; docs/training.md). The resolved configuration goes to
 * <run_dir>/config.yaml; progress lines to stdout; results to <run_dir>/results.csv. Sweeps and MPI launches
 * (mpirun/srun) go through the distributed service (docs/distributed.md). */

#include "cli/commands.h"
#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/dist.h"
#include "mhim/engine.h"

int mhim_cmd_train(int argc, char **argv) {
    mhim_config cfg;
    bool help;
    int rc = mhim_config_from_command(&cfg, argc, argv, true, &help);
    if (rc != MHIM_OK) return mhim_cli_report(rc);
    if (help) return 0;
    mhim_engine_options eo = {.standardize = cfg.standardize, .quiet = cfg.quiet};
    rc = mhim_dist_train(&cfg, &eo, argc, argv);
    mhim_config_free(&cfg);
    return mhim_cli_report(rc);
}
