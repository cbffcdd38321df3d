/* Training configuration tests: every training command line of the original READMEs (v1: 4 baseline
 * + 6 MHIM lines of spec/mhim_v1.md section 1.3; v2: the stage-1 and stage-2 lines of spec/mhim_v2.md
 * section 1.3 with configs/v2_feat_*.yaml) resolves to the documented values; version selection;
 * the original's post-parse rules; training constraints (v2 B3-B6); YAML round trip; every
 * configs/ YAML file loads. Paths in the lines are placeholders ($X of the README written out). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/config.h"

static char source_dir[1024];
static char tmpdir[1024];

/* Split a command line "mhim train --a=1 ..." on spaces; "@" is replaced by source_dir. Returns argc;
 * argv[0] is the command name. Strings live in *store (free it). */
static int split_line(const char *line, char **argv, int max, char **store) {
    size_t need = strlen(line) + 64;
    for (const char *p = line; *p; p++) need += *p == '@' ? strlen(source_dir) : 0;
    char *buf = mhim_malloc(need), *w = buf;
    for (const char *p = line; *p; p++) w += *p == '@' ? (size_t)sprintf(w, "%s", source_dir) : (size_t)(*w = *p, 1);
    *w = '\0';
    int argc = 0;
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok && argc < max - 1; tok = strtok_r(NULL, " ", &save)) {
        if (argc == 0 && !strcmp(tok, "mhim")) continue;
        argv[argc++] = tok;
    }
    argv[argc] = NULL;
    *store = buf;
    return argc;
}

static int parse_line(const char *line, mhim_config *cfg) {
    char *argv[128], *store;
    int argc = split_line(line, argv, 128, &store);
    mhim_opt_args args;
    mhim_error_clear();
    int rc = mhim_config_parse(cfg, argc, argv, &args);
    if (rc == MHIM_OK) mhim_opt_args_free(&args);
    free(store);
    return rc;
}

/* Compare "name=value name=value ..." against cfg (doubles numerically; "null" = NULL text). */
static int expect_values(const char *label, const mhim_config *cfg, const char *expected) {
    int n, fails = 0;
    const mhim_option *table = mhim_config_options(&n);
    char *copy = mhim_strdup(expected);
    for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        MHIM_ASSERT(eq);
        *eq = '\0';
        const char *want = eq + 1;
        const mhim_option *opt = mhim_opts_find(table, n, tok);
        if (!opt) {
            printf("FAIL %s: no option '%s' in the table\n", label, tok);
            fails++;
            continue;
        }
        char *got = mhim_opts_value_text(opt, cfg);
        int ok = opt->type == MHIM_OPT_DOUBLE ? got && strtod(got, NULL) == strtod(want, NULL)
                                              : !strcmp(got ? got : "null", want);
        if (!ok) printf("FAIL %s: %s = %s, want %s\n", label, tok, got ? got : "null", want);
        fails += !ok;
        free(got);
    }
    free(copy);
    printf("%s %s: %s\n", fails ? "FAIL" : "ok  ", label, expected);
    return fails;
}

/* A README line: parses, resolves to `expected`, has the derived fields, and passes the training check. */
static int readme_line(const char *label, const char *line, int version, const char *run_dir, int patience,
                       int stop_epoch, const char *expected) {
    mhim_config cfg;
    int rc = parse_line(line, &cfg);
    if (rc != MHIM_OK) {
        printf("FAIL %s: parse error: %s\n", label, mhim_error());
        return 1;
    }
    int fails = expect_values(label, &cfg, expected);
    printf("     %s: version %d run_dir %s early stop %d/%d\n", label, cfg.version, cfg.run_dir ? cfg.run_dir : "null",
           cfg.es_patience, cfg.es_stop_epoch);
    fails += check_true("  version", cfg.version == version);
    fails += check_true("  run_dir", cfg.run_dir && !strcmp(cfg.run_dir, run_dir));
    fails += check_true("  early-stopping patience", cfg.es_patience == patience);
    fails += check_true("  early-stopping stop epoch", cfg.es_stop_epoch == stop_epoch);
    rc = mhim_config_check_training(&cfg);
    if (rc) printf("     training check: %s\n", mhim_error());
    fails += check_true("  training check passes", rc == MHIM_OK);
    mhim_config_free(&cfg);
    return fails;
}

#define V1_COMMON "mhim train --project=PROJ --dataset_root=/data/ds --model_path=/out "
#define V1_C16 "datasets=camelyon16 fix_loader_random=true fix_train_random=true always_test=false mm=0.9999 lr=2e-4 "
#define V1_TCGA "datasets=tcga num_workers=0 always_test=true fix_loader_random=false cv_fold=4 val_ratio=0.13 "

static int test_v1_readme(void) {
    int f = 0;
    f += readme_line("v1 init TransMIL C16",
                     V1_COMMON "--cv_fold=3 --title=transmil --model=pure --baseline=selfattn --seed=2021", 1,
                     "/out/PROJ/transmil", 30, 130,
                     V1_C16 "cv_fold=3 model=pure baseline=selfattn seed=2021 cl_alpha=0 teacher_init=none "
                            "early_stopping=true num_epoch=200 weight_decay=1e-5 opt=adam lr_sche=cosine");
    f += readme_line("v1 init TransMIL TCGA",
                     V1_COMMON "--datasets=tcga --cv_fold=4 --val_ratio=0.13 --title=transmil --model=pure "
                               "--baseline=selfattn --seed=2021",
                     1, "/out/PROJ/transmil", 20, 70, V1_TCGA "model=pure baseline=selfattn n_heads=8");
    f += readme_line("v1 init ABMIL C16",
                     V1_COMMON "--cv_fold=3 --title=abmil --model=pure --baseline=attn --seed=2021", 1,
                     "/out/PROJ/abmil", 30, 130, V1_C16 "cv_fold=3 model=pure baseline=attn da_act=relu dropout=0.25");
    f += readme_line("v1 init DSMIL C16",
                     V1_COMMON "--cv_fold=3 --title=dsmil --model=pure --baseline=dsmil --seed=2021", 1,
                     "/out/PROJ/dsmil", 30, 130, V1_C16 "cv_fold=3 model=pure baseline=dsmil");
    f += readme_line("v1 MHIM ABMIL C16",
                     V1_COMMON "--cv_fold=3 --teacher_init=./modules/init_ckp/c16_3fold_init_abmil_seed2021 "
                               "--title=abmil_101_mr50h1-0r50_is --baseline=attn --num_workers=0 --cl_alpha=0.1 "
                               "--mask_ratio_h=0.01 --mask_ratio_hr=0.5 --mrh_sche --init_stu_type=fc "
                               "--mask_ratio=0.5 --mask_ratio_l=0. --seed=2021",
                     1, "/out/PROJ/abmil_101_mr50h1-0r50_is", 30, 130,
                     V1_C16 "model=mhim baseline=attn cv_fold=3 val_ratio=0 num_workers=0 cl_alpha=0.1 "
                            "mask_ratio_h=0.01 mask_ratio_hr=0.5 mrh_sche=true init_stu_type=fc mask_ratio=0.5 "
                            "mask_ratio_l=0 mm_sche=false temp_t=0.1 tea_type=none kept_order=ascending "
                            "teacher_init=./modules/init_ckp/c16_3fold_init_abmil_seed2021");
    /* The README TCGA MHIM lines omit --datasets=tcga: taken literally they run the C16 path. */
    f += readme_line("v1 MHIM ABMIL TCGA (as printed)",
                     V1_COMMON "--cv_fold=4 --val_ratio=0.13 "
                               "--teacher_init=./modules/init_ckp/tcga_4fold_init_abmil_seed2021 "
                               "--title=abmil_105_mr70l20h2-0_mmcos_is --baseline=attn --num_workers=0 "
                               "--cl_alpha=0.5 --mask_ratio_h=0.02 --mrh_sche --mm_sche --init_stu_type=fc "
                               "--mask_ratio=0.7 --mask_ratio_l=0.2 --seed=2021",
                     1, "/out/PROJ/abmil_105_mr70l20h2-0_mmcos_is", 30, 130,
                     "datasets=camelyon16 cv_fold=4 val_ratio=0.13 cl_alpha=0.5 mask_ratio_h=0.02 "
                     "mask_ratio_hr=1 mrh_sche=true mm_sche=true mask_ratio=0.7 mask_ratio_l=0.2 init_stu_type=fc");
    f += readme_line("v1 MHIM TransMIL C16",
                     V1_COMMON "--cv_fold=3 --teacher_init=./modules/init_ckp/c16_3fold_init_transmil_seed2021 "
                               "--mask_ratio_h=0.03 --mask_ratio_hr=0.5 --mrh_sche "
                               "--title=transmil_101_sml80h3-0r50_mmcos_is --mask_ratio=0. --mask_ratio_l=0.8 "
                               "--cl_alpha=0.1 --mm_sche --init_stu_type=fc --attn_layer=0 --seed=2021",
                     1, "/out/PROJ/transmil_101_sml80h3-0r50_mmcos_is", 30, 130,
                     V1_C16 "model=mhim baseline=selfattn mask_ratio_h=0.03 mask_ratio_hr=0.5 mrh_sche=true "
                            "mask_ratio=0 mask_ratio_l=0.8 cl_alpha=0.1 mm_sche=true mm_final=1 init_stu_type=fc "
                            "attn_layer=0 msa_fusion=vote num_workers=2");
    f += readme_line("v1 MHIM TransMIL TCGA (with --datasets=tcga)",
                     V1_COMMON "--datasets=tcga --cv_fold=4 --val_ratio=0.13 "
                               "--teacher_init=./modules/init_ckp/tcga_4fold_init_transmil_seed2021 "
                               "--mask_ratio_h=0.02 --mrh_sche --title=transmil_105_smr60l20h2-0_is --mask_ratio=0.6 "
                               "--mask_ratio_l=0.2 --cl_alpha=0.5 --init_stu_type=fc --attn_layer=0 --seed=2021",
                     1, "/out/PROJ/transmil_105_smr60l20h2-0_is", 20, 70,
                     V1_TCGA "model=mhim baseline=selfattn mask_ratio_h=0.02 mrh_sche=true mask_ratio=0.6 "
                             "mask_ratio_l=0.2 cl_alpha=0.5 mm_sche=false init_stu_type=fc attn_layer=0");
    f += readme_line("v1 MHIM DSMIL C16",
                     V1_COMMON "--cv_fold=3 --teacher_init=./modules/init_ckp/c16_3fold_init_dsmil_seed2021 "
                               "--title=dsmil_101_mr50h1-0r50_is --baseline=dsmil --num_workers=0 --cl_alpha=0.1 "
                               "--mask_ratio_h=0.01 --mask_ratio_hr=0.5 --mrh_sche --init_stu_type=fc "
                               "--mask_ratio=0.5 --mask_ratio_l=0. --seed=2021",
                     1, "/out/PROJ/dsmil_101_mr50h1-0r50_is", 30, 130,
                     V1_C16 "model=mhim baseline=dsmil cl_alpha=0.1 mask_ratio_h=0.01 mask_ratio_hr=0.5 "
                            "mask_ratio=0.5 mask_ratio_l=0");
    f += readme_line("v1 MHIM DSMIL TCGA (with --datasets=tcga)",
                     V1_COMMON "--datasets=tcga --cv_fold=4 --val_ratio=0.13 "
                               "--teacher_init=./modules/init_ckp/tcga_4fold_init_dsmil_seed2021 "
                               "--title=dsmil_105_mr70l20h2-0_mmcos_is --baseline=dsmil --num_workers=0 "
                               "--cl_alpha=0.5 --mask_ratio_h=0.02 --mrh_sche --mm_sche --init_stu_type=fc "
                               "--mask_ratio=0.7 --mask_ratio_l=0.2 --seed=2021",
                     1, "/out/PROJ/dsmil_105_mr70l20h2-0_mmcos_is", 20, 70,
                     V1_TCGA "model=mhim baseline=dsmil cl_alpha=0.5 mask_ratio_h=0.02 mm_sche=true "
                             "mask_ratio=0.7 mask_ratio_l=0.2");
    return f;
}

#define V2_COMMON "mhim train --project=PROJ --dataset_root=/data/ds --csv_path=/data/label.csv --output_path=/out "
#define V2_CLS "lr=2e-4 opt=adam weight_decay=1e-5 max_epoch=100 act=gelu seed=2021 mm=0.9997 cv_fold=5 " \
               "val_ratio=0 always_test=false temp_t=0.1 mask_ratio_hr=1 mrh_sche=false mm_sche=false dropout=0.25 " \
               "da_act=relu n_heads=8 num_epoch=200 lr_sche=cosine patient=20 best_metric_index=0 " \
               "kept_order=ascending init_stu_type=none tea_type=none no_tea_init=false mhim_version=2 "

static int test_v2_readme(void) {
    int f = 0;
    f += readme_line("v2 stage 1 NSCLC (feat_cls)",
                     V2_COMMON "--datasets=nsclc -c=@/configs/v2_feat_cls.yaml --title=NSCLC_attn --model=pure "
                               "--model=mhim_pure --baseline=attn",
                     2, "/out/PROJ/NSCLC_attn", 20, 100, V2_CLS "datasets=nsclc model=mhim_pure baseline=attn");
    f += readme_line("v2 stage 2 grid point (feat_cls)",
                     V2_COMMON "--datasets=nsclc --teacher_init=/out/PROJ/NSCLC_attn -c=@/configs/v2_feat_cls.yaml "
                               "--title=nsclc_mhim_attn_h3_r90_k5 --model=mhim --baseline=attn --attn2score "
                               "--merge_enable --merge_mm=0.9999 --aux_alpha=0.5 --mask_ratio_h=0.03 "
                               "--merge_ratio=0.9 --merge_k=5",
                     2, "/out/PROJ/nsclc_mhim_attn_h3_r90_k5", 20, 100,
                     V2_CLS "datasets=nsclc model=mhim baseline=attn attn2score=true merge_enable=true "
                            "merge_mm=0.9999 aux_alpha=0.5 main_alpha=1 mask_ratio_h=0.03 merge_ratio=0.9 merge_k=5 "
                            "merge_test=false mask_ratio=0 mask_ratio_l=0 teacher_init=/out/PROJ/NSCLC_attn");
    f += readme_line("v2 stage 2 survival (feat_surv)",
                     V2_COMMON "--datasets=surv_blca --teacher_init=/out/PROJ/BLCA_selfattn "
                               "-c=@/configs/v2_feat_surv.yaml --title=blca --model=mhim --baseline=selfattn "
                               "--attn2score --merge_enable --merge_mm=0.9999 --aux_alpha=0.5 --mask_ratio_h=0.05 "
                               "--merge_ratio=0.8 --merge_k=10",
                     2, "/out/PROJ/blca", 15, 30,
                     "loss=nll_surv n_classes=4 patient=15 max_epoch=30 act=gelu cv_fold=5 val_ratio=0 "
                     "best_metric_index=0 mm=0.9997 merge_k=10 merge_ratio=0.8 mask_ratio_h=0.05");
    return f;
}

/* Expect parse (or, with training, the training check) to fail with a message containing want. */
static int expect_failure(const char *label, const char *line, int training, const char *want) {
    mhim_config cfg;
    int rc = parse_line(line, &cfg);
    if (rc == MHIM_OK && training) {
        rc = mhim_config_check_training(&cfg);
        mhim_config_free(&cfg);
    } else if (rc == MHIM_OK) {
        mhim_config_free(&cfg);
    }
    int ok = rc == MHIM_EINPUT && strstr(mhim_error(), want) != NULL;
    printf("%s %s: rc=%d '%s' (want '%s')\n", ok ? "ok  " : "FAIL", label, rc, mhim_error(), want);
    return !ok;
}

/* Write text to <tmpdir>/name; the path goes to path_out. */
static void write_yaml(const char *name, const char *text, char *path_out, size_t size) {
    snprintf(path_out, size, "%s/%s", tmpdir, name);
    FILE *f = fopen(path_out, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path_out);
        exit(1);
    }
}

/* A YAML null (empty value, ~, null) is refused for options the code needs set (model, datasets, ...) and
 * accepted where null means "unset" (teacher_init, the v2 default; feature_dir). */
static int test_yaml_nulls(void) {
    int f = 0;
    char path[1200], line[1400];
    mhim_config cfg;
    const char *needed[] = {"model:\n", "datasets: ~\n", "title: null\n", "memory_budget:\n"};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(needed); i++) {
        write_yaml("null_needed.yaml", needed[i], path, sizeof path);
        snprintf(line, sizeof line, "train -c %s", path);
        char label[64], want[64];
        const int key = (int)strcspn(needed[i], ":");
        snprintf(label, sizeof label, "yaml null for %.*s", key, needed[i]);
        snprintf(want, sizeof want, "%.*s: expected a value, got null", key, needed[i]);
        f += expect_failure(label, line, 0, want);
    }
    write_yaml("null_unset.yaml", "teacher_init: null\nfeature_dir: ~\n", path, sizeof path);
    snprintf(line, sizeof line, "train -c %s", path);
    f += check_true("yaml null teacher_init and feature_dir accepted (v1)",
                    parse_line(line, &cfg) == MHIM_OK && !cfg.teacher_init && !cfg.feature_dir &&
                        !mhim_config_has_teacher_init(&cfg));
    mhim_config_free(&cfg);
    return f;
}

static int test_versions_and_errors(void) {
    int f = 0;
    mhim_config cfg;
    f += check_true("no options -> v1", parse_line("train", &cfg) == MHIM_OK && cfg.version == 1);
    f += expect_values("v1 defaults", &cfg, "mhim_version=1 datasets=camelyon16 cv_fold=3 mm=0.9999 model=mhim "
                                            "teacher_init=none num_workers=2 early_stopping=true kept_order=ascending");
    mhim_config_free(&cfg);
    f += check_true("--datasets=nsclc -> v2", parse_line("train --datasets=nsclc", &cfg) == MHIM_OK && cfg.version == 2);
    f += expect_values("v2 defaults", &cfg, "mhim_version=2 cv_fold=5 mm=0.9997 model=e2e_r18_abmilx "
                                            "teacher_init=null num_workers=6 kept_order=ascending max_epoch=130");
    mhim_config_free(&cfg);
    f += check_true("--mhim_version=2 -> v2", parse_line("train --mhim_version=2", &cfg) == MHIM_OK && cfg.version == 2);
    f += expect_values("explicit v2 keeps panda", &cfg, "datasets=panda");
    mhim_config_free(&cfg);
    f += check_true("--merge_k -> v2", parse_line("train --merge_k=5", &cfg) == MHIM_OK && cfg.version == 2);
    mhim_config_free(&cfg);
    f += check_true("--model=pure -> v1, cl_alpha forced 0",
                    parse_line("train --model=pure --cl_alpha=0.3", &cfg) == MHIM_OK && cfg.version == 1 &&
                        cfg.cl_alpha == 0.0);
    mhim_config_free(&cfg);
    f += check_true("v2: max_epoch = min(max_epoch, num_epoch)",
                    parse_line("train --mhim_version=2 --num_epoch=50", &cfg) == MHIM_OK && cfg.max_epoch == 50);
    mhim_config_free(&cfg);
    f += check_true("v2: val_ratio>0 keeps always_test",
                    parse_line("train --mhim_version=2 --val_ratio=0.2 --always_test", &cfg) == MHIM_OK &&
                        cfg.always_test);
    mhim_config_free(&cfg);
    f += check_true("v2: multi-class selects accuracy",
                    parse_line("train --datasets=brca --n_classes=3", &cfg) == MHIM_OK && cfg.best_metric_index == 1);
    mhim_config_free(&cfg);
    f += check_true("--early_stopping turns early stopping off",
                    parse_line("train --early_stopping", &cfg) == MHIM_OK && !cfg.early_stopping);
    mhim_config_free(&cfg);
    f += check_true("memory budget 8G", parse_line("train --memory_budget=8G", &cfg) == MHIM_OK &&
                                            mhim_config_memory_budget(&cfg) == ((int64_t)8 << 30));
    mhim_config_free(&cfg);
    f += check_true("memory budget auto (the default): a positive share of this machine's memory",
                    parse_line("train", &cfg) == MHIM_OK && !strcmp(cfg.memory_budget, "auto") &&
                        mhim_config_memory_budget(&cfg) > 0);
    mhim_config_free(&cfg);
    f += check_true("memory budget 0 = unlimited",
                    parse_line("train --memory_budget=0", &cfg) == MHIM_OK && mhim_config_memory_budget(&cfg) == 0);
    f += check_true("threads explicit", (cfg.threads = 3, mhim_config_threads(&cfg) == 3));
    f += check_true("threads auto >= 1", (cfg.threads = 0, mhim_config_threads(&cfg) >= 1));
    mhim_config_free(&cfg);

    f += expect_failure("mixing v1 and v2", "train --cl_alpha=0.1 --aux_alpha=0.5", 0,
                        "cannot mix MHIM-MIL v1 and v2 settings: --cl_alpha (a v1-only option), but --aux_alpha");
    f += expect_failure("v2 option under explicit v1", "train --mhim_version=1 --output_path=/o", 0,
                        "--output_path is a v2-only option but --mhim_version=1 (the v1 option is --model_path)");
    f += expect_failure("v1 value + v2 option", "train --datasets=tcga --merge_enable", 0, "--datasets=tcga (a v1-only value)");
    f += expect_failure("v2 dataset under explicit v1", "train --mhim_version=1 --datasets=nsclc", 0,
                        "--datasets=nsclc: a v2 dataset name; expected camelyon16 or tcga");
    f += expect_failure("v1 dataset under explicit v2", "train --mhim_version=2 --datasets=camelyon16", 0,
                        "--datasets=camelyon16: a v1 dataset name");
    f += expect_failure("fold_start >= cv_fold", "train --fold_start=3", 0, "--fold_start=3: expected an integer < cv_fold (3)");
    f += expect_failure("bad memory budget", "train --memory_budget=8X", 0, "--memory_budget=8X: expected auto or a byte size");
    f += expect_failure("range", "train --mask_ratio_h=1.5", 0, "--mask_ratio_h=1.5: expected a number in [0, 1]");
    f += expect_failure("cv_fold", "train --cv_fold=1", 0, "--cv_fold=1: expected an integer >= 2");
    f += expect_failure("lr_sche", "train --lr_sche=foo", 0, "--lr_sche=foo: expected one of cosine|step|const");
    f += expect_failure("did you mean", "train --mask_ratoi_h=0.1", 0, "unknown option --mask_ratoi_h (did you mean --mask_ratio_h?)");

#define V2_MHIM V2_COMMON "--datasets=nsclc --model=mhim --baseline=attn --attn2score "
    f += expect_failure("B3 merge_enable", V2_MHIM "--mask_ratio_h=0.01", 1, "needs --merge_enable");
    f += expect_failure("B4 mask_ratio_h", V2_MHIM "--merge_enable", 1, "--mask_ratio_h=0: v2 mhim needs a positive");
    f += expect_failure("B5 dsmil aux_alpha", V2_MHIM "--merge_enable --mask_ratio_h=0.01 --baseline=dsmil", 1,
                        "--baseline=dsmil with --aux_alpha=0");
    f += expect_failure("B6 merge_mm", V2_MHIM "--merge_enable --mask_ratio_h=0.01 --merge_mm=1", 1,
                        "--merge_mm=1: expected a number < 1");
    f += expect_failure("v2 default model", "train --datasets=nsclc --output_path=/o", 1,
                        "--model=e2e_r18_abmilx (the v2 default) is not an MHIM model");
    f += expect_failure("v1 dsmil cl_alpha 0", V1_COMMON "--baseline=dsmil", 1, "--baseline=dsmil with --cl_alpha=0");
    f += expect_failure("v1 model_path", "train --model=pure", 1, "--model_path is required");
    f += expect_failure("batch size", V1_COMMON "--model=pure --batch_size=4", 1, "--batch_size=4");
    f += expect_failure("survival loss", V2_COMMON "--datasets=surv_blca --model=mhim_pure", 1,
                        "survival task: expected --loss=nll_surv");
    f += expect_failure("bce refused", V1_COMMON "--model=pure --loss=bce", 1, "--loss=bce: not supported");
    f += test_yaml_nulls();
    return f;
}

static int compare_all(const char *label, const mhim_config *a, const mhim_config *b) {
    int n, fails = 0;
    const mhim_option *table = mhim_config_options(&n);
    for (int i = 0; i < n; i++) {
        char *x = mhim_opts_value_text(&table[i], a), *y = mhim_opts_value_text(&table[i], b);
        if (!((!x && !y) || (x && y && !strcmp(x, y)))) {
            printf("FAIL %s: %s '%s' -> '%s'\n", label, table[i].name, x ? x : "null", y ? y : "null");
            fails++;
        }
        free(x);
        free(y);
    }
    fails += a->version != b->version || strcmp(a->run_dir ? a->run_dir : "", b->run_dir ? b->run_dir : "");
    printf("%s %s: all %d options, version and run_dir equal after print + reload\n", fails ? "FAIL" : "ok  ", label, n);
    return fails;
}

static int round_trip(const char *label, const char *line) {
    mhim_config cfg, back;
    if (parse_line(line, &cfg) != MHIM_OK) {
        printf("FAIL %s: %s\n", label, mhim_error());
        return 1;
    }
    char path[1200], reload[1400];
    snprintf(path, sizeof path, "%s/round_trip.yaml", tmpdir);
    FILE *f = fopen(path, "w");
    mhim_config_print_yaml(f, &cfg);
    fclose(f);
    snprintf(reload, sizeof reload, "train -c %s", path);
    int fails = 0;
    if (parse_line(reload, &back) != MHIM_OK) {
        printf("FAIL %s: reload: %s\n", label, mhim_error());
        fails = 1;
    } else {
        fails = compare_all(label, &cfg, &back);
        mhim_config_free(&back);
    }
    mhim_config_free(&cfg);
    return fails;
}

static int test_configs_dir(void) {
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/configs", source_dir);
    DIR *d = opendir(dir);
    if (!d) {
        printf("FAIL cannot open %s\n", dir);
        return 1;
    }
    int fails = 0, count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml")) continue;
        count++;
        /* A sweep grid (top-level sweep:) is read by the sweep runner, which applies each point to a recipe. */
        if (!strncmp(e->d_name, "v2_sweep_", 9)) {
            printf("ok   configs/%s (sweep grid, read by the sweep runner)\n", e->d_name);
            continue;
        }
        /* v2_feat_*.yaml hold shared settings only and are combined with a recipe in the README lines. */
        bool partial = !strncmp(e->d_name, "v2_feat_", 8);
        char line[2600];
        snprintf(line, sizeof line, "train -c %s/%s", dir, e->d_name);
        mhim_config cfg;
        int rc = parse_line(line, &cfg);
        if (rc == MHIM_OK && !partial) {
            rc = mhim_config_check_training(&cfg);
        }
        if (rc == MHIM_OK) mhim_config_free(&cfg);
        printf("%s configs/%s%s %s\n", rc ? "FAIL" : "ok  ", e->d_name, partial ? " (parse only)" : "",
               rc ? mhim_error() : "");
        fails += rc != MHIM_OK;
    }
    closedir(d);
    fails += check_true("configs/ has the 12 recipes + demo + v2 files", count >= 15);
    return fails;
}

int main(void) {
    const char *src = getenv("MHIM_SOURCE_DIR");
    snprintf(source_dir, sizeof source_dir, "%s", src ? src : "..");
    const char *base = getenv("MHIM_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/config", base ? base : "/tmp");
    mkdir(base ? base : "/tmp", 0755);
    mkdir(tmpdir, 0755);
    int fails = 0;
    fails += test_v1_readme();
    fails += test_v2_readme();
    fails += test_versions_and_errors();
    fails += round_trip("round trip v1 MHIM line",
                        V1_COMMON "--datasets=tcga --cv_fold=4 --val_ratio=0.13 --teacher_init=/t --title=a:b#c "
                                  "--cl_alpha=0.5 --mask_ratio=0.7 --mask_ratio_l=0.2 --mask_ratio_h=0.02 --mrh_sche");
    fails += round_trip("round trip v2 stage-2 line",
                        V2_COMMON "--datasets=nsclc -c=@/configs/v2_feat_cls.yaml --model=mhim --attn2score "
                                  "--merge_enable --merge_mm=0.9999 --aux_alpha=0.5 --mask_ratio_h=0.03 --num_epoch=50");
    fails += test_configs_dir();
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
