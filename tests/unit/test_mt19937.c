/* MT19937 against CPython `random` and numpy legacy RandomState outputs recorded by
 * tests/reference/gen_splits.py in fixtures/splits/mt19937_reference.txt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/mt19937.h"

#define MAX_VALUES 64

typedef struct {
    char name[64];
    int n;
    char text[MAX_VALUES][32];
} ref_line;

static int find_line(const char *name, ref_line *out) {
    FILE *f = fopen("fixtures/splits/mt19937_reference.txt", "r");
    if (!f) {
        printf("cannot open fixtures/splits/mt19937_reference.txt (run from tests/)\n");
        return 0;
    }
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *tok = strtok(line, " \n");
        if (!tok || strcmp(tok, name)) continue;
        snprintf(out->name, sizeof out->name, "%s", name);
        out->n = 0;
        while ((tok = strtok(NULL, " \n")) && out->n < MAX_VALUES) snprintf(out->text[out->n++], 32, "%s", tok);
        found = 1;
    }
    fclose(f);
    if (!found) printf("fixture line '%s' missing\n", name);
    return found;
}

/* Compare n generated integers with the fixture line `name`. */
static int check_ints(const char *name, const int64_t *got, int n) {
    ref_line ref;
    if (!find_line(name, &ref)) return 1;
    if (ref.n != n) return check_true(name, 0);
    int64_t want[MAX_VALUES];
    for (int i = 0; i < n; i++) want[i] = strtoll(ref.text[i], NULL, 10);
    return check_equal_i64(name, got, want, n);
}

static int test_python_random(void) {
    int fails = 0;
    mhim_mt19937 mt;
    int64_t v[32];
    mhim_pyrandom_seed(&mt, 2021);
    for (int i = 0; i < 5; i++) v[i] = mhim_mt19937_next_u32(&mt);
    fails += check_ints("py_seed2021_getrandbits32", v, 5);

    mhim_pyrandom_seed(&mt, 2021);
    ref_line ref;
    if (find_line("py_seed2021_random", &ref)) {
        for (int i = 0; i < 3; i++) {
            double got = mhim_pyrandom_random(&mt), want = strtod(ref.text[i], NULL);
            printf("random() #%d: got %.17g want %.17g\n", i, got, want);
            fails += check_true("py random() bit-exact", got == want);
        }
    } else {
        fails++;
    }
    mhim_pyrandom_seed(&mt, 0);
    for (int i = 0; i < 3; i++) v[i] = mhim_mt19937_next_u32(&mt);
    fails += check_ints("py_seed0_getrandbits32", v, 3);
    mhim_pyrandom_seed(&mt, 2021); /* random.seed(-2021) seeds with |-2021| */
    for (int i = 0; i < 3; i++) v[i] = mhim_mt19937_next_u32(&mt);
    fails += check_ints("py_seedneg2021_getrandbits32", v, 3);
    mhim_pyrandom_seed(&mt, (1ULL << 40) + 5);
    for (int i = 0; i < 3; i++) v[i] = mhim_mt19937_next_u32(&mt);
    fails += check_ints("py_seed2p40p5_getrandbits32", v, 3);
    mhim_pyrandom_seed(&mt, 2021);
    for (int i = 0; i < 3; i++) v[i] = (int64_t)mhim_pyrandom_getrandbits(&mt, 40);
    fails += check_ints("py_seed2021_getrandbits40", v, 3);
    mhim_pyrandom_seed(&mt, 2021);
    const uint64_t bounds[6] = {1, 2, 3, 10, 1000, (1ULL << 33) + 1};
    for (int i = 0; i < 6; i++) v[i] = (int64_t)mhim_pyrandom_randbelow(&mt, bounds[i]);
    fails += check_ints("py_seed2021_randbelow", v, 6);
    mhim_pyrandom_seed(&mt, 2021);
    for (int i = 0; i < 20; i++) v[i] = i;
    mhim_pyrandom_shuffle(&mt, v, 20);
    fails += check_ints("py_seed2021_shuffle20", v, 20);
    return fails;
}

static int test_numpy_legacy(void) {
    int fails = 0;
    mhim_mt19937 mt;
    int64_t v[32];
    mhim_nplegacy_seed(&mt, 2021);
    for (int i = 0; i < 5; i++) v[i] = mhim_mt19937_next_u32(&mt);
    fails += check_ints("np_seed2021_u32", v, 5);
    mhim_nplegacy_seed(&mt, 2021);
    mhim_nplegacy_permutation(&mt, 20, v);
    fails += check_ints("np_seed2021_permutation20", v, 20);
    mhim_nplegacy_seed(&mt, 7);
    mhim_nplegacy_permutation(&mt, 10, v);
    fails += check_ints("np_seed7_choice10", v, 10);
    mhim_nplegacy_seed(&mt, 2021);
    mhim_nplegacy_permutation(&mt, 30, v);
    fails += check_ints("pd_seed2021_sample30", v, 30);
    mhim_nplegacy_seed(&mt, 4294967295U);
    mhim_nplegacy_permutation(&mt, 10, v);
    fails += check_ints("np_seed4294967295_permutation10", v, 10);
    /* bounded draws stay in range, also above 2^32 */
    mhim_nplegacy_seed(&mt, 1);
    int in_range = 1;
    for (int i = 0; i < 1000; i++) {
        in_range &= mhim_nplegacy_interval(&mt, 5) <= 5;
        in_range &= mhim_nplegacy_interval(&mt, (1ULL << 40) + 3) <= (1ULL << 40) + 3;
    }
    fails += check_true("random_interval within [0, max]", in_range);
    fails += check_true("random_interval(0) == 0", mhim_nplegacy_interval(&mt, 0) == 0);
    return fails;
}

int main(void) {
    int fails = test_python_random() + test_numpy_legacy();
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "OK", fails);
    return fails ? 1 : 0;
}
