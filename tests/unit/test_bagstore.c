/* Bag store: preload vs streaming vs fp16 give the same data, each bag read once, subsets, multi-file
 * bags, random and unannounced access orders with a tiny budget, and the bad-bag rules (D mismatch,
 * empty, NaN/Inf, unreadable, fp16 overflow) as errors and as skips. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "mhim/bagstore.h"
#include "mhim/common.h"
#include "mhim/half.h"
#include "mhim/synth.h"

#define D 6
#define N_BAGS 7
#define MAX_FILES 2

/* The fixture cohort: bag i has rows[i] rows; bag 2 is two files (3 + 4 rows). */
static const int64_t rows[N_BAGS] = {5, 1, 7, 40, 2, 33, 9};
static float *values[N_BAGS];
static char *paths[N_BAGS][MAX_FILES];
static const char *path_ptrs[N_BAGS][MAX_FILES];
static int64_t n_files[N_BAGS];
static char names[N_BAGS][16];
static mhim_bag_source sources[N_BAGS];
static char tmp_dir[512];

static int write_bag_file(const char *path, const float *x, int64_t n, int64_t d) {
    int32_t *coords = mhim_calloc((size_t)MHIM_MAX(2 * n, 1), sizeof *coords);
    int rc = mhim_synth_write_h5(path, x, coords, n, d);
    free(coords);
    if (rc != MHIM_OK) printf("cannot write fixture %s: %s\n", path, mhim_error());
    return rc;
}

static int make_fixture(void) {
    const char *base = getenv("MHIM_TEST_TMP");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/bagstore", base ? base : "/tmp");
    mkdir(tmp_dir, 0777);
    test_rng r = {2024};
    for (int i = 0; i < N_BAGS; i++) {
        values[i] = mhim_malloc((size_t)(rows[i] * D) * sizeof(float));
        test_fill_uniform(&r, values[i], rows[i] * D, -3.0f, 3.0f);
        values[i][0] = 1e-6f; /* an fp16 subnormal */
        snprintf(names[i], sizeof names[i], "slide_%d", i);
        n_files[i] = i == 2 ? 2 : 1;
        int64_t row = 0;
        for (int f = 0; f < n_files[i]; f++) {
            int64_t part = n_files[i] == 1 ? rows[i] : (f == 0 ? 3 : rows[i] - 3);
            paths[i][f] = mhim_asprintf("%s/%s_part%d.h5", tmp_dir, names[i], f);
            path_ptrs[i][f] = paths[i][f];
            if (write_bag_file(paths[i][f], values[i] + row * D, part, D) != MHIM_OK) return 1;
            row += part;
        }
        sources[i] = (mhim_bag_source){names[i], n_files[i], path_ptrs[i]};
    }
    return 0;
}

/* A one-file bag source at tmp_dir/<name>.h5 holding x (n, d). */
static mhim_bag_source extra_bag(const char *name, const float *x, int64_t n, int64_t d, char **path_out) {
    *path_out = mhim_asprintf("%s/%s.h5", tmp_dir, name);
    write_bag_file(*path_out, x, n, d);
    return (mhim_bag_source){name, 1, (const char *const *)path_out};
}

static void fp16_rounded(const float *x, float *out, int64_t n) {
    for (int64_t k = 0; k < n; k++) out[k] = mhim_half_to_float(mhim_float_to_half(x[k]));
}

/* Every bag of the store through get (in `order`) equals the fixture (fp16: rounded to fp16). */
static int check_bags(const char *what, mhim_bagstore *s, const int64_t *order, int64_t n, int fp16) {
    mhim_bag_view v = MHIM_BAG_VIEW_INIT;
    int fails = 0;
    float *want = mhim_malloc(40 * D * sizeof *want);
    for (int64_t k = 0; k < n; k++) {
        int64_t i = order[k];
        if (mhim_bagstore_get(s, i, &v) != MHIM_OK) {
            printf("FAIL %s: get(%lld): %s\n", what, (long long)i, mhim_error());
            fails++;
            continue;
        }
        if (fp16)
            fp16_rounded(values[i], want, rows[i] * D);
        else
            memcpy(want, values[i], (size_t)(rows[i] * D) * sizeof *want);
        char name[160];
        snprintf(name, sizeof name, "%s bag %lld (%lld rows)", what, (long long)i, (long long)rows[i]);
        fails += check_true(name, v.n == rows[i] && v.d == D && v.bag == i);
        fails += check_close(name, v.x, want, rows[i] * D, 0, 0);
    }
    mhim_bag_view_free(&v);
    free(want);
    return fails;
}

static int contains(const char *text, const char *part) {
    int ok = strstr(text, part) != NULL;
    if (!ok) printf("  message \"%s\" lacks \"%s\"\n", text, part);
    return ok;
}

static const int64_t in_order[N_BAGS] = {0, 1, 2, 3, 4, 5, 6};

static int test_preload_fp32(void) {
    mhim_bagstore *s;
    if (mhim_bagstore_open(sources, N_BAGS, NULL, &s) != MHIM_OK) return check_true(mhim_error(), 0);
    int fails = check_true("preload: count and dim", mhim_bagstore_count(s) == N_BAGS && mhim_bagstore_dim(s) == D);
    fails += check_true("preload: multi-file bag 2 has 3 + 4 rows", mhim_bagstore_n_instances(s, 2) == 7);
    for (int epoch = 0; epoch < 3; epoch++) fails += check_bags("preload fp32", s, in_order, N_BAGS, 0);
    mhim_bag_view a = MHIM_BAG_VIEW_INIT, b = MHIM_BAG_VIEW_INIT;
    mhim_bagstore_get(s, 3, &a);
    mhim_bagstore_get(s, 3, &b);
    fails += check_true("preload fp32: zero-copy (same pointer for two views)", a.x == b.x && a.x != NULL);
    mhim_bag_view_free(&a);
    mhim_bag_view_free(&b);
    mhim_bagstore_stats st;
    mhim_bagstore_stats_get(s, &st);
    printf("  stats: reads %lld, bytes %lld, stored %lld, mapped %lld, streaming %d\n", (long long)st.file_reads,
           (long long)st.bytes_read, (long long)st.bytes_stored, (long long)st.bytes_mapped, st.streaming);
    fails += check_true("preload: each bag read exactly once over 3 epochs", st.file_reads == N_BAGS);
    /* single-file bags are mapped from their files; the multi-file bag 2 (7 rows) is copied */
    fails += check_true("preload: stats (bytes read = 97 rows x D x 4 = stored 7 rows + mapped 90, not streaming)",
                        st.bytes_read == 97 * D * 4 && st.bytes_stored == 7 * D * 4 && st.bytes_mapped == 90 * D * 4 &&
                            !st.streaming && st.n_instances == 97 && st.n_loaded == N_BAGS);
    float *copy = mhim_malloc(40 * D * sizeof *copy);
    mhim_bagstore_copy(s, 5, copy);
    fails += check_close("preload fp32: copy() of bag 5", copy, values[5], rows[5] * D, 0, 0);
    free(copy);
    fails += check_true("get of an out-of-range bag fails", mhim_bagstore_get(s, N_BAGS, &a) == MHIM_EINPUT &&
                                                                contains(mhim_error(), "out of range"));
    mhim_bag_view_free(&a);
    mhim_bagstore_close(s);
    return fails;
}

static int test_preload_fp16(void) {
    mhim_bagstore_options o = {.dtype = MHIM_STORE_FP16};
    mhim_bagstore *s;
    if (mhim_bagstore_open(sources, N_BAGS, &o, &s) != MHIM_OK) return check_true(mhim_error(), 0);
    int fails = check_bags("preload fp16 (= fp16-rounded values)", s, in_order, N_BAGS, 1);
    mhim_bag_view v = MHIM_BAG_VIEW_INIT;
    mhim_bagstore_get(s, 3, &v);
    fails += check_close("preload fp16 within half precision of the fp32 values", v.x, values[3], rows[3] * D, 6e-8,
                         1.0 / 2048);
    mhim_bag_view_free(&v);
    mhim_bagstore_stats st;
    mhim_bagstore_stats_get(s, &st);
    fails += check_true("preload fp16: half the memory", st.bytes_stored == 97 * D * 2);
    mhim_bagstore_close(s);
    return fails;
}

static int test_streaming(mhim_store_dtype dtype) {
    const char *what = dtype == MHIM_STORE_FP16 ? "streaming fp16" : "streaming fp32";
    mhim_bagstore_options o = {.dtype = dtype, .memory_budget = 1};
    mhim_bagstore *s;
    if (mhim_bagstore_open(sources, N_BAGS, &o, &s) != MHIM_OK) return check_true(mhim_error(), 0);
    mhim_bagstore_stats st;
    mhim_bagstore_stats_get(s, &st);
    int fails = check_true("tiny budget => streaming through 2 buffers", st.streaming && st.ring_slots == 2);
    int fp16 = dtype == MHIM_STORE_FP16;
    test_rng r = {7};
    int64_t perm[N_BAGS];
    for (int epoch = 0; epoch < 3; epoch++) { /* announced random permutations */
        for (int i = 0; i < N_BAGS; i++) perm[i] = i;
        for (int i = N_BAGS - 1; i > 0; i--) {
            int j = (int)test_uniform(&r, 0, (float)i + 0.999f), t = (int)perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        if (mhim_bagstore_announce(s, perm, N_BAGS) != MHIM_OK) fails += check_true(mhim_error(), 0);
        fails += check_bags(what, s, perm, N_BAGS, fp16);
    }
    mhim_bagstore_stats_get(s, &st);
    fails += check_true("announced epochs: one read per get (nothing fetched twice or wasted)",
                        st.file_reads == 3 * N_BAGS);
    int64_t unannounced[] = {4, 4, 0, 6, 2, 1};
    fails += check_bags("unannounced order", s, unannounced, 6, fp16);
    int64_t announced[] = {1, 2, 3, 4, 5, 6, 0};
    mhim_bagstore_announce(s, announced, N_BAGS);
    int64_t skipping[] = {1, 4, 5, 3, 0, 6};
    fails += check_bags("announced order, consumer skips ahead and back", s, skipping, 6, fp16);
    int64_t first_plan[] = {6, 5, 4, 3, 2, 1, 0}, second_plan[] = {0, 1, 2, 3, 4, 5, 6};
    mhim_bagstore_announce(s, first_plan, N_BAGS);
    fails += check_bags("first plan, one bag", s, first_plan, 1, fp16);
    mhim_bagstore_announce(s, second_plan, N_BAGS); /* replaces the plan while reads are in flight */
    fails += check_bags("plan replaced mid-epoch", s, second_plan, N_BAGS, fp16);
    mhim_bagstore_stats_get(s, &st);
    printf("  %s: %lld reads for %d gets\n", what, (long long)st.file_reads, 4 * N_BAGS + 13);
    float *copy = mhim_malloc(40 * D * sizeof *copy), *want = mhim_malloc(40 * D * sizeof *want);
    mhim_bagstore_copy(s, 3, copy);
    if (fp16)
        fp16_rounded(values[3], want, rows[3] * D);
    else
        memcpy(want, values[3], (size_t)(rows[3] * D) * sizeof *want);
    fails += check_close("streaming copy() of bag 3", copy, want, rows[3] * D, 0, 0);
    free(copy);
    free(want);
    mhim_bag_view a = MHIM_BAG_VIEW_INIT, b = MHIM_BAG_VIEW_INIT, c = MHIM_BAG_VIEW_INIT;
    if (!fp16) { /* fp32 views hold ring buffers: a third view finds none free */
        int ok = mhim_bagstore_get(s, 0, &a) == MHIM_OK && mhim_bagstore_get(s, 1, &b) == MHIM_OK;
        fails += check_true("two views hold the two buffers; a third get fails cleanly",
                            ok && mhim_bagstore_get(s, 2, &c) == MHIM_EINTERNAL && contains(mhim_error(), "held"));
        mhim_bag_view_release(&a);
        fails += check_true("after a release the third get succeeds", mhim_bagstore_get(s, 2, &c) == MHIM_OK);
    }
    mhim_bag_view_free(&a);
    mhim_bag_view_free(&b);
    mhim_bag_view_free(&c);
    mhim_bagstore_close(s);
    return fails;
}

static int test_budget_that_fits(void) {
    mhim_bagstore_options o = {.memory_budget = 97 * D * 4};
    mhim_bagstore *s;
    if (mhim_bagstore_open(sources, N_BAGS, &o, &s) != MHIM_OK) return check_true(mhim_error(), 0);
    mhim_bagstore_stats st;
    mhim_bagstore_stats_get(s, &st);
    mhim_bagstore_close(s);
    return check_true("a budget equal to the data size preloads", !st.streaming);
}

static int test_subset(void) {
    unsigned char mask[N_BAGS + 1] = {0, 1, 0, 1, 0, 1, 0, 0};
    mhim_bag_source src[N_BAGS + 1];
    memcpy(src, sources, sizeof sources);
    const char *missing[] = {"/nonexistent/never_read.h5"};
    src[N_BAGS] = (mhim_bag_source){"not_mine", 1, missing}; /* outside the subset: never opened */
    mhim_bagstore_options o = {.subset = mask};
    mhim_bagstore *s;
    if (mhim_bagstore_open(src, N_BAGS + 1, &o, &s) != MHIM_OK) return check_true(mhim_error(), 0);
    int64_t mine[] = {1, 3, 5};
    int fails = check_bags("subset", s, mine, 3, 0);
    mhim_bagstore_stats st;
    mhim_bagstore_stats_get(s, &st);
    fails += check_true("subset: only the 3 selected bags were read", st.file_reads == 3 && st.n_loaded == 3);
    fails += check_true("subset: others unavailable", !mhim_bagstore_available(s, 0) &&
                                                          mhim_bagstore_n_instances(s, 0) == 0 &&
                                                          !mhim_bagstore_available(s, N_BAGS));
    mhim_bag_view v = MHIM_BAG_VIEW_INIT;
    fails += check_true("subset: get outside the subset names the bag",
                        mhim_bagstore_get(s, 2, &v) == MHIM_EINPUT && contains(mhim_error(), "slide_2") &&
                            contains(mhim_error(), "subset"));
    int64_t bad_order[] = {1, 2};
    fails += check_true("subset: announcing a bag outside the subset fails",
                        mhim_bagstore_announce(s, bad_order, 2) == MHIM_EINPUT);
    mhim_bag_view_free(&v);
    mhim_bagstore_close(s);
    return fails;
}

/* Open over the fixture plus one extra bag at position 3; returns open's status, *s if it opened. */
static int open_with(mhim_bag_source extra, const mhim_bagstore_options *o, mhim_bagstore **s) {
    mhim_bag_source src[N_BAGS + 1];
    memcpy(src, sources, 3 * sizeof *src);
    src[3] = extra;
    memcpy(src + 4, sources + 3, (N_BAGS - 3) * sizeof *src);
    return mhim_bagstore_open(src, N_BAGS + 1, o, s);
}

/* A bad extra bag: strict open fails naming it (and `detail`) unless streaming (values are checked when
 * read); skip_bad_bags opens without it. */
static int check_bad_bag(const char *what, mhim_bag_source extra, const char *detail, mhim_store_dtype dtype,
                         int64_t budget) {
    mhim_bagstore_options strict = {.dtype = dtype, .memory_budget = budget};
    mhim_bagstore *s = NULL;
    int fails = 0;
    char name[200];
    if (!budget) {
        int rc = open_with(extra, &strict, &s);
        snprintf(name, sizeof name, "%s: strict open fails naming the slide", what);
        fails += check_true(name, rc == MHIM_EINPUT && s == NULL && contains(mhim_error(), extra.name) &&
                                      contains(mhim_error(), detail));
        printf("  error: %s\n", mhim_error());
    }
    mhim_bagstore_options skip = strict;
    skip.skip_bad_bags = 1;
    int rc = open_with(extra, &skip, &s);
    snprintf(name, sizeof name, "%s: skip_bad_bags opens and lists it", what);
    if (rc != MHIM_OK) return fails + check_true(name, 0);
    char summary[512];
    mhim_bagstore_skip_summary(s, 5, summary, sizeof summary);
    printf("  summary: %s\n", summary);
    mhim_bagstore_stats st;
    mhim_bagstore_stats_get(s, &st);
    fails += check_true(name, st.n_skipped == 1 && st.n_loaded == N_BAGS && !mhim_bagstore_available(s, 3) &&
                                  mhim_bagstore_skip_reason(s, 3) && contains(summary, extra.name) &&
                                  contains(summary, "1 bag skipped"));
    int64_t order[N_BAGS] = {0, 1, 2, 4, 5, 6, 7};
    if (budget) mhim_bagstore_announce(s, order, N_BAGS);
    mhim_bag_view v = MHIM_BAG_VIEW_INIT;
    int ok = 1;
    for (int k = 0; k < N_BAGS; k++) ok &= mhim_bagstore_get(s, order[k], &v) == MHIM_OK;
    snprintf(name, sizeof name, "%s: the other bags stay readable", what);
    fails += check_true(name, ok);
    mhim_bag_view_free(&v);
    mhim_bagstore_close(s);
    return fails;
}

static int test_bad_bags(void) {
    int fails = 0;
    float x[3 * (D + 1)];
    for (int k = 0; k < 3 * (D + 1); k++) x[k] = 0.5f;
    char *p1, *p2, *p3, *p4, *p5;
    mhim_bag_source wide = extra_bag("wide_bag", x, 3, D + 1, &p1);
    mhim_bagstore *s = NULL;
    int rc = open_with(wide, NULL, &s);
    fails += check_true("D mismatch: error names both bags and both widths",
                        rc == MHIM_EINPUT && contains(mhim_error(), "wide_bag") && contains(mhim_error(), "D=7") &&
                            contains(mhim_error(), "slide_0") && contains(mhim_error(), "D=6"));
    printf("  error: %s\n", mhim_error());
    mhim_bagstore_options skip = {.skip_bad_bags = 1};
    fails += check_true("D mismatch is an error even with skip_bad_bags", open_with(wide, &skip, &s) == MHIM_EINPUT);

    mhim_bag_source empty = extra_bag("empty_bag", x, 0, D, &p2);
    fails += check_bad_bag("empty bag", empty, "no instances", MHIM_STORE_FP32, 0);

    x[4] = NAN;
    x[9] = INFINITY;
    x[11] = -NAN;
    mhim_bag_source nan_bag = extra_bag("nan_bag", x, 2, D, &p3);
    fails += check_bad_bag("NaN/Inf bag (preload fp32)", nan_bag, "3 NaN/Inf", MHIM_STORE_FP32, 0);
    fails += check_bad_bag("NaN/Inf bag (preload fp16)", nan_bag, "3 NaN/Inf", MHIM_STORE_FP16, 0);
    fails += check_bad_bag("NaN/Inf bag (streaming, scanned at open)", nan_bag, "3 NaN/Inf", MHIM_STORE_FP32, 1);

    mhim_bagstore_options stream = {.memory_budget = 1};
    rc = open_with(nan_bag, &stream, &s);
    fails += check_true("streaming without skip opens (values not yet read)", rc == MHIM_OK);
    if (rc == MHIM_OK) {
        mhim_bag_view v = MHIM_BAG_VIEW_INIT;
        fails += check_true("streaming: get of the NaN bag fails naming it and the count",
                            mhim_bagstore_get(s, 3, &v) == MHIM_EINPUT && contains(mhim_error(), "nan_bag") &&
                                contains(mhim_error(), "3 NaN/Inf"));
        fails += check_true("streaming: next get works", mhim_bagstore_get(s, 4, &v) == MHIM_OK && v.n == rows[3]);
        mhim_bag_view_free(&v);
        mhim_bagstore_close(s);
    }

    const char *missing_file[] = {"/nonexistent/missing_slide.h5"};
    fails += check_bad_bag("unreadable file", (mhim_bag_source){"missing_slide", 1, missing_file}, "missing_slide.h5",
                           MHIM_STORE_FP32, 0);

    for (int k = 0; k < 3 * (D + 1); k++) x[k] = 0.5f;
    x[5] = 1e5f;
    mhim_bag_source huge = extra_bag("huge_bag", x, 2, D, &p4);
    fails += check_bad_bag("fp16 overflow", huge, "fp16 range", MHIM_STORE_FP16, 0);
    fails += check_true("fp16 overflow is fine as fp32", open_with(huge, NULL, &s) == MHIM_OK);
    mhim_bagstore_close(s);

    /* one bag of two files with different widths */
    char *q = mhim_asprintf("%s/part_wide.h5", tmp_dir);
    write_bag_file(q, x, 1, D + 1);
    const char *mixed_files[] = {paths[0][0], q};
    p5 = NULL;
    rc = open_with((mhim_bag_source){"mixed_case", 2, mixed_files}, NULL, &s);
    fails += check_true("multi-file bag with mixed widths names the bag and the file",
                        rc == MHIM_EINPUT && contains(mhim_error(), "mixed_case") && contains(mhim_error(), "part_wide"));
    printf("  error: %s\n", mhim_error());
    free(q);
    free(p1);
    free(p2);
    free(p3);
    free(p4);
    free(p5);
    return fails;
}

typedef struct {
    mhim_bagstore *s;
    int fails;
} thread_arg;

static void *reader_thread(void *p) {
    thread_arg *a = p;
    for (int rep = 0; rep < 20; rep++) a->fails += check_bags("concurrent get (fp16 preload)", a->s, in_order, N_BAGS, 1) != 0;
    return NULL;
}

static int test_concurrent_preload(void) {
    mhim_bagstore_options o = {.dtype = MHIM_STORE_FP16};
    mhim_bagstore *s;
    if (mhim_bagstore_open(sources, N_BAGS, &o, &s) != MHIM_OK) return check_true(mhim_error(), 0);
    thread_arg args[2] = {{s, 0}, {s, 0}};
    pthread_t t[2];
    for (int k = 0; k < 2; k++) pthread_create(&t[k], NULL, reader_thread, &args[k]);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    mhim_bagstore_close(s);
    return check_true("two threads with their own views read a preloaded store", args[0].fails + args[1].fails == 0);
}

static int test_empty_store(void) {
    mhim_bagstore *s;
    int rc = mhim_bagstore_open(NULL, 0, NULL, &s);
    int ok = rc == MHIM_OK && mhim_bagstore_count(s) == 0;
    mhim_bagstore_close(s);
    mhim_store_dtype t;
    ok = ok && mhim_store_dtype_parse("fp16", "dtype", &t) == MHIM_OK && t == MHIM_STORE_FP16 &&
         mhim_store_dtype_parse("bf16", "dtype", &t) == MHIM_EINPUT && contains(mhim_error(), "fp32 or fp16");
    return check_true("store over no bags; dtype parsing", ok);
}

int main(void) {
    if (make_fixture()) return 1;
    int fails = 0;
    fails += test_preload_fp32();
    fails += test_preload_fp16();
    fails += test_streaming(MHIM_STORE_FP32);
    fails += test_streaming(MHIM_STORE_FP16);
    fails += test_budget_that_fits();
    fails += test_subset();
    fails += test_bad_bags();
    fails += test_concurrent_preload();
    fails += test_empty_store();
    for (int i = 0; i < N_BAGS; i++) {
        free(values[i]);
        for (int f = 0; f < n_files[i]; f++) free(paths[i][f]);
    }
    printf("%s\n", fails ? "FAILED" : "all bag store checks passed");
    return fails != 0;
}
