/* mhim info FILE... — describe .h5 feature files and .pt tensors/checkpoints. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "io/h5_describe.h"
#include "io/pt_describe.h"
#include "mhim/bagfile.h"
#include "mhim/common.h"

static void usage(FILE *out) {
    fputs("usage: mhim info FILE...\n"
          "\n"
          "Describe feature-bag and checkpoint files:\n"
          "  .h5/.hdf5  every dataset (shape, dtype, chunk shape, compression filters, NaN/Inf count of float\n"
          "             data) and attribute (numbers, strings, small arrays)\n"
          "  .pt/.pth   torch.save archives: every entry (dotted name, dtype, shape, NaN/Inf count of float\n"
          "             tensors; other values as name = value)\n"
          "\n"
          "A file that cannot be read gets one error line on stderr; the exit status is then 2.\n",
          out);
}

int mhim_cmd_info(int argc, char **argv) {
    int files = 0, status = 0;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help")) {
            usage(stdout);
            return 0;
        }
        if (argv[k][0] == '-' && argv[k][1] && strcmp(argv[k], "--"))
            return mhim_cli_report(mhim_fail("info: unknown option '%s' (usage: mhim info FILE...)", argv[k]));
    }
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "--")) continue;
        files++;
        mhim_bag_format format;
        int rc = mhim_bag_format_of(argv[k], &format);
        if (!rc) rc = format == MHIM_BAG_H5 ? h5_describe(argv[k], stdout) : pt_describe(argv[k], stdout);
        fflush(stdout);
        if (rc) status = mhim_cli_report(rc);
    }
    if (!files) return mhim_cli_report(mhim_fail("info: no files given (usage: mhim info FILE...)"));
    return status;
}
