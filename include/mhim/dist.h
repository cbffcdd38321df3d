/* mhim/dist.h — the distributed training service (docs/distributed.md): sweeps of option grids, MPI work units
 * (point x fold) over groups of ranks, data-parallel groups, and the sweep summary.
 *
 * Sweep: a top-level `sweep:` mapping of option name -> list of values in a -c YAML file, or --sweep FILE.tsv
 * (header row = option names, one point per row). Points are the cartesian product in key order, last key
 * varying fastest (TSV: row order), indexed from 0. Point folder: `<key>=<value>` joined by `_` in key order,
 * values as given, under the run folder; it holds the normal outputs of a run plus sweep_point.tsv (its index and
 * values) and, at the end, the run folder gets sweep_results.csv. */
#ifndef MHIM_DIST_H
#define MHIM_DIST_H

#include <stdint.h>
#include <stdio.h>

#include "mhim/config.h"
#include "mhim/engine.h"

typedef struct {
    int n_keys;
    char **keys;      /* [n_keys] option names, in key order */
    int64_t n_points; /* 0 = no sweep */
    char **values;    /* [n_points * n_keys] value texts as given, point-major */
} mhim_sweep;

/* The sweep of a `mhim train` command line (argv as given to the command; cfg its parsed configuration):
 * cfg->sweep (TSV) or the last `sweep:` block of the -c YAML files; both at once is an error. No sweep gives
 * n_points = 0. MHIM_EINPUT with one message (file:line, what was expected). Free with mhim_sweep_free. */
int mhim_sweep_load(const mhim_config *cfg, int argc, char **argv, mhim_sweep *out);
/* Parse a TSV grid file (header = option names). */
int mhim_sweep_read_tsv(const char *path, mhim_sweep *out);
/* Parse the `sweep:` mapping of one YAML file; n_points = 0 when the file has none. */
int mhim_sweep_read_yaml(const char *path, mhim_sweep *out);
/* Folder name of point p: "k1=v1_k2=v2" (heap string). */
char *mhim_sweep_point_name(const mhim_sweep *s, int64_t p);
void mhim_sweep_free(mhim_sweep *s);

/* `mhim train` end to end: a plain run (no MPI launcher, no sweep: exactly mhim_train_run), a single-process
 * sweep (every point, or cfg->sweep_point, one after the other, with the usual file names), or under
 * mpirun/srun the distributed run: units (point, fold) assigned statically to groups of cfg->group_size ranks
 * (unit u -> group u % n_groups), data-parallel inside a group, world rank 0 writing every point's results.csv
 * and sweep_results.csv. An error on any rank ends the whole job (exit status 2) with that rank's message.
 * Returns MHIM_OK or an error (single process). */
int mhim_dist_train(const mhim_config *cfg, const mhim_engine_options *eo, int argc, char **argv);

/* Read run_dir/<point>/results.csv and sweep_point.tsv of every point folder, write run_dir/sweep_results.csv
 * atomically (one row per finished point: index, option values, mean and std of every metric; sorted by mean
 * AUC descending, ties by point index) and print a one-screen table to table (may be NULL). Unfinished points
 * are listed as such and left out. MHIM_EINPUT when no point has finished or the points disagree on the keys. */
int mhim_sweep_summary(const char *run_dir, FILE *table);

#endif
