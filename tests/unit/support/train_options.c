/* A training configuration from one option string (see train_options.h). */
#include "train_options.h"

#include <stdio.h>
#include <string.h>

#include "mhim/common.h"

int test_parse_train(mhim_config *cfg, const char *options) {
    char line[1024];
    snprintf(line, sizeof line, "train %s", options);
    char *argv[32], *save = NULL;
    int argc = 0;
    for (char *t = strtok_r(line, " ", &save); t && argc < 32; t = strtok_r(NULL, " ", &save)) argv[argc++] = t;
    mhim_opt_args args;
    if (mhim_config_parse(cfg, argc, argv, &args) != MHIM_OK) {
        printf("FAIL parse '%s': %s\n", options, mhim_error());
        return 1;
    }
    mhim_opt_args_free(&args);
    return 0;
}
