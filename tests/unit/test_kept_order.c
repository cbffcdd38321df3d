/* CPython set order of the kept instances (spec v1 §4.4): hand-worked probe sequences, and every case of
 * fixtures/mask/kept_order.txt (real CPython 3.11 output of list(set(range(n)) - set(M)), written by
 * tests/reference/gen_mask_reference.py), including n > 8192 with heavy masking where the order interleaves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/mask.h"
#include "test_mask_fixture.h"

/* Order of the kept set {kept[0..m)} in a bag of n. */
static int check_order(const char *name, int64_t n, const int64_t *kept, int64_t m, const int64_t *want) {
    uint8_t *masked = mhim_malloc((size_t)n);
    memset(masked, 1, (size_t)n);
    for (int64_t i = 0; i < m; i++) masked[kept[i]] = 0;
    int32_t *table = mhim_malloc((size_t)mhim_kept_order_table_len(n) * sizeof *table);
    int64_t *out = mhim_malloc((size_t)n * sizeof *out);
    mhim_kept_order_cpython(n, masked, n - m, table, out);
    int fails = check_equal_i64(name, out, want, m);
    free(masked);
    free(table);
    free(out);
    return fails;
}

static int hand_cases(void) {
    int fails = 0;
    /* n = 8193, kept {1, 8192}: 1 -> slot 1; 8192 & 7 = 0 -> slot 0 is free => iteration 8192, 1 */
    fails += check_order("8193 keep {1,8192} -> 8192,1", 8193, (int64_t[]){1, 8192}, 2, (int64_t[]){8192, 1});
    /* kept {1, 8193}: 8193 & 7 = 1 is taken, 1 + 9 > 7 so no linear probe; perturb = 8193 >> 5 = 256,
     * i = (5 + 1 + 256) & 7 = 6 -> slot 6 => 1, 8193 */
    fails += check_order("8194 keep {1,8193} -> 1,8193", 8194, (int64_t[]){1, 8193}, 2, (int64_t[]){1, 8193});
    /* kept {3, 11, 2}: 2 -> 2, 3 -> 3, 11 & 7 = 3 taken, perturb 0, i = 16 & 7 = 0 -> slot 0 => 11, 2, 3 */
    fails += check_order("12 keep {2,3,11} -> 11,2,3", 12, (int64_t[]){2, 3, 11}, 3, (int64_t[]){11, 2, 3});
    /* kept {0, 8192}: 0 -> slot 0; 8192 & 7 = 0 taken, perturb = 256, i = (0 + 1 + 256) & 7 = 1 => 0, 8192 */
    fails += check_order("9000 keep {0,8192} -> 0,8192", 9000, (int64_t[]){8192, 0}, 2, (int64_t[]){0, 8192});
    /* few masked ((n >> 2) > |M|): set.difference copies range(n) => ascending */
    int64_t asc[99];
    for (int i = 0; i < 99; i++) asc[i] = i + 1;
    fails += check_order("100 masked {0} -> ascending", 100, asc, 99, asc);
    return fails;
}

/* One line: kind n m seed len_keep hash n_listed ids... */
static int fixture_line(char *line, int64_t *perm, uint8_t *masked, int32_t *table, int64_t *out, int64_t cap) {
    char kind[16];
    long long n, m, seed, len_keep, n_listed;
    unsigned long long hash;
    int used = 0;
    if (sscanf(line, "%15s %lld %lld %lld %lld %llx %lld%n", kind, &n, &m, &seed, &len_keep, &hash, &n_listed,
               &used) != 7 || n > cap) {
        printf("FAIL bad fixture line: %.80s\n", line);
        return 1;
    }
    memset(masked, 0, (size_t)n);
    if (!strcmp(kind, "random")) {
        fx_shuffled(n, (uint64_t)seed, perm);
        for (int64_t i = 0; i < m; i++) masked[perm[i]] = 1;
    } else if (!strcmp(kind, "prefix")) {
        memset(masked, 1, (size_t)m);
    } else if (!strcmp(kind, "suffix")) {
        memset(masked + (n - m), 1, (size_t)m);
    } else {
        for (int64_t i = 0; i < n; i += seed) masked[i] = 1;
    }
    mhim_kept_order_cpython(n, masked, m, table, out);
    char *p = line + used;
    int fails = 0;
    for (int64_t i = 0; i < n_listed; i++) {
        int64_t want = -1;
        if (!fx_next_i64(&p, &want) || out[i] != want) {
            printf("FAIL %s n=%lld m=%lld seed=%lld: kept[%lld] = %lld, CPython %lld\n", kind, n, m, seed,
                   (long long)i, (long long)out[i], (long long)want);
            return 1;
        }
    }
    if (fx_fnv1a64(out, len_keep) != hash) {
        printf("FAIL %s n=%lld m=%lld seed=%lld: order hash %016llx, CPython %016llx\n", kind, n, m, seed,
               (unsigned long long)fx_fnv1a64(out, len_keep), hash);
        fails = 1;
    }
    return fails;
}

static int fixture_cases(void) {
    FILE *f = fx_open("kept_order.txt");
    if (!f) return 1;
    const int64_t cap = 1000000;
    int64_t *perm = mhim_malloc(cap * sizeof *perm), *out = mhim_malloc(cap * sizeof *out);
    uint8_t *masked = mhim_malloc(cap);
    int32_t *table = mhim_malloc((size_t)mhim_kept_order_table_len(cap) * sizeof *table);
    char *line = mhim_malloc(1 << 16);
    int fails = 0, cases = 0, interleaved = 0;
    while (fgets(line, 1 << 16, f)) {
        fails += fixture_line(line, perm, masked, table, out, cap);
        cases++;
        long long n, m;
        sscanf(line, "%*s %lld %lld", &n, &m);
        int64_t keep = n - m, desc = 0;
        for (int64_t i = 1; i < keep; i++) desc += out[i] < out[i - 1];
        interleaved += desc > 0;
    }
    fclose(f);
    printf("%s kept_order.txt: %d cases (%d not ascending), %d mismatches\n", fails ? "FAIL" : "ok  ", cases,
           interleaved, fails);
    fails += check_true("fixture holds >= 200 cases and >= 10 interleaved orders", cases >= 200 && interleaved >= 10);
    free(perm);
    free(out);
    free(masked);
    free(table);
    free(line);
    return fails;
}

int main(void) {
    int fails = hand_cases() + fixture_cases();
    printf("%s\n", fails ? "FAILED" : "PASSED");
    return fails ? 1 : 0;
}
