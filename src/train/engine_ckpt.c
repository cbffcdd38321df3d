/* Checkpoints of a training run (mhim/checkpoint.h files): the resume checkpoint ckp.h5, the per-fold selected
 * models, and the per-fold initialisation from --teacher_init. The selected models are named as the original:
 *   v1: fold_{k}_model_best_auc.h5   best student under model, the teacher of that epoch under teacher;
 *   v2: fold_{k}_model_best.h5       best student under model, the teacher of that epoch under teacher;
 *       fold_{k}_ema_model_best.h5   (--model=mhim) the best teacher, selected on its own validation score, under
 *                                    teacher and, for tools that read model, also under model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mhim/checkpoint.h"
#include "mhim/common.h"
#include "mhim/log.h"
#include "train/engine_device.h"
#include "train/engine_internal.h"

static void scores_to(double *d, const mhim_eval_scores *s) {
    const double v[ENGINE_SCORE_FIELDS] = {s->acc, s->auc, s->prec, s->rec, s->f1, s->thr, s->acc05, s->f1_05, s->loss, s->ck, s->acc_micro, 0};
    memcpy(d, v, sizeof v);
}

static void scores_from(mhim_eval_scores *s, const double *d) {
    *s = (mhim_eval_scores){d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10]};
}

static mhim_ckpt_contents contents(engine_run *r, const float *student, const float *teacher, int fold, int epoch) {
    return (mhim_ckpt_contents){.model = mhim_model_kind_name(mhim_model_get_config(r->net.model)->kind),
                                .model_config = r->model_config,
                                .options_yaml = r->options_yaml,
                                .fold = fold,
                                .epoch = epoch,
                                .layout = r->net.L,
                                .params = student,
                                .teacher = teacher};
}

int engine_save_resume(engine_run *r) {
    if (r->net.dev) engine_device_download(&r->net); /* the GPU holds the current weights */
    if (!r->writer) return MHIM_OK;
    const engine_cursor *c = &r->cur;
    const int nf = r->sum->n_folds;
    int64_t cursor[8] = {c->fold, c->epoch, c->iter, c->trained, c->es.has_best, c->es.counter, c->best_epoch, nf};
    double es_best[2] = {c->es.best, c->best_auc};
    double best_val[ENGINE_SCORE_FIELDS];
    scores_to(best_val, &c->best_val);
    best_val[ENGINE_SCORE_FIELDS - 1] = c->best_teacher;
    double *results = mhim_malloc((size_t)(2 * nf * ENGINE_SCORE_FIELDS) * sizeof *results);
    int64_t *done = mhim_malloc((size_t)nf * sizeof *done);
    for (int k = 0; k < nf; k++) {
        scores_to(results + (2 * k) * ENGINE_SCORE_FIELDS, &r->sum->student[k]);
        scores_to(results + (2 * k + 1) * ENGINE_SCORE_FIELDS, &r->sum->teacher[k]);
        done[k] = r->done[k];
    }
    mhim_ckpt_array st[] = {{"cursor", 8, cursor, NULL},
                            {"early_stop", 2, NULL, es_best},
                            {"best_val", ENGINE_SCORE_FIELDS, NULL, best_val},
                            {"epoch_sums", 6, NULL, c->acc},
                            {"fold_results", 2 * nf * ENGINE_SCORE_FIELDS, NULL, results},
                            {"fold_done", nf, done, NULL}};
    mhim_ckpt_contents cc = contents(r, r->net.student, r->net.mhim ? r->net.teacher : NULL, c->fold, c->epoch);
    cc.adam_m = r->net.adam_m;
    cc.adam_v = r->net.adam_v;
    cc.adam_step = r->net.adam.step;
    cc.n_state = (int)MHIM_ARRAY_LEN(st);
    cc.state = st;
    mhim_bagstore_io_lock();
    int rc = mhim_ckpt_write(r->ckp_path, &cc);
    mhim_bagstore_io_unlock();
    free(results);
    free(done);
    return rc;
}

static int load_section(const char *path, const mhim_param_layout *L, float *dst, const char *section) {
    mhim_load_opts o = {MHIM_LOAD_STRICT, section, NULL, section};
    return mhim_ckpt_load(path, L, dst, &o, NULL);
}

int engine_load_resume(engine_run *r) {
    const char *p = r->ckp_path;
    const int nf = r->sum->n_folds;
    int64_t cursor[8];
    double es_best[2], best_val[ENGINE_SCORE_FIELDS];
    engine_cursor *c = &r->cur;
    mhim_ckpt_info info;
    mhim_bagstore_io_lock();
    int rc = mhim_ckpt_read_info(p, &info);
    if (rc == MHIM_OK) rc = mhim_ckpt_read_state_i64(p, "cursor", cursor, 8);
    if (rc == MHIM_OK && cursor[7] != nf)
        rc = mhim_fail("%s: written for %lld folds, this run has %d (same --cv_fold/--fold_start as the killed run "
                       "needed, or remove the file to start over)",
                       p, (long long)cursor[7], nf);
    if (rc == MHIM_OK) rc = mhim_ckpt_read_state_f64(p, "early_stop", es_best, 2);
    if (rc == MHIM_OK) rc = mhim_ckpt_read_state_f64(p, "best_val", best_val, ENGINE_SCORE_FIELDS);
    if (rc == MHIM_OK) rc = mhim_ckpt_read_state_f64(p, "epoch_sums", c->acc, 6);
    double *results = mhim_malloc((size_t)(2 * nf * ENGINE_SCORE_FIELDS) * sizeof *results);
    int64_t *done = mhim_malloc((size_t)nf * sizeof *done);
    if (rc == MHIM_OK) rc = mhim_ckpt_read_state_f64(p, "fold_results", results, 2 * nf * ENGINE_SCORE_FIELDS);
    if (rc == MHIM_OK) rc = mhim_ckpt_read_state_i64(p, "fold_done", done, nf);
    if (rc == MHIM_OK) rc = load_section(p, r->net.L, r->net.student, "model");
    if (rc == MHIM_OK && r->net.mhim && !r->net.tea_same) rc = load_section(p, r->net.L, r->net.teacher, "teacher");
    if (rc == MHIM_OK) rc = load_section(p, r->net.L, r->net.adam_m, "adam_m");
    if (rc == MHIM_OK) rc = load_section(p, r->net.L, r->net.adam_v, "adam_v");
    mhim_bagstore_io_unlock();
    if (rc == MHIM_OK) {
        c->fold = (int)cursor[0];
        c->epoch = (int)cursor[1];
        c->iter = (int)cursor[2];
        c->trained = (int)cursor[3];
        c->es.has_best = (int)cursor[4];
        c->es.counter = (int)cursor[5];
        c->best_epoch = (int)cursor[6];
        c->es.best = es_best[0];
        c->best_auc = es_best[1];
        c->best_teacher = best_val[ENGINE_SCORE_FIELDS - 1];
        scores_from(&c->best_val, best_val);
        r->net.adam.step = info.adam_step;
        for (int k = 0; k < nf; k++) {
            scores_from(&r->sum->student[k], results + (2 * k) * ENGINE_SCORE_FIELDS);
            scores_from(&r->sum->teacher[k], results + (2 * k + 1) * ENGINE_SCORE_FIELDS);
            r->done[k] = (unsigned char)done[k];
        }
    }
    mhim_ckpt_info_free(&info);
    free(results);
    free(done);
    return rc;
}

static char *best_path(const engine_run *r, int fold) {
    return mhim_asprintf(r->cfg->version == 2 ? "%s/fold_%d_model_best.h5" : "%s/fold_%d_model_best_auc.h5",
                         r->cfg->run_dir, fold);
}

static char *best_teacher_path(const engine_run *r, int fold) {
    return mhim_asprintf("%s/fold_%d_ema_model_best.h5", r->cfg->run_dir, fold);
}

static int write_locked(const char *path, const mhim_ckpt_contents *cc) {
    mhim_bagstore_io_lock();
    int rc = mhim_ckpt_write(path, cc);
    mhim_bagstore_io_unlock();
    return rc;
}

int engine_save_best(engine_run *r, int fold) {
    if (!r->writer) return MHIM_OK;
    const mhim_eval_scores *v = &r->cur.best_val;
    const char *names[] = {"val_accuracy", "val_auc", "val_precision", "val_recall", "val_fscore", "val_threshold"};
    const double values[] = {v->acc, v->auc, v->prec, v->rec, v->f1, v->thr};
    const float *teacher = !r->net.mhim ? NULL : r->cfg->version == 2 ? r->net.teacher : r->net.best_teacher;
    mhim_ckpt_contents cc = contents(r, r->net.best_student, teacher, fold, r->cur.best_epoch);
    cc.n_metrics = (int)MHIM_ARRAY_LEN(names);
    cc.metric_names = names;
    cc.metric_values = values;
    char *path = best_path(r, fold);
    int rc = write_locked(path, &cc);
    free(path);
    return rc;
}

int engine_save_best_teacher(engine_run *r, int fold, int epoch, const mhim_eval_scores *tval) {
    if (!r->writer) return MHIM_OK;
    const char *names[] = {"val_accuracy", "val_auc", "val_precision", "val_recall", "val_fscore"};
    const double values[] = {tval ? tval->acc : 0, tval ? tval->auc : 0, tval ? tval->prec : 0, tval ? tval->rec : 0,
                             tval ? tval->f1 : 0};
    mhim_ckpt_contents cc = contents(r, r->net.best_teacher, r->net.best_teacher, fold, epoch);
    cc.n_metrics = tval ? (int)MHIM_ARRAY_LEN(names) : 0;
    cc.metric_names = names;
    cc.metric_values = values;
    char *path = best_teacher_path(r, fold);
    int rc = write_locked(path, &cc);
    free(path);
    return rc;
}

int engine_load_best(engine_run *r, int fold, int student, int teacher) {
    const int v2 = r->cfg->version == 2;
    char *path = best_path(r, fold), *tpath = best_teacher_path(r, fold);
    int rc = MHIM_OK;
    mhim_bagstore_io_lock();
    if (student) rc = load_section(path, r->net.L, r->net.best_student, "model");
    if (rc == MHIM_OK && r->net.mhim && !v2 && student) rc = load_section(path, r->net.L, r->net.best_teacher, "teacher");
    if (rc == MHIM_OK && r->net.mhim && v2 && teacher)
        rc = load_section(tpath, r->net.L, r->net.best_teacher, "teacher");
    mhim_bagstore_io_unlock();
    free(path);
    free(tpath);
    return rc;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The original: teacher_init itself when it names a file, else teacher_init/fold_{k}_model_best_auc.pt (v1) or
 * fold_{k}_model_best.pt (v2); ours also accepts the .h5 that the baseline runs of mhim write (preferred when both
 * exist), and the other version's name after the run's own. */
static int init_file(const char *init, int fold, int version, char **out) {
    size_t len = strlen(init);
    static const char *const exts[] = {".pt", ".pth", ".h5", ".hdf5"};
    for (size_t e = 0; e < MHIM_ARRAY_LEN(exts); e++) {
        size_t el = strlen(exts[e]);
        if (len > el && !strcmp(init + len - el, exts[e])) {
            if (!exists(init)) return mhim_fail("--teacher_init=%s: file not found", init);
            *out = mhim_strdup(init);
            return MHIM_OK;
        }
    }
    static const char *const search[] = {".h5", ".pt"};
    static const char *const names[2][2] = {{"model_best_auc", "model_best"}, {"model_best", "model_best_auc"}};
    for (size_t b = 0; b < 2; b++)
        for (size_t e = 0; e < MHIM_ARRAY_LEN(search); e++) {
            *out = mhim_asprintf("%s/fold_%d_%s%s", init, fold, names[version == 2][b], search[e]);
            if (exists(*out)) return MHIM_OK;
            free(*out);
        }
    *out = NULL;
    return mhim_fail("--teacher_init=%s: no fold_%d_%s.h5 or .pt (nor fold_%d_%s.h5/.pt) in that folder (give the "
                     "run folder of the baseline run with the same folds)",
                     init, fold, names[version == 2][0], fold, names[version == 2][1]);
}

int engine_init_fold_params(engine_run *r, int fold) {
    const mhim_config *cfg = r->cfg;
    engine_net *n = &r->net;
    mhim_params_zero(n->L, n->student);
    mhim_model_init_params(n->model, n->student, engine_fold_seed(cfg, fold));
    if (!n->mhim) return MHIM_OK;
    if (!mhim_config_has_teacher_init(cfg)) {
        if (!n->tea_same) mhim_params_copy(n->L, n->teacher, n->student);
        return MHIM_OK;
    }
    char *path = NULL;
    int rc = init_file(cfg->teacher_init, fold, cfg->version, &path);
    if (rc != MHIM_OK) return rc;
    int h5 = mhim_ckpt_is_h5(path);
    const char *stu = cfg->init_stu_type ? cfg->init_stu_type : "none";
    mhim_load_report rep;
    mhim_bagstore_io_lock();
    if (strcmp(stu, "none")) {
        const char *prefix = NULL;
        if (!strcmp(stu, "fc")) prefix = mhim_model_get_config(n->model)->version == 2 ? "feature." : "patch_to_emb.";
        mhim_load_opts o = {MHIM_LOAD_NONSTRICT, h5 ? "model" : NULL, prefix, "student"};
        rc = mhim_ckpt_load(path, n->L, n->student, &o, &rep);
        if (rc == MHIM_OK) MHIM_INFO("fold %d: student init (%s) from %s: %s", fold, stu, path, rep.text);
    }
    if (rc == MHIM_OK && !n->tea_same) {
        mhim_params_copy(n->L, n->teacher, n->student);
        if (!cfg->no_tea_init) {
            mhim_load_opts o = {MHIM_LOAD_NONSTRICT, h5 ? "model" : NULL, NULL, "teacher"};
            if (mhim_ckpt_load(path, n->L, n->teacher, &o, &rep) == MHIM_OK)
                MHIM_INFO("fold %d: teacher init from %s: %s", fold, path, rep.text);
            else { /* the original swallows this (try/except) and keeps the student's weights */
                MHIM_WARN("fold %d: teacher init from %s failed, the teacher keeps the student's weights: %s", fold,
                          path, mhim_error());
                mhim_error_clear();
                mhim_params_copy(n->L, n->teacher, n->student);
            }
        }
    }
    mhim_bagstore_io_unlock();
    free(path);
    return rc;
}
