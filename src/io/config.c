/* Training configuration: version choice, layering, the original programs' post-parse rules,
 * cross-field checks, YAML output and helpers (see mhim/config.h). */
#include "mhim/config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mhim/common.h"
#include "mhim/log.h"
#include "mhim/memavail.h"

/* Text of the last setting of `name` as the user wrote it ("--lr" / "a.yaml:3: lr"). */
static const char *origin_of(const mhim_opt_args *args, const mhim_option *table, const char *name, char *buf,
                             size_t size) {
    const mhim_opt_setting *s = mhim_opt_args_find(args, table, name);
    if (s) return s->origin;
    snprintf(buf, size, "--%s", name);
    return buf;
}

static bool contains_ci(const char *haystack, const char *needle) {
    if (!haystack) return false;
    size_t len = strlen(needle);
    for (const char *p = haystack; *p; p++)
        if (!strncasecmp(p, needle, len)) return true;
    return false;
}

/* v2 `datasets` names that select a pipeline in the original (else NotImplementedError). */
static bool v2_dataset_name(const char *d) {
    return d && (!strncasecmp(d, "surv", 4) || !strncasecmp(d, "bio", 3) || contains_ci(d, "nsclc") ||
                 contains_ci(d, "brca") || contains_ci(d, "call") || contains_ci(d, "panda"));
}

static bool v1_dataset_name(const char *d) { return d && (!strcmp(d, "camelyon16") || !strcmp(d, "tcga")); }

/* Which version a value of a shared option implies: 1, 2 or 0 (either). */
static int value_version(const char *name, const char *value) {
    if (!value) return 0;
    if (!strcmp(name, "datasets")) return v1_dataset_name(value) ? 1 : v2_dataset_name(value) ? 2 : 0;
    if (!strcmp(name, "model")) return !strcmp(value, "pure") ? 1 : !strcmp(value, "mhim_pure") ? 2 : 0;
    if (!strcmp(name, "loss")) return !strcmp(value, "nll_surv") ? 2 : 0;
    return 0;
}

/* The v2 spelling of a v1 option (or the reverse), for hints. */
static const char *counterpart(const char *name) {
    static const char *const pairs[][2] = {
        {"cl_alpha", "aux_alpha"}, {"cls_alpha", "main_alpha"}, {"model_path", "output_path"}};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(pairs); i++) {
        if (!strcmp(name, pairs[i][0])) return pairs[i][1];
        if (!strcmp(name, pairs[i][1])) return pairs[i][0];
    }
    return NULL;
}

/* Evidence for one version: the first option only it has, or the final value of a shared option
 * that only it accepts. Writes a description into buf (empty = none). */
static void find_evidence(const mhim_option *table, const mhim_opt_args *args, int version, char *buf, size_t size) {
    unsigned only = version == 1 ? MHIM_CFG_V1_ONLY : MHIM_CFG_V2_ONLY;
    buf[0] = '\0';
    for (int i = 0; i < args->n_settings; i++) {
        const mhim_opt_setting *s = &args->settings[i];
        const mhim_option *opt = &table[s->index];
        if (opt->flags & only) {
            snprintf(buf, size, "%s (a v%d-only option)", s->origin, version);
            return;
        }
        if (mhim_opt_args_find(args, table, opt->name) == s && value_version(opt->name, s->value) == version) {
            snprintf(buf, size, "%s=%s (a v%d-only value)", s->origin, s->value, version);
            return;
        }
    }
}

static int choose_version(const mhim_option *table, const mhim_opt_args *args, int *version) {
    const mhim_opt_setting *explicit = mhim_opt_args_find(args, table, "mhim_version");
    char v1[600], v2[600];
    find_evidence(table, args, 1, v1, sizeof v1);
    find_evidence(table, args, 2, v2, sizeof v2);
    if (!explicit || !strcmp(explicit->value, "auto")) {
        if (v1[0] && v2[0])
            return mhim_fail("cannot mix MHIM-MIL v1 and v2 settings: %s, but %s; remove one or set "
                             "--mhim_version=1|2", v1, v2);
        *version = v2[0] ? 2 : 1;
        return MHIM_OK;
    }
    *version = explicit->value[0] - '0';
    for (int i = 0; i < args->n_settings; i++) {
        const mhim_option *opt = &table[args->settings[i].index];
        unsigned other = *version == 1 ? MHIM_CFG_V2_ONLY : MHIM_CFG_V1_ONLY;
        if (!(opt->flags & other)) continue;
        const char *twin = counterpart(opt->name);
        char hint[200] = "";
        if (twin) snprintf(hint, sizeof hint, " (the v%d option is --%s)", *version, twin);
        return mhim_fail("%s is a v%d-only option but %s=%d%s", args->settings[i].origin, 3 - *version,
                         explicit->origin, *version, hint);
    }
    return MHIM_OK;
}

/* Set option `name` to `value` as the original's post-parse rule does; warn if that overrides an
 * explicit user setting with a different value. */
static void force(mhim_config *cfg, const mhim_option *table, int n, const mhim_opt_args *args, const char *name,
                  const char *value, const char *why) {
    const mhim_option *opt = mhim_opts_find(table, n, name);
    MHIM_ASSERT(opt);
    char *before = mhim_opts_value_text(opt, cfg);
    const mhim_opt_setting *given = mhim_opt_args_find(args, table, name);
    if (given && before && strcmp(before, value) != 0)
        MHIM_WARN("%s=%s is overridden to %s: %s (as in the original)", given->origin, before, value, why);
    free(before);
    if (mhim_opts_set(table, n, cfg, name, value, NULL) != MHIM_OK) MHIM_DIE("bad forced value %s=%s", name, value);
}

static void apply_v1_rules(mhim_config *c, const mhim_option *table, int n, const mhim_opt_args *args) {
    if (!strcmp(c->model, "pure")) force(c, table, n, args, "cl_alpha", "0", "--model=pure has no teacher");
    if (!strcmp(c->datasets, "camelyon16")) {
        force(c, table, n, args, "fix_loader_random", "true", "forced for camelyon16");
        force(c, table, n, args, "fix_train_random", "true", "forced for camelyon16");
    }
    if (!strcmp(c->datasets, "tcga")) {
        force(c, table, n, args, "num_workers", "0", "forced for tcga");
        force(c, table, n, args, "always_test", "true", "forced for tcga");
    }
    bool tcga_hint = c->val_ratio > 0 || contains_ci(c->teacher_init, "tcga") || contains_ci(c->title, "tcga");
    if (!strcmp(c->datasets, "camelyon16") && tcga_hint && !mhim_opt_args_find(args, table, "datasets"))
        MHIM_WARN("datasets=camelyon16 (the default) although the run looks like TCGA (val_ratio or a path/title "
                  "mentions tcga); the original README's TCGA commands omit --datasets=tcga, add it for TCGA-NSCLC");
    c->es_patience = !strcmp(c->datasets, "tcga") ? 20 : 30;
    c->es_stop_epoch = !strcmp(c->datasets, "tcga") ? 70 : c->max_epoch;
}

/* more_about_config() of v2 options.py. */
static void apply_v2_rules(mhim_config *c, const mhim_option *table, int n, const mhim_opt_args *args) {
    force(c, table, n, args, "no_tea_init", "false", "hard-coded in v2");
    force(c, table, n, args, "init_stu_type", "none", "hard-coded in v2");
    force(c, table, n, args, "tea_type", "none", "hard-coded in v2");
    if (!c->mil_bias) c->mil_bias = !c->no_mil_bias;
    if (c->deter_algo) c->no_deter_algo = false;
    if (!c->amp_test) c->amp_test = c->amp;
    if (c->val2test || c->val_ratio == 0.0)
        force(c, table, n, args, "always_test", "false", "v2 never tests separately when val is the test fold");
    if (c->no_amp) c->amp = false;
    if (c->best_metric_index == -1)
        c->best_metric_index = c->n_classes != 2 && !mhim_config_is_survival(c) ? 1 : 0;
    if (c->max_epoch > c->num_epoch) c->max_epoch = c->num_epoch;
    c->es_patience = c->patient;
    c->es_stop_epoch = c->max_epoch;
}

static int check_fields(const mhim_config *c, const mhim_option *table, const mhim_opt_args *args) {
    char buf[160];
    /* Names of neither original select the generic label rule (integers kept, else sorted names). */
    if (c->version == 1 && v2_dataset_name(c->datasets) && !v1_dataset_name(c->datasets))
        return mhim_fail("%s=%s: a v2 dataset name; expected camelyon16 or tcga for MHIM-MIL v1, or "
                         "--mhim_version=2", origin_of(args, table, "datasets", buf, sizeof buf), c->datasets);
    if (c->version == 2 && v1_dataset_name(c->datasets) && !v2_dataset_name(c->datasets))
        return mhim_fail("%s=%s: a v1 dataset name; MHIM-v2 uses call (Camelyon16), nsclc, brca, surv_blca, "
                         "surv_luad, surv_lusc, panda or bio*", origin_of(args, table, "datasets", buf, sizeof buf),
                         c->datasets);
    if (c->version == 1 && !strcmp(c->loss, "nll_surv"))
        return mhim_fail("%s=nll_surv: survival training exists only in MHIM-v2 (--mhim_version=2)",
                         origin_of(args, table, "loss", buf, sizeof buf));
    if (c->fold_start >= c->cv_fold)
        return mhim_fail("%s=%d: expected an integer < cv_fold (%d)", origin_of(args, table, "fold_start", buf, sizeof buf),
                         c->fold_start, c->cv_fold);
    int64_t bytes;
    if (!c->memory_budget || (strcmp(c->memory_budget, "auto") && mhim_parse_bytes(c->memory_budget, &bytes) != MHIM_OK))
        return mhim_fail("%s=%s: expected auto or a byte size such as 0, 512M or 8G",
                         origin_of(args, table, "memory_budget", buf, sizeof buf),
                         c->memory_budget ? c->memory_budget : "null");
    return MHIM_OK;
}

static char *join_run_dir(const char *base, const char *project, const char *title) {
    if (!base) return NULL;
    size_t len = strlen(base);
    const char *sep = len > 0 && base[len - 1] == '/' ? "" : "/";
    return mhim_asprintf("%s%s%s/%s", base, sep, project ? project : "", title ? title : "");
}

static int resolve(mhim_config *c, const mhim_option *table, int n, const mhim_opt_args *args) {
    mhim_opts_set(table, n, c, "mhim_version", c->version == 2 ? "2" : "1", NULL);
    if (c->version == 1) apply_v1_rules(c, table, n, args);
    else apply_v2_rules(c, table, n, args);
    if (c->resume) c->auto_resume = true;
    c->run_dir = join_run_dir(c->version == 1 ? c->model_path : c->output_path, c->project, c->title);
    mhim_log_level level;
    if (mhim_log_parse_level(c->log_level, &level) == MHIM_OK) mhim_log_set_level(level);
    return check_fields(c, table, args);
}

int mhim_config_parse(mhim_config *cfg, int argc, char **argv, mhim_opt_args *args) {
    memset(cfg, 0, sizeof *cfg);
    int n, n_v2;
    const mhim_option *table = mhim_config_options(&n);
    const mhim_opt_default *v2 = mhim_config_v2_defaults(&n_v2);
    int rc = mhim_opts_collect(table, n, argc, argv, args);
    if (rc != MHIM_OK) return rc;
    int version = 1;
    if (!args->help) rc = choose_version(table, args, &version);
    if (rc == MHIM_OK) {
        cfg->version = version;
        mhim_opts_set_defaults(table, n, cfg, version == 2 ? v2 : NULL, version == 2 ? n_v2 : 0);
        if (!args->help) rc = mhim_opts_apply(table, n, cfg, args);
    }
    if (rc == MHIM_OK && !args->help) rc = resolve(cfg, table, n, args);
    if (rc != MHIM_OK) {
        mhim_config_free(cfg);
        mhim_opt_args_free(args);
    }
    return rc;
}

void mhim_config_free(mhim_config *cfg) {
    int n;
    const mhim_option *table = mhim_config_options(&n);
    mhim_opts_free(table, n, cfg);
    free(cfg->run_dir);
    cfg->run_dir = NULL;
}

static bool keep_for_version(const mhim_option *opt, const void *ctx) {
    const mhim_config *c = ctx;
    unsigned other = c->version == 1 ? MHIM_CFG_V2_ONLY : MHIM_CFG_V1_ONLY;
    return !(opt->flags & other);
}

void mhim_config_print_yaml(FILE *out, const mhim_config *cfg) {
    int n;
    const mhim_option *table = mhim_config_options(&n);
    fprintf(out, "# mhim %s resolved configuration (defaults < YAML < flags, then the original's rules)\n",
            MHIM_VERSION);
    fprintf(out, "# follows: %s\n", cfg->version == 1 ? "MHIM-MIL v1 (ICCV 2023, main.py)" : "MHIM-v2 (IJCV 2025, options.py)");
    fprintf(out, "# run directory: %s\n", cfg->run_dir ? cfg->run_dir : "(not set)");
    fprintf(out, "# early stopping: %s, patience %d, stops only after epoch index %d\n",
            cfg->early_stopping ? "on" : "off", cfg->es_patience, cfg->es_stop_epoch);
    mhim_opts_print_yaml(out, table, n, cfg, keep_for_version, cfg);
}

static const char *version_tag(const mhim_option *opt) {
    if (opt->flags & MHIM_CFG_V1_ONLY) return "v1";
    if (opt->flags & MHIM_CFG_V2_ONLY) return "v2";
    return NULL;
}

void mhim_config_print_help(FILE *out, const char *command) {
    int n, n_v2;
    const mhim_option *table = mhim_config_options(&n);
    char usage[512];
    snprintf(usage, sizeof usage,
             "usage: mhim %s [-c FILE[,FILE]] [--option=value ...]\n"
             "Options carry the names of the original MHIM-MIL programs. [v1]/[v2] marks options of one version\n"
             "only; the version is --mhim_version, or auto-detected from the options and values given.",
             command);
    mhim_opts_help_style style = {
        .usage = usage,
        .alt = mhim_config_v2_defaults(&n_v2),
        .n_alt = n_v2,
        .alt_label = "v2",
        .tag = version_tag,
        .epilog = "Details, the version rules and every difference from the original: docs/configuration.md",
    };
    mhim_opts_print_help(out, table, n, &style);
}

bool mhim_config_is_survival(const mhim_config *cfg) {
    return cfg->version == 2 && cfg->datasets && !strncasecmp(cfg->datasets, "surv", 4);
}

bool mhim_config_has_teacher_init(const mhim_config *cfg) {
    return cfg->teacher_init && cfg->teacher_init[0] && strcmp(cfg->teacher_init, "none") != 0;
}

/* --memory_budget=auto: half of what this process may still use, split between the ranks on this node (each
 * holds its own features); 0 (unlimited) when the memory cannot be determined. */
static int64_t auto_memory_budget(void) {
    const int64_t avail = mhim_memory_available();
    const int ranks = mhim_ranks_on_node();
    if (avail <= 0) {
        MHIM_WARN("--memory_budget=auto: cannot determine the available memory; caching every bag (set "
                  "--memory_budget=SIZE to bound it)");
        return 0;
    }
    const int64_t budget = MHIM_MAX(avail / 2 / ranks, 1);
    MHIM_INFO("memory budget (auto): %.2f GiB = half of the %.2f GiB this process may use, divided by %d rank%s "
              "on this node", budget / 1073741824.0, avail / 1073741824.0, ranks, ranks > 1 ? "s" : "");
    return budget;
}

int64_t mhim_config_memory_budget(const mhim_config *cfg) {
    if (cfg->memory_budget && !strcmp(cfg->memory_budget, "auto")) return auto_memory_budget();
    int64_t bytes = 0;
    if (!cfg->memory_budget || mhim_parse_bytes(cfg->memory_budget, &bytes) != MHIM_OK) return 0;
    return bytes;
}

static int positive_env(const char *name) {
    const char *v = getenv(name);
    if (!v) return 0;
    char *end;
    long x = strtol(v, &end, 10);
    return end != v && x > 0 && x < 1 << 20 ? (int)x : 0;
}

int mhim_config_threads(const mhim_config *cfg) {
    if (cfg->threads > 0) return cfg->threads;
    int t = positive_env("SLURM_CPUS_PER_TASK");
    if (!t) t = positive_env("OMP_NUM_THREADS");
    if (!t) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        t = cores > 0 ? (int)cores : 1;
    }
    return t;
}
