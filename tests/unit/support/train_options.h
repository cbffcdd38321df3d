/* tests/unit/support/train_options.h — a training configuration from one option string, as on the command line. */
#ifndef MHIM_TEST_TRAIN_OPTIONS_H
#define MHIM_TEST_TRAIN_OPTIONS_H

#include "mhim/config.h"

/* Parse `mhim train <options>` (options separated by single spaces, at most 31) into cfg. Returns 0, or prints a
 * FAIL line with the parser's message and returns 1 (cfg is then not to be freed). */
int test_parse_train(mhim_config *cfg, const char *options);

#endif
