/* Every reader of user files against mutated copies of valid ones: .pt archives (entries and tensors), HDF5 bags
 * (current CLAM and TRIDENT chunking) and .pt bags, checkpoints, YAML configs (with a sweep grid), TSV sweep grids
 * and label CSVs. Each seed gets MUTATIONS deterministic mutations (bit flips, special byte values, truncation,
 * inserted and duplicated bytes, overwritten 2/4/8-byte integers, emptied `key:` values, grown size fields); the
 * reader must accept the file or refuse it with MHIM_EINPUT and one line naming the file: never another status, a
 * crash, a hang or a sanitizer report (CI runs this test in its ASan + UBSan build). At this count it fails on two
 * bugs it found when written (checked with the fixes reverted): a YAML null reaching strcmp (`model: ~`) and a
 * corrupt HDF5 shape that had the bag reader allocate 64 GiB; runs of 4000-6000 mutations per seed also found
 * unwritten or mis-sized HDF5 chunks that libhdf5 1.10 reads past its buffers (h5_bag.c now refuses them first).
 * libhdf5 itself is not hardened against corrupt metadata: a new seed or mutation that crashes inside it needs such
 * a check before the read. libhdf5's allocations on its error paths are suppressed for LeakSanitizer
 * (tests/CMakeLists.txt). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "mhim/bagfile.h"
#include "mhim/cohort.h"
#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/dist.h"
#include "mhim/ptfile.h"
#include "mhim/synth.h"

#define MUTATIONS 250
#define MAX_TENSOR_READ (1 << 16) /* elements read per tensor entry (larger ones: header checks only) */

static char dir[512];

static uint64_t next_u64(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t below(uint64_t *s, size_t n) { return n ? (size_t)(next_u64(s) % n) : 0; }

/* One to eight edits of buf[0, *len) in place (capacity cap >= *len + 64 * 8): the generic byte edits of a
 * mutation fuzzer plus two aimed at what the readers trust, an emptied `key:` value and a grown size field. */
static void mutate(uint8_t *buf, size_t *len, size_t cap, uint64_t *s) {
    static const uint8_t special[] = {0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x20};
    static const uint64_t words[] = {0, 1, 0x7fffffffu, 0xffffffffu, 0x7fffffffffffffffull, ~0ull, 0x10000};
    const int edits = 1 << below(s, 4);
    for (int e = 0; e < edits && *len > 0; e++) {
        const size_t i = below(s, *len);
        switch (below(s, 8)) {
        case 0: buf[i] ^= (uint8_t)(1u << below(s, 8)); break;
        case 1: buf[i] = special[below(s, sizeof special)]; break;
        case 2: *len = i; break;
        case 3: { /* insert 1-8 random bytes at i */
            const size_t k = 1 + below(s, 8);
            if (*len + k > cap) break;
            memmove(buf + i + k, buf + i, *len - i);
            for (size_t j = 0; j < k; j++) buf[i + j] = (uint8_t)next_u64(s);
            *len += k;
            break;
        }
        case 4: { /* duplicate up to 64 bytes from elsewhere at i */
            const size_t from = below(s, *len), k = MHIM_MIN(1 + below(s, 64), *len - from);
            if (*len + k > cap) break;
            uint8_t copy[64];
            memcpy(copy, buf + from, k);
            memmove(buf + i + k, buf + i, *len - i);
            memcpy(buf + i, copy, k);
            *len += k;
            break;
        }
        case 5: { /* overwrite a little-endian 2/4/8-byte integer */
            const size_t w = (size_t)2 << below(s, 3);
            const uint64_t v = words[below(s, MHIM_ARRAY_LEN(words))];
            for (size_t j = 0; j < w && i + j < *len; j++) buf[i + j] = (uint8_t)(v >> (8 * j));
            break;
        }
        case 6: { /* empty a value: drop what follows a ':' (any one, uniformly) up to the end of its line */
            size_t colons = 0, from = 0;
            for (size_t j = 0; j < *len; j++) colons += buf[j] == ':';
            if (!colons) break;
            for (size_t j = 0, pick = below(s, colons); j < *len; j++)
                if (buf[j] == ':' && pick-- == 0) {
                    from = j + 1;
                    break;
                }
            const uint8_t *eol = memchr(buf + from, '\n', *len - from);
            const size_t to = eol ? (size_t)(eol - buf) : *len;
            memmove(buf + from, buf + to, *len - to);
            *len -= to - from;
            break;
        }
        default: { /* grow a size field: the next aligned 8-byte word holding 1..2^20 (a count, a dimension, a
                    * length) gets 2^32 added or its high half set */
            for (size_t j = i & ~(size_t)7; j + 8 <= *len; j += 8) {
                uint64_t v = 0;
                for (int b = 0; b < 8; b++) v |= (uint64_t)buf[j + (size_t)b] << (8 * b);
                if (v == 0 || v > (1u << 20)) continue;
                v = below(s, 2) ? v + (1ull << 32) : v | 0x7fff000000000000ull;
                for (int b = 0; b < 8; b++) buf[j + (size_t)b] = (uint8_t)(v >> (8 * b));
                break;
            }
        }
        }
    }
}

typedef int (*reader_fn)(const char *path);

/* Opens the archive, lists every entry and reads each tensor of up to MAX_TENSOR_READ elements. */
static int read_pt(const char *path) {
    mhim_ptfile *pt;
    int rc = mhim_pt_open(path, &pt);
    if (rc) return rc;
    static float f[MAX_TENSOR_READ];
    static int64_t v[MAX_TENSOR_READ];
    for (int64_t k = 0; rc == MHIM_OK && k < mhim_pt_entry_count(pt); k++) {
        const mhim_pt_entry *e = mhim_pt_entry_at(pt, k);
        if (e->kind != MHIM_PT_TENSOR || e->numel > MAX_TENSOR_READ) continue;
        rc = mhim_pt_dtype_is_float(e->dtype) ? mhim_pt_read_f32(pt, k, f, e->numel)
                                               : mhim_pt_read_i64(pt, k, v, e->numel);
    }
    mhim_pt_close(pt);
    return rc;
}

static int read_bag(const char *path) {
    mhim_bag bag;
    int rc = mhim_bag_read(path, 1, &bag);
    if (rc == MHIM_OK) mhim_bag_free(&bag);
    return rc;
}

static int read_config(const char *path) {
    char *argv[] = {"train", "-c", (char *)path, NULL};
    mhim_config cfg;
    mhim_opt_args args;
    int rc = mhim_config_parse(&cfg, 3, argv, &args);
    if (rc == MHIM_OK) {
        mhim_opt_args_free(&args);
        mhim_config_free(&cfg);
    }
    return rc;
}

static int read_sweep_yaml(const char *path) {
    mhim_sweep sw;
    int rc = mhim_sweep_read_yaml(path, &sw);
    if (rc == MHIM_OK) mhim_sweep_free(&sw);
    return rc;
}

static int read_sweep_tsv(const char *path) {
    mhim_sweep sw;
    int rc = mhim_sweep_read_tsv(path, &sw);
    if (rc == MHIM_OK) mhim_sweep_free(&sw);
    return rc;
}

static int read_labels(const char *path, const char *datasets, int version) {
    mhim_label_options opt = {datasets, version, MHIM_CSV_HEADER_AUTO};
    mhim_label_table t;
    int rc = mhim_labels_load(path, &opt, &t);
    if (rc == MHIM_OK) mhim_labels_free(&t);
    return rc;
}

static int read_labels_c16(const char *path) { return read_labels(path, "camelyon16", 1); }

static int read_labels_survival(const char *path) { return read_labels(path, "surv_luad", 2); }

/* MUTATIONS mutated copies of `seed` (named like it, so the reader picks the format from the name) through `read`.
 * A failure of the contract prints the case and is counted. */
static int fuzz_seed(const char *label, const char *seed, reader_fn read, uint64_t key) {
    size_t n = 0;
    char *orig = test_read_file(seed, &n);
    if (!orig) {
        printf("     cannot read seed %s\n", seed);
        return check_true(label, 0);
    }
    const char *ext = strrchr(seed, '.');
    char path[700];
    snprintf(path, sizeof path, "%s/case%s", dir, ext ? ext : "");
    const size_t cap = n + 64 * 8 + 64;
    uint8_t *buf = mhim_malloc(cap);
    int accepted = 0, refused = 0, bad = 0;
    uint64_t s = key;
    for (int m = 0; m < MUTATIONS; m++) {
        size_t len = n;
        memcpy(buf, orig, n);
        mutate(buf, &len, cap, &s);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
            printf("     cannot write %s\n", path);
            bad++;
            break;
        }
        mhim_error_clear();
        const int rc = read(path);
        const char *msg = mhim_error();
        const int ok = rc == MHIM_OK || (rc == MHIM_EINPUT && msg[0] && !strchr(msg, '\n') && strstr(msg, path));
        if (rc == MHIM_OK) accepted++;
        else refused++;
        if (!ok) {
            bad++;
            char keep[760];
            snprintf(keep, sizeof keep, "%s/failed_%s_%d%s", dir, label, m, ext ? ext : "");
            rename(path, keep);
            printf("     %s mutation %d: rc=%d message '%s' (kept as %s)\n", label, m, rc, msg, keep);
        }
    }
    free(buf);
    free(orig);
    printf("     %s: %d mutations of %s, %d accepted, %d refused\n", label, MUTATIONS, seed, accepted, refused);
    char name[160];
    snprintf(name, sizeof name, "%s: accepted or refused with one line naming the file", label);
    return check_true(name, bad == 0 && refused > 0);
}

/* A bag in the TRIDENT / CLAM 2021-2023 layout: one chunk per row (features (rows, 4) float32, coords int64),
 * more chunks than the raw-offset path takes, so that it is read through H5Dread. */
static int write_row_chunked_bag(const char *path, int rows) {
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int rc = file < 0;
    for (int k = 0; !rc && k < 2; k++) {
        const hsize_t cols = k ? 2 : 4, dims[2] = {(hsize_t)rows, cols}, max[2] = {H5S_UNLIMITED, cols},
                      chunk[2] = {1, cols};
        hid_t space = H5Screate_simple(2, dims, max), dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 2, chunk);
        hid_t dset = H5Dcreate2(file, k ? "coords" : "features", k ? H5T_STD_I64LE : H5T_IEEE_F32LE, space,
                                H5P_DEFAULT, dcpl, H5P_DEFAULT);
        float *f = mhim_malloc((size_t)rows * 4 * sizeof *f);
        long long *c = mhim_malloc((size_t)rows * 2 * sizeof *c);
        for (int i = 0; i < rows * 4; i++) f[i] = (float)(i % 13) * 0.25f;
        for (int i = 0; i < rows * 2; i++) c[i] = 224LL * i;
        rc = dset < 0 || H5Dwrite(dset, k ? H5T_NATIVE_LLONG : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                  k ? (const void *)c : (const void *)f) < 0;
        free(f);
        free(c);
        if (dset >= 0) H5Dclose(dset);
        H5Pclose(dcpl);
        H5Sclose(space);
    }
    if (file >= 0) H5Fclose(file);
    return rc;
}

/* Seeds written here: HDF5 bags as current CLAM and as TRIDENT write them, two label CSVs and a TSV sweep grid. */
static int write_seeds(char h5[700], char h5_rows[700], char c16[700], char surv[700], char tsv[700]) {
    snprintf(h5, 700, "%s/seed_bag.h5", dir);
    snprintf(h5_rows, 700, "%s/seed_bag_row_chunks.h5", dir);
    snprintf(c16, 700, "%s/seed_c16.csv", dir);
    snprintf(surv, 700, "%s/seed_surv.csv", dir);
    snprintf(tsv, 700, "%s/seed_grid.tsv", dir);
    float x[12 * 6];
    int32_t c[12 * 2];
    for (int i = 0; i < 12 * 6; i++) x[i] = (float)(i % 7) * 0.5f - 1.0f;
    for (int i = 0; i < 12 * 2; i++) c[i] = 256 * i;
    if (mhim_synth_write_h5(h5, x, c, 12, 6) != MHIM_OK || write_row_chunked_bag(h5_rows, 1100)) return 1;
    FILE *f = fopen(c16, "w");
    if (!f) return 1;
    fputs("tumor_001,1\nnormal_001,0\ntumor_002,1\nnormal_002,0\nnormal_003,0\ntumor_003,1\n", f);
    fclose(f);
    f = fopen(surv, "w");
    if (!f) return 1;
    fputs("Study,ID,Event,Status,WSI\n", f);
    for (int i = 0; i < 12; i++)
        fprintf(f, "TCGA-LUAD,TCGA-05-%04d,%d.25,%d,/f/TCGA-05-%04d-01Z.pt\n", i, 3 + 7 * i, i % 3 == 0, i);
    fclose(f);
    f = fopen(tsv, "w");
    if (!f) return 1;
    fputs("mask_ratio_h\tlr\tmerge_k\n0.01\t2e-4\t1\n0.03\t1e-3\t5\n0.05\t2e-4\t10\n", f);
    fclose(f);
    return 0;
}

int main(void) {
    const char *base = getenv("MHIM_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/reader_mutations", base ? base : "/tmp");
    mkdir(base ? base : "/tmp", 0755);
    mkdir(dir, 0755);
    char h5[700], h5_rows[700], c16[700], surv[700], tsv[700];
    if (write_seeds(h5, h5_rows, c16, surv, tsv)) {
        printf("FAIL cannot write the seed files under %s: %s\n", dir, mhim_error());
        return 1;
    }
    const struct {
        const char *label, *seed;
        reader_fn read;
    } cases[] = {
        {"pt_f32", "fixtures/pt/f32.pt", read_pt},
        {"pt_f16", "fixtures/pt/f16.pt", read_pt},
        {"pt_bf16", "fixtures/pt/bf16.pt", read_pt},
        {"pt_deflated", "fixtures/pt/deflated.pt", read_pt},
        {"pt_view", "fixtures/pt/view_offset.pt", read_pt},
        {"pt_state_dict", "fixtures/pt/state_dict.pt", read_pt},
        {"pt_checkpoint", "fixtures/ckpt/abmil_v2_nested.pt", read_pt},
        {"bag_pt", "fixtures/pt/f32.pt", read_bag},
        {"bag_h5", h5, read_bag},
        {"bag_h5_row_chunks", h5_rows, read_bag},
        {"config_v1", "../configs/abmil_c16_mhim.yaml", read_config},
        {"config_v2", "../configs/v2_brca_abmil_mhim.yaml", read_config},
        {"config_sweep", "../configs/v2_sweep_grid.yaml", read_config},
        {"sweep_yaml", "../configs/v2_sweep_grid.yaml", read_sweep_yaml},
        {"sweep_tsv", tsv, read_sweep_tsv},
        {"labels_c16", c16, read_labels_c16},
        {"labels_survival", surv, read_labels_survival},
    };
    int fails = 0;
    for (size_t i = 0; i < MHIM_ARRAY_LEN(cases); i++)
        fails += fuzz_seed(cases[i].label, cases[i].seed, cases[i].read, 0x5eed0000u + i);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
