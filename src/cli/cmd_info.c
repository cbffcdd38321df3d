/* Placeholder entry point, replaced by the real command. */
#include "cli/commands.h"
#include "mhim/common.h"
int mhim_cmd_info(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return mhim_cli_report(mhim_fail("'info' is not built yet"));
}
