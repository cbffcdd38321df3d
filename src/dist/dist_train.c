/* `mhim train` as a service (mhim/dist.h): plain runs, single-process sweeps and MPI runs of (point, fold) units. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/allreduce.h"
#include "dist/dist_internal.h"
#include "dist/world.h"
#include "mhim/log.h"

#define SCORE_DOUBLES ((int)(sizeof(mhim_eval_scores) / sizeof(double)))
/* Per unit in the end-of-run reduction: done, interrupted, mhim columns, student scores, teacher scores. */
#define UNIT_RECORD (3 + 2 * SCORE_DOUBLES)

/* Every selected point one after the other in this process, with the usual file names. */
static int local_sweep(const mhim_config *cfg, const mhim_engine_options *eo, int argc, char **argv,
                       const mhim_sweep *sw) {
    int rc = dist_make_run_dir(cfg);
    for (int64_t p = 0; p < sw->n_points && rc == MHIM_OK; p++) {
        if (cfg->sweep_point >= 0 && p != cfg->sweep_point) continue;
        mhim_config pc;
        rc = dist_make_point_dir(sw, p, cfg->run_dir);
        if (rc == MHIM_OK) rc = dist_point_config(argc, argv, sw, p, cfg->run_dir, &pc);
        if (rc != MHIM_OK) break;
        MHIM_INFO("sweep point %lld/%lld: %s", (long long)p + 1, (long long)sw->n_points, pc.run_dir);
        mhim_train_summary sum;
        rc = mhim_train_run(&pc, eo, &sum);
        int stopped = rc == MHIM_OK && sum.interrupted;
        if (rc == MHIM_OK) mhim_train_summary_free(&sum);
        mhim_config_free(&pc);
        if (stopped) return MHIM_OK;
    }
    if (rc == MHIM_OK && cfg->sweep_point < 0) rc = mhim_sweep_summary(cfg->run_dir, stdout);
    return rc;
}

static void print_fold_table(const mhim_train_summary *s) {
    printf("%-6s %9s %7s %10s %7s %7s\n", "fold", "accuracy", "auc", "precision", "recall", "fscore");
    for (int k = 0; k < s->n_folds; k++) {
        const mhim_eval_scores *t = &s->student[k];
        printf("%-6d %9.4f %7.4f %10.4f %7.4f %7.4f\n", s->first_fold + k, t->acc, t->auc, t->prec, t->rec, t->f1);
    }
    printf("%-6s %9.4f %7.4f %10.4f %7.4f %7.4f\n", "mean", s->mean.acc, s->mean.auc, s->mean.prec, s->mean.rec,
           s->mean.f1);
    printf("%-6s %9.4f %7.4f %10.4f %7.4f %7.4f\n", "std", s->std.acc, s->std.auc, s->std.prec, s->std.rec, s->std.f1);
    fflush(stdout);
}

/* World rank 0: results.csv (and merged logs) of every point whose folds all finished; the sweep summary. */
static int write_outputs(const mhim_config *cfg, const mhim_sweep *sw, const int64_t *points, int64_t n_points,
                         int n_folds, const double *rec) {
    int rc = MHIM_OK, all = 1;
    for (int64_t i = 0; i < n_points && rc == MHIM_OK; i++) {
        const double *r0 = rec + i * n_folds * UNIT_RECORD;
        int done = 1;
        for (int k = 0; k < n_folds; k++) done &= r0[k * UNIT_RECORD] > 0.5 && r0[k * UNIT_RECORD + 1] < 0.5;
        char *name = sw->n_points ? mhim_sweep_point_name(sw, points[i]) : NULL;
        char *dir = name ? mhim_asprintf("%s/%s", cfg->run_dir, name) : mhim_strdup(cfg->run_dir);
        rc = dist_merge_unit_logs(dir, cfg->fold_start, cfg->fold_start + n_folds);
        if (rc == MHIM_OK && done) {
            mhim_train_summary s = {.n_folds = n_folds, .first_fold = cfg->fold_start};
            s.student = mhim_calloc((size_t)n_folds, sizeof *s.student);
            s.teacher = mhim_calloc((size_t)n_folds, sizeof *s.teacher);
            for (int k = 0; k < n_folds; k++) {
                memcpy(&s.student[k], r0 + k * UNIT_RECORD + 3, sizeof(mhim_eval_scores));
                memcpy(&s.teacher[k], r0 + k * UNIT_RECORD + 3 + SCORE_DOUBLES, sizeof(mhim_eval_scores));
            }
            rc = mhim_train_write_results(dir, &s, r0[2] > 0.5, cfg);
            if (rc == MHIM_OK && !sw->n_points) print_fold_table(&s);
            mhim_train_summary_free(&s);
        } else if (rc == MHIM_OK) {
            all = 0;
            printf("%s: not every fold finished (stopped); rerun with --resume to complete it\n", dir);
        }
        free(name);
        free(dir);
    }
    if (rc == MHIM_OK && sw->n_points && cfg->sweep_point < 0 && all) rc = mhim_sweep_summary(cfg->run_dir, stdout);
    return rc;
}

/* --threads=0 under MPI: the cores of the node shared by its ranks, unless SLURM_CPUS_PER_TASK or
 * OMP_NUM_THREADS says otherwise (mhim_config_threads). */
static void threads_per_rank(mhim_config *pc, const mhim_world *w) {
    if (pc->threads > 0 || getenv("SLURM_CPUS_PER_TASK") || getenv("OMP_NUM_THREADS")) return;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    pc->threads = (int)MHIM_MAX(1, cores / MHIM_MAX(w->local_size, 1));
}

/* The MPI run: units (point, fold), unit u -> group u % n_groups. Errors end the job (mhim_world_abort). */
static int mpi_run(const mhim_config *cfg, const mhim_engine_options *eo, int argc, char **argv,
                   const mhim_sweep *sw) {
    mhim_world w;
    if (mhim_world_init(&w, cfg->group_size) != MHIM_OK) mhim_world_abort(&w, 2);
    int64_t n_points = sw->n_points ? (cfg->sweep_point >= 0 ? 1 : sw->n_points) : 1;
    int64_t *points = mhim_malloc((size_t)n_points * sizeof *points);
    for (int64_t i = 0; i < n_points; i++) points[i] = cfg->sweep_point >= 0 ? cfg->sweep_point : i;
    const int n_folds = cfg->cv_fold - cfg->fold_start;
    const int64_t n_units = n_points * n_folds;
    int rc = MHIM_OK;
    if (w.rank == 0) { /* folders first, so that no two ranks create the same one */
        rc = dist_make_run_dir(cfg);
        for (int64_t i = 0; i < n_points && rc == MHIM_OK && sw->n_points; i++)
            rc = dist_make_point_dir(sw, points[i], cfg->run_dir);
        if (rc != MHIM_OK) mhim_world_abort(&w, 2);
        MHIM_INFO("%d ranks in %d group(s) of %d: %lld units (%lld point(s) x %d folds), unit u -> group u %% %d",
                  w.size, w.n_groups, w.group_size, (long long)n_units, (long long)n_points, n_folds, w.n_groups);
    }
    mhim_world_barrier(&w);
    mhim_dp_ops dp;
    mhim_allreduce_mpi_ops(&w, &dp);
    double *rec = mhim_calloc((size_t)MHIM_MAX(n_units * UNIT_RECORD, 1), sizeof *rec);
    for (int64_t u = w.group; u < n_units; u += w.n_groups) {
        const int64_t p = points[u / n_folds];
        const int fold = cfg->fold_start + (int)(u % n_folds);
        mhim_config pc;
        if (dist_point_config(argc, argv, sw, p, cfg->run_dir, &pc) != MHIM_OK) mhim_world_abort(&w, 2);
        threads_per_rank(&pc, &w);
        mhim_engine_options ueo = *eo;
        ueo.unit = true;
        ueo.unit_fold = fold;
        ueo.dp = w.group_size > 1 ? &dp : NULL;
        mhim_train_summary sum;
        if (mhim_train_run(&pc, &ueo, &sum) != MHIM_OK) mhim_world_abort(&w, 2);
        if (w.group_rank == 0) {
            double *r = rec + u * UNIT_RECORD;
            r[0] = 1.0;
            r[1] = sum.interrupted;
            r[2] = !strcmp(pc.model, "mhim");
            memcpy(r + 3, &sum.student[0], sizeof(mhim_eval_scores));
            memcpy(r + 3 + SCORE_DOUBLES, &sum.teacher[0], sizeof(mhim_eval_scores));
        }
        int stopped = sum.interrupted;
        mhim_train_summary_free(&sum);
        mhim_config_free(&pc);
        if (stopped) break;
    }
    if (mhim_world_reduce_f64(&w, rec, n_units * UNIT_RECORD) != MHIM_OK) mhim_world_abort(&w, 2);
    if (w.rank == 0) {
        rc = write_outputs(cfg, sw, points, n_points, n_folds, rec);
        if (rc != MHIM_OK) mhim_world_abort(&w, 2);
    }
    free(rec);
    free(points);
    mhim_world_finalize(&w);
    return rc;
}

int mhim_dist_train(const mhim_config *cfg, const mhim_engine_options *eo, int argc, char **argv) {
    mhim_sweep sw;
    const int launched = mhim_world_launched();
    int rc = mhim_sweep_load(cfg, argc, argv, &sw);
    if (rc != MHIM_OK) {
        if (!launched) return rc;
        mhim_world w = {0};
        mhim_world_init(&w, 1);
        mhim_world_abort(&w, 2);
    }
    if (!launched && cfg->group_size > 1)
        MHIM_WARN("--group_size=%d has no effect without an MPI launcher (mpirun/srun): training in one process",
                  cfg->group_size);
    if (launched) {
        rc = mpi_run(cfg, eo, argc, argv, &sw);
    } else if (sw.n_points) {
        rc = local_sweep(cfg, eo, argc, argv, &sw);
    } else {
        mhim_train_summary sum;
        rc = mhim_train_run(cfg, eo, &sum);
        if (rc == MHIM_OK) mhim_train_summary_free(&sum);
    }
    mhim_sweep_free(&sw);
    return rc;
}
