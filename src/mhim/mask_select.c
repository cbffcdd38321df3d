/* get_mask of the original (spec v1 §4.3): the parts R, L, Hs as select() calls with float64 sizes, their union,
 * the keep-one guard and the output ids (see mhim/mask.h). */
#include <math.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/mask_private.h"
#include "mhim/rng.h"

/* One select(N, scores, largest, ratio, rr) call: marks its chosen instances with bit `part` in ws->parts.
 * *n_candidates = ranked candidates, *n_chosen = chosen after the random subset. */
static void select_part(const float *scores, int64_t heads, int64_t n, double ratio, double rr, int largest,
                        mhim_mask_fusion fusion, mhim_mask_key key, int part, mhim_mask_workspace *ws,
                        int64_t *n_candidates, int64_t *n_chosen) {
    double r = ratio / rr;
    if (r > 1.0) {
        rr = ratio;
        r = 1.0;
    }
    int64_t k = (int64_t)ceil((double)n * r);
    int64_t n_cand = mask_part_candidates(scores, heads, n, k, largest, fusion, ws);
    int64_t m = n_cand;
    if (rr < 1.0) {
        /* a uniformly random ceil(K·rr) of the candidates: partial Fisher–Yates over the ascending list */
        m = (int64_t)ceil((double)n_cand * rr);
        mhim_rng rng = mhim_rng_stream(key.seed, key.epoch, key.bag, MHIM_RNG_MASK, (uint32_t)part);
        for (int64_t i = 0; i < m; i++) {
            int64_t j = i + (int64_t)mhim_rng_below(&rng, (uint64_t)(n_cand - i));
            int64_t t = ws->cand[i];
            ws->cand[i] = ws->cand[j];
            ws->cand[j] = t;
        }
    }
    for (int64_t i = 0; i < m; i++) ws->parts[ws->cand[i]] |= (uint8_t)(1u << part);
    *n_candidates = n_cand;
    *n_chosen = m;
}

/* The masked instance with the lowest score (sum over heads in double; ties: lower index). */
static int64_t lowest_score(const float *scores, int64_t heads, int64_t n) {
    int64_t best = 0;
    double best_s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int64_t h = 0; h < heads; h++) s += scores[h * n + i];
        if (i == 0 || s < best_s) {
            best = i;
            best_s = s;
        }
    }
    return best;
}

static int check_scores(const float *scores, int64_t heads, int64_t n) {
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(scores[h * n + i]))
                return mhim_fail("masking: teacher score of instance %lld (head %lld of %lld) is %g; expected a "
                                 "finite value (the teacher diverged: lower the learning rate or check the features)",
                                 (long long)i, (long long)h, (long long)heads, (double)scores[h * n + i]);
    return MHIM_OK;
}

int mask_select_parts(double ratio, double ratio_l, double ratio_h, double ratio_hr, mhim_mask_fusion fusion,
                      mhim_keep_order order, const float *scores, int64_t heads, int64_t n, mhim_mask_key key,
                      mhim_mask_workspace *ws, int64_t *ids, mhim_mask_stats *stats) {
    if (n < 1) return mhim_fail("masking: bag of %lld instances, expected >= 1", (long long)n);
    if (heads < 1 || heads > INT32_MAX)
        return mhim_fail("masking: %lld score rows, expected 1 (one score per instance) or the head count",
                         (long long)heads);
    if (n > ws->n_max)
        return mhim_fail_code(MHIM_EINTERNAL, "masking: bag of %lld instances exceeds the workspace (%lld); size it "
                              "for the largest bag", (long long)n, (long long)ws->n_max);
    int rc = mask_check_ratio("masking: scheduled --mask_ratio_h", ratio_h, 0.0, 0, 1.0);
    if (rc != MHIM_OK) return rc;
    mhim_mask_stats st = {.n = n, .ratio_h = ratio_h, .unmasked_id = -1};
    int any = ratio > 0.0 || ratio_l > 0.0 || ratio_h > 0.0;
    if (any && (rc = check_scores(scores, heads, n)) != MHIM_OK) return rc;

    memset(ws->parts, 0, (size_t)n);
    int64_t unused;
    if (ratio > 0.0)
        select_part(scores, heads, n, ratio, MHIM_MASK_RANDOM_RR, 0, fusion, key, MHIM_MASK_PART_RANDOM, ws, &unused,
                    &st.n_random);
    if (ratio_l > 0.0)
        select_part(scores, heads, n, ratio_l, 1.0, 0, fusion, key, MHIM_MASK_PART_LOW, ws, &unused, &st.n_low);
    if (ratio_h > 0.0)
        select_part(scores, heads, n, ratio_h, ratio_hr, 1, fusion, key, MHIM_MASK_PART_HIGH, ws,
                    &st.n_high_candidates, &st.n_high);

    for (int64_t i = 0; i < n; i++) st.n_masked += ws->parts[i] != 0;
    if (st.n_masked == n) {
        st.guarded = 1;
        st.unmasked_id = lowest_score(scores, heads, n);
        ws->parts[st.unmasked_id] = 0;
        st.n_masked--;
    }
    st.len_keep = n - st.n_masked;
    if (order == MHIM_KEEP_CPYTHON_SET) {
        mhim_kept_order_cpython(n, ws->parts, st.n_masked, ws->table, ids);
    } else {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (!ws->parts[i]) ids[m++] = i;
    }
    int64_t m = st.len_keep;
    for (int64_t i = 0; i < n; i++)
        if (ws->parts[i]) ids[m++] = i;
    if (stats) *stats = st;
    return MHIM_OK;
}

int mhim_mask_select(const mhim_mask_config *cfg, double ratio_h_now, const float *scores, int64_t heads, int64_t n,
                     mhim_mask_key key, mhim_mask_workspace *ws, int64_t *ids, mhim_mask_stats *stats) {
    return mask_select_parts(cfg->ratio, cfg->ratio_l, ratio_h_now, cfg->ratio_hr, cfg->fusion, cfg->order, scores,
                             heads, n, key, ws, ids, stats);
}
