/* Sweep grids (mhim/dist.h): a YAML `sweep:` block expands to the cartesian product in key order with the last key
 * varying fastest, a TSV grid keeps its row order, point folder names, and the refusals (ragged TSV row, empty
 * list, unknown or reserved key, --sweep_point out of range, both grid sources at once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/dist.h"

static char *tmp_file(const char *name, const char *text) {
    const char *dir = getenv("MHIM_TEST_TMP");
    char *path = mhim_asprintf("%s/dist_sweep_%s", dir ? dir : "/tmp", name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static int check_name(const mhim_sweep *s, int64_t p, const char *want) {
    char *got = mhim_sweep_point_name(s, p);
    char label[160];
    snprintf(label, sizeof label, "point %lld is %s (got %s)", (long long)p, want, got);
    int fail = check_true(label, !strcmp(got, want));
    free(got);
    return fail;
}

/* mhim_sweep_load on `mhim train <extra...>`; returns its status, message in mhim_error(). */
static int load(int n_extra, char **extra, mhim_sweep *s) {
    char *argv[8] = {"train"};
    for (int i = 0; i < n_extra; i++) argv[1 + i] = extra[i];
    mhim_config cfg;
    mhim_opt_args args;
    int rc = mhim_config_parse(&cfg, 1 + n_extra, argv, &args);
    if (rc == MHIM_OK) {
        mhim_opt_args_free(&args);
        rc = mhim_sweep_load(&cfg, 1 + n_extra, argv, s);
        mhim_config_free(&cfg);
    }
    return rc;
}

static int expect_error(const char *what, int rc, const char *needle) {
    char label[512];
    snprintf(label, sizeof label, "%s refused naming '%s' (got rc %d: %s)", what, needle, rc,
             rc ? mhim_error() : "accepted");
    return check_true(label, rc == MHIM_EINPUT && strstr(mhim_error(), needle) != NULL);
}

int main(void) {
    int fail = 0;
    mhim_sweep s;
    char *yaml = tmp_file("grid.yaml", "baseline: attn\nsweep:\n  mask_ratio_h: [0.01, 0.03, 0.05]\n"
                                       "  merge_ratio: [0.8, 0.9]\nlr: 1e-4\n");
    fail |= check_true("YAML grid parses", mhim_sweep_read_yaml(yaml, &s) == MHIM_OK);
    fail |= check_true("3 x 2 = 6 points, 2 keys", s.n_points == 6 && s.n_keys == 2);
    fail |= check_name(&s, 0, "mask_ratio_h=0.01_merge_ratio=0.8");
    fail |= check_name(&s, 1, "mask_ratio_h=0.01_merge_ratio=0.9");
    fail |= check_name(&s, 4, "mask_ratio_h=0.05_merge_ratio=0.8");
    fail |= check_name(&s, 5, "mask_ratio_h=0.05_merge_ratio=0.9");
    mhim_sweep_free(&s);

    char *tsv = tmp_file("grid.tsv", "# comment\nmask_ratio_h\tlr\n0.05\t1e-3\n\n0.01\t2e-4\n");
    fail |= check_true("TSV grid parses", mhim_sweep_read_tsv(tsv, &s) == MHIM_OK);
    fail |= check_true("TSV: 2 points in row order", s.n_points == 2);
    fail |= check_name(&s, 0, "mask_ratio_h=0.05_lr=1e-3");
    fail |= check_name(&s, 1, "mask_ratio_h=0.01_lr=2e-4");
    mhim_sweep_free(&s);

    char *plain = tmp_file("plain.yaml", "baseline: attn\n");
    fail |= check_true("no sweep block: 0 points", mhim_sweep_read_yaml(plain, &s) == MHIM_OK && s.n_points == 0);
    mhim_sweep_free(&s);

    char *c_yaml[] = {"-c", yaml};
    fail |= check_true("train -c grid.yaml: 6 points", load(2, c_yaml, &s) == MHIM_OK && s.n_points == 6);
    mhim_sweep_free(&s);

    char *ragged = tmp_file("ragged.tsv", "mask_ratio_h\tlr\n0.05\n");
    fail |= expect_error("ragged TSV row", mhim_sweep_read_tsv(ragged, &s), "ragged.tsv:2: 1 fields");
    char *empty = tmp_file("empty.yaml", "sweep:\n  lr: []\n");
    fail |= expect_error("empty value list", mhim_sweep_read_yaml(empty, &s), "the list is empty");
    char *unknown = tmp_file("unknown.tsv", "lrr\n0.1\n");
    char *sw_unknown = mhim_asprintf("--sweep=%s", unknown);
    char *a_unknown[] = {sw_unknown};
    fail |= expect_error("unknown key", load(1, a_unknown, &s), "'lrr' is not an option");
    char *reserved = tmp_file("reserved.tsv", "title\nx\n");
    char *sw_reserved = mhim_asprintf("--sweep=%s", reserved);
    char *a_reserved[] = {sw_reserved};
    fail |= expect_error("reserved key", load(1, a_reserved, &s), "'title' cannot be swept");
    char *a_point[] = {"-c", yaml, "--sweep_point=6"};
    fail |= expect_error("--sweep_point past the grid", load(3, a_point, &s), "the sweep has 6 points");
    char *sw_tsv = mhim_asprintf("--sweep=%s", tsv);
    char *a_both[] = {"-c", yaml, sw_tsv};
    fail |= expect_error("two grid sources", load(3, a_both, &s), "give the grid one way only");

    free(yaml), free(tsv), free(plain), free(ragged), free(empty), free(unknown), free(reserved);
    free(sw_unknown), free(sw_reserved), free(sw_tsv);
    printf("%s\n", fail ? "FAIL" : "PASS");
    return fail;
}
