/* `mhim predict --checkpoint=FILE --input=BAG|FOLDER|LABELS.csv --output=PRED.csv [--attention=MAP.h5|.csv]
 *  [--section=model|teacher] [training options]` — score bags with a trained model (docs/predict.md).
 *
 * The checkpoint is an mhim HDF5 checkpoint (the model and its configuration come from its metadata) or a
 * torch.save state_dict of the original code (the model is recognised from its keys; act, da_act, dropout and
 * attn2score come from the training options, e.g. -c the run's YAML). Every other option is a training option
 * (mhim/config.h): --dataset_root, --feature_dir, --datasets, --csv_header, --feature_match for a label CSV input,
 * --threads. Outputs are written atomically (temporary file + rename). Bags of any size: the arena grows with the
 * largest bag seen (every model is linear in the bag size). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "mhim/arena.h"
#include "mhim/bagfile.h"
#include "mhim/checkpoint.h"
#include "mhim/cohort.h"
#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/log.h"
#include "mhim/model.h"
#include "mhim/models/dsmil.h"
#include "mhim/options.h"
#include "mhim/threads.h"

typedef struct {
    char *checkpoint, *input, *output, *attention, *section;
} predict_opts;

#define T predict_opts
static const mhim_option predict_table[] = {
    MHIM_OPTION_STRING(T, checkpoint, NULL, MHIM_OPT_REQUIRED, "Predict",
                       "mhim checkpoint (.h5) or original state_dict (.pt/.pth)"),
    MHIM_OPTION_STRING(T, input, NULL, MHIM_OPT_REQUIRED, "Predict",
                       "one bag (.h5/.pt), a folder of bags, or a label CSV (with --dataset_root)"),
    MHIM_OPTION_STRING(T, output, NULL, MHIM_OPT_REQUIRED, "Predict", "per-bag probabilities (CSV)"),
    MHIM_OPTION_STRING(T, attention, NULL, 0, "Predict", "per-instance attention/scores with coordinates (.h5 or .csv)"),
    MHIM_OPTION_CHOICE(T, section, "model", "model|teacher", 0, "Predict", "which weights of the checkpoint to use"),
};
#undef T
#define N_PREDICT_OPTS ((int)MHIM_ARRAY_LEN(predict_table))

/* One bag to score: its name, its feature files (several for a survival case) and its label when known. */
typedef struct {
    char *slide;
    int n_files;
    char **files;
    const char *label; /* label text, NULL when unknown */
} bag_item;

typedef struct {
    int64_t n;
    bag_item *items;
    mhim_label_table labels;
    mhim_cohort cohort;
} bag_list;

/* ---- argument split: predict options vs training options --------------------------------------------------- */

static int is_predict_flag(const char *arg, int *has_value) {
    if (strncmp(arg, "--", 2) != 0) return 0;
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    *has_value = eq != NULL;
    for (int i = 0; i < N_PREDICT_OPTS; i++)
        if (strlen(predict_table[i].name) == len && strncmp(name, predict_table[i].name, len) == 0) return 1;
    return 0;
}

/* pargv/cargv get argv[0] and then the predict / the other arguments (arrays of argc entries). */
static void split_args(int argc, char **argv, int *pargc, char **pargv, int *cargc, char **cargv) {
    *pargc = *cargc = 1;
    pargv[0] = cargv[0] = argv[0];
    for (int i = 1; i < argc; i++) {
        int has_value;
        if (is_predict_flag(argv[i], &has_value)) {
            pargv[(*pargc)++] = argv[i];
            if (!has_value && i + 1 < argc) pargv[(*pargc)++] = argv[++i];
        } else {
            cargv[(*cargc)++] = argv[i];
        }
    }
}

/* ---- inputs -------------------------------------------------------------------------------------------------- */

static int has_bag_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".h5") || !strcasecmp(dot, ".hdf5") || !strcasecmp(dot, ".pt") ||
                   !strcasecmp(dot, ".pth"));
}

static char *stem_of(const char *path) {
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *dot = strrchr(base, '.');
    return mhim_asprintf("%.*s", (int)(dot && dot != base ? dot - base : (long)strlen(base)), base);
}

static void add_item(bag_list *l, char *slide, int n_files, char **files, const char *label) {
    l->items = mhim_realloc(l->items, (size_t)(l->n + 1) * sizeof *l->items);
    l->items[l->n++] = (bag_item){slide, n_files, files, label};
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int list_folder(const char *dir, bag_list *l) {
    DIR *d = opendir(dir);
    if (!d) return mhim_fail("--input=%s: cannot read the folder: %s", dir, strerror(errno));
    char **names = NULL;
    int64_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.' && has_bag_ext(e->d_name)) {
            names = mhim_realloc(names, (size_t)(n + 1) * sizeof *names);
            names[n++] = mhim_strdup(e->d_name);
        }
    closedir(d);
    if (n == 0) return mhim_fail("--input=%s: no .h5/.pt bag files in the folder", dir);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int64_t i = 0; i < n; i++) {
        char **files = mhim_malloc(sizeof *files);
        files[0] = mhim_asprintf("%s/%s", dir, names[i]);
        add_item(l, stem_of(names[i]), 1, files, NULL);
        free(names[i]);
    }
    free(names);
    return MHIM_OK;
}

static int list_label_csv(const char *csv, const mhim_config *cfg, bag_list *l) {
    mhim_csv_header header;
    mhim_match_mode match;
    int rc = mhim_csv_header_parse(cfg->csv_header, "--csv_header", &header);
    if (rc == MHIM_OK) rc = mhim_match_mode_parse(cfg->feature_match, "--feature_match", &match);
    if (rc == MHIM_OK && !cfg->dataset_root && !cfg->feature_dir)
        rc = mhim_fail("--input=%s is a label CSV: give --dataset_root (or --feature_dir) holding the bags", csv);
    mhim_label_options lopt = {cfg->datasets, cfg->version, header};
    if (rc == MHIM_OK) rc = mhim_labels_load(csv, &lopt, &l->labels);
    mhim_cohort_options copt = {cfg->dataset_root, cfg->feature_dir, match, cfg->datasets, cfg->version};
    if (rc == MHIM_OK) rc = mhim_cohort_build(&l->labels, &copt, &l->cohort);
    if (rc == MHIM_OK) rc = mhim_cohort_check(&l->cohort, &l->labels);
    for (int64_t c = 0; rc == MHIM_OK && c < l->labels.n_cases; c++) {
        const mhim_cohort_case *cc = &l->cohort.cases[c];
        const char *label = l->labels.cases[c].label_text;
        if (l->labels.task == MHIM_TASK_SURVIVAL) { /* one bag per case: all its slides */
            char **files = mhim_malloc((size_t)cc->n_slides * sizeof *files);
            for (int64_t s = 0; s < cc->n_slides; s++) files[s] = mhim_strdup(cc->slides[s]);
            add_item(l, mhim_strdup(l->labels.cases[c].id), (int)cc->n_slides, files, NULL);
        } else {
            for (int64_t s = 0; s < cc->n_slides; s++) {
                char **files = mhim_malloc(sizeof *files);
                files[0] = mhim_strdup(cc->slides[s]);
                add_item(l, stem_of(cc->slides[s]), 1, files, label);
            }
        }
    }
    return rc;
}

static int list_bags(const char *input, const mhim_config *cfg, bag_list *l) {
    struct stat st;
    if (stat(input, &st) != 0) return mhim_fail("--input=%s: %s", input, strerror(errno));
    if (S_ISDIR(st.st_mode)) return list_folder(input, l);
    const char *dot = strrchr(input, '.');
    if (dot && !strcasecmp(dot, ".csv")) return list_label_csv(input, cfg, l);
    if (!has_bag_ext(input))
        return mhim_fail("--input=%s: expected a bag file (.h5/.pt), a folder of bags or a label CSV (.csv)", input);
    char **files = mhim_malloc(sizeof *files);
    files[0] = mhim_strdup(input);
    add_item(l, stem_of(input), 1, files, NULL);
    return MHIM_OK;
}

static void free_bags(bag_list *l) {
    for (int64_t i = 0; i < l->n; i++) {
        for (int f = 0; f < l->items[i].n_files; f++) free(l->items[i].files[f]);
        free(l->items[i].files);
        free(l->items[i].slide);
    }
    free(l->items);
    mhim_cohort_free(&l->cohort);
    mhim_labels_free(&l->labels);
}

/* Read the files of one bag (rows concatenated) with coords when wanted and every file has them. */
static int read_bag(const bag_item *it, int want_coords, mhim_bag *bag) {
    int rc = mhim_bag_read(it->files[0], want_coords, bag);
    for (int f = 1; f < it->n_files && rc == MHIM_OK; f++) {
        mhim_bag more;
        rc = mhim_bag_read(it->files[f], want_coords, &more);
        if (rc != MHIM_OK) break;
        if (more.d != bag->d) {
            rc = mhim_fail("%s: %lld features per instance, but %s has %lld", it->files[f], (long long)more.d,
                           it->files[0], (long long)bag->d);
        } else {
            bag->features = mhim_realloc(bag->features, (size_t)((bag->n + more.n) * bag->d) * sizeof(float));
            memcpy(bag->features + bag->n * bag->d, more.features, (size_t)(more.n * more.d) * sizeof(float));
            if (bag->coords && more.coords) {
                bag->coords = mhim_realloc(bag->coords, (size_t)((bag->n + more.n) * 2) * sizeof(int64_t));
                memcpy(bag->coords + bag->n * 2, more.coords, (size_t)(more.n * 2) * sizeof(int64_t));
            } else {
                free(bag->coords);
                bag->coords = NULL;
            }
            bag->n += more.n;
        }
        mhim_bag_free(&more);
    }
    if (rc != MHIM_OK) mhim_bag_free(bag);
    return rc;
}

/* ---- model ----------------------------------------------------------------------------------------------------- */

static int load_model(const predict_opts *o, const mhim_config *cfg, mhim_model **model, float **params) {
    mhim_model_config mc;
    int is_h5 = mhim_ckpt_is_h5(o->checkpoint);
    if (is_h5 < 0) return MHIM_EINPUT;
    int rc;
    if (is_h5) {
        mhim_ckpt_info info;
        rc = mhim_ckpt_read_info(o->checkpoint, &info);
        if (rc == MHIM_OK) rc = mhim_model_config_parse(&mc, info.model, info.model_config);
        if (rc == MHIM_OK)
            MHIM_INFO("checkpoint %s: %s (%s), fold %d, epoch %d", o->checkpoint, info.model, info.model_config,
                      info.fold, info.epoch);
        mhim_ckpt_info_free(&info);
    } else {
        mhim_model_config defaults;
        rc = mhim_model_config_from_options(&defaults, cfg);
        if (rc == MHIM_OK) rc = mhim_model_config_infer_pt(&mc, o->checkpoint, !strcmp(o->section, "model") ? NULL : o->section, &defaults);
        char text[MHIM_MODEL_CONFIG_TEXT];
        if (rc == MHIM_OK) {
            mhim_model_config_text(&mc, text, sizeof text);
            MHIM_INFO("checkpoint %s: %s (%s)", o->checkpoint, mhim_model_kind_name(mc.kind), text);
        }
    }
    if (rc == MHIM_OK) rc = mhim_model_create(model, &mc);
    if (rc != MHIM_OK) return rc;
    *params = mhim_params_alloc(mhim_model_layout(*model));
    /* .pt files of v2 also hold merge.* (not used at prediction): load non-strictly, but every model key is
     * required */
    mhim_load_opts lo = {is_h5 ? MHIM_LOAD_STRICT : MHIM_LOAD_NONSTRICT, is_h5 || strcmp(o->section, "model") ? o->section : NULL,
                         NULL, mhim_model_kind_name(mc.kind)};
    mhim_load_report rep;
    rc = mhim_ckpt_load(o->checkpoint, mhim_model_layout(*model), *params, &lo, &rep);
    if (rc == MHIM_OK && rep.missing > 0)
        rc = mhim_fail("%s: %s; every model key is needed to predict", o->checkpoint, rep.text);
    if (rc == MHIM_OK && rep.unexpected > 0) MHIM_WARN("%s: %s (ignored)", o->checkpoint, rep.text);
    return rc;
}

/* ---- outputs --------------------------------------------------------------------------------------------------- */

typedef struct {
    char *path, *tmp;
    FILE *csv; /* CSV outputs */
    hid_t h5;  /* HDF5 attention output */
} out_file;

static int out_open(out_file *f, const char *path, int h5) {
    memset(f, 0, sizeof *f);
    f->h5 = -1;
    f->path = mhim_strdup(path);
    const char *slash = strrchr(path, '/');
    f->tmp = slash ? mhim_asprintf("%.*s/.%s.tmp.%ld", (int)(slash - path), path, slash + 1, (long)getpid())
                   : mhim_asprintf(".%s.tmp.%ld", path, (long)getpid());
    if (h5) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        f->h5 = H5Fcreate(f->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    } else {
        f->csv = fopen(f->tmp, "w");
    }
    if ((h5 && f->h5 < 0) || (!h5 && !f->csv))
        return mhim_fail("%s: cannot create the output (does the folder exist and is it writable?)", path);
    return MHIM_OK;
}

/* Close and, when ok, move into place (fsync + rename); otherwise remove the temporary. */
static int out_close(out_file *f, int ok) {
    int failed = 0;
    if (f->csv && (fflush(f->csv) != 0 || fsync(fileno(f->csv)) != 0)) failed = 1;
    if (f->csv && fclose(f->csv) != 0) failed = 1;
    if (f->h5 >= 0 && H5Fclose(f->h5) < 0) failed = 1;
    int rc = MHIM_OK;
    if (ok && !failed && f->h5 >= 0) {
        int fd = open(f->tmp, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0) failed = 1;
        if (fd >= 0) close(fd);
    }
    if (ok && !failed && rename(f->tmp, f->path) != 0) failed = 1;
    if (!ok || failed) unlink(f->tmp);
    if (ok && failed) rc = mhim_fail_code(MHIM_EINTERNAL, "%s: cannot write the output (%s)", f->path, strerror(errno));
    free(f->path);
    free(f->tmp);
    memset(f, 0, sizeof *f);
    f->h5 = -1;
    return rc;
}

static int is_h5_name(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot && (!strcasecmp(dot, ".h5") || !strcasecmp(dot, ".hdf5"));
}

/* HDF5 attention output: group /<slide> with map (rows, n) float32 and coords (n, 2) int64 when known. */
static int write_map_h5(hid_t file, const char *slide, const float *map, int64_t rows, int64_t n,
                        const int64_t *coords) {
    char *name = mhim_strdup(slide);
    for (char *p = name; *p; p++)
        if (*p == '/') *p = '_';
    hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    free(name);
    herr_t ok = g >= 0 ? 0 : -1;
    hsize_t dims[2] = {(hsize_t)rows, (hsize_t)n}, cdims[2] = {(hsize_t)n, 2};
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t d = ok >= 0 ? H5Dcreate2(g, "attention", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, map) < 0) ok = -1;
    if (d >= 0) H5Dclose(d);
    H5Sclose(space);
    if (ok >= 0 && coords) {
        space = H5Screate_simple(2, cdims, NULL);
        d = H5Dcreate2(g, "coords", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, coords) < 0) ok = -1;
        if (d >= 0) H5Dclose(d);
        H5Sclose(space);
    }
    if (g >= 0) H5Gclose(g);
    return ok >= 0 ? MHIM_OK : mhim_fail("cannot write the attention of %s", slide);
}

static void write_map_csv(FILE *f, const char *slide, const float *map, int64_t rows, int64_t n,
                          const int64_t *coords) {
    for (int64_t i = 0; i < n; i++) {
        fprintf(f, "%s,%lld,", slide, (long long)i);
        if (coords) fprintf(f, "%lld,%lld", (long long)coords[2 * i], (long long)coords[2 * i + 1]);
        else fprintf(f, ",");
        for (int64_t r = 0; r < rows; r++) fprintf(f, ",%.9g", map[r * n + i]);
        fprintf(f, "\n");
    }
}

/* Survival (v2, 4 hazard bins): hazards h = sigmoid(z), S = cumprod(1 - h), risk = -sum(S) (the original's). */
static double survival_risk(const float *logits, int64_t C) {
    double s = 1, risk = 0;
    for (int64_t c = 0; c < C; c++) {
        s *= 1.0 - 1.0 / (1.0 + exp(-(double)logits[c]));
        risk -= s;
    }
    return risk;
}

/* ---- the command ----------------------------------------------------------------------------------------------- */

static void print_help(void) {
    mhim_opts_help_style style = {.usage = "usage: mhim predict --checkpoint=FILE --input=BAG|FOLDER|LABELS.csv "
                                           "--output=PRED.csv [--attention=MAP.h5|MAP.csv] [training options]\n"
                                           "Score bags with a trained model (docs/predict.md).\n\n"};
    mhim_opts_print_help(stdout, predict_table, N_PREDICT_OPTS, &style);
    printf("\nTraining options (model options for .pt checkpoints; --dataset_root etc. for a label CSV):\n");
    mhim_config_print_help(stdout, "predict");
}

static int run(const predict_opts *o, const mhim_config *cfg) {
    mhim_threads_init(mhim_config_threads(cfg));
    mhim_model *model = NULL;
    float *params = NULL;
    bag_list bags = {0};
    int rc = load_model(o, cfg, &model, &params);
    if (rc == MHIM_OK) rc = list_bags(o->input, cfg, &bags);
    const mhim_model_config *mc = model ? mhim_model_get_config(model) : NULL;
    const int survival = mc && bags.labels.task == MHIM_TASK_SURVIVAL;
    out_file pred = {.h5 = -1}, attn = {.h5 = -1};
    const int attn_h5 = o->attention && is_h5_name(o->attention);
    if (rc == MHIM_OK) rc = out_open(&pred, o->output, 0);
    if (rc == MHIM_OK && o->attention) rc = out_open(&attn, o->attention, attn_h5);
    if (rc != MHIM_OK) goto done;

    const int64_t C = mc->n_classes, rows = mhim_model_map_rows(model);
    const int known = bags.labels.n_cases > 0;
    fprintf(pred.csv, "slide%s", known ? ",label" : "");
    if (survival) fprintf(pred.csv, ",risk");
    else for (int64_t c = 0; c < C; c++) fprintf(pred.csv, ",prob_%lld", (long long)c);
    fprintf(pred.csv, survival ? "\n" : ",pred\n");
    if (attn.csv) {
        fprintf(attn.csv, "slide,instance,x,y");
        for (int64_t r = 0; r < rows; r++) fprintf(attn.csv, rows > 1 ? ",head_%lld" : ",attention", (long long)r);
        fprintf(attn.csv, "\n");
    }
    mhim_arena arena = {0};
    int64_t arena_n = 0;
    float logits[64], maxl[64], probs[64], *map = NULL;
    for (int64_t b = 0; b < bags.n && rc == MHIM_OK; b++) {
        const bag_item *it = &bags.items[b];
        mhim_bag bag;
        rc = read_bag(it, o->attention != NULL, &bag);
        if (rc != MHIM_OK) break;
        if (bag.d != mc->input_dim)
            rc = mhim_fail("%s: %lld features per instance, but the model expects input_dim %lld", it->files[0],
                           (long long)bag.d, (long long)mc->input_dim);
        else if (bag.n < 1)
            rc = mhim_fail("%s: empty bag (no instances)", it->files[0]);
        if (rc == MHIM_OK && bag.n > arena_n) { /* grow to the largest bag seen */
            mhim_arena_free(&arena);
            arena_n = bag.n;
            mhim_arena_init(&arena, "predict", mhim_model_predict_arena_bytes(model, arena_n));
            free(map);
            map = o->attention ? mhim_malloc((size_t)(rows * arena_n) * sizeof(float)) : NULL;
        }
        mhim_model_out out = {logits, maxl, NULL};
        if (rc == MHIM_OK) rc = mhim_model_predict(model, &arena, params, bag.features, bag.n, &out, map);
        if (rc == MHIM_OK) {
            fprintf(pred.csv, "%s", it->slide);
            if (known) fprintf(pred.csv, ",%s", it->label ? it->label : "");
            if (survival) {
                float z[64];
                if (mc->kind == MHIM_MODEL_DSMIL) mhim_dsmil_mean_logits(z, logits, maxl, C);
                else memcpy(z, logits, (size_t)C * sizeof(float));
                fprintf(pred.csv, ",%.9g\n", survival_risk(z, C));
            } else {
                mhim_model_probs(model, &out, probs);
                int64_t best = 0;
                for (int64_t c = 0; c < C; c++) {
                    fprintf(pred.csv, ",%.9g", probs[c]);
                    if (probs[c] > probs[best]) best = c;
                }
                fprintf(pred.csv, ",%lld\n", (long long)best);
            }
            if (attn.csv) write_map_csv(attn.csv, it->slide, map, rows, bag.n, bag.coords);
            if (attn_h5) rc = write_map_h5(attn.h5, it->slide, map, rows, bag.n, bag.coords);
        }
        mhim_bag_free(&bag);
    }
    MHIM_INFO("predicted %lld bag%s -> %s", (long long)bags.n, bags.n == 1 ? "" : "s", o->output);
    free(map);
    mhim_arena_free(&arena);
done:
    if (pred.path) {
        int crc = out_close(&pred, rc == MHIM_OK);
        if (rc == MHIM_OK) rc = crc;
    }
    if (attn.path) {
        int crc = out_close(&attn, rc == MHIM_OK);
        if (rc == MHIM_OK) rc = crc;
    }
    free_bags(&bags);
    mhim_params_free(params);
    mhim_model_free(model);
    return rc;
}

int mhim_cmd_predict(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_help();
            return 0;
        }
    char **pargv = mhim_malloc((size_t)(argc + 1) * sizeof *pargv), **cargv = mhim_malloc((size_t)(argc + 1) * sizeof *cargv);
    int pargc, cargc;
    split_args(argc, argv, &pargc, pargv, &cargc, cargv);
    mhim_config cfg;
    bool help;
    predict_opts o = {0};
    mhim_opt_args pargs = {0};
    int rc = mhim_config_from_command(&cfg, cargc, cargv, false, &help);
    if (rc == MHIM_OK && !help) {
        rc = mhim_opts_parse(predict_table, N_PREDICT_OPTS, &o, pargc, pargv, &pargs);
        if (rc == MHIM_OK) rc = run(&o, &cfg);
        mhim_opts_free(predict_table, N_PREDICT_OPTS, &o);
        mhim_opt_args_free(&pargs);
        mhim_config_free(&cfg);
    }
    free(pargv);
    free(cargv);
    return rc == MHIM_OK ? 0 : mhim_cli_report(rc);
}
