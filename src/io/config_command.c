/* Shared front end of the commands that take the training configuration (see mhim/config.h). */
#include <stdio.h>

#include "mhim/common.h"
#include "mhim/config.h"

int mhim_config_from_command(mhim_config *cfg, int argc, char **argv, bool check_training, bool *help_shown) {
    mhim_opt_args args;
    *help_shown = false;
    int rc = mhim_config_parse(cfg, argc, argv, &args);
    if (rc != MHIM_OK) return rc;
    if (args.help) {
        mhim_config_print_help(stdout, argc > 0 ? argv[0] : "train");
        *help_shown = true;
        mhim_config_free(cfg);
    } else if (args.n_positional > 0) {
        rc = mhim_fail("unexpected argument '%s': mhim %s takes only options (--name=value, -c FILE)",
                       args.positional[0], argc > 0 ? argv[0] : "train");
    } else if (check_training) {
        rc = mhim_config_check_training(cfg);
    }
    mhim_opt_args_free(&args);
    if (rc != MHIM_OK) mhim_config_free(cfg);
    return rc;
}
