/* `mhim config [-c FILE] [--option=value ...]` — print the fully resolved training configuration as
 * YAML (readable again with `mhim train -c`). A configuration that `mhim train` would refuse is still
 * printed, with the reason as a warning on stderr. */
#include <stdio.h>

#include "cli/commands.h"
#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/log.h"

int mhim_cmd_config(int argc, char **argv) {
    mhim_config cfg;
    bool help;
    int rc = mhim_config_from_command(&cfg, argc, argv, false, &help);
    if (rc != MHIM_OK) return mhim_cli_report(rc);
    if (help) return 0;
    mhim_config_print_yaml(stdout, &cfg);
    fflush(stdout);
    if (mhim_config_check_training(&cfg) != MHIM_OK)
        MHIM_WARN("mhim train would refuse this configuration: %s", mhim_error());
    mhim_config_free(&cfg);
    return 0;
}
