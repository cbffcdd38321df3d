/* PyTorch parity of one full MHIM v1 training step (engine_step of train/engine_step.c with --model=mhim) against the
 * float64 fixtures of tests/pytorch/gen_mhim_step_fixtures.py (tests/fixtures/mhim_step/<case>.h5), ABMIL and DSMIL:
 * teacher forward on the whole bag -> the fixture's kept ids (injected through engine_step_ctx.given_keep) -> student
 * on the kept instances -> CE + cl_alpha x soft-target CE (temp_t) -> backward -> Adam -> EMA of the teacher.
 * Compared: the three loss parts, the student logits, the teacher and student bag features, every gradient, the
 * updated student and the EMA'd teacher. Dropout is 0 (the teacher's train mode is then its eval mode).
 *
 * Tolerances: forward/gradients as test_parity_model_util.h; losses 1e-5 relative. The first Adam step moves a
 * parameter by about lr·g/(|g| + eps), whose sensitivity to a gradient error δ is at most lr·δ/(|g| + eps): the
 * updated student is compared element-wise within 1e-7 + lr·min(2, δ/(|g| + eps)) with δ the gradient tolerance at
 * the reference gradient (weight decay included), and the teacher within 1e-7 + (1 - mm) times that. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "test_parity_model_util.h"
#include "mhim/common.h"
#include "mhim/config.h"
#include "train/engine_internal.h"

#define LOSS_RTOL 1e-5

/* The training configuration of the fixture: --model=mhim, dropout 0, its lr / weight decay / mm / cl_alpha / temp_t. */
static int fixture_config(fixture *f, const char *baseline, mhim_config *cfg) {
    char opts[6][64];
    snprintf(opts[0], sizeof opts[0], "--baseline=%s", baseline);
    snprintf(opts[1], sizeof opts[1], "--lr=%.17g", fixture_scalar(f, "lr"));
    snprintf(opts[2], sizeof opts[2], "--weight_decay=%.17g", fixture_scalar(f, "weight_decay"));
    snprintf(opts[3], sizeof opts[3], "--mm=%.17g", fixture_scalar(f, "mm"));
    snprintf(opts[4], sizeof opts[4], "--cl_alpha=%.17g", fixture_scalar(f, "cl_alpha"));
    snprintf(opts[5], sizeof opts[5], "--temp_t=%.17g", fixture_scalar(f, "temp_t"));
    char *argv[] = {"train", "--model=mhim", "--dropout=0", "--mhim_version=1", opts[0], opts[1], opts[2], opts[3],
                    opts[4], opts[5]};
    mhim_opt_args args;
    int rc = mhim_config_parse(cfg, (int)MHIM_ARRAY_LEN(argv), argv, &args);
    if (rc != MHIM_OK) {
        printf("FAIL configuration: %s\n", mhim_error());
        return 1;
    }
    mhim_opt_args_free(&args);
    return 0;
}

/* Load the tensors of L from <group>/<key> into dst. */
static int load_group(fixture *f, const char *group, const mhim_param_layout *L, float *dst) {
    for (int64_t i = 0; i < L->count; i++) {
        const mhim_param_entry *e = &L->entries[i];
        char name[300];
        snprintf(name, sizeof name, "%s/%s", group, e->name);
        const float *src = fixture_f32_n(f, name, e->numel);
        if (!src) return 1;
        memcpy(dst + e->offset, src, (size_t)e->numel * sizeof(float));
    }
    return 0;
}

/* Updated parameters (student or teacher, `scale` = 1 or 1 - mm) against updated/<who>/<key> (leading rows), each
 * element within 1e-7 + scale·lr·min(2, δ/(|g| + eps)) where g = reference gradient + wd·θ_before. */
static int check_updated(fixture *f, const char *cas, const char *who, const mhim_param_layout *L, const float *got,
                         const float *before, double scale, double lr, double wd) {
    int fails = 0;
    for (int64_t i = 0; i < L->count; i++) {
        const mhim_param_entry *e = &L->entries[i];
        char name[300], gname[300];
        snprintf(name, sizeof name, "updated/%s/%s", who, e->name);
        snprintf(gname, sizeof gname, "step/grads/%s", e->name);
        int64_t n = 0, ng = 0;
        const float *want = fixture_f32(f, name, &n), *g = fixture_f32(f, gname, &ng);
        if (!want || !g || n != ng || n > e->numel) {
            printf("FAIL %s %s: missing or mis-sized (%lld vs %lld gradient elements)\n", cas, name, (long long)n,
                   (long long)ng);
            fails++;
            continue;
        }
        double worst = 0.0, worst_tol = 1.0;
        int64_t bad = 0;
        for (int64_t j = 0; j < n; j++) {
            double ge = (double)g[j] + wd * (double)before[e->offset + j];
            double delta = BWD_ATOL + BWD_RTOL * fabs(ge);
            double tol = 1e-7 + scale * lr * fmin(2.0, delta / (fabs(ge) + MHIM_ADAM_EPS));
            double err = fabs((double)got[e->offset + j] - (double)want[j]);
            if (err > tol) bad++;
            if (err / tol > worst / worst_tol) worst = err, worst_tol = tol;
        }
        printf("%s %s: %lld elements, worst |err| %.3g (its tolerance %.3g), %lld outside\n", cas, name, (long long)n,
               worst, worst_tol, (long long)bad);
        fails += check_true(name, bad == 0);
    }
    return fails;
}

static int run_case(const char *cas, const char *baseline) {
    char path[256];
    snprintf(path, sizeof path, "fixtures/mhim_step/%s.h5", cas);
    fixture *f = fixture_open(path);
    if (!f) return 1;
    const int64_t N = (int64_t)fixture_scalar(f, "N"), D = (int64_t)fixture_scalar(f, "input_dim");
    const int64_t C = (int64_t)fixture_scalar(f, "classes"), y = (int64_t)fixture_scalar(f, "label");
    int64_t n_keep = 0;
    const int64_t *keep = fixture_i64(f, "inputs/keep_idx", &n_keep);
    float *x = load_bag(f, N, D);
    mhim_config cfg;
    int fails = !keep || !x || fixture_config(f, baseline, &cfg);
    if (fails) {
        free(x);
        fixture_close(f);
        return 1;
    }
    engine_net net;
    int rc = engine_net_create(&net, &cfg, D, C, N, 1);
    if (rc != MHIM_OK) printf("FAIL %s: engine_net_create: %s\n", cas, mhim_error());
    fails += rc != MHIM_OK;
    const mhim_param_layout *L = net.L;
    float *student0 = rc == MHIM_OK ? mhim_params_alloc(L) : NULL, *teacher0 = NULL;
    if (rc == MHIM_OK && !load_params(f, L, net.student) && !load_group(f, "teacher_params", L, net.teacher)) {
        teacher0 = mhim_params_alloc(L);
        mhim_params_copy(L, student0, net.student);
        mhim_params_copy(L, teacher0, net.teacher);
        engine_step_ctx ctx = {.cfg = &cfg, .seed = 1, .epoch = 0, .bag = 0, .r_h = cfg.mask_ratio_h, .mm = cfg.mm,
                               .given_keep = keep, .given_len = n_keep};
        engine_step_stats st;
        rc = engine_step(&net, &ctx, x, N, y, &st);
        if (rc != MHIM_OK) printf("FAIL %s: engine_step: %s\n", cas, mhim_error());
        fails += rc != MHIM_OK;
        const struct { const char *name; double got; } losses[] = {
            {"step/outputs/loss", st.loss}, {"step/outputs/cls_loss", st.cls}, {"step/outputs/cl_loss", st.cl}};
        for (size_t i = 0; rc == MHIM_OK && i < MHIM_ARRAY_LEN(losses); i++) {
            double want = fixture_scalar(f, losses[i].name), rel = fabs(losses[i].got - want) / fabs(want);
            printf("%s %s: got %.9g want %.9g rel %.2e (tolerance %.0e)\n", cas, losses[i].name, losses[i].got, want,
                   rel, LOSS_RTOL);
            fails += check_true(losses[i].name, rel <= LOSS_RTOL);
        }
        printf("%s: kept %lld of %lld instances (want %lld)\n", cas, (long long)st.kept, (long long)st.patches,
               (long long)n_keep);
        fails += check_true("kept count", st.kept == n_keep && st.patches == N);
        if (rc == MHIM_OK) {
            fails += fixture_check(f, cas, "step/outputs/logits", net.probs, C, FWD_ATOL, FWD_RTOL);
            fails += fixture_check(f, cas, "step/outputs/teacher_feat", net.feat_t, net.feat_size, FWD_ATOL, FWD_RTOL);
            fails += fixture_check(f, cas, "step/outputs/student_feat", net.feat_s, net.feat_size, FWD_ATOL, FWD_RTOL);
            fails += check_grads(f, cas, "step", L, net.grads);
            fails += check_updated(f, cas, "student", L, net.student, student0, 1.0, cfg.lr, cfg.weight_decay);
            fails += check_updated(f, cas, "teacher", L, net.teacher, student0, 1.0 - cfg.mm, cfg.lr,
                                   cfg.weight_decay);
        }
    } else {
        fails++;
    }
    mhim_params_free(student0);
    mhim_params_free(teacher0);
    if (rc == MHIM_OK || net.model) engine_net_free(&net);
    mhim_config_free(&cfg);
    free(x);
    fixture_close(f);
    return fails;
}

int main(void) {
    int fails = run_case("abmil_step_n17", "attn");
    fails += run_case("dsmil_step_n15", "dsmil");
    printf("%s\n", fails ? "FAILED" : "all MHIM step checks passed");
    return fails ? 1 : 0;
}
