/* Checkpoints (mhim/checkpoint.h): HDF5 write/read round trip (every tensor group, metadata, state arrays,
 * atomic replace), the by-name matching report (missing / unexpected / mis-shaped, strict and non-strict,
 * only_prefix), torch.save files in the original layouts (the .pt files of tests/fixtures/ckpt against expected.h5), and
 * PyTorch's verdict on an mhim-written checkpoint (torch_read.h5).
 *
 * `test_checkpoint --write-fixture PATH` writes the checkpoint that tests/pytorch/gen_ckpt_fixtures.py loads into
 * PyTorch (tests/fixtures/ckpt/mhim_written.h5); the default run checks that this file still equals what the
 * writer produces now. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "mhim/checkpoint.h"
#include "mhim/common.h"
#include "mhim/params.h"
#include "mhim/rng.h"

#define FIX "fixtures/ckpt/"

/* v1 ABMIL with input_dim 16 (the module of gen_ckpt_fixtures.py); test-local copy of the original's keys. */
static const mhim_param_spec abmil_v1[] = {
    {"patch_to_emb.0.weight", 2, {512, 16}},
    {"patch_to_emb.0.bias", 1, {512}},
    {"online_encoder.attention.attention.0.weight", 2, {128, 512}},
    {"online_encoder.attention.attention.2.weight", 2, {1, 128}},
    {"predictor.weight", 2, {2, 512}},
    {"predictor.bias", 1, {2}},
};
static const mhim_param_spec abmil_v2[] = {
    {"feature.0.weight", 2, {512, 16}},
    {"feature.0.bias", 1, {512}},
    {"online_encoder.attention.attention.0.weight", 2, {128, 512}},
    {"online_encoder.attention.attention.2.weight", 2, {1, 128}},
    {"predictor.weight", 2, {2, 512}},
    {"predictor.bias", 1, {2}},
};
static const mhim_param_spec dsmil_v1[] = {
    {"patch_to_emb.0.weight", 2, {512, 16}},
    {"patch_to_emb.0.bias", 1, {512}},
    {"online_encoder.i_classifier.0.weight", 2, {2, 512}},
    {"online_encoder.i_classifier.0.bias", 1, {2}},
    {"online_encoder.b_classifier.q.0.weight", 2, {128, 512}},
    {"online_encoder.b_classifier.q.0.bias", 1, {128}},
    {"online_encoder.b_classifier.q.2.weight", 2, {128, 128}},
    {"online_encoder.b_classifier.q.2.bias", 1, {128}},
    {"online_encoder.b_classifier.v.1.weight", 2, {512, 512}},
    {"online_encoder.b_classifier.v.1.bias", 1, {512}},
    {"online_encoder.b_classifier.fcc.weight", 3, {2, 2, 512}},
    {"online_encoder.b_classifier.fcc.bias", 1, {2}},
    {"predictor.weight", 2, {2, 512}},
    {"predictor.bias", 1, {2}},
};

static const char *tmp_dir(void) {
    static char dir[512];
    const char *base = getenv("MHIM_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/checkpoint", base ? base : "/tmp");
    char *cmd = mhim_asprintf("mkdir -p '%s'", dir);
    if (system(cmd) != 0) printf("warning: cannot create %s\n", dir);
    free(cmd);
    return dir;
}

/* buffer[k] = scale * N(0,1) from stream (seed, tensor), for every tensor of L (gaps stay zero). */
static void fill(const mhim_param_layout *L, float *buffer, uint64_t seed, float scale) {
    for (int64_t i = 0; i < L->count; i++) {
        mhim_rng r = mhim_rng_stream(seed, 0, (uint32_t)i, MHIM_RNG_INIT, 0);
        mhim_rng_fill_normal(&r, 0, buffer + L->entries[i].offset, L->entries[i].numel, 0.0f, scale);
    }
}

/* The checkpoint of tests/fixtures/ckpt/mhim_written.h5. */
static int write_fixture_checkpoint(const char *path) {
    mhim_param_layout L;
    if (mhim_param_layout_init(&L, abmil_v1, MHIM_ARRAY_LEN(abmil_v1))) return 1;
    float *p = mhim_params_alloc(&L);
    fill(&L, p, 7, 0.05f);
    const char *names[] = {"val_auc", "val_loss"};
    const double values[] = {0.875, 0.25};
    mhim_ckpt_contents c = {.model = "abmil",
                            .model_config = "version=1 input_dim=16 n_classes=2 act=relu dropout=0.25 da_act=relu "
                                            "gated=0",
                            .options_yaml = "baseline: attn\ninput_dim: 16\n",
                            .fold = 1, .epoch = 12, .n_metrics = 2, .metric_names = names, .metric_values = values,
                            .layout = &L, .params = p};
    int rc = mhim_ckpt_write(path, &c);
    if (rc) printf("write failed: %s\n", mhim_error());
    mhim_params_free(p);
    mhim_param_layout_free(&L);
    return rc != MHIM_OK;
}

/* Count files in dir whose name starts with prefix. */
static int count_files(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    closedir(d);
    return n;
}

static int test_round_trip(const char *dir) {
    static const mhim_param_spec spec[] = {
        {"a.scalar", 0, {0}}, {"b.vec", 1, {5}}, {"c.mat", 2, {3, 7}}, {"d.conv", 4, {2, 1, 3, 1}}};
    mhim_param_layout L;
    int fails = mhim_param_layout_init(&L, spec, 4);
    float *p = mhim_params_alloc(&L), *t = mhim_params_alloc(&L), *m = mhim_params_alloc(&L);
    float *v = mhim_params_alloc(&L), *got = mhim_params_alloc(&L);
    fill(&L, p, 1, 1.0f);
    fill(&L, t, 2, 1.0f);
    fill(&L, m, 3, 1.0f);
    fill(&L, v, 4, 1.0f);
    const char *names[] = {"val_auc", "test_acc", "val_loss"};
    const double values[] = {0.9375, 0.5, 1.25};
    const int64_t cursor[3] = {7, -1, 1LL << 40};
    const double ema[2] = {0.9999, 1e-300};
    const mhim_ckpt_array state[] = {{"cursor", 3, cursor, NULL}, {"ema", 2, NULL, ema}};
    char *path = mhim_asprintf("%s/round.h5", dir);
    mhim_ckpt_contents c = {.model = "transmil", .model_config = "version=2 heads=8", .options_yaml = "lr: 0.0002\n",
                            .fold = 3, .epoch = 41, .n_metrics = 3, .metric_names = names, .metric_values = values,
                            .layout = &L, .params = p, .teacher = t, .adam_m = m, .adam_v = v, .adam_step = 1234,
                            .n_state = 2, .state = state};
    for (int pass = 0; pass < 2; pass++) { /* the second pass replaces the existing file */
        int rc = mhim_ckpt_write(path, &c);
        fails += check_true("write checkpoint", rc == MHIM_OK);
        if (rc) printf("     %s\n", mhim_error());
    }
    fails += check_true("no temporary file left", count_files(dir, ".round.h5") == 0);

    mhim_ckpt_info info;
    int rc = mhim_ckpt_read_info(path, &info);
    fails += check_true("read info", rc == MHIM_OK);
    if (rc == MHIM_OK) {
        printf("     info: model %s, config '%s', fold %d, epoch %d, %d metrics, teacher %d, adam %d (step %lld), "
               "%lld tensors\n", info.model, info.model_config, info.fold, info.epoch, info.n_metrics,
               info.has_teacher, info.has_adam, (long long)info.adam_step, (long long)info.n_tensors);
        fails += check_true("info model/config/yaml", !strcmp(info.model, "transmil") &&
                                                          !strcmp(info.model_config, "version=2 heads=8") &&
                                                          info.options_yaml && !strcmp(info.options_yaml, "lr: 0.0002\n"));
        fails += check_true("info fold/epoch/version", info.fold == 3 && info.epoch == 41 && info.format_version == 1);
        fails += check_true("info groups", info.has_teacher && info.has_adam && info.adam_step == 1234 &&
                                               info.n_tensors == 4);
        int metrics_ok = info.n_metrics == 3;
        for (int i = 0; metrics_ok && i < 3; i++)
            metrics_ok = !strcmp(info.metric_names[i], names[i]) && info.metric_values[i] == values[i];
        fails += check_true("info metrics in order", metrics_ok);
    }
    mhim_ckpt_info_free(&info);

    const char *sections[] = {"model", "teacher", "adam_m", "adam_v"};
    const float *want[] = {p, t, m, v};
    for (int s = 0; s < 4; s++) {
        mhim_params_zero(&L, got);
        mhim_load_opts o = {MHIM_LOAD_STRICT, s ? sections[s] : NULL, NULL, "test layout"};
        mhim_load_report rep;
        rc = mhim_ckpt_load(path, &L, got, &o, &rep);
        if (rc) printf("     %s\n", mhim_error());
        else printf("     %s: %s\n", sections[s], rep.text);
        fails += check_true(sections[s], rc == MHIM_OK && rep.loaded == 4);
        fails += check_close(sections[s], got, want[s], L.total, 0, 0);
    }
    int64_t cur[3] = {0};
    double e[2] = {0};
    fails += check_true("state i64", mhim_ckpt_read_state_i64(path, "cursor", cur, 3) == MHIM_OK);
    fails += check_equal_i64("state cursor", cur, cursor, 3);
    fails += check_true("state f64", mhim_ckpt_read_state_f64(path, "ema", e, 2) == MHIM_OK && e[0] == ema[0] &&
                                         e[1] == ema[1]);
    rc = mhim_ckpt_read_state_i64(path, "cursor", cur, 2);
    printf("     wrong length -> %s\n", mhim_error());
    fails += check_true("state length checked", rc == MHIM_EINPUT && strstr(mhim_error(), "expected 2"));
    rc = mhim_ckpt_read_state_f64(path, "rng", e, 1);
    fails += check_true("absent state named", rc == MHIM_EINPUT && strstr(mhim_error(), "'rng'"));

    free(path);
    mhim_params_free(p), mhim_params_free(t), mhim_params_free(m), mhim_params_free(v), mhim_params_free(got);
    mhim_param_layout_free(&L);
    return fails;
}

/* Load `path` into a layout built from spec and expect failure with every needle in the message. */
static int expect_fail(const char *label, const char *path, const mhim_param_spec *spec, int64_t n,
                       const mhim_load_opts *o, const char *const *needles) {
    mhim_param_layout L;
    mhim_param_layout_init(&L, spec, n);
    float *buf = mhim_params_alloc(&L);
    mhim_error_clear();
    int rc = mhim_ckpt_load(path, &L, buf, o, NULL);
    printf("     %s -> %s\n", label, mhim_error());
    int ok = rc == MHIM_EINPUT && strchr(mhim_error(), '\n') == NULL;
    for (; *needles; needles++)
        if (!strstr(mhim_error(), *needles)) {
            printf("     missing '%s'\n", *needles);
            ok = 0;
        }
    mhim_params_free(buf);
    mhim_param_layout_free(&L);
    return check_true(label, ok);
}

static int test_mismatch_reports(const char *dir) {
    int fails = 0;
    char *path = mhim_asprintf("%s/small.h5", dir);
    static const mhim_param_spec spec[] = {{"w", 2, {3, 4}}, {"b", 1, {3}}, {"head.w", 2, {2, 3}}};
    mhim_param_layout L;
    mhim_param_layout_init(&L, spec, 3);
    float *p = mhim_params_alloc(&L);
    fill(&L, p, 9, 1.0f);
    mhim_ckpt_contents c = {.model = "abmil", .model_config = "x", .fold = -1, .epoch = -1, .layout = &L, .params = p};
    fails += check_true("write small", mhim_ckpt_write(path, &c) == MHIM_OK);

    static const mhim_param_spec extra[] = {{"w", 2, {3, 4}}, {"b", 1, {3}}, {"head.w", 2, {2, 3}}, {"z", 1, {2}}};
    fails += expect_fail("strict: missing key", path, extra, 4, NULL,
                         (const char *[]){"small.h5", "'model'", "missing 1 key [z]", "strict", NULL});
    fails += expect_fail("strict: unexpected key", path, spec, 2, NULL,
                         (const char *[]){"unexpected 1 key [head.w]", NULL});
    static const mhim_param_spec shaped[] = {{"w", 2, {4, 3}}, {"b", 1, {3}}, {"head.w", 2, {2, 3}}};
    mhim_load_opts loose = {MHIM_LOAD_NONSTRICT, NULL, NULL, "model toy"};
    fails += expect_fail("non-strict: mis-shaped still fails", path, shaped, 3, &loose,
                         (const char *[]){"mis-shaped 1 key [w: file (3, 4) vs model (4, 3)]", "model toy", NULL});
    static const mhim_param_spec none[] = {{"q", 1, {3}}};
    fails += expect_fail("non-strict: nothing matches", path, none, 1, &loose,
                         (const char *[]){"no tensor matches", NULL});
    mhim_load_opts teacher = {MHIM_LOAD_STRICT, "teacher", NULL, NULL};
    fails += expect_fail("absent section", path, spec, 3, &teacher,
                         (const char *[]){"no group 'teacher'", "model, metrics", NULL});
    fails += expect_fail("unknown extension", "weights.bin", spec, 3, NULL, (const char *[]){".pt/.pth", NULL});
    fails += expect_fail("missing file", "/nonexistent/x.h5", spec, 3, NULL, (const char *[]){"cannot open", NULL});
    fails += expect_fail("a feature bag is not a checkpoint", "fixtures/ckpt/expected.h5", spec, 3, NULL,
                         (const char *[]){"not an mhim checkpoint", NULL});

    /* non-strict with missing and unexpected keys: loads the intersection and reports both */
    mhim_param_layout L2;
    static const mhim_param_spec partial[] = {{"w", 2, {3, 4}}, {"z", 1, {2}}};
    mhim_param_layout_init(&L2, partial, 2);
    float *got = mhim_params_alloc(&L2);
    mhim_load_report rep;
    int rc = mhim_ckpt_load(path, &L2, got, &loose, &rep);
    printf("     non-strict report: %s\n", rc ? mhim_error() : rep.text);
    fails += check_true("non-strict partial load", rc == MHIM_OK && rep.loaded == 1 && rep.missing == 1 &&
                                                       rep.unexpected == 2);
    fails += check_close("non-strict w", got, p, 12, 0, 0);
    float zero[2] = {0, 0};
    fails += check_close("non-strict z untouched", got + L2.entries[1].offset, zero, 2, 0, 0);

    /* only_prefix: like init_stu_type=fc, only "head." keys count */
    mhim_load_opts fc = {MHIM_LOAD_STRICT, NULL, "head.", NULL};
    static const mhim_param_spec heads[] = {{"head.w", 2, {2, 3}}, {"other", 1, {9}}};
    mhim_param_layout L3;
    mhim_param_layout_init(&L3, heads, 2);
    float *g3 = mhim_params_alloc(&L3);
    rc = mhim_ckpt_load(path, &L3, g3, &fc, &rep);
    printf("     only_prefix report: %s\n", rc ? mhim_error() : rep.text);
    fails += check_true("only_prefix strict load", rc == MHIM_OK && rep.loaded == 1);
    fails += check_close("only_prefix head.w", g3, p + L.entries[2].offset, 6, 0, 0);

    /* writing into a missing folder fails cleanly and names the folder */
    rc = mhim_ckpt_write("/nonexistent-folder/x.h5", &c);
    printf("     missing folder -> %s\n", mhim_error());
    fails += check_true("missing folder", rc == MHIM_EINPUT && strstr(mhim_error(), "/nonexistent-folder"));

    mhim_params_free(p), mhim_params_free(got), mhim_params_free(g3);
    mhim_param_layout_free(&L), mhim_param_layout_free(&L2), mhim_param_layout_free(&L3);
    free(path);
    return fails;
}

/* Compare every tensor of buffer against the [sum, sumsq, v0..v3] checksums under group/key in fx. */
static int check_checksums(fixture *fx, const char *group, const mhim_param_layout *L, const float *buffer) {
    int fails = 0;
    for (int64_t i = 0; i < L->count; i++) {
        const mhim_param_entry *e = &L->entries[i];
        char *name = mhim_asprintf("%s/%s", group, e->name);
        const float *want = fixture_f32(fx, name, NULL);
        double sum = 0, sq = 0;
        for (int64_t k = 0; k < e->numel; k++) sum += buffer[e->offset + k], sq += (double)buffer[e->offset + k] * buffer[e->offset + k];
        float got[6] = {(float)sum, (float)sq, 0, 0, 0, 0};
        for (int k = 0; k < 4 && k < e->numel; k++) got[2 + k] = buffer[e->offset + k];
        if (!want) fails++;
        else fails += check_close(name, got, want, 6, 1e-6, 1e-5);
        free(name);
    }
    return fails;
}

static int load_pt_case(fixture *fx, const char *file, const mhim_param_spec *spec, int64_t n,
                        const mhim_load_opts *o, const char *group) {
    mhim_param_layout L;
    mhim_param_layout_init(&L, spec, n);
    float *buf = mhim_params_alloc(&L);
    mhim_load_report rep;
    char *path = mhim_asprintf(FIX "%s", file);
    int rc = mhim_ckpt_load(path, &L, buf, o, &rep);
    if (rc) printf("     %s: %s\n", file, mhim_error());
    else printf("     %s [%s]: %s\n", file, rep.section, rep.text);
    int fails = check_true(file, rc == MHIM_OK);
    if (rc == MHIM_OK) fails += check_checksums(fx, group, &L, buf);
    free(path);
    mhim_params_free(buf);
    mhim_param_layout_free(&L);
    return fails;
}

static int test_torch_files(void) {
    fixture *fx = fixture_open(FIX "expected.h5");
    if (!fx) return 1;
    int fails = 0;
    fails += load_pt_case(fx, "abmil_v1_bare.pt", abmil_v1, 6, NULL, "abmil_v1_bare/checksum");
    fails += load_pt_case(fx, "dsmil_v1_model.pt", dsmil_v1, 14, NULL, "dsmil_v1_model/checksum");
    mhim_load_opts loose = {MHIM_LOAD_NONSTRICT, NULL, NULL, NULL};
    fails += load_pt_case(fx, "abmil_v2_nested.pt", abmil_v2, 6, &loose, "abmil_v2_nested/checksum_model");
    mhim_load_opts teacher = {MHIM_LOAD_STRICT, "teacher", NULL, NULL};
    fails += load_pt_case(fx, "abmil_v2_nested.pt", abmil_v2, 6, &teacher, "abmil_v2_nested/checksum_teacher");
    fails += expect_fail("strict v2 load names the merge keys", FIX "abmil_v2_nested.pt", abmil_v2, 6, NULL,
                         (const char *[]){"unexpected 3 keys [merge.norm.weight", NULL});
    fails += expect_fail("v1 layout on a v2 file: hint", FIX "abmil_v2_nested.pt", abmil_v1, 6, NULL,
                         (const char *[]){"missing 2 keys [patch_to_emb.0.weight", "--mhim_version=2", NULL});
    fails += expect_fail("teacher is None", FIX "dsmil_v1_model.pt", dsmil_v1, 14, &teacher,
                         (const char *[]){"'teacher' is None", NULL});
    mhim_load_opts absent = {MHIM_LOAD_STRICT, "optimizer", NULL, NULL};
    fails += expect_fail("absent .pt section", FIX "abmil_v2_nested.pt", abmil_v2, 6, &absent,
                         (const char *[]){"no state_dict 'optimizer'", "model, teacher, epoch", NULL});
    fixture_close(fx);
    return fails;
}

/* PyTorch read mhim_written.h5 strictly and recorded what it saw; the file must still be what we write now. */
static int test_torch_verdict(const char *dir) {
    int fails = 0;
    char *path = mhim_asprintf("%s/mhim_written.h5", dir);
    fails += write_fixture_checkpoint(path);
    mhim_param_layout L;
    mhim_param_layout_init(&L, abmil_v1, 6);
    float *now = mhim_params_alloc(&L), *committed = mhim_params_alloc(&L);
    int rc = mhim_ckpt_load(path, &L, now, NULL, NULL) | mhim_ckpt_load(FIX "mhim_written.h5", &L, committed, NULL, NULL);
    fails += check_true("load written + committed", rc == MHIM_OK);
    fails += check_close("committed fixture == writer output", committed, now, L.total, 0, 0);

    fixture *fx = fixture_open(FIX "torch_read.h5");
    if (!fx) return fails + 1;
    printf("     torch: strict_ok %g, missing %g, unexpected %g, keys %g\n", fixture_scalar(fx, "strict_ok"),
           fixture_scalar(fx, "n_missing"), fixture_scalar(fx, "n_unexpected"), fixture_scalar(fx, "n_keys"));
    fails += check_true("torch load_state_dict strict", fixture_scalar(fx, "strict_ok") == 1 &&
                                                            fixture_scalar(fx, "n_keys") == 6);
    fails += check_true("torch read fold/epoch/version", fixture_scalar(fx, "meta_fold") == 1 &&
                                                             fixture_scalar(fx, "meta_epoch") == 12 &&
                                                             fixture_scalar(fx, "meta_format_version") == 1);
    fails += check_true("torch read metrics", fixture_scalar(fx, "metric_val_auc") == 0.875 &&
                                                  fixture_scalar(fx, "metric_val_loss") == 0.25);
    fails += check_checksums(fx, "checksum", &L, now);
    fixture_close(fx);
    mhim_params_free(now), mhim_params_free(committed);
    mhim_param_layout_free(&L);
    free(path);
    return fails;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--write-fixture")) return write_fixture_checkpoint(argv[2]);
    const char *dir = tmp_dir();
    int fails = 0;
    fails += test_round_trip(dir);
    fails += test_mismatch_reports(dir);
    fails += test_torch_files();
    fails += test_torch_verdict(dir);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails != 0;
}
