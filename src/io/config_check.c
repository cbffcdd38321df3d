/* Training constraints of a resolved configuration: what mhim can run, and the settings under which
 * the original programs crash (v1 quirks, v2 B1-B6 of the specification). See mhim/config.h. */
#include <string.h>

#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/cuda_select.h"
#include "mhim/log.h"

static int check_model_and_loss(const mhim_config *c) {
    const char *models = c->version == 1 ? "mhim, pure" : "mhim, mhim_pure";
    bool known = !strcmp(c->model, "mhim") || !strcmp(c->model, c->version == 1 ? "pure" : "mhim_pure");
    if (!known && c->version == 2 && !strcmp(c->model, "e2e_r18_abmilx"))
        return mhim_fail("--model=e2e_r18_abmilx (the v2 default) is not an MHIM model; set --model=mhim or "
                         "--model=mhim_pure");
    if (!known)
        return mhim_fail("--model=%s: not available in mhim for v%d (expected %s)", c->model, c->version, models);
    if (c->batch_size != 1)
        return mhim_fail("--batch_size=%d: MHIM trains one bag per step; use --batch_size=1", c->batch_size);
    if (!strcmp(c->loss, "bce") || !strcmp(c->loss, "asl"))
        return mhim_fail("--loss=%s: not supported (the original's %s path is broken or missing); use --loss=ce",
                         c->loss, c->loss);
    bool surv = mhim_config_is_survival(c);
    if (surv && strcmp(c->loss, "nll_surv") != 0)
        return mhim_fail("--datasets=%s is a survival task: expected --loss=nll_surv (see configs/v2_feat_surv.yaml)",
                         c->datasets);
    if (!surv && !strcmp(c->loss, "nll_surv"))
        return mhim_fail("--loss=nll_surv needs a survival dataset (--datasets=surv_*), got '%s'", c->datasets);
    if (surv && c->n_classes != 4)
        return mhim_fail("--n_classes=%d: survival uses 4 time bins; use --n_classes=4", c->n_classes);
    if (c->version == 2 && strcmp(c->script_mode, "all") != 0)
        return mhim_fail("--script_mode=%s: only script_mode=all is supported", c->script_mode);
    return MHIM_OK;
}

/* v2 B3-B6 (B1/B2 are fixed by construction: attn_layer is fixed to 0, mhim_pure builds). */
static int check_v2_mhim(const mhim_config *c) {
    if (!c->merge_enable)
        return mhim_fail("--model=mhim (v2) needs --merge_enable: without it the original crashes in "
                         "MHIM.forward (B3)");
    if (c->mask_ratio_h <= 0 && c->mask_ratio <= 0 && c->mask_ratio_l <= 0)
        return mhim_fail("--mask_ratio_h=0: v2 mhim needs a positive mask_ratio_h, e.g. 0.01 (the original "
                         "asserts on an empty mask, B4)");
    if (!strcmp(c->baseline, "dsmil") && c->aux_alpha <= 0)
        return mhim_fail("--baseline=dsmil with --aux_alpha=0: the original crashes (B5); set --aux_alpha, "
                         "e.g. 0.5");
    if (c->merge_mm >= 1)
        return mhim_fail("--merge_mm=%g: expected a number < 1 (with 1 the original never sets its global "
                         "queries, B6)", c->merge_mm);
    return MHIM_OK;
}

int mhim_config_check_training(const mhim_config *c) {
    int rc = check_model_and_loss(c);
    if (rc != MHIM_OK) return rc;
    int cuda_ordinal;
    if ((rc = mhim_device_check_training(c, &cuda_ordinal)) != MHIM_OK) return rc;
    bool mhim = !strcmp(c->model, "mhim");
    if (c->version == 1 && mhim && !strcmp(c->baseline, "dsmil") && c->cl_alpha <= 0)
        return mhim_fail("--baseline=dsmil with --cl_alpha=0: the original v1 crashes; set --cl_alpha, e.g. 0.1");
    if (c->version == 2 && mhim && (rc = check_v2_mhim(c)) != MHIM_OK) return rc;
    if (c->random_fold)
        return mhim_fail("--random_fold: the original then reads each fold's train/val/test sets from a Split column "
                         "of csv_path, which mhim does not support; for repeated runs with seed + 100*fold on k-fold "
                         "splits use --random_seed, for fixed folds --split_file");
    if (!c->run_dir)
        return mhim_fail("--%s is required: the run directory is %s/project/title",
                         c->version == 1 ? "model_path" : "output_path", c->version == 1 ? "model_path" : "output_path");
    if (mhim && !mhim_config_has_teacher_init(c) && !(c->version == 1 && c->no_tea_init))
        MHIM_WARN("--model=mhim without --teacher_init: the teacher starts from the student's random weights");
    return MHIM_OK;
}
