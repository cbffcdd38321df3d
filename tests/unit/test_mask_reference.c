/* Masking against tests/reference/gen_mask_reference.py: part sizes with the original's float64 ceil arithmetic on
 * 209 (N, ratios) cases up to N = 100000 (fixtures/mask/sizes.txt), and deterministic low/high masks (no random
 * part, rho = 1) for ABMIL-like (1 row) and TransMIL-like (H rows, vote and mean) scores with and without ties,
 * whose masked sets were cross-checked with torch.topk and whose kept order is real CPython output
 * (fixtures/mask/select.txt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/mask.h"
#include "test_mask_fixture.h"

#define N_CAP 100000

static mhim_mask_workspace ws;

static int sizes_fixture(float *scores, int64_t *ids) {
    FILE *f = fx_open("sizes.txt");
    if (!f) return 1;
    for (int64_t i = 0; i < N_CAP; i++) scores[i] = (float)((i * 7919) % 65536) / 65536.0f;
    char line[512];
    int fails = 0, cases = 0;
    while (fgets(line, sizeof line, f)) {
        long long n, want[4];
        double r, rl, rh, rho;
        if (sscanf(line, "%lld %lf %lf %lf %lf %lld %lld %lld %lld", &n, &r, &rl, &rh, &rho, &want[0], &want[1],
                   &want[2], &want[3]) != 9 || n > N_CAP) {
            printf("FAIL bad line in sizes.txt: %s", line);
            fails++;
            continue;
        }
        mhim_mask_config c = {r, rl, rh, rho, MHIM_MASK_FUSION_VOTE, MHIM_KEEP_ASCENDING};
        mhim_mask_key key = {5, 0, (uint32_t)cases};
        mhim_mask_stats st;
        int rc = mhim_mask_select(&c, rh, scores, 1, n, key, &ws, ids, &st);
        cases++;
        if (rc != MHIM_OK || st.n_random != want[0] || st.n_low != want[1] || st.n_high_candidates != want[2] ||
            st.n_high != want[3]) {
            printf("FAIL n=%lld r=%.17g r_l=%.17g r_h=%.17g rho=%.17g: sizes %lld %lld %lld %lld, Python %lld %lld "
                   "%lld %lld\n", n, r, rl, rh, rho, (long long)st.n_random, (long long)st.n_low,
                   (long long)st.n_high_candidates, (long long)st.n_high, want[0], want[1], want[2], want[3]);
            fails++;
        }
    }
    fclose(f);
    printf("%s sizes.txt: %d cases, %d mismatches\n", fails ? "FAIL" : "ok  ", cases, fails);
    return fails + check_true("sizes.txt holds >= 200 cases", cases >= 200);
}

/* Parse `| ids... ` after *p into want[off..]; returns the count. */
static int64_t parse_list(char **p, int64_t *want) {
    char *bar = strchr(*p, '|');
    if (!bar) return -1;
    *p = bar + 1;
    int64_t m = 0;
    while (fx_next_i64(p, &want[m])) m++;
    return m;
}

static int select_line(char *line, float *scores, int64_t *perm, int64_t *ids, int64_t *want) {
    char name[64], fusion[8];
    long long n, heads, levels, seed, exp[5];
    double rl, rh;
    int used = 0;
    if (sscanf(line, "%63s %lld %lld %lld %lld %lf %lf %7s %lld %lld %lld %lld %lld %n", name, &n, &heads, &levels,
               &seed, &rl, &rh, fusion, &exp[0], &exp[1], &exp[2], &exp[3], &exp[4], &used) != 13 ||
        n * heads > N_CAP) {
        printf("FAIL bad line in select.txt: %.80s\n", line);
        return 1;
    }
    char *p = line + used;
    int64_t n_masked = parse_list(&p, want + exp[0]);
    int64_t n_kept = parse_list(&p, want);
    if (n_masked != exp[4] || n_kept != exp[0]) {
        printf("FAIL %s: fixture lists %lld masked / %lld kept\n", name, (long long)n_masked, (long long)n_kept);
        return 1;
    }
    fx_scores(n, heads, levels, (uint64_t)seed, scores, perm);
    mhim_mask_config c = {0, rl, rh, 1.0, strcmp(fusion, "mean") ? MHIM_MASK_FUSION_VOTE : MHIM_MASK_FUSION_MEAN,
                          MHIM_KEEP_CPYTHON_SET};
    mhim_mask_key key = {1, 0, 0};
    mhim_mask_stats st;
    if (mhim_mask_select(&c, rh, scores, heads, n, key, &ws, ids, &st) != MHIM_OK) {
        printf("FAIL %s: %s\n", name, mhim_error());
        return 1;
    }
    char label[96];
    snprintf(label, sizeof label, "%s sizes keep %lld low %lld high %lld", name, exp[0], exp[1], exp[3]);
    int fails = check_true(label, st.len_keep == exp[0] && st.n_low == exp[1] && st.n_high_candidates == exp[2] &&
                                      st.n_high == exp[3] && st.n_masked == exp[4] && !st.guarded);
    snprintf(label, sizeof label, "%s ids (CPython kept order)", name);
    return fails + check_equal_i64(label, ids, want, n);
}

static int select_fixture(float *scores, int64_t *perm, int64_t *ids, int64_t *want) {
    FILE *f = fx_open("select.txt");
    if (!f) return 1;
    char *line = mhim_malloc(1 << 20);
    int fails = 0, cases = 0;
    while (fgets(line, 1 << 20, f)) {
        fails += select_line(line, scores, perm, ids, want);
        cases++;
    }
    fclose(f);
    free(line);
    return fails + check_true("select.txt holds >= 12 cases", cases >= 12);
}

int main(void) {
    mhim_mask_workspace_init(&ws, N_CAP);
    float *scores = mhim_malloc(N_CAP * sizeof *scores);
    int64_t *ids = mhim_malloc(N_CAP * sizeof *ids), *perm = mhim_malloc(N_CAP * sizeof *perm),
            *want = mhim_malloc(N_CAP * sizeof *want);
    int fails = sizes_fixture(scores, ids) + select_fixture(scores, perm, ids, want);
    free(scores);
    free(ids);
    free(perm);
    free(want);
    mhim_mask_workspace_free(&ws);
    printf("%s\n", fails ? "FAILED" : "PASSED");
    return fails ? 1 : 0;
}
