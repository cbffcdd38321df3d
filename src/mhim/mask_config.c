/* Masking options check, workspace and the --mrh_sche value r_h'(t) (see mhim/mask.h). */
#include <math.h>
#include <stdlib.h>

#include "mhim/common.h"
#include "mhim/mask_private.h"
#include "mhim/schedule.h"

int mask_check_ratio(const char *what, double v, double lo, int lo_open, double hi) {
    if (!isfinite(v) || v < lo || (lo_open && v == lo) || v > hi)
        return mhim_fail("%s = %g, expected a number in %c%g, %g]", what, v, lo_open ? '(' : '[', lo, hi);
    return MHIM_OK;
}

int mhim_mask_config_check(const mhim_mask_config *cfg) {
    int rc;
    if ((rc = mask_check_ratio("--mask_ratio", cfg->ratio, 0.0, 0, 1.0)) != MHIM_OK) return rc;
    if ((rc = mask_check_ratio("--mask_ratio_l", cfg->ratio_l, 0.0, 0, 1.0)) != MHIM_OK) return rc;
    if ((rc = mask_check_ratio("--mask_ratio_h", cfg->ratio_h, 0.0, 0, 1.0)) != MHIM_OK) return rc;
    if ((rc = mask_check_ratio("--mask_ratio_hr", cfg->ratio_hr, 0.0, 1, 1.0)) != MHIM_OK) return rc;
    if (cfg->fusion != MHIM_MASK_FUSION_VOTE && cfg->fusion != MHIM_MASK_FUSION_MEAN)
        return mhim_fail("--msa_fusion: unknown value %d, expected vote or mean", (int)cfg->fusion);
    if (cfg->order != MHIM_KEEP_ASCENDING && cfg->order != MHIM_KEEP_CPYTHON_SET)
        return mhim_fail("masking: unknown kept order %d, expected ascending or cpython", (int)cfg->order);
    return MHIM_OK;
}

void mhim_mask_workspace_init(mhim_mask_workspace *ws, int64_t n_max) {
    MHIM_ASSERT(n_max >= 1 && n_max < INT32_MAX);
    ws->n_max = n_max;
    ws->keys = mhim_malloc((size_t)n_max * sizeof *ws->keys);
    ws->keys_tmp = mhim_malloc((size_t)n_max * sizeof *ws->keys_tmp);
    ws->cand = mhim_malloc((size_t)n_max * sizeof *ws->cand);
    ws->marks = mhim_malloc((size_t)n_max * sizeof *ws->marks);
    ws->parts = mhim_malloc((size_t)n_max);
    ws->table = mhim_malloc((size_t)mhim_kept_order_table_len(n_max) * sizeof *ws->table);
}

void mhim_mask_workspace_free(mhim_mask_workspace *ws) {
    free(ws->keys);
    free(ws->keys_tmp);
    free(ws->cand);
    free(ws->marks);
    free(ws->parts);
    free(ws->table);
    *ws = (mhim_mask_workspace){0};
}

int mhim_mask_ratio_h_at(double ratio_h, int scheduled, int64_t num_epoch, int64_t iters_per_epoch, int64_t t,
                         double *out) {
    if (!scheduled) {
        *out = ratio_h;
        return MHIM_OK;
    }
    int rc = mhim_cosine_schedule_check(num_epoch, iters_per_epoch, 0);
    if (rc != MHIM_OK) return rc;
    int64_t total = num_epoch * iters_per_epoch;
    if (t < 0 || t >= total)
        return mhim_fail("--mrh_sche: iteration %lld outside the schedule of %lld x %lld iterations", (long long)t,
                         (long long)num_epoch, (long long)iters_per_epoch);
    *out = mhim_cosine_schedule_at(ratio_h, 0.0, num_epoch, iters_per_epoch, 0, 0.0, t);
    return MHIM_OK;
}
