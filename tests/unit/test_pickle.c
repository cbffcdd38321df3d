/* Safe pickle interpreter (io/pickle.h): accepted programs, every rejection path, and robustness against
 * truncated and mutated real data.pkl streams (must fail cleanly, never crash; run under ASan/UBSan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "check.h"
#include "io/pickle.h"
#include "mhim/common.h"

/* Load a byte program; returns the status, leaves the doc for inspection (caller frees). */
static int load(const char *bytes, size_t len, pk_doc *doc) {
    mhim_error_clear();
    return pk_load((const uint8_t *)bytes, len, "t.pt: data.pkl", doc);
}

/* Expect rejection with MHIM_EINPUT and a message containing `want` and the location prefix. */
static int expect_reject(const char *name, const char *bytes, size_t len, const char *want) {
    pk_doc doc;
    int rc = load(bytes, len, &doc);
    pk_doc_free(&doc);
    int ok = rc == MHIM_EINPUT && strstr(mhim_error(), want) && strstr(mhim_error(), "t.pt: data.pkl");
    if (!ok) printf("     rc=%d message: %s (wanted '%s')\n", rc, mhim_error(), want);
    else printf("     -> %s\n", mhim_error());
    return check_true(name, ok);
}

#define P(s) s, sizeof(s) - 1

static int test_accepts_values(void) {
    int bad = 0;
    pk_doc doc;
    /* {'a': -2, 'b': 2**40, 'c': 1.5, 'd': True, 'e': None, 'f': [1, 300, 70000], 'g': ('x',)} via memo */
    const char prog[] = "\x80\x02}q\x00(X\x01\x00\x00\x00" "aJ\xfe\xff\xff\xffX\x01\x00\x00\x00" "b\x8a\x06\x00\x00"
                        "\x00\x00\x00\x01X\x01\x00\x00\x00" "cG?\xf8\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00" "d"
                        "\x88X\x01\x00\x00\x00" "eNX\x01\x00\x00\x00" "f](K\x01M,\x01Jp\x11\x01\x00" "eX\x01\x00"
                        "\x00\x00g\x8c\x01x\x94\x85u.";
    int rc = load(P(prog), &doc);
    bad += check_true("valid dict program loads", rc == MHIM_OK);
    if (!rc) {
        pk_value *d = doc.root;
        bad += check_true("root is a dict of 7 pairs", d->kind == PK_DICT && d->count == 14);
        bad += check_true("BININT -2", d->items[1]->kind == PK_INT && d->items[1]->i == -2);
        bad += check_true("LONG1 2**40", d->items[3]->i == ((int64_t)1 << 40));
        bad += check_true("BINFLOAT 1.5", d->items[5]->kind == PK_FLOAT && d->items[5]->f == 1.5);
        bad += check_true("NEWTRUE", d->items[7]->kind == PK_BOOL && d->items[7]->i == 1);
        bad += check_true("NONE", d->items[9]->kind == PK_NONE);
        pk_value *l = d->items[11];
        bad += check_true("APPENDS [1, 300, 70000]", l->kind == PK_LIST && l->count == 3 && l->items[0]->i == 1 &&
                                                          l->items[1]->i == 300 && l->items[2]->i == 70000);
        pk_value *t = d->items[13];
        bad += check_true("SHORT_BINUNICODE + TUPLE1", t->kind == PK_TUPLE && t->count == 1 &&
                                                            !strcmp(t->items[0]->s, "x"));
    }
    pk_doc_free(&doc);
    /* LONG1 negative (-129 = 0x7fff.. two's complement in 2 bytes) */
    rc = load(P("\x80\x02\x8a\x02\x7f\xff."), &doc);
    bad += check_true("LONG1 -129", rc == MHIM_OK && doc.root->i == -129);
    pk_doc_free(&doc);
    /* STACK_GLOBAL of an allowlisted callable, OrderedDict() with BUILD state dropped */
    rc = load(P("\x80\x04\x8c\x0b" "collections\x8c\x0bOrderedDict\x93)R}b."), &doc);
    bad += check_true("STACK_GLOBAL OrderedDict() + BUILD", rc == MHIM_OK && doc.root->kind == PK_DICT);
    pk_doc_free(&doc);
    return bad;
}

static int test_tensor(void) {
    int bad = 0;
    pk_doc doc;
    const char prog[] = "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nHalfStorag"
                        "e\nX\x01\x00\x00\x00" "7X\x03\x00\x00\x00" "cpuK\x0ctQK\x02K\x02K\x05\x86K\x05K\x01\x86"
                        "\x89" "ccollections\nOrderedDict\n)RtR.";
    int rc = load(P(prog), &doc);
    bad += check_true("_rebuild_tensor_v2 program loads", rc == MHIM_OK);
    if (!rc) {
        pk_value *t = doc.root, *s = t->storage;
        bad += check_true("tensor shape (2,5) stride (5,1) offset 2",
                          t->kind == PK_TENSOR && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 5 &&
                              t->stride[0] == 5 && t->stride[1] == 1 && t->i == 2);
        bad += check_true("storage float16 key '7' numel 12",
                          s->kind == PK_STORAGE && s->dtype == MHIM_PT_FLOAT16 && !strcmp(s->s, "7") && s->i == 12);
    }
    pk_doc_free(&doc);
    return bad;
}

static int test_rejections(void) {
    int bad = 0;
    bad += expect_reject("GLOBAL os.system rejected",
                         P("\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00id\x85R."),
                         "global 'os.system' is not allowed");
    bad += expect_reject("STACK_GLOBAL builtins.eval rejected",
                         P("\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93."),
                         "global 'builtins.eval'");
    bad += expect_reject("numpy global rejected with advice",
                         P("\x80\x02" "cnumpy.core.multiarray\n_reconstruct\n."),
                         "torch.from_numpy");
    bad += expect_reject("unsupported storage type",
                         P("\x80\x02" "ctorch\nComplexFloatStorage\n."),
                         "storage type torch.ComplexFloatStorage is not supported");
    bad += expect_reject("INST opcode",
                         P("\x80\x02(ios\nsystem\n."),
                         "opcode 0x69 ('INST')");
    bad += expect_reject("NEWOBJ opcode",
                         P("\x80\x02)\x81."),
                         "opcode 0x81 ('NEWOBJ')");
    bad += expect_reject("unknown opcode byte",
                         P("\x80\x02\xff."),
                         "opcode 0xff ('unknown')");
    bad += expect_reject("REDUCE of a non-callable",
                         P("\x80\x02K\x01)R."),
                         "REDUCE");
    bad += expect_reject("storage class called directly",
                         P("\x80\x02" "ctorch\nFloatStorage\n)R."),
                         "calls a storage class");
    bad += expect_reject("BUILD on a list",
                         P("\x80\x02]}b."),
                         "BUILD");
    bad += expect_reject("bad persistent id",
                         P("\x80\x02K\x01Q."),
                         "persistent id");
    bad += expect_reject("storage key with a slash",
                         P("\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x04\x00\x00\x00../0X\x03\x00"
                           "\x00\x00" "cpuK\x01tQ."),
                         "not a plain record name");
    bad += expect_reject("negative tensor size",
                         P("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatSt"
                           "orage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x01tQK\x00J\xff\xff\xff\xff\x85K"
                           "\x01\x85\x89}tR."),
                         "non-negative");
    bad += expect_reject("string longer than the stream",
                         P("\x80\x02X\xff\xff\x00\x00" "abc."),
                         "ends inside a string");
    bad += expect_reject("BINGET of an unset memo entry",
                         P("\x80\x02h\x05."),
                         "memo entry 5");
    bad += expect_reject("LONG_BINPUT beyond the memo limit",
                         P("\x80\x02K\x01r\xff\xff\xff\x7f."),
                         "memo index");
    bad += expect_reject("LONG1 wider than 64 bits",
                         P("\x80\x02\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01."),
                         "does not fit in 64 bits");
    bad += expect_reject("stack underflow",
                         P("\x80\x02s."),
                         "underflow");
    bad += expect_reject("SETITEMS with odd items",
                         P("\x80\x02}(K\x01u."),
                         "odd number");
    bad += expect_reject("two values left at STOP",
                         P("\x80\x02K\x01K\x02."),
                         "exactly one");
    bad += expect_reject("missing STOP",
                         P("\x80\x02K\x01"),
                         "truncated");
    bad += expect_reject("unsupported protocol",
                         P("\x80\x06."),
                         "protocol 6");
    bad += expect_reject("GLOBAL without newline",
                         P("\x80\x02" "ctorch._utils"),
                         "GLOBAL");
    return bad;
}

/* Huge programs: stack depth and value-count bounds stop them quickly. */
static int test_bounds(void) {
    int bad = 0;
    size_t n = (size_t)PK_MAX_STACK + 10;
    char *prog = mhim_malloc(n + 3);
    prog[0] = '\x80';
    prog[1] = 2;
    memset(prog + 2, '(', n);
    prog[n + 2] = '.';
    bad += expect_reject("MARK flood hits the stack bound", prog, n + 3, "stack deeper");
    free(prog);
    n = 2 * (size_t)PK_MAX_VALUES + 10;
    prog = mhim_malloc(n + 4);
    prog[0] = '\x80';
    prog[1] = 2;
    prog[2] = ']';
    for (size_t k = 0; k < n; k += 2) memcpy(prog + 3 + k, ")a", 2);
    prog[n + 3] = '.';
    bad += expect_reject("list of empty tuples hits the value bound", prog, n + 4, "more than");
    free(prog);
    return bad;
}

/* data.pkl of a fixture, read with libzip. */
static uint8_t *read_pickle(const char *path, const char *record, size_t *len) {
    int err = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY, &err);
    if (!z) return NULL;
    zip_stat_t st;
    uint8_t *bytes = NULL;
    if (zip_stat(z, record, 0, &st) == 0) {
        bytes = mhim_malloc((size_t)st.size);
        zip_file_t *f = zip_fopen(z, record, 0);
        if (!f || zip_fread(f, bytes, st.size) != (zip_int64_t)st.size) {
            free(bytes);
            bytes = NULL;
        }
        if (f) zip_fclose(f);
        *len = (size_t)st.size;
    }
    zip_discard(z);
    return bytes;
}

/* Every truncation must be rejected; every single-byte mutation must load or be rejected cleanly. */
static int test_fuzz(void) {
    size_t len = 0;
    uint8_t *orig = read_pickle("fixtures/pt/checkpoint.pt", "checkpoint/data.pkl", &len);
    int bad = check_true("read checkpoint.pt data.pkl", orig != NULL);
    if (!orig) return bad;
    pk_doc doc;
    bad += check_true("full checkpoint pickle loads", pk_load(orig, len, "c", &doc) == MHIM_OK);
    pk_doc_free(&doc);
    int64_t wrong = 0, accepted = 0, rejected = 0;
    for (size_t cut = 0; cut < len; cut++) {
        int rc = pk_load(orig, cut, "c", &doc);
        pk_doc_free(&doc);
        wrong += rc != MHIM_EINPUT;
    }
    printf("     truncations: %zu tried, %lld not rejected\n", len, (long long)wrong);
    bad += check_true("every truncation rejected", wrong == 0);
    uint8_t *copy = mhim_malloc(len);
    static const uint8_t flips[] = {0x01, 0x80, 0xff, 0x10};
    for (size_t pos = 0; pos < len; pos++)
        for (size_t f = 0; f < sizeof flips; f++) {
            memcpy(copy, orig, len);
            copy[pos] ^= flips[f];
            int rc = pk_load(copy, len, "c", &doc);
            pk_doc_free(&doc);
            if (rc == MHIM_OK) accepted++;
            else if (rc == MHIM_EINPUT) rejected++;
            else wrong++;
        }
    printf("     mutations: %lld accepted, %lld rejected, %lld other\n", (long long)accepted, (long long)rejected,
           (long long)wrong);
    bad += check_true("every mutation accepted or rejected with MHIM_EINPUT", wrong == 0 && rejected > 0);
    free(copy);
    free(orig);
    return bad;
}

int main(void) {
    int bad = test_accepts_values();
    bad += test_tensor();
    bad += test_rejections();
    bad += test_bounds();
    bad += test_fuzz();
    printf("%s: %d failure(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad != 0;
}
