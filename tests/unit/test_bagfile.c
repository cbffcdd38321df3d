/* Feature-bag files (mhim/bagfile.h): HDF5 bags written here with the HDF5 API (float32/float16 features,
 * int32/int64 coords, chunked/compressed/contiguous layouts, NaN/Inf, empty bags) and .pt fixtures, plus one
 * test per bad input: status MHIM_EINPUT and a message naming the file and the problem. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "mhim/bagfile.h"
#include "mhim/common.h"
#include "mhim/half.h"

static char dir[512];

static const char *tmp_path(const char *name) {
    static char path[4][640];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    return p;
}

/* Write dataset `name` (rank 1..2) of file type ftype from memory of type mtype; chunk_rows 0 = contiguous. */
static void write_dataset(hid_t file, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                          hsize_t chunk_rows, int deflate, const void *data) {
    hid_t space = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk_rows) {
        hsize_t chunk[2] = {chunk_rows, rank > 1 ? dims[1] : 1};
        H5Pset_chunk(dcpl, rank, chunk);
        if (deflate) H5Pset_deflate(dcpl, 4);
    }
    hid_t dset = H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dims[0] > 0 && data) H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(dset);
    H5Pclose(dcpl);
    H5Sclose(space);
}

/* IEEE binary16 little-endian (libhdf5 1.10 has no predefined one; same definition as h5py). Caller closes. */
static hid_t f16_type(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    return t;
}

static void fill_features(float *x, int64_t n, int64_t d) {
    for (int64_t i = 0; i < n * d; i++) x[i] = (float)((i * 37) % 101) * 0.125f - 6.0f;
}

/* Bag with features (n,d) float32 (or float16 if half) and optional int32/int64 coords. */
static void write_bag(const char *path, int64_t n, int64_t d, int half, int coords_bits, hsize_t chunk_rows,
                      int deflate, const float *x) {
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)d};
    if (half) {
        uint16_t *h = mhim_malloc((size_t)MHIM_MAX(n * d, 1) * sizeof *h);
        mhim_float_to_half_array(x, h, n * d);
        hid_t f16 = f16_type();
        write_dataset(file, "features", f16, f16, 2, dims, chunk_rows, deflate, h);
        H5Tclose(f16);
        free(h);
    } else {
        write_dataset(file, "features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, chunk_rows, deflate, x);
    }
    if (coords_bits) {
        long long *c = mhim_malloc((size_t)MHIM_MAX(2 * n, 1) * sizeof *c);
        for (int64_t i = 0; i < 2 * n; i++) c[i] = i % 2 ? 512 * (i / 2) : 100000 + i;
        hsize_t cdims[2] = {(hsize_t)n, 2};
        write_dataset(file, "coords", coords_bits == 32 ? H5T_STD_I32LE : H5T_STD_I64LE, H5T_NATIVE_LLONG, 2, cdims,
                      chunk_rows, 0, c);
        free(c);
    }
    H5Fclose(file);
}

/* Read the bag back (shape, read_into, read with coords) and compare with x and the written coords. */
static int check_roundtrip(const char *label, const char *path, int64_t n, int64_t d, const float *x, int has_coords) {
    int bad = 0;
    char name[200];
    int64_t gn = -1, gd = -1;
    int rc = mhim_bag_read_shape(path, &gn, &gd);
    if (rc) printf("     %s\n", mhim_error());
    snprintf(name, sizeof name, "%s: shape (%lld, %lld)", label, (long long)n, (long long)d);
    bad += check_true(name, rc == MHIM_OK && gn == n && gd == d);
    float *got = mhim_malloc((size_t)MHIM_MAX(n * d, 1) * sizeof *got);
    rc = mhim_bag_read_into(path, got, n, d);
    snprintf(name, sizeof name, "%s: read_into", label);
    bad += check_true(name, rc == MHIM_OK);
    if (!rc) bad += check_close(name, got, x, n * d, 0, 0);
    free(got);
    mhim_bag bag;
    rc = mhim_bag_read(path, 1, &bag);
    snprintf(name, sizeof name, "%s: read with coords", label);
    bad += check_true(name, rc == MHIM_OK && bag.n == n && bag.d == d && (bag.coords != NULL) == has_coords);
    if (!rc) {
        bad += check_close(name, bag.features, x, n * d, 0, 0);
        if (bag.coords) {
            int64_t *want = mhim_malloc((size_t)MHIM_MAX(2 * n, 1) * sizeof *want);
            for (int64_t i = 0; i < 2 * n; i++) want[i] = i % 2 ? 512 * (i / 2) : 100000 + i;
            bad += check_equal_i64(name, bag.coords, want, 2 * n);
            free(want);
        }
    }
    mhim_bag_free(&bag);
    return bad;
}

static int test_good_h5(void) {
    int bad = 0;
    int64_t n = 41, d = 7;
    float *x = mhim_malloc((size_t)(n * d) * sizeof *x);
    fill_features(x, n, d);
    write_bag(tmp_path("clam_new.h5"), n, d, 0, 32, 32, 0, x);
    bad += check_roundtrip("float32, int32 coords, chunks (32,D)", tmp_path("clam_new.h5"), n, d, x, 1);
    write_bag(tmp_path("trident.h5"), n, d, 0, 64, 1, 0, x);
    bad += check_roundtrip("float32, int64 coords, chunks (1,D)", tmp_path("trident.h5"), n, d, x, 1);
    /* more one-row chunks than the raw-offset path takes: read through H5Dread */
    const int64_t many = 1500;
    float *y = mhim_malloc((size_t)(many * d) * sizeof *y);
    fill_features(y, many, d);
    write_bag(tmp_path("trident_many.h5"), many, d, 0, 64, 1, 0, y);
    bad += check_roundtrip("float32, int64 coords, 1500 chunks (1,D)", tmp_path("trident_many.h5"), many, d, y, 1);
    free(y);
    write_bag(tmp_path("deflate.h5"), n, d, 0, 0, 8, 1, x);
    bad += check_roundtrip("float32 deflate, no coords", tmp_path("deflate.h5"), n, d, x, 0);
    write_bag(tmp_path("contiguous.h5"), n, d, 0, 64, 0, 0, x);
    bad += check_roundtrip("float32 contiguous", tmp_path("contiguous.h5"), n, d, x, 1);
    /* float16 file: expected values are the fp16-rounded inputs (all exactly representable here) */
    write_bag(tmp_path("half.h5"), n, d, 1, 64, 1, 0, x);
    bad += check_roundtrip("float16 features", tmp_path("half.h5"), n, d, x, 1);
    /* NaN/Inf are read as they are and counted */
    x[3] = NAN;
    x[10] = INFINITY;
    x[11] = -INFINITY;
    write_bag(tmp_path("nonfinite.h5"), n, d, 0, 0, 32, 0, x);
    mhim_bag bag;
    int rc = mhim_bag_read(tmp_path("nonfinite.h5"), 0, &bag);
    int64_t nans = -1, infs = -1;
    if (!rc) mhim_bag_count_nan_inf(bag.features, n * d, &nans, &infs);
    printf("     nonfinite.h5: NaN %lld, Inf %lld, nonfinite %lld\n", (long long)nans, (long long)infs,
           rc ? -1LL : (long long)mhim_bag_count_nonfinite(bag.features, n * d));
    bad += check_true("NaN/Inf read and counted", rc == MHIM_OK && isnan(bag.features[3]) &&
                                                      bag.features[11] == -INFINITY && nans == 1 && infs == 2 &&
                                                      mhim_bag_count_nonfinite(bag.features, n * d) == 3);
    mhim_bag_free(&bag);
    /* empty bag: succeeds with n = 0 */
    write_bag(tmp_path("empty.h5"), 0, d, 0, 64, 1, 0, x);
    int64_t gn = -1, gd = -1;
    rc = mhim_bag_read_shape(tmp_path("empty.h5"), &gn, &gd);
    bad += check_true("empty bag: shape (0, D)", rc == MHIM_OK && gn == 0 && gd == d);
    rc = mhim_bag_read(tmp_path("empty.h5"), 1, &bag);
    bad += check_true("empty bag: read gives n = 0", rc == MHIM_OK && bag.n == 0 && bag.d == d);
    mhim_bag_free(&bag);
    free(x);
    return bad;
}

/* Expect every entry point to reject path with a message naming the file and containing want. */
static int expect_bad(const char *label, const char *path, const char *want, int want_coords) {
    mhim_bag bag;
    int64_t n, d;
    mhim_error_clear();
    int rc = want_coords ? mhim_bag_read(path, 1, &bag) : mhim_bag_read_shape(path, &n, &d);
    int ok = rc == MHIM_EINPUT && strstr(mhim_error(), path) && strstr(mhim_error(), want) &&
             !strchr(mhim_error(), '\n');
    if (want_coords) ok = ok && bag.features == NULL && bag.coords == NULL;
    printf("     %s -> rc=%d: %s\n", label, rc, mhim_error());
    if (!ok) printf("     (wanted a message containing '%s')\n", want);
    return check_true(label, ok);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A file whose `features` (rows, 1024) float32, chunks of 256 rows, optionally deflated, were never written. */
static void write_unwritten_features(const char *path, hsize_t rows, int deflate) {
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {rows, 1024};
    write_dataset(file, "features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, 256, deflate, NULL);
    H5Fclose(file);
}

static int test_bad_h5(void) {
    int bad = 0;
    int64_t n = 9, d = 4;
    float x[36];
    fill_features(x, n, d);
    bad += expect_bad("missing file", tmp_path("nope.h5"), "cannot open: No such file or directory", 0);
    write_text(tmp_path("text.h5"), "ID,label\nA,1\n");
    bad += expect_bad("text file", tmp_path("text.h5"), "not an HDF5 file", 0);
    write_text(tmp_path("zero.h5"), "");
    bad += expect_bad("empty file", tmp_path("zero.h5"), "file is empty", 0);
    /* truncated: first half of a valid file */
    write_bag(tmp_path("whole.h5"), 200, 16, 0, 32, 32, 0, NULL);
    FILE *in = fopen(tmp_path("whole.h5"), "rb");
    static char buf[1 << 16];
    size_t len = in ? fread(buf, 1, sizeof buf, in) : 0;
    if (in) fclose(in);
    FILE *out = fopen(tmp_path("truncated.h5"), "wb");
    if (out) {
        fwrite(buf, 1, len / 2, out);
        fclose(out);
    }
    bad += expect_bad("truncated file", tmp_path("truncated.h5"), "truncated or corrupt", 0);

    hid_t file = H5Fcreate(tmp_path("nofeat.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t cdims[2] = {9, 2};
    long long c[18] = {0};
    write_dataset(file, "coords", H5T_STD_I64LE, H5T_NATIVE_LLONG, 2, cdims, 0, 0, c);
    write_dataset(file, "feats", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, cdims, 0, 0, x);
    H5Fclose(file);
    bad += expect_bad("no features dataset", tmp_path("nofeat.h5"),
                      "no dataset 'features' (the file has: coords, feats)", 0);

    file = H5Fcreate(tmp_path("rank1.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d1[1] = {36};
    write_dataset(file, "features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d1, 0, 0, x);
    H5Fclose(file);
    bad += expect_bad("rank-1 features", tmp_path("rank1.h5"), "'features' has rank 1, expected 2", 0);

    file = H5Fcreate(tmp_path("intfeat.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t fd[2] = {9, 4};
    int ints[36] = {0};
    write_dataset(file, "features", H5T_STD_I32LE, H5T_NATIVE_INT, 2, fd, 0, 0, ints);
    H5Fclose(file);
    bad += expect_bad("int32 features", tmp_path("intfeat.h5"), "expected float32/float16 features, found int32",
                      0);

    file = H5Fcreate(tmp_path("width0.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t wd[2] = {9, 0};
    write_dataset(file, "features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, wd, 0, 0, NULL);
    H5Fclose(file);
    bad += expect_bad("feature width 0", tmp_path("width0.h5"), "feature width D must be > 0", 0);

    /* a shape whose data the file does not hold (never written: unallocated chunks) is refused before any
     * allocation of the bag, with the sizes; the same check stops corrupt shape fields */
    write_unwritten_features(tmp_path("unwritten.h5"), 100000, 0);
    bad += expect_bad("features never written", tmp_path("unwritten.h5"),
                      "'features' has shape (100000, 1024) = 409600000 bytes uncompressed, but the file stores 0 of "
                      "them in a file of", 1);
    /* compressed: a shape beyond any compression ratio of the stored bytes is refused; all-zero features (deflate's
     * best case) are not */
    write_unwritten_features(tmp_path("unwritten_gz.h5"), 1000000, 1);
    bad += expect_bad("compressed features never written", tmp_path("unwritten_gz.h5"),
                      "'features' has shape (1000000, 1024) = 4096000000 bytes uncompressed, but only 0 bytes are "
                      "stored, more than any compression gives", 0);
    float *zeros = calloc((size_t)4000 * 1024, sizeof *zeros);
    write_bag(tmp_path("zeros_gz.h5"), 4000, 1024, 0, 0, 256, 1, zeros);
    mhim_bag zbag = {0};
    bad += check_true("all-zero compressed features accepted",
                      zeros && mhim_bag_read(tmp_path("zeros_gz.h5"), 0, &zbag) == MHIM_OK && zbag.n == 4000);
    if (zbag.features) mhim_bag_free(&zbag);
    free(zeros);

    file = H5Fcreate(tmp_path("nocoords.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t fdims[2] = {9, 4}, cdims9[2] = {9, 2};
    write_dataset(file, "features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, fdims, 4, 0, x);
    write_dataset(file, "coords", H5T_STD_I64LE, H5T_NATIVE_LLONG, 2, cdims9, 4, 0, NULL);
    H5Fclose(file);
    bad += expect_bad("coords never written", tmp_path("nocoords.h5"),
                      "'coords' has shape (9, 2) = 144 bytes uncompressed, but the file stores 0 of them", 1);

    file = H5Fcreate(tmp_path("group.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(H5Gcreate2(file, "features", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Fclose(file);
    bad += expect_bad("features is a group", tmp_path("group.h5"), "'features' is not a dataset", 0);

    file = H5Fcreate(tmp_path("badcoords.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    write_dataset(file, "features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, fd, 0, 0, x);
    hsize_t bc[2] = {8, 2};
    write_dataset(file, "coords", H5T_STD_I64LE, H5T_NATIVE_LLONG, 2, bc, 0, 0, c);
    H5Fclose(file);
    bad += expect_bad("coords rows differ from features", tmp_path("badcoords.h5"),
                      "'coords' has shape (8, 2), expected (9, 2)", 1);

    file = H5Fcreate(tmp_path("floatcoords.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    write_dataset(file, "features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, fd, 0, 0, x);
    write_dataset(file, "coords", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, cdims, 0, 0, x);
    H5Fclose(file);
    bad += expect_bad("float coords", tmp_path("floatcoords.h5"), "expected int32/int64 coordinates, found float32",
                      1);

    float y[36];
    write_bag(tmp_path("shape.h5"), n, d, 0, 0, 0, 0, x);
    int rc = mhim_bag_read_into(tmp_path("shape.h5"), y, n, d + 1);
    printf("     read_into with the wrong shape -> rc=%d: %s\n", rc, mhim_error());
    bad += check_true("read_into with the wrong shape",
                      rc == MHIM_EINPUT && strstr(mhim_error(), "expected (9, 5)"));
    bad += expect_bad("unknown extension", tmp_path("bag.npy"), "unknown bag file type", 0);
    return bad;
}

static int test_pt_bags(void) {
    int bad = 0;
    float want[15];
    for (int i = 0; i < 15; i++) want[i] = (float)i * 0.25f - 1.5f;
    bad += check_roundtrip(".pt float32 bag", "fixtures/pt/f32.pt", 5, 3, want, 0);
    float view[9];
    for (int i = 0; i < 9; i++) view[i] = (float)(6 + i);
    bad += check_roundtrip(".pt slice view with storage offset", "fixtures/pt/view_offset.pt", 3, 3, view, 0);
    int64_t n = -1, d = -1;
    int rc = mhim_bag_read_shape("fixtures/pt/empty.pt", &n, &d);
    bad += check_true(".pt empty bag: shape (0, 4)", rc == MHIM_OK && n == 0 && d == 4);
    bad += expect_bad(".pt state_dict is not a bag", "fixtures/pt/state_dict.pt", "holds 7 entries (a checkpoint?)",
                      0);
    bad += expect_bad(".pt 1-D tensor", "fixtures/pt/vector.pt", "tensor has 1 dimensions, expected 2", 0);
    bad += expect_bad(".pt numpy array", "fixtures/pt/numpy.pt", "numpy", 1);
    return bad;
}

int main(void) {
    const char *tmp = getenv("MHIM_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/readers_bagfile", tmp ? tmp : "/tmp");
    mkdir(dir, 0755);
    int bad = test_good_h5();
    bad += test_bad_h5();
    bad += test_pt_bags();
    printf("%s: %d failure(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad != 0;
}
