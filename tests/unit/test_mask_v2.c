/* v2 hard masking (spec v2 §3.4): high part only with vote fusion, equal to v1 get_mask with r = r_l = 0 (same
 * streams), class-aware 1-row scores, the configuration differences (r_h > 0 required, no mean fusion), the
 * guard at N = 1, and the kept-score gather handed to Merge. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/mask.h"

static mhim_mask_workspace ws;

int main(void) {
    mhim_mask_workspace_init(&ws, 1000);
    int fails = 0;
    const mhim_mask_key key = {2021, 4, 9};
    mhim_mask_stats st;

    /* Class-aware scores (C = 2: sigma(|.|) in (0.5, 1)): r_h = 0.4 -> 5·0.4 = 2 -> top-2 {3 (0.99), 1 (0.95)}. */
    const float p[5] = {0.6f, 0.95f, 0.7f, 0.99f, 0.5f};
    mhim_mask_v2_config c2 = {0.4, 1.0, MHIM_KEEP_ASCENDING};
    int64_t ids[1000], ids1[1000];
    fails += check_true("v2 config ok", mhim_mask_v2_config_check(&c2) == MHIM_OK);
    mhim_mask_select_v2(&c2, 0.4, p, 1, 5, key, &ws, ids, &st);
    fails += check_equal_i64("v2 class-aware top-2 -> kept 0 2 4 | masked 1 3", ids, (int64_t[]){0, 2, 4, 1, 3}, 5);
    fails += check_true("v2 stats: 2 masked, no random, no low", st.n_masked == 2 && st.n_high == 2 &&
                                                                       st.n_random == 0 && st.n_low == 0);

    /* Same as v1 with r = r_l = 0 and vote, including the random subset (rho = 0.5), for 1 and 8 rows. */
    float s[8 * 1000];
    for (int i = 0; i < 8 * 1000; i++) s[i] = (float)((i * 7919 + 13) % 10007) / 10007.0f;
    for (int heads = 1; heads <= 8; heads += 7) {
        mhim_mask_v2_config c = {0.05, 0.5, MHIM_KEEP_CPYTHON_SET};
        mhim_mask_config c1 = {0, 0, 0.05, 0.5, MHIM_MASK_FUSION_VOTE, MHIM_KEEP_CPYTHON_SET};
        mhim_mask_stats st1;
        mhim_mask_select_v2(&c, 0.05, s, heads, 1000, key, &ws, ids, &st);
        mhim_mask_select(&c1, 0.05, s, heads, 1000, key, &ws, ids1, &st1);
        char label[64];
        snprintf(label, sizeof label, "v2 == v1 high-only, %d rows", heads);
        fails += check_equal_i64(label, ids, ids1, 1000);
        fails += check_true("K = ceil(1000·0.1) = 100, |Hs| = 50", st.n_high_candidates == 100 && st.n_high == 50 &&
                                                                        st.len_keep == 950);
    }

    /* Vote only: H = 3, N = 6, r_h = 0.3 -> k = 2, per-head top-2 {0,1}, {1,2}, {2,3} -> {1, 2} (mean would give
     * top-(2 // 3 = 0) = nothing). */
    const float v[18] = {0.9f, 0.8f, 0.1f, 0.2f, 0.3f, 0.4f, 0.1f, 0.9f, 0.8f, 0.2f, 0.3f, 0.4f,
                         0.1f, 0.2f, 0.9f, 0.8f, 0.3f, 0.4f};
    mhim_mask_v2_config c3 = {0.3, 1.0, MHIM_KEEP_ASCENDING};
    mhim_mask_select_v2(&c3, 0.3, v, 3, 6, key, &ws, ids, &st);
    fails += check_equal_i64("v2 vote H3 -> masked {1,2}", ids, (int64_t[]){0, 3, 4, 5, 1, 2}, 6);

    /* N = 1: ceil(1·r) = 1 masks the only instance (the original then has L = 0); here it is kept and flagged. */
    const float one = 0.7f;
    mhim_mask_select_v2(&c2, 0.4, &one, 1, 1, key, &ws, ids, &st);
    fails += check_true("v2 N=1: guarded, keeps instance 0", st.guarded && st.len_keep == 1 && ids[0] == 0);
    /* Scheduled r_h' = 0 keeps everything. */
    mhim_mask_select_v2(&c2, 0.0, p, 1, 5, key, &ws, ids, &st);
    fails += check_equal_i64("v2 r_h' = 0 keeps all", ids, (int64_t[]){0, 1, 2, 3, 4}, 5);

    /* Bad v2 configurations. */
    const mhim_mask_v2_config bad[] = {{0.0, 1.0, 0}, {0.03, 0.0, 0}, {1.5, 1.0, 0}, {0.03, 1.0, 7}};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(bad); i++) {
        int rc = mhim_mask_v2_config_check(&bad[i]);
        printf("     bad v2 config %zu: %s\n", i, mhim_error());
        fails += check_true("bad v2 config rejected", rc == MHIM_EINPUT);
    }

    /* Gather: scores (2, 4), kept ids 3, 1 -> out (2, 2) = [s0[3], s0[1], s1[3], s1[1]]. */
    const float g[8] = {0.0f, 0.1f, 0.2f, 0.3f, 1.0f, 1.1f, 1.2f, 1.3f}, want[4] = {0.3f, 0.1f, 1.3f, 1.1f};
    float out[4];
    mhim_mask_gather_scores(g, 2, 4, (int64_t[]){3, 1, 0, 2}, 2, out);
    fails += check_close("gather kept scores", out, want, 4, 0, 0);

    mhim_mask_workspace_free(&ws);
    printf("%s\n", fails ? "FAILED" : "PASSED");
    return fails ? 1 : 0;
}
