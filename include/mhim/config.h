/* mhim/config.h — the training configuration: one field per option of the original MHIM-MIL
 * programs (v1 `main.py`, v2 `options.py`), named exactly like the option, plus the mhim-only
 * options (group "mhim"). See docs/configuration.md.
 *
 * Resolution (mhim_config_parse):
 *   1. flags and -c YAML files are collected and checked (mhim/options.h);
 *   2. the version is chosen: --mhim_version=1|2, or auto: 2 if any v2-only option or a v2-only
 *      value (--datasets=call|nsclc|brca|surv_*|panda|bio*, --model=mhim_pure) was given, else 1;
 *      mixing v1-only and v2-only options is an error naming both;
 *   3. that version's defaults < YAML < flags are stored;
 *   4. the original's post-parse rules are applied (v1 main.py, v2 more_about_config);
 *   5. cross-field checks (fold_start < cv_fold, dataset name valid for the version, ...).
 * mhim_config_check_training() adds the constraints under which the original training crashes or
 * which mhim cannot run (v2 B1-B6, unavailable models and losses, missing output folder).
 *
 * Storage: bool for switches, int, double, char * (owned, may be NULL for optional text). */
#ifndef MHIM_CONFIG_H
#define MHIM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mhim/options.h"

typedef struct mhim_config {
    /* ---- mhim ---- */
    char *mhim_version; /* "auto" on input; "1" or "2" after parsing */
    int threads;
    char *feature_dir;
    char *feature_format; /* auto|h5|pt */
    char *csv_header;     /* auto|yes|no */
    char *split_file;
    int split_rep;        /* repetition of an ID,rep,fold split file */
    char *feature_match;  /* auto|exact|substring: case ID -> feature file rule */
    bool skip_bad_bags;
    bool standardize;     /* z-score features with each fold's training-bag statistics */
    bool quiet;           /* no per-epoch progress lines on stdout */
    char *store_dtype;    /* fp32|fp16 */
    char *memory_budget;  /* "auto", "0" = unlimited, "512M", "8G" (mhim_config_memory_budget) */
    char *kept_order;     /* ascending|cpython */
    char *log_level;      /* debug|info|warn|error */
    char *device;         /* cpu|cuda (mhim_device_select) */
    char *precision;      /* fp32|bf16|bf16_linear|bf16_all: which matmuls take bf16 operands (mhim/ops/precision.h) */
    int group_size;       /* MPI ranks per data-parallel group (docs/distributed.md) */
    char *sweep;          /* TSV grid of option values, one point per row (or a YAML `sweep:` block) */
    int sweep_point;      /* run only this point of the sweep; -1 = every point */
    bool resume;          /* alias of auto_resume */
    int bags_per_step;    /* bags averaged per optimiser step (a group of P ranks = P) */

    /* ---- dataset ---- */
    char *datasets;
    char *dataset_root;
    char *csv_path;
    char *h5_path;
    double val_ratio;
    int fold_start;
    int cv_fold;
    int tcga_max_patch;
    bool fix_loader_random;
    bool fix_train_random;
    bool persistence;
    int same_psize;
    int img_size;
    bool val2test;
    bool random_fold;
    bool random_seed;
    int num_workers;
    char *num_workers_test;
    bool pin_memory;
    bool no_prefetch;
    bool no_prefetch_test;
    int prefetch_factor;

    /* ---- training ---- */
    double cls_alpha;
    double main_alpha;
    double aux_alpha;
    bool auto_resume;
    int num_epoch;
    int epoch_start;
    bool early_stopping;
    int max_epoch;
    int warmup_epochs;
    double warmup_lr;
    int patient;
    int input_dim;
    int n_classes;
    int batch_size;
    char *max_patch_train;
    int p_batch_size;
    int p_batch_size_v;
    char *loss;
    char *opt;
    double save_best_model_stage;
    char *model;
    int seed;
    double lr;
    char *lr_sche;
    bool lr_supi;
    double weight_decay;
    int accumulation_steps;
    double clip_grad;
    bool always_test;
    bool best_thr_val;
    int best_metric_index;
    bool model_ema;
    bool no_determ;
    bool no_deter_algo;
    bool deter_algo;
    bool channels_last;
    bool no_drop_last;

    /* ---- evaluation ---- */
    int num_bootstrap;
    char *bootstrap_mode;
    bool bin_metric;

    /* ---- model ---- */
    char *baseline;
    char *act;
    double dropout;
    int n_heads;
    char *da_act;
    bool ds_average;
    bool patch_shuffle;
    bool group_shuffle;
    int shuffle_group;
    char *mil_norm;
    bool no_mil_bias;
    bool mil_bias;
    int inner_dim;
    bool da_gated;
    char *pos;
    int n_layers;
    char *pool;
    double attn_dropout;
    bool ffn;
    char *sdpa_type;
    char *attn_type;
    double ffn_dp;
    double ffn_ratio;

    /* ---- MHIM masking, teacher, merge ---- */
    double mask_ratio;
    double mask_ratio_l;
    double mask_ratio_h;
    double mask_ratio_hr;
    bool mrh_sche;
    char *msa_fusion;
    int attn_layer;
    bool attn2score;
    double cl_alpha;
    double temp_t;
    char *teacher_init;
    bool no_tea_init;
    char *init_stu_type;
    char *tea_type;
    double mm;
    double mm_final;
    bool mm_sche;
    bool merge_enable;
    int merge_k;
    double merge_ratio;
    double merge_mm;
    bool merge_test;

    /* ---- comparison models of v2 (accepted, no effect) ---- */
    int epeg_k;
    int crmsa_k;
    int region_num;
    int rrt_n_heads;
    int rrt_n_layers;
    char *rrt_pool;
    char *confounder_path;
    int confounder_k;
    int mambamil_dim;
    int mambamil_rate;
    int mambamil_state_dim;
    int mambamil_layer;
    bool mambamil_inner_layernorms;
    char *mambamil_type;
    bool pscan;
    bool cuda_pscan;
    double pos_emb_dropout;
    bool mamba_2d;
    char *mamba_2d_pad_token;
    int mamba_2d_patch_size;
    char *mamba_2d_pos_emb_type;

    /* ---- misc ---- */
    char *title;
    char *project;
    int log_iter;
    bool wandb;
    bool wandb_watch;
    bool no_log;
    char *model_path;
    char *output_path;
    bool amp;
    bool amp_test;
    int amp_scale_index;
    int amp_growth_interval;
    bool amp_unscale;
    bool no_amp;
    char *local_rank;
    bool save_result;
    char *script_mode;
    bool profile;
    bool debug;

    /* ---- derived by mhim_config_parse (not options) ---- */
    int version;       /* 1 or 2 */
    char *run_dir;     /* v1: model_path/project/title; v2: output_path/project/title; NULL if unset */
    int es_patience;   /* early-stopping patience the original uses (v1: 30 C16 / 20 TCGA; v2: patient) */
    int es_stop_epoch; /* early stop only after this epoch index (v1: max_epoch C16 / 70 TCGA; v2: max_epoch) */
} mhim_config;

/* The option table behind mhim_config (v1 defaults; v2 differences in mhim_config_v2_defaults). */
const mhim_option *mhim_config_options(int *n);
const mhim_opt_default *mhim_config_v2_defaults(int *n);
/* Option-row tags (flag bits): available in v1 only / v2 only (rows with neither are shared or mhim). */
#define MHIM_CFG_V1_ONLY MHIM_OPT_USER(0)
#define MHIM_CFG_V2_ONLY MHIM_OPT_USER(1)

/* Resolve the configuration from argv (argv[0] = command name) as described above. cfg is
 * overwritten (it need not be initialised); args receives --help, the positional arguments and the
 * raw settings (free with mhim_opt_args_free). When --help is given only the defaults are stored.
 * Returns MHIM_OK or MHIM_EINPUT (one message; nothing to free then). Also applies log_level. */
int mhim_config_parse(mhim_config *cfg, int argc, char **argv, mhim_opt_args *args);
/* Release every string of cfg (safe on a zeroed struct). */
void mhim_config_free(mhim_config *cfg);

/* Constraints a training run needs (model/loss available in mhim, v2 B1-B6, output folder set,
 * batch_size 1, ...). MHIM_EINPUT with one message naming the option and the fix. */
int mhim_config_check_training(const mhim_config *cfg);

/* The resolved configuration as YAML (header comments + the options of cfg->version, the shared and
 * the mhim ones); `mhim train -c` of this output reproduces cfg. */
void mhim_config_print_yaml(FILE *out, const mhim_config *cfg);
/* `--help` for command `command` ("train", "predict", "config"). */
void mhim_config_print_help(FILE *out, const char *command);

/* Front end of `mhim train|predict|config`: mhim_config_parse, then --help (printed for argv[0];
 * *help_shown = true, cfg left empty, return MHIM_OK), a refusal of positional arguments, and
 * mhim_config_check_training when check_training. On MHIM_OK without help the caller owns cfg. */
int mhim_config_from_command(mhim_config *cfg, int argc, char **argv, bool check_training, bool *help_shown);

/* Helpers for the engine. */
bool mhim_config_is_survival(const mhim_config *cfg);      /* v2 datasets "surv*" */
bool mhim_config_has_teacher_init(const mhim_config *cfg); /* teacher_init set and not "none" */
/* Bytes for cached features; 0 = unlimited (validated at parse). "auto" measures the memory now and logs it. */
int64_t mhim_config_memory_budget(const mhim_config *cfg);
/* Worker threads: threads if > 0, else SLURM_CPUS_PER_TASK, else OMP_NUM_THREADS, else online cores. */
int mhim_config_threads(const mhim_config *cfg);

#endif
