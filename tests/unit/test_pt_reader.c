/* torch.save archive reader (mhim/ptfile.h) against fixtures written by torch 1.13
 * (tests/pytorch/gen_pt_fixtures.py): every entry's dtype, shape and exact values from expected.tsv, and one
 * test per rejected file (status MHIM_EINPUT, message naming the file and the problem). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/ptfile.h"

#define FIXTURES "fixtures/pt/"

/* Split line at tabs into at most n fields (empty fields kept). Returns the field count. */
static int split_tabs(char *line, char **fields, int n) {
    int count = 0;
    fields[count++] = line;
    for (char *p = line; *p && count < n; p++)
        if (*p == '\t') {
            *p = '\0';
            fields[count++] = p + 1;
        }
    return count;
}

/* Exact comparison that treats NaN == NaN. */
static int same_value(double got, double want) { return (isnan(got) && isnan(want)) || got == want; }

static int check_tensor(mhim_ptfile *pt, int64_t index, const char *label, const char *dtype, const char *shape,
                        const char *values) {
    const mhim_pt_entry *e = mhim_pt_entry_at(pt, index);
    int bad = check_true(label, e->kind == MHIM_PT_TENSOR && !strcmp(mhim_pt_dtype_name(e->dtype), dtype));
    char got_shape[128] = "-";
    for (int k = 0, used = 0; k < e->ndim; k++)
        used += snprintf(got_shape + used, sizeof got_shape - (size_t)used, k ? ",%lld" : "%lld",
                         (long long)e->shape[k]);
    if (strcmp(got_shape, shape)) {
        printf("FAIL %s shape got %s want %s\n", label, got_shape, shape);
        return bad + 1;
    }
    double *want = mhim_malloc((size_t)MHIM_MAX(e->numel, 1) * sizeof *want);
    char *end = (char *)values;
    for (int64_t k = 0; k < e->numel; k++) want[k] = strtod(end, &end);
    int64_t mismatches = 0, first = -1;
    if (mhim_pt_dtype_is_float(e->dtype)) {
        float *got = mhim_malloc((size_t)MHIM_MAX(e->numel, 1) * sizeof *got);
        int rc = mhim_pt_read_f32(pt, index, got, e->numel);
        if (rc) printf("     read failed: %s\n", mhim_error());
        for (int64_t k = 0; k < e->numel; k++)
            if (rc || !same_value(got[k], want[k])) mismatches++, first = first < 0 ? k : first;
        if (first >= 0 && !rc) printf("     [%lld] got %.9g want %.9g\n", (long long)first, got[first], want[first]);
        free(got);
    } else {
        int64_t *got = mhim_malloc((size_t)MHIM_MAX(e->numel, 1) * sizeof *got);
        int rc = mhim_pt_read_i64(pt, index, got, e->numel);
        for (int64_t k = 0; k < e->numel; k++)
            if (rc || got[k] != (int64_t)want[k]) mismatches++;
        free(got);
    }
    printf("     %s: %s %s, %lld values, %lld mismatches\n", label, dtype, shape, (long long)e->numel,
           (long long)mismatches);
    free(want);
    return bad + check_true(label, mismatches == 0);
}

static int check_scalar(const mhim_pt_entry *e, const char *label, const char *kind, const char *value) {
    int ok = 0;
    if (!strcmp(kind, "int")) ok = e->kind == MHIM_PT_INT && e->ivalue == strtoll(value, NULL, 10);
    else if (!strcmp(kind, "bool")) ok = e->kind == MHIM_PT_BOOL && e->ivalue == strtoll(value, NULL, 10);
    else if (!strcmp(kind, "float")) ok = e->kind == MHIM_PT_FLOAT && e->fvalue == strtod(value, NULL);
    else if (!strcmp(kind, "str")) ok = e->kind == MHIM_PT_STRING && !strcmp(e->svalue, value);
    else if (!strcmp(kind, "none")) ok = e->kind == MHIM_PT_NONE;
    printf("     %s: %s %s\n", label, kind, value);
    return check_true(label, ok);
}

/* Compare every file listed in expected.tsv entry by entry, and check that no entry is unexpected. */
static int test_expected_values(void) {
    FILE *f = fopen(FIXTURES "expected.tsv", "r");
    if (!f) return check_true("open " FIXTURES "expected.tsv", 0);
    int bad = 0;
    char *line = NULL, current[256] = "";
    size_t cap = 0;
    mhim_ptfile *pt = NULL;
    int64_t rows_of_file = 0;
    ssize_t len;
    for (;;) {
        len = getline(&line, &cap, f);
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        char *fields[5] = {0};
        int nf = len >= 0 && line[0] != '#' ? split_tabs(line, fields, 5) : 0;
        if ((len < 0 || (nf == 5 && strcmp(fields[0], current))) && pt) {
            char label[300];
            snprintf(label, sizeof label, "%s: %lld entries as expected", current, (long long)rows_of_file);
            bad += check_true(label, mhim_pt_entry_count(pt) == rows_of_file);
            mhim_pt_close(pt);
            pt = NULL;
        }
        if (len < 0) break;
        if (nf != 5) continue;
        if (strcmp(fields[0], current)) {
            snprintf(current, sizeof current, "%s", fields[0]);
            rows_of_file = 0;
            char path[512];
            snprintf(path, sizeof path, FIXTURES "%s", current);
            if (mhim_pt_open(path, &pt)) {
                printf("     %s\n", mhim_error());
                bad += check_true(path, 0);
                continue;
            }
        }
        if (!pt) continue;
        rows_of_file++;
        char label[300];
        snprintf(label, sizeof label, "%s[%s]", fields[0], fields[1]);
        int64_t index = mhim_pt_find(pt, fields[1]);
        if (index < 0) {
            bad += check_true(label, 0);
            continue;
        }
        const char *kind = fields[2];
        int scalar = !strcmp(kind, "int") || !strcmp(kind, "bool") || !strcmp(kind, "float") ||
                     !strcmp(kind, "str") || !strcmp(kind, "none");
        bad += scalar ? check_scalar(mhim_pt_entry_at(pt, index), label, kind, fields[4])
                      : check_tensor(pt, index, label, kind, fields[3], fields[4]);
    }
    free(line);
    fclose(f);
    return bad;
}

/* Expect mhim_pt_open to reject the fixture with a message naming it and containing `want`. */
static int expect_rejected(const char *file, const char *want) {
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%s", file);
    mhim_ptfile *pt = (mhim_ptfile *)1;
    mhim_error_clear();
    int rc = mhim_pt_open(path, &pt);
    int ok = rc == MHIM_EINPUT && pt == NULL && strstr(mhim_error(), path) && strstr(mhim_error(), want);
    printf("     %s -> rc=%d: %s\n", file, rc, mhim_error());
    if (!ok) printf("     (wanted a message containing '%s')\n", want);
    char label[300];
    snprintf(label, sizeof label, "%s rejected", file);
    return check_true(label, ok);
}

static int test_rejected_files(void) {
    int bad = 0;
    bad += expect_rejected("transposed.pt", "non-contiguous tensor");
    bad += expect_rejected("numpy.pt", "numpy array");
    bad += expect_rejected("legacy.pt", "legacy (non-zip) torch.save format is not supported");
    bad += expect_rejected("malicious.pt", "global 'os.system' is not allowed");
    bad += expect_rejected("bad_opcode.pt", "pickle opcode 0x69 ('INST')");
    bad += expect_rejected("short_storage.pt", "holds 20 bytes, but its 15-element float32 storage needs 60");
    bad += expect_rejected("no_pickle.pt", "no '<name>/data.pkl' record");
    bad += expect_rejected("missing.pt", "cannot open: No such file or directory");
    bad += expect_rejected("expected.tsv", "not a torch.save zip archive");
    return bad;
}

/* A truncated archive (first half of a valid one) must fail cleanly. */
static int test_truncated_archive(void) {
    const char *tmp = getenv("MHIM_TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/readers_pt_truncated.pt", tmp ? tmp : "/tmp");
    FILE *in = fopen(FIXTURES "checkpoint.pt", "rb"), *out = fopen(path, "wb");
    if (!in || !out) {
        if (in) fclose(in);
        if (out) fclose(out);
        return check_true("write truncated copy", 0);
    }
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, n / 2, out);
    fclose(in);
    fclose(out);
    mhim_ptfile *pt;
    int rc = mhim_pt_open(path, &pt);
    printf("     truncated archive -> rc=%d: %s\n", rc, mhim_error());
    remove(path);
    return check_true("truncated archive rejected", rc == MHIM_EINPUT && strstr(mhim_error(), path));
}

/* A deflated 96-byte storage record (63 bytes compressed) whose zip headers declare 4 GB (corrupt size fields)
 * must be refused before anything is allocated for it. */
static int test_inflated_record_size(void) {
    const char *tmp = getenv("MHIM_TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/readers_pt_inflated.pt", tmp ? tmp : "/tmp");
    size_t n = 0;
    char *bytes = test_read_file(FIXTURES "deflated.pt", &n);
    const char *name = "deflated/data/0";
    int patched = 0;
    for (size_t i = 0; bytes && i + 46 + strlen(name) <= n; i++) { /* uncompressed size: local +22, central +24 */
        if (!memcmp(bytes + i, "PK\3\4", 4) && !memcmp(bytes + i + 30, name, strlen(name))) {
            memcpy(bytes + i + 22, "\0\0\0\xf0", 4);
            patched++;
        }
        if (!memcmp(bytes + i, "PK\1\2", 4) && !memcmp(bytes + i + 46, name, strlen(name))) {
            memcpy(bytes + i + 24, "\0\0\0\xf0", 4);
            patched++;
        }
    }
    FILE *out = patched == 2 ? fopen(path, "wb") : NULL;
    if (out) {
        fwrite(bytes, 1, n, out);
        fclose(out);
    }
    free(bytes);
    if (!out) return check_true("write a copy with a 4 GB record size", 0);
    mhim_ptfile *pt = NULL;
    mhim_error_clear();
    int rc = mhim_pt_open(path, &pt);
    printf("     4 GB record size -> rc=%d: %s\n", rc, mhim_error());
    if (pt) mhim_pt_close(pt);
    remove(path);
    return check_true("record size beyond any compression rejected",
                      rc == MHIM_EINPUT && strstr(mhim_error(), "declares 4026531840 bytes from 63 compressed"));
}

static int test_api_misuse(void) {
    int bad = 0;
    mhim_ptfile *pt;
    if (mhim_pt_open(FIXTURES "state_dict.pt", &pt)) return check_true("open state_dict.pt", 0);
    bad += check_true("find of a missing name is -1", mhim_pt_find(pt, "nope") == -1);
    int64_t weight = mhim_pt_find(pt, "0.weight"), tracked = mhim_pt_find(pt, "1.num_batches_tracked");
    float f[12];
    int64_t i[1];
    bad += check_true("count mismatch rejected", mhim_pt_read_f32(pt, weight, f, 11) == MHIM_EINPUT &&
                                                     strstr(mhim_error(), "holds 12 elements"));
    bad += check_true("int tensor read as float rejected",
                      mhim_pt_read_f32(pt, tracked, f, 1) == MHIM_EINPUT && strstr(mhim_error(), "int64"));
    bad += check_true("float tensor read as int rejected", mhim_pt_read_i64(pt, weight, i, 12) == MHIM_EINPUT);
    bad += check_true("pickle order kept", !strcmp(mhim_pt_entry_at(pt, 0)->name, "0.weight") &&
                                               !strcmp(mhim_pt_entry_at(pt, 6)->name, "1.num_batches_tracked"));
    mhim_pt_close(pt);
    return bad;
}

int main(void) {
    int bad = test_expected_values();
    bad += test_rejected_files();
    bad += test_truncated_archive();
    bad += test_inflated_record_size();
    bad += test_api_misuse();
    printf("%s: %d failure(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad != 0;
}
