/* v1 get_mask (spec v1 §4.3) on hand-worked bags: low / high / random parts, float64 ceil sizes, the random_ratio
 * trick, vote and mean fusion with ties, the keep-one guard, a single masked id, determinism of the random draws
 * per (seed, epoch, bag), workspace reuse and bad input. Expected index sets are worked out in the comments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/mask.h"
#include "mhim/rng.h"

static mhim_mask_workspace ws;
static const mhim_mask_key key0 = {2021, 3, 17};

static mhim_mask_config cfg(double r, double r_l, double r_h, double rho, mhim_mask_fusion fusion) {
    return (mhim_mask_config){r, r_l, r_h, rho, fusion, MHIM_KEEP_ASCENDING};
}

/* Run the mask and compare ids[0..n) = kept ascending then masked ascending with `want`, and len_keep. */
static int expect_ids(const char *name, const mhim_mask_config *c, const float *s, int64_t heads, int64_t n,
                      const int64_t *want, int64_t want_keep, mhim_mask_stats *st) {
    int64_t ids[256];
    mhim_mask_stats local;
    int rc = mhim_mask_select(c, c->ratio_h, s, heads, n, key0, &ws, ids, st ? st : &local);
    if (rc != MHIM_OK) {
        printf("FAIL %s: %s\n", name, mhim_error());
        return 1;
    }
    char label[160];
    snprintf(label, sizeof label, "%s len_keep=%lld", name, (long long)want_keep);
    return check_true(label, (st ? st : &local)->len_keep == want_keep) + check_equal_i64(name, ids, want, n);
}

static int low_high_cases(void) {
    int fails = 0;
    /* N = 10. r_l = 0.2: 10·0.2 = 2.0 -> the 2 lowest {7 (0.05), 1 (0.1)}; r_h = 0.1: 10·0.1 = 1.0 -> the top-1
     * {2 (0.9)}. M = {1, 2, 7}. */
    const float s10[10] = {0.5f, 0.1f, 0.9f, 0.3f, 0.7f, 0.2f, 0.8f, 0.05f, 0.6f, 0.4f};
    mhim_mask_config c = cfg(0, 0.2, 0.1, 1.0, MHIM_MASK_FUSION_VOTE);
    mhim_mask_stats st;
    fails += expect_ids("N10 low 0.2 + high 0.1", &c, s10, 1, 10, (int64_t[]){0, 3, 4, 5, 6, 8, 9, 1, 2, 7}, 7, &st);
    fails += check_true("N10 stats: low 2, high 1 of 1 candidate, masked 3, not guarded",
                        st.n_low == 2 && st.n_high == 1 && st.n_high_candidates == 1 && st.n_masked == 3 &&
                            st.n_random == 0 && !st.guarded && st.unmasked_id == -1);
    /* Exactly one masked id (the original's squeeze() crash): r_l = 0.1 -> {7}. */
    c = cfg(0, 0.1, 0, 1.0, MHIM_MASK_FUSION_VOTE);
    fails += expect_ids("N10 single masked id", &c, s10, 1, 10, (int64_t[]){0, 1, 2, 3, 4, 5, 6, 8, 9, 7}, 9, NULL);
    /* One masked id from the first part, then a union: r_l = 0.1 {7} + r_h = 0.2 {2, 6}. */
    c = cfg(0, 0.1, 0.2, 1.0, MHIM_MASK_FUSION_VOTE);
    fails += expect_ids("N10 single id then union", &c, s10, 1, 10, (int64_t[]){0, 1, 3, 4, 5, 8, 9, 2, 6, 7}, 7,
                        NULL);

    /* Ties: all 0.5 except s[9] = 0.1. r_l = 0.3 (10·0.3 = 3.0): {9} then the lower indices {0, 1};
     * r_h = 0.2: top-2 of the ties = {0, 1}. M = {0, 1, 9}. */
    float tie[10];
    for (int i = 0; i < 10; i++) tie[i] = i == 9 ? 0.1f : 0.5f;
    c = cfg(0, 0.3, 0.2, 1.0, MHIM_MASK_FUSION_VOTE);
    fails += expect_ids("N10 ties: lower index first", &c, tie, 1, 10, (int64_t[]){2, 3, 4, 5, 6, 7, 8, 0, 1, 9}, 7,
                        NULL);
    /* -0 and +0 tie: lowest 1 of {+0 at 3, -0 at 1, ...} is index 1 (the lower). */
    float zeros[4] = {0.5f, -0.0f, 0.7f, 0.0f};
    c = cfg(0, 0.25, 0, 1.0, MHIM_MASK_FUSION_VOTE);
    fails += expect_ids("N4 -0 ties +0", &c, zeros, 1, 4, (int64_t[]){0, 2, 3, 1}, 3, NULL);

    /* N = 17, s[i] = (i·7 mod 17)/17: r_l = 0.25 -> 17·0.25 = 4.25 -> 5 lowest: values 0..4/17 at
     * i = 0, 5, 10, 15, 3; r_h = 0.03 -> 0.51 -> 1 highest: 16/17 at i = 12. */
    float s17[17];
    for (int i = 0; i < 17; i++) s17[i] = (float)((i * 7) % 17) / 17.0f;
    c = cfg(0, 0.25, 0.03, 1.0, MHIM_MASK_FUSION_VOTE);
    fails += expect_ids("N17 ceil(4.25)=5 low + ceil(0.51)=1 high", &c, s17, 1, 17,
                        (int64_t[]){1, 2, 4, 6, 7, 8, 9, 11, 13, 14, 16, 0, 3, 5, 10, 12, 15}, 11, NULL);
    return fails;
}

static int float64_size_cases(void) {
    int fails = 0;
    /* N = 100, s[i] = i/100: r_h = 0.07 -> 100·0.07 = 7.000000000000001 -> 8 highest {92..99}. */
    float s100[100];
    for (int i = 0; i < 100; i++) s100[i] = (float)i / 100.0f;
    int64_t want[100];
    for (int i = 0; i < 100; i++) want[i] = i; /* kept 0..91, then masked 92..99 */
    mhim_mask_config c = cfg(0, 0, 0.07, 1.0, MHIM_MASK_FUSION_VOTE);
    mhim_mask_stats st;
    fails += expect_ids("N100 r_h 0.07 -> 8 (float64)", &c, s100, 1, 100, want, 92, &st);
    /* rho = 0.5: r' = 0.14, 100·0.14 = 14.000000000000002 -> K = 15 candidates {85..99}; ceil(15·0.5) = 8 masked. */
    c = cfg(0, 0, 0.07, 0.5, MHIM_MASK_FUSION_VOTE);
    int64_t ids[100];
    fails += check_true("N100 r_h 0.07 rho 0.5 runs",
                        mhim_mask_select(&c, 0.07, s100, 1, 100, key0, &ws, ids, &st) == MHIM_OK);
    int inside = 1;
    for (int64_t i = st.len_keep; i < 100; i++) inside &= ids[i] >= 85;
    printf("     K=%lld |Hs|=%lld len_keep=%lld\n", (long long)st.n_high_candidates, (long long)st.n_high,
           (long long)st.len_keep);
    fails += check_true("N100 rho 0.5: K = 15, |Hs| = 8, all within the top 15",
                        st.n_high_candidates == 15 && st.n_high == 8 && st.len_keep == 92 && inside);
    /* rho > r_h/1: r_h = 0.6, rho = 0.5 -> r' = 1.2 > 1 -> rr := 0.6, K = N = 100, ceil(100·0.6) = 60 masked. */
    c = cfg(0, 0, 0.6, 0.5, MHIM_MASK_FUSION_VOTE);
    mhim_mask_select(&c, 0.6, s100, 1, 100, key0, &ws, ids, &st);
    fails += check_true("N100 r' > 1: K = 100, |Hs| = 60",
                        st.n_high_candidates == 100 && st.n_high == 60 && st.len_keep == 40);
    return fails;
}

/* ids[len_keep..n) as a membership array. */
static void masked_flags(const int64_t *ids, int64_t n, int64_t len_keep, uint8_t *flags) {
    memset(flags, 0, (size_t)n);
    for (int64_t i = len_keep; i < n; i++) flags[ids[i]] = 1;
}

/* The documented draw: a partial Fisher–Yates over cand[0..k) (ascending) taking m, from the stream of `part`;
 * returns the chosen ones as flags. */
static void documented_draw(int64_t *cand, int64_t k, int64_t m, int part, uint8_t *flags, int64_t n) {
    mhim_rng rng = mhim_rng_stream(key0.seed, key0.epoch, key0.bag, MHIM_RNG_MASK, (uint32_t)part);
    for (int64_t i = 0; i < m; i++) {
        int64_t j = i + (int64_t)mhim_rng_below(&rng, (uint64_t)(k - i)), t = cand[i];
        cand[i] = cand[j];
        cand[j] = t;
    }
    memset(flags, 0, (size_t)n);
    for (int64_t i = 0; i < m; i++) flags[cand[i]] = 1;
}

static int random_cases(void) {
    int fails = 0;
    float a[100], b[100];
    for (int i = 0; i < 100; i++) {
        a[i] = (float)i / 100.0f;
        b[i] = (float)(99 - i) / 100.0f;
    }
    /* r = 0.5 with rr = 0.001: r' = 500 > 1 -> rr := 0.5, k = N: a uniform ceil(100·0.5) = 50, scores unused. */
    mhim_mask_config c = cfg(0.5, 0, 0, 1.0, MHIM_MASK_FUSION_VOTE);
    int64_t ia[100], ib[100], ic[100];
    mhim_mask_stats sa, sb, sc;
    mhim_mask_select(&c, 0, a, 1, 100, key0, &ws, ia, &sa);
    mhim_mask_select(&c, 0, b, 1, 100, key0, &ws, ib, &sb);
    fails += check_true("random r 0.5: |R| = 50, len_keep = 50", sa.n_random == 50 && sa.len_keep == 50);
    fails += check_equal_i64("random part ignores the scores", ia, ib, 100);
    mhim_mask_select(&c, 0, a, 1, 100, key0, &ws, ic, &sc);
    fails += check_equal_i64("same key -> same mask", ia, ic, 100);
    mhim_mask_key other_bag = {key0.seed, key0.epoch, key0.bag + 1};
    mhim_mask_key other_epoch = {key0.seed, key0.epoch + 1, key0.bag};
    mhim_mask_select(&c, 0, a, 1, 100, other_bag, &ws, ib, &sb);
    mhim_mask_select(&c, 0, a, 1, 100, other_epoch, &ws, ic, &sc);
    fails += check_true("different bag -> different mask, same size",
                        memcmp(ia, ib, sizeof ia) != 0 && sb.len_keep == 50);
    fails += check_true("different epoch -> different mask", memcmp(ia, ic, sizeof ia) != 0);

    /* Uniformity: over 2000 bags each instance is masked about half the time (binomial sd ~ 11). */
    int counts[100] = {0};
    for (uint32_t bag = 0; bag < 2000; bag++) {
        mhim_mask_key k = {7, 0, bag};
        mhim_mask_select(&c, 0, a, 1, 100, k, &ws, ia, &sa);
        for (int64_t i = sa.len_keep; i < 100; i++) counts[ia[i]]++;
    }
    int lo = 2000, hi = 0;
    for (int i = 0; i < 100; i++) {
        lo = counts[i] < lo ? counts[i] : lo;
        hi = counts[i] > hi ? counts[i] : hi;
    }
    printf("     per-instance mask counts over 2000 bags: min %d max %d (expect ~1000 +- 60)\n", lo, hi);
    fails += check_true("random mask is uniform over instances", lo > 900 && hi < 1100);

    /* r = 0.0005 <= 0.001: r' = 0.5 -> the ceil(10·0.5) = 5 lowest {0..4}, then ceil(5·0.001) = 1 of them. */
    c = cfg(0.0005, 0, 0, 1.0, MHIM_MASK_FUSION_VOTE);
    int ok = 1;
    for (uint32_t bag = 0; bag < 50; bag++) {
        mhim_mask_key k = {1, 0, bag};
        mhim_mask_select(&c, 0, a, 1, 10, k, &ws, ia, &sa);
        ok &= sa.n_random == 1 && sa.len_keep == 9 && ia[9] < 5;
    }
    fails += check_true("r 0.0005: one random instance among the 5 lowest", ok);

    /* Union R ∪ L ∪ Hs: R = 30 random, L = {0..19}, Hs = {99}; |M| = 30 + 21 - overlap. */
    c = cfg(0.3, 0.2, 0.01, 1.0, MHIM_MASK_FUSION_VOTE);
    mhim_mask_select(&c, 0.01, a, 1, 100, key0, &ws, ia, &sa);
    mhim_mask_config c_random = cfg(0.3, 0, 0, 1.0, MHIM_MASK_FUSION_VOTE);
    mhim_mask_select(&c_random, 0, a, 1, 100, key0, &ws, ib, &sb);
    uint8_t fu[100], fr[100];
    masked_flags(ia, 100, sa.len_keep, fu);
    masked_flags(ib, 100, sb.len_keep, fr);
    ok = sa.n_random == 30 && sa.n_low == 20 && sa.n_high == 1;
    for (int i = 0; i < 100; i++) ok &= fu[i] == (fr[i] || i < 20 || i == 99);
    fails += check_true("union = R (same stream alone) ∪ {0..19} ∪ {99}", ok);

    /* The streams: R = Fisher–Yates over 0..99 with part 0's stream, Hs = over the top-15 {85..99} with part 2's
     * (N = 100, r = 0.5, r_h = 0.07, rho = 0.5: K = 15, |Hs| = 8). */
    c = cfg(0.5, 0, 0.07, 0.5, MHIM_MASK_FUSION_VOTE);
    mhim_mask_select(&c, 0.07, a, 1, 100, key0, &ws, ia, &sa);
    int64_t cand[100];
    uint8_t want_r[100], want_h[100];
    for (int i = 0; i < 100; i++) cand[i] = i;
    documented_draw(cand, 100, 50, MHIM_MASK_PART_RANDOM, want_r, 100);
    for (int i = 0; i < 15; i++) cand[i] = 85 + i;
    documented_draw(cand, 15, 8, MHIM_MASK_PART_HIGH, want_h, 100);
    masked_flags(ia, 100, sa.len_keep, fu);
    ok = sa.n_random == 50 && sa.n_high == 8;
    for (int i = 0; i < 100; i++) ok &= fu[i] == (want_r[i] || want_h[i]);
    fails += check_true("R and Hs are the documented draws of streams 0 and 2", ok);
    return fails;
}

static int fusion_cases(void) {
    int fails = 0;
    /* H = 3, N = 6; r_h = 0.3 -> 6·0.3 = 1.7999999999999998 -> k = 2. Per-head top-2: {0,1}, {1,2}, {2,3};
     * votes 1,2,2,1,0,0 -> top-2 = {1, 2}. */
    const float v[18] = {0.9f, 0.8f, 0.1f, 0.2f, 0.3f, 0.4f,  /* head 0 */
                         0.1f, 0.9f, 0.8f, 0.2f, 0.3f, 0.4f,  /* head 1 */
                         0.1f, 0.2f, 0.9f, 0.8f, 0.3f, 0.4f}; /* head 2 */
    mhim_mask_config c = cfg(0, 0, 0.3, 1.0, MHIM_MASK_FUSION_VOTE);
    fails += expect_ids("vote H3 N6 k2 -> {1,2}", &c, v, 3, 6, (int64_t[]){0, 3, 4, 5, 1, 2}, 4, NULL);
    /* Lowest with vote, r_l = 0.5 -> k = 3: per-head lowest-3 {2,3,4}, {0,3,4}, {0,1,4}; votes 2,1,1,2,3,0
     * -> 4 (3 votes), then 0 and 3 (2 votes, lower index first) -> {0, 3, 4}. */
    c = cfg(0, 0.5, 0, 1.0, MHIM_MASK_FUSION_VOTE);
    fails += expect_ids("vote lowest H3 N6 k3 -> {0,3,4}", &c, v, 3, 6, (int64_t[]){1, 2, 5, 0, 3, 4}, 3, NULL);
    /* Vote ties: per-head top-2 {0,1}, {2,3}, {4,5}: every vote is 1 -> the lower indices {0, 1}. */
    const float t[18] = {0.9f, 0.8f, 0.1f, 0.2f, 0.3f, 0.4f, 0.1f, 0.2f, 0.9f, 0.8f, 0.3f, 0.35f,
                         0.1f, 0.2f, 0.3f, 0.35f, 0.9f, 0.8f};
    c = cfg(0, 0, 0.3, 1.0, MHIM_MASK_FUSION_VOTE);
    fails += expect_ids("vote ties -> lower index {0,1}", &c, t, 3, 6, (int64_t[]){2, 3, 4, 5, 0, 1}, 4, NULL);
    /* Mean: r_h = 0.5 -> k = 3, per head top-(3 // 3 = 1): {0}, {1}, {2} -> union {0, 1, 2}. */
    mhim_mask_stats st;
    c = cfg(0, 0, 0.5, 1.0, MHIM_MASK_FUSION_MEAN);
    fails += expect_ids("mean H3 N6 k3 -> {0,1,2}", &c, v, 3, 6, (int64_t[]){3, 4, 5, 0, 1, 2}, 3, &st);
    fails += check_true("mean: 3 candidates", st.n_high_candidates == 3 && st.n_high == 3);
    /* Mean with k // H = 0: r_h = 0.3 -> k = 2, 2 // 3 = 0 -> nothing masked. */
    fails += expect_ids("mean k//H = 0 masks nothing", &(mhim_mask_config){0, 0, 0.3, 1.0, MHIM_MASK_FUSION_MEAN,
                        MHIM_KEEP_ASCENDING}, v, 3, 6, (int64_t[]){0, 1, 2, 3, 4, 5}, 6, NULL);
    /* Random trick with vote: k = N, every head marks everything -> candidates = all 6, |R| = ceil(6·0.5) = 3. */
    c = cfg(0.5, 0, 0, 1.0, MHIM_MASK_FUSION_VOTE);
    int64_t ids[6];
    mhim_mask_select(&c, 0, v, 3, 6, key0, &ws, ids, &st);
    fails += check_true("random with H = 3 (vote): |R| = 3", st.n_random == 3 && st.len_keep == 3);
    return fails;
}

static int guard_and_order_cases(void) {
    int fails = 0;
    mhim_mask_stats st;
    /* N = 1: ceil(1·r_h) = 1 masks the only instance -> guard keeps it. */
    const float one = 0.3f;
    mhim_mask_config c = cfg(0, 0, 0.01, 1.0, MHIM_MASK_FUSION_VOTE);
    fails += expect_ids("N1 guard", &c, &one, 1, 1, (int64_t[]){0}, 1, &st);
    fails += check_true("N1 guarded, unmasked 0, n_high 1", st.guarded && st.unmasked_id == 0 && st.n_high == 1);
    /* Everything requested: r = 1 -> r' = 1000 > 1 -> rr = 1, all 10 masked; the lowest score (7: 0.05) is kept. */
    const float s10[10] = {0.5f, 0.1f, 0.9f, 0.3f, 0.7f, 0.2f, 0.8f, 0.05f, 0.6f, 0.4f};
    c = cfg(1.0, 0, 0, 1.0, MHIM_MASK_FUSION_VOTE);
    fails += expect_ids("all masked -> keep lowest score", &c, s10, 1, 10, (int64_t[]){7, 0, 1, 2, 3, 4, 5, 6, 8, 9},
                        1, &st);
    fails += check_true("all masked: guarded, 9 masked", st.guarded && st.unmasked_id == 7 && st.n_masked == 9);
    /* Multi-head guard: lowest head sum; ties lower index. Sums 0.75, 0.75, 1.0 -> keep 0. */
    const float h2[6] = {0.25f, 0.5f, 0.5f, 0.5f, 0.25f, 0.5f};
    c = cfg(0, 1.0, 0, 1.0, MHIM_MASK_FUSION_VOTE);
    fails += expect_ids("H2 all masked -> keep lowest sum (tie -> 0)", &c, h2, 2, 3, (int64_t[]){0, 1, 2}, 1, &st);
    /* Nothing enabled: all kept ascending. */
    c = cfg(0, 0, 0, 1.0, MHIM_MASK_FUSION_VOTE);
    fails += expect_ids("all ratios 0 -> keep all", &c, s10, 1, 10, (int64_t[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10,
                        NULL);
    /* CPython order through the select API: N = 12, s = i/12 except 1 at {2, 3, 11}; r_l = 0.75 -> the 9 lowest
     * are masked, kept {2, 3, 11}, whose set order is 11, 2, 3 (worked out in test_kept_order). */
    float s12[12];
    for (int i = 0; i < 12; i++) s12[i] = (i == 2 || i == 3 || i == 11) ? 1.0f : (float)i / 12.0f;
    c = (mhim_mask_config){0, 0.75, 0, 1.0, MHIM_MASK_FUSION_VOTE, MHIM_KEEP_CPYTHON_SET};
    fails += expect_ids("cpython order via select", &c, s12, 1, 12,
                        (int64_t[]){11, 2, 3, 0, 1, 4, 5, 6, 7, 8, 9, 10}, 3, NULL);
    c.order = MHIM_KEEP_ASCENDING;
    fails += expect_ids("ascending order via select", &c, s12, 1, 12,
                        (int64_t[]){2, 3, 11, 0, 1, 4, 5, 6, 7, 8, 9, 10}, 3, NULL);
    return fails;
}

static int workspace_and_errors(void) {
    int fails = 0;
    /* Reuse after a larger bag gives the same result as a fresh workspace. */
    enum { BIG = 5000 };
    float *big = mhim_malloc(BIG * sizeof *big);
    for (int i = 0; i < BIG; i++) big[i] = (float)((i * 7919) % BIG);
    int64_t *ids = mhim_malloc(BIG * sizeof *ids), small_a[50], small_b[50];
    mhim_mask_config c = {0.5, 0.2, 0.03, 0.5, MHIM_MASK_FUSION_VOTE, MHIM_KEEP_CPYTHON_SET};
    mhim_mask_stats st;
    fails += check_true("config passes the check", mhim_mask_config_check(&c) == MHIM_OK);
    mhim_mask_select(&c, 0.03, big, 1, BIG, key0, &ws, ids, &st);
    mhim_mask_select(&c, 0.03, big, 1, 50, key0, &ws, small_a, &st);
    mhim_mask_workspace fresh;
    mhim_mask_workspace_init(&fresh, 50);
    mhim_mask_select(&c, 0.03, big, 1, 50, key0, &fresh, small_b, &st);
    fails += check_equal_i64("workspace reuse == fresh workspace", small_a, small_b, 50);

    float bad[4] = {0.1f, NAN, 0.3f, 0.2f};
    int rc = mhim_mask_select(&c, 0.03, bad, 1, 4, key0, &fresh, small_a, &st);
    printf("     NaN score: %s\n", mhim_error());
    fails += check_true("NaN score -> MHIM_EINPUT naming instance 1",
                        rc == MHIM_EINPUT && strstr(mhim_error(), "instance 1"));
    rc = mhim_mask_select(&c, 0.03, big, 1, 51, key0, &fresh, small_a, &st);
    fails += check_true("bag larger than the workspace -> MHIM_EINTERNAL", rc == MHIM_EINTERNAL);
    rc = mhim_mask_select(&c, 1.5, big, 1, 10, key0, &fresh, small_a, &st);
    fails += check_true("scheduled r_h 1.5 -> MHIM_EINPUT", rc == MHIM_EINPUT);
    rc = mhim_mask_select(&c, 0.03, big, 1, 0, key0, &fresh, small_a, &st);
    fails += check_true("empty bag -> MHIM_EINPUT", rc == MHIM_EINPUT);
    mhim_mask_workspace_free(&fresh);

    const mhim_mask_config bad_cfgs[] = {{-0.1, 0, 0, 1, 0, 0}, {0, 1.5, 0, 1, 0, 0}, {0, 0, NAN, 1, 0, 0},
                                         {0, 0, 0.1, 0, 0, 0},  {0, 0, 0.1, 1.2, 0, 0}, {0, 0, 0.1, 1, 5, 0},
                                         {0, 0, 0.1, 1, 0, 9}};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(bad_cfgs); i++) {
        rc = mhim_mask_config_check(&bad_cfgs[i]);
        printf("     bad config %zu: %s\n", i, mhim_error());
        fails += check_true("bad config rejected", rc == MHIM_EINPUT);
    }
    free(big);
    free(ids);
    return fails;
}

int main(void) {
    mhim_mask_workspace_init(&ws, 5000);
    int fails = low_high_cases() + float64_size_cases() + random_cases() + fusion_cases() + guard_and_order_cases() +
                workspace_and_errors();
    mhim_mask_workspace_free(&ws);
    printf("%s\n", fails ? "FAILED" : "PASSED");
    return fails ? 1 : 0;
}
