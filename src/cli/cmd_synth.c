/* Placeholder entry point, replaced by the real command. */
#include "cli/commands.h"
#include "mhim/common.h"
int mhim_cmd_synth(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return mhim_cli_report(mhim_fail("'synth' is not built yet"));
}
