/* dist/dist_internal.h — pieces of `mhim train` as a distributed service (mhim/dist.h). */
#ifndef MHIM_DIST_INTERNAL_H
#define MHIM_DIST_INTERNAL_H

#include <stdint.h>

#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/dist.h"

/* The configuration of point p: argv re-parsed with --key=value of the point appended (so they win), checked for
 * training; run_dir = run_dir/<point name>; sweep cleared. Without a sweep (n_points 0) argv as is. */
int dist_point_config(int argc, char **argv, const mhim_sweep *sw, int64_t p, const char *run_dir, mhim_config *out);
/* mkdir that accepts an existing folder; MHIM_EINPUT naming the path otherwise. */
int dist_make_dir(const char *path);
/* <model_path|output_path>/project and the run folder (the base folder must exist). */
int dist_make_run_dir(const mhim_config *cfg);
/* run_dir/<point name>/ and its sweep_point.tsv ("point<TAB>keys..." then "<p><TAB>values..."). */
int dist_make_point_dir(const mhim_sweep *sw, int64_t p, const char *run_dir);
/* train.log and metrics.jsonl of dir from the per-unit files of folds [first, end), in fold order. */
int dist_merge_unit_logs(const char *dir, int first, int end);

#endif
