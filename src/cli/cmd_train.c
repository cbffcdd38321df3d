/* `mhim train [-c FILE] [--option=value ...]` — train MIL / MHIM models with cross-validation.
 * Parses and validates the whole configuration (original option names), echoes it as YAML on
 * stdout, then stops: the training engine is not part of this build yet (exit 1). */
#include <stdio.h>

#include "cli/commands.h"
#include "mhim/common.h"
#include "mhim/config.h"

int mhim_cmd_train(int argc, char **argv) {
    mhim_config cfg;
    bool help;
    int rc = mhim_config_from_command(&cfg, argc, argv, true, &help);
    if (rc != MHIM_OK) return mhim_cli_report(rc);
    if (help) return 0;
    mhim_config_print_yaml(stdout, &cfg);
    fflush(stdout);
    mhim_config_free(&cfg);
    return mhim_cli_report(mhim_fail_code(MHIM_EINTERNAL, "configuration is valid, but the training engine is "
                                                          "not part of this build yet"));
}
