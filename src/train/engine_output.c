/* Output files of a training run: atomic whole-file writes, the run folder, results.csv, appended log lines and
 * the peak RSS figure of the per-epoch metrics. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mhim/common.h"
#include "mhim/metrics.h"
#include "train/engine_internal.h"

static int fsync_dir_of(const char *path) {
    char *copy = mhim_strdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

int engine_write_atomic(const char *path, const char *text, size_t len) {
    char *tmp = mhim_asprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        int rc = mhim_fail("cannot write '%s': %s (check that the run folder is writable)", path, strerror(errno));
        free(tmp);
        return rc;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w <= 0) break;
        done += (size_t)w;
    }
    int ok = done == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok) ok = rename(tmp, path) == 0;
    if (!ok) {
        int rc = mhim_fail_code(MHIM_EINTERNAL, "writing '%s' failed: %s (disk full?)", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return rc;
    }
    free(tmp);
    fsync_dir_of(path);
    return MHIM_OK;
}

static int make_dir(const char *path) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return MHIM_OK;
    return mhim_fail("cannot create the folder '%s': %s", path, strerror(errno));
}

int engine_make_run_dir(const mhim_config *cfg) {
    struct stat st;
    const char *base = cfg->version == 2 ? cfg->output_path : cfg->model_path;
    const char *opt = cfg->version == 2 ? "output_path" : "model_path";
    if (!base || stat(base, &st) != 0 || !S_ISDIR(st.st_mode))
        return mhim_fail("--%s=%s: the folder does not exist (create it; the run writes %s/project/title)", opt,
                         base ? base : "", opt);
    char *project = mhim_asprintf("%s/%s", base, cfg->project);
    int rc = make_dir(project);
    free(project);
    if (rc == MHIM_OK) rc = make_dir(cfg->run_dir);
    return rc;
}

double engine_peak_rss_mib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

int engine_append_line(const char *path, const char *line) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return mhim_fail("cannot append to '%s': %s", path, strerror(errno));
    size_t len = strlen(line);
    int ok = write(fd, line, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    ok = fsync(fd) == 0 && ok;
    ok = close(fd) == 0 && ok;
    return ok ? MHIM_OK : mhim_fail_code(MHIM_EINTERNAL, "appending to '%s' failed (disk full?)", path);
}

static void row(FILE *f, const char *name, const mhim_eval_scores *s, const mhim_eval_scores *t, int mhim, int v2) {
    if (v2 == 2) { /* survival: the C-index is kept in auc */
        fprintf(f, mhim ? "%s,%.6f,%.6f\n" : "%s,%.6f\n", name, s->auc, t->auc);
        return;
    }
    if (v2) { /* Cohen's kappa is NaN when undefined (one predicted and true class), as torchmetrics */
        const double v[] = {s->acc, s->auc, s->prec, s->rec, s->f1, s->ck, s->acc_micro, t->acc, t->auc, t->f1, t->ck};
        fputs(name, f);
        for (size_t i = 0; i < (mhim ? MHIM_ARRAY_LEN(v) : 7); i++) fprintf(f, isnan(v[i]) ? ",nan" : ",%.6f", v[i]);
        fputc('\n', f);
        return;
    }
    fprintf(f, "%s,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f", name, s->acc, s->auc, s->prec, s->rec, s->f1, s->thr,
            s->acc05, s->f1_05);
    if (mhim) fprintf(f, ",%.6f,%.6f,%.6f", t->acc, t->auc, t->f1);
    fputc('\n', f);
}

int engine_write_results(const char *run_dir, const mhim_train_summary *s, const unsigned char *done, int mhim,
                         int version, int survival) {
    const int v2 = version == 2 ? 1 + survival : 0;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (v2 == 2)
        fprintf(f, "fold,cindex%s\n", mhim ? ",teacher_cindex" : "");
    else if (v2)
        fprintf(f, "fold,acc,auc,precision,recall,f1,ck,acc_micro%s\n",
                mhim ? ",teacher_acc,teacher_auc,teacher_f1,teacher_ck" : "");
    else
        fprintf(f, "fold,accuracy,auc,precision,recall,fscore,threshold,accuracy_at_0.5,fscore_at_0.5%s\n",
                mhim ? ",teacher_accuracy,teacher_auc,teacher_fscore" : "");
    int n_done = 0;
    mhim_eval_scores tm = {0}, ts = {0};
    const int64_t stride = (int64_t)(sizeof(mhim_eval_scores) / sizeof(double));
    for (int k = 0; k < s->n_folds; k++) {
        if (!done[k]) continue;
        char name[16];
        snprintf(name, sizeof name, "%d", s->first_fold + k);
        row(f, name, &s->student[k], &s->teacher[k], mhim, v2);
        n_done++;
    }
    if (n_done == s->n_folds) {
        for (int64_t j = 0; j < stride; j++) /* teacher mean/std for the mean and std rows */
            mhim_numpy_mean_std(&s->teacher[0].acc + j, s->n_folds, stride, 0, &tm.acc + j, &ts.acc + j);
        row(f, "mean", &s->mean, &tm, mhim, v2);
        row(f, "std", &s->std, &ts, mhim, v2);
    }
    fclose(f);
    char *path = mhim_asprintf("%s/results.csv", run_dir);
    int rc = engine_write_atomic(path, text, len);
    free(path);
    free(text);
    return rc;
}
