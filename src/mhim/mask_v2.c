/* v2 get_mask (spec v2 §3.4): the high-score part only, with 'vote' fusion, plus the kept-score gather that v2
 * hands to Merge (see mhim/mask.h). */
#include "mhim/common.h"
#include "mhim/mask_private.h"

int mhim_mask_v2_config_check(const mhim_mask_v2_config *cfg) {
    int rc = mask_check_ratio("--mask_ratio_h (v2 needs a hard-instance mask)", cfg->ratio_h, 0.0, 1, 1.0);
    if (rc == MHIM_OK) rc = mask_check_ratio("--mask_ratio_hr", cfg->ratio_hr, 0.0, 1, 1.0);
    if (rc == MHIM_OK && cfg->order != MHIM_KEEP_ASCENDING && cfg->order != MHIM_KEEP_CPYTHON_SET)
        rc = mhim_fail("masking: unknown kept order %d, expected ascending or cpython", (int)cfg->order);
    return rc;
}

int mhim_mask_select_v2(const mhim_mask_v2_config *cfg, double ratio_h_now, const float *scores, int64_t heads,
                        int64_t n, mhim_mask_key key, mhim_mask_workspace *ws, int64_t *ids, mhim_mask_stats *stats) {
    return mask_select_parts(0.0, 0.0, ratio_h_now, cfg->ratio_hr, MHIM_MASK_FUSION_VOTE, cfg->order, scores, heads,
                             n, key, ws, ids, stats);
}

void mhim_mask_gather_scores(const float *scores, int64_t heads, int64_t n, const int64_t *ids, int64_t len_keep,
                             float *out) {
    for (int64_t h = 0; h < heads; h++)
        for (int64_t j = 0; j < len_keep; j++) out[h * len_keep + j] = scores[h * n + ids[j]];
}
