/* src/core/options_internal.h — helpers shared by the option engine's source files
 * (options.c values, options_argv.c flags, options_yaml.c files, options_print.c output). */
#ifndef MHIM_OPTIONS_INTERNAL_H
#define MHIM_OPTIONS_INTERNAL_H

#include "mhim/options.h"

/* Check `text` against opt (type, range, choice) and, if dst is not NULL, store it into the
 * struct at dst (freeing a previous string). origin names the source in messages ("--lr" or
 * "a.yaml:3: lr"); the message reads "<origin>=<text>: expected ...". text NULL = YAML null. */
int mhim_opt_store_(const mhim_option *opt, const char *text, const char *origin, void *dst);
/* Row index of `name` (exact match), or -1. */
int mhim_opt_index_(const mhim_option *table, int n, const char *name);
/* The option name closest to `name` (edit distance, or unique prefix), or NULL if none is close. */
const char *mhim_opt_suggest_(const mhim_option *table, int n, const char *name);
/* Append a setting (copies value and origin). */
void mhim_opt_args_push_(mhim_opt_args *args, int index, const char *value, const char *origin);
/* Append every key of the YAML file at path to args (checked). MHIM_EINPUT with file:line. */
int mhim_opt_read_yaml_(const mhim_option *table, int n, const char *path, mhim_opt_args *args);

#endif
