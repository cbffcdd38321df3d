/* `mhim train`: the run over the folds (see mhim/engine.h): data, network, outputs, resume and signals. */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mhim/common.h"
#include "mhim/log.h"
#include "mhim/metrics.h"
#include "mhim/run_lock.h"
#include "mhim/threads.h"
#include "train/engine_device.h"
#include "train/engine_internal.h"

static volatile sig_atomic_t stop_flag;

void mhim_train_request_stop(void) { stop_flag = 1; }
int engine_stop_requested(void) { return stop_flag != 0; }

static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

void engine_say(engine_run *r, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (!r->writer) return;
    if (!r->opt->quiet) {
        printf("%s\n", line);
        fflush(stdout);
    }
    engine_append_line(r->log_path, line);
}

void mhim_train_summary_free(mhim_train_summary *s) {
    free(s->student);
    free(s->teacher);
    memset(s, 0, sizeof *s);
}

/* np.mean / np.std (ddof 0) over the folds of every field (mhim_eval_scores is all doubles). */
static void aggregate(mhim_train_summary *s) {
    const int64_t stride = (int64_t)(sizeof(mhim_eval_scores) / sizeof(double));
    for (int64_t f = 0; f < stride; f++)
        mhim_numpy_mean_std(&s->student[0].acc + f, s->n_folds, stride, 0, &s->mean.acc + f, &s->std.acc + f);
}

int mhim_train_write_results(const char *run_dir, mhim_train_summary *s, bool mhim, const mhim_config *cfg) {
    aggregate(s);
    unsigned char *done = mhim_malloc((size_t)MHIM_MAX(s->n_folds, 1));
    memset(done, 1, (size_t)MHIM_MAX(s->n_folds, 1));
    int rc = engine_write_results(run_dir, s, done, mhim, cfg->version, mhim_config_is_survival(cfg));
    free(done);
    return rc;
}

static int write_config(engine_run *r) {
    size_t len = 0;
    FILE *f = open_memstream(&r->options_yaml, &len);
    mhim_config_print_yaml(f, r->cfg);
    fclose(f);
    if (!r->writer || (r->opt->unit && r->opt->unit_fold != r->cfg->fold_start)) return MHIM_OK;
    char *path = mhim_asprintf("%s/config.yaml", r->cfg->run_dir);
    int rc = engine_write_atomic(path, r->options_yaml, len);
    free(path);
    return rc;
}

static void final_table(engine_run *r) {
    const mhim_train_summary *s = r->sum;
    if (r->net.survival) { /* v2 survival: the C-index (kept in auc) */
        for (int k = 0; k < s->n_folds; k++)
            engine_say(r, "fold %d test c-index %.4f", s->first_fold + k, s->student[k].auc);
        engine_say(r, "Cross validation c-index mean: %.3f, std %.3f", s->mean.auc, s->std.auc);
        return;
    }
    engine_say(r, "%-6s %9s %7s %10s %7s %7s", "fold", "accuracy", "auc", "precision", "recall", "fscore");
    for (int k = 0; k < s->n_folds; k++) {
        const mhim_eval_scores *t = &s->student[k];
        engine_say(r, "%-6d %9.4f %7.4f %10.4f %7.4f %7.4f", s->first_fold + k, t->acc, t->auc, t->prec, t->rec,
                   t->f1);
    }
    engine_say(r, "%-6s %9.4f %7.4f %10.4f %7.4f %7.4f", "mean", s->mean.acc, s->mean.auc, s->mean.prec,
               s->mean.rec, s->mean.f1);
    engine_say(r, "%-6s %9.4f %7.4f %10.4f %7.4f %7.4f", "std", s->std.acc, s->std.auc, s->std.prec, s->std.rec,
               s->std.f1);
    const char *names[] = {"accuracy", "auc", "precision", "recall", "fscore"};
    for (int f = 0; f < 5; f++)
        engine_say(r, "Cross validation %s mean: %.3f, std %.3f", names[f], (&s->mean.acc)[f], (&s->std.acc)[f]);
}

/* Drop the metrics.jsonl lines of epochs the checkpoint does not contain (written after it, before a kill). */
static int trim_metrics(engine_run *r) {
    FILE *f = fopen(r->jsonl_path, "r");
    if (!f) return MHIM_OK;
    char *keep = NULL, *line = NULL;
    size_t keep_len = 0, cap = 0;
    FILE *out = open_memstream(&keep, &keep_len);
    for (ssize_t n; (n = getline(&line, &cap, f)) > 0;) {
        int fold, epoch;
        if (sscanf(line, "{\"fold\":%d,\"epoch\":%d", &fold, &epoch) == 2 &&
            (fold > r->cur.fold || (fold == r->cur.fold && epoch >= r->cur.epoch)))
            continue;
        fwrite(line, 1, (size_t)n, out);
    }
    fclose(out);
    fclose(f);
    free(line);
    int rc = engine_write_atomic(r->jsonl_path, keep, keep_len);
    free(keep);
    return rc;
}

/* Continue from ckp.h5 when asked and present; else start at fold_start. */
static int start_or_resume(engine_run *r) {
    struct stat st;
    memset(&r->cur, 0, sizeof r->cur);
    r->cur.fold = r->sum->first_fold;
    r->cur.best_epoch = -1;
    if (!r->cfg->auto_resume || stat(r->ckp_path, &st) != 0) return MHIM_OK;
    int rc = engine_load_resume(r);
    if (rc == MHIM_OK && r->writer) rc = trim_metrics(r);
    if (rc == MHIM_OK)
        engine_say(r, "resuming from %s: fold %d, epoch %d, iteration %d", r->ckp_path, r->cur.fold, r->cur.epoch,
                   r->cur.iter);
    return rc;
}

static int run_folds(engine_run *r) {
    const mhim_config *cfg = r->cfg;
    int rc = MHIM_OK;
    while (rc == MHIM_OK && r->cur.fold < r->data.splits.n_folds && r->cur.fold < r->fold_end) {
        rc = engine_run_fold(r);
        if (rc != MHIM_OK) break;
        if (r->writer && !r->opt->unit)
            rc = engine_write_results(cfg->run_dir, r->sum, r->done, r->net.mhim, cfg->version, r->net.survival);
        memset(&r->cur, 0, sizeof r->cur);
        r->cur.fold = r->sum->first_fold;
        for (int k = 0; k < r->sum->n_folds && r->done[k]; k++) r->cur.fold = r->sum->first_fold + k + 1;
        r->cur.best_epoch = -1;
        if (rc == MHIM_OK) rc = engine_save_resume(r);
    }
    return rc;
}

int mhim_train_run(const mhim_config *cfg, const mhim_engine_options *opt, mhim_train_summary *out) {
    memset(out, 0, sizeof *out);
    static const mhim_engine_options defaults = {false, false, false, 0, NULL};
    engine_run r = {.cfg = cfg, .opt = opt ? opt : &defaults, .sum = out, .lock_fd = -1};
    const int unit = r.opt->unit;
    r.writer = !r.opt->dp || r.opt->dp->rank == 0;
    stop_flag = 0;
    mhim_threads_init(mhim_config_threads(cfg));
    int rc = r.writer ? engine_make_run_dir(cfg) : MHIM_OK;
    if (rc != MHIM_OK) return rc;
    if (unit) {
        r.log_path = mhim_asprintf("%s/train_fold_%d.log", cfg->run_dir, r.opt->unit_fold);
        r.jsonl_path = mhim_asprintf("%s/metrics_fold_%d.jsonl", cfg->run_dir, r.opt->unit_fold);
        r.ckp_path = mhim_asprintf("%s/ckp_fold_%d.h5", cfg->run_dir, r.opt->unit_fold);
    } else {
        r.log_path = mhim_asprintf("%s/train.log", cfg->run_dir);
        r.jsonl_path = mhim_asprintf("%s/metrics.jsonl", cfg->run_dir);
        r.ckp_path = mhim_asprintf("%s/ckp.h5", cfg->run_dir);
    }
    const int first = unit ? r.opt->unit_fold : cfg->fold_start;
    r.fold_end = unit ? first + 1 : cfg->cv_fold;
    if (r.writer) {
        char *lock_path = mhim_asprintf("%s.lock", r.ckp_path);
        rc = mhim_run_lock_acquire(lock_path, &r.lock_fd);
        free(lock_path);
    }
    if (rc == MHIM_OK) rc = write_config(&r);
    if (rc == MHIM_OK) rc = engine_data_open(&r.data, cfg, r.opt->dp, first, r.fold_end);
    if (rc == MHIM_OK && unit && first >= r.data.splits.n_folds)
        rc = mhim_fail("fold %d: the splits have only %d folds (lower --cv_fold)", first, r.data.splits.n_folds);
    if (rc == MHIM_OK) {
        int folds = MHIM_MIN(r.fold_end, r.data.splits.n_folds);
        out->first_fold = first;
        out->n_folds = folds - first;
        out->student = mhim_calloc((size_t)out->n_folds, sizeof *out->student);
        out->teacher = mhim_calloc((size_t)out->n_folds, sizeof *out->teacher);
        r.done = mhim_calloc((size_t)out->n_folds, 1);
        int64_t max_bags = r.data.n_bags;
        if (r.data.dim != cfg->input_dim)
            MHIM_INFO("features are %lld wide: the model input is set to %lld (input_dim option: %d)",
                      (long long)r.data.dim, (long long)r.data.dim, cfg->input_dim);
        rc = engine_net_create(&r.net, cfg, r.data.dim, cfg->n_classes, r.data.max_instances, max_bags);
        if (rc == MHIM_OK) rc = engine_device_attach(&r.net, cfg, r.opt, &r.data);
    }
    if (rc == MHIM_OK) {
        mhim_model_config_text(mhim_model_get_config(r.net.model), r.model_config, sizeof r.model_config);
        engine_say(&r, "mhim train: model=%s baseline=%s, %lld bags (largest %lld instances, %lld features), %d "
                       "folds, run folder %s",
                   cfg->model, cfg->baseline, (long long)r.data.n_bags, (long long)r.data.max_instances,
                   (long long)r.data.dim, out->n_folds, cfg->run_dir);
        rc = start_or_resume(&r);
    }
    struct sigaction sa, old_term, old_usr1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGUSR1, &sa, &old_usr1);
    if (rc == MHIM_OK) rc = run_folds(&r);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    if (rc == 1) { /* stop request: checkpoint written */
        out->interrupted = true;
        engine_say(&r, "stop requested: checkpoint %s written at fold %d epoch %d iteration %d; rerun with "
                       "--auto_resume to continue",
                   r.ckp_path, r.cur.fold, r.cur.epoch, r.cur.iter);
        rc = MHIM_OK;
    } else if (rc == MHIM_OK) {
        aggregate(out);
        if (r.writer && !unit)
            rc = engine_write_results(cfg->run_dir, out, r.done, r.net.mhim, cfg->version, r.net.survival);
        if (rc == MHIM_OK && !unit) final_table(&r);
    }
    if (r.net.model) engine_net_free(&r.net);
    if (r.data.store || r.data.labels.cases) engine_data_close(&r.data);
    free(r.done);
    free(r.log_path);
    free(r.jsonl_path);
    free(r.ckp_path);
    free(r.options_yaml);
    mhim_run_lock_release(r.lock_fd);
    if (rc != MHIM_OK) mhim_train_summary_free(out);
    return rc;
}
