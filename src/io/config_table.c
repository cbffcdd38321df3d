/* The option table of mhim_config: every option of the original MHIM-MIL v1 (`main.py`, branch v1)
 * and v2 (`options.py`, master) with the original defaults, plus the mhim-only options.
 * Defaults in the table are v1's; v2's differing defaults are in v2_defaults below. */
#include <math.h>

#include "mhim/common.h"
#include "mhim/config.h"

#define T mhim_config
#define V1 MHIM_CFG_V1_ONLY
#define V2 MHIM_CFG_V2_ONLY
#define NE MHIM_OPT_NO_EFFECT
#define SW MHIM_OPT_SWITCH
#define INF INFINITY
#define B(f, def, fl, g, h) MHIM_OPTION_BOOL(T, f, def, fl, g, h)
#define I(f, def, lo, hi, fl, g, h) MHIM_OPTION_INT(T, f, def, lo, hi, fl, g, h)
#define D(f, def, lo, hi, fl, g, h) MHIM_OPTION_DOUBLE(T, f, def, lo, hi, fl, g, h)
#define S(f, def, fl, g, h) MHIM_OPTION_STRING(T, f, def, fl, g, h)
#define C(f, def, ch, fl, g, h) MHIM_OPTION_CHOICE(T, f, def, ch, fl, g, h)

#define G_MHIM "mhim (options of this program, not in the original)"
#define G_DATA "Dataset"
#define G_TRAIN "Training"
#define G_EVAL "Evaluation"
#define G_MODEL "Model"
#define G_MHIMM "MHIM masking, teacher and merge"
#define G_CMP "Comparison models of v2"
#define G_MISC "Miscellaneous"

static const mhim_option table[] = {
    /* ---- mhim ---- */
    C(mhim_version, "auto", "auto|1|2", 0, G_MHIM,
      "which original to follow: 1 = MHIM-MIL (ICCV'23), 2 = MHIM-v2; auto = 2 if a v2-only option or value "
      "is given"),
    I(threads, "0", 0, INF, 0, G_MHIM, "CPU threads; 0 = SLURM_CPUS_PER_TASK, else OMP_NUM_THREADS, else all cores"),
    S(feature_dir, NULL, 0, G_MHIM,
      "feature folder; null = first of pt/, pt_files/, h5_files/, features_*/ under dataset_root"),
    C(feature_format, "auto", "auto|h5|pt", 0, G_MHIM, "bag file format; auto = by file extension"),
    C(csv_header, "auto", "auto|yes|no", 0, G_MHIM,
      "label CSV header row; auto = detect; yes = always consume line 1 (what original v2 pandas does)"),
    S(split_file, NULL, 0, G_MHIM, "CSV of a user-given split (replaces the seeded cross-validation split)"),
    I(split_rep, "0", 0, 1000000, 0, G_MHIM, "repetition used from a split_file with columns ID,rep,fold"),
    C(feature_match, "auto", "auto|exact|substring", 0, G_MHIM,
      "case ID -> feature files: exact <id>.<ext>; substring = every file containing the ID (original TCGA/v2 "
      "rule); auto = substring for tcga and v2 datasets, else exact"),
    B(skip_bad_bags, "false", SW, G_MHIM, "skip unreadable/missing bags with a warning instead of stopping"),
    B(standardize, "false", SW, G_MHIM,
      "z-score every feature with the mean/std over each fold's training bags (not in the original)"),
    B(quiet, "false", SW, G_MHIM, "no per-epoch progress lines on stdout (train.log keeps them)"),
    C(store_dtype, "fp32", "fp32|fp16", 0, G_MHIM, "in-memory storage type of the features"),
    S(memory_budget, "auto", 0, G_MHIM,
      "RAM for cached features, e.g. 512M or 8G; 0 = unlimited; auto = half of the memory this process may use "
      "(available memory and cgroup/Slurm limit) shared by the ranks on the node"),
    C(kept_order, "ascending", "ascending|cpython", 0, G_MHIM,
      "order of kept instances after masking: ascending (v2's order); cpython = v1's Python-set order, "
      "for exact comparisons with the original v1"),
    C(log_level, "info", "debug|info|warn|error", 0, G_MHIM, "log verbosity"),
    C(device, "cpu", "cpu|cuda", 0, G_MHIM,
      "where training runs; cuda needs a build with -DMHIM_USE_CUDA=ON and a GPU (docs/gpu.md)"),
    C(precision, "fp32", "fp32|bf16|bf16_linear|bf16_all", 0, G_MHIM,
      "matmuls with bf16 operands and fp32 sums: bf16 = the first layer's (forward and weight gradient; GPU tensor "
      "cores, or AVX512_BF16 on the CPU), bf16_linear = every linear layer's (first layer and attention "
      "projections; CPU only), bf16_all = every matrix product (also attention and the Nystrom pseudo-inverse; CPU "
      "only); everything else stays fp32 (docs/numerics.md, docs/gpu.md)"),
    I(group_size, "1", 1, INF, 0, G_MHIM,
      "MPI ranks per data-parallel group (under mpirun/srun; world size must be a multiple)"),
    S(sweep, NULL, 0, G_MHIM,
      "TSV grid: header row = option names, one sweep point per row (or a YAML 'sweep:' mapping of lists)"),
    I(sweep_point, "-1", -1, INF, 0, G_MHIM, "run only this 0-based sweep point (Slurm job arrays); -1 = all"),
    B(resume, "false", SW, G_MHIM, "resume unfinished work from its checkpoints (alias of auto_resume)"),
    I(bags_per_step, "1", 1, INF, 0, G_MHIM,
      "bags whose gradients are averaged per optimiser step (1 = the original; equals a data-parallel group)"),

    /* ---- dataset ---- */
    S(datasets, "camelyon16", 0, G_DATA,
      "v1: camelyon16|tcga; v2: call|nsclc|brca|surv_blca|surv_luad|surv_lusc|panda|bio*"),
    S(dataset_root, "/data/xxx/TCGA", 0, G_DATA, "dataset root (label.csv and the feature folder)"),
    S(csv_path, NULL, V2, G_DATA, "label CSV (null = <dataset_root>/label.csv; a folder = per-fold fold_{k}.csv)"),
    S(h5_path, NULL, V2 | NE, G_DATA, "h5 coordinates folder (positional comparison models only)"),
    D(val_ratio, "0", 0, 1, MHIM_OPT_MAX_OPEN, G_DATA,
      "fraction of each class of the training fold moved to validation; 0 = validate on the test fold"),
    I(fold_start, "0", 0, INF, 0, G_DATA, "first fold to run"),
    I(cv_fold, "3", 2, INF, 0, G_DATA, "number of stratified cross-validation folds"),
    I(tcga_max_patch, "-1", -INF, INF, V1 | NE, G_DATA, "unused in the original too"),
    B(fix_loader_random, "false", SW | V1, G_DATA, "fixed shuffling stream for training (forced on for camelyon16)"),
    B(fix_train_random, "false", SW | V1, G_DATA, "re-seed before the epoch loop (forced on for camelyon16)"),
    B(persistence, "false", SW | NE, G_DATA, "preload features (mhim: see memory_budget)"),
    I(same_psize, "0", -INF, INF, V1 | NE, G_DATA, "v1 TCGA file-listing switch (mhim: see feature_dir)"),
    I(img_size, "224", 1, INF, V2 | NE, G_DATA, "image size (end-to-end models only)"),
    B(val2test, "false", SW | V2, G_DATA, "use the validation set as test set"),
    B(random_fold, "false", SW | V2, G_DATA, "original: each fold's sets from a Split column of csv_path (not supported: fails; use random_seed)"),
    B(random_seed, "false", SW | V2, G_DATA, "different seed per fold (seed + 100*fold)"),
    I(num_workers, "2", 0, INF, NE, G_DATA, "DataLoader workers (mhim: see threads)"),
    S(num_workers_test, NULL, V2 | NE, G_DATA, "test DataLoader workers"),
    B(pin_memory, "false", SW | V2 | NE, G_DATA, "pinned host memory"),
    B(no_prefetch, "false", SW | V2 | NE, G_DATA, "disable asynchronous prefetching"),
    B(no_prefetch_test, "false", SW | V2 | NE, G_DATA, "disable prefetching for testing"),
    I(prefetch_factor, "2", 0, INF, V2 | NE, G_DATA, "DataLoader prefetch factor"),

    /* ---- training ---- */
    D(cls_alpha, "1.0", 0, INF, V1, G_TRAIN, "weight of the classification loss"),
    D(main_alpha, "1.0", 0, INF, V2, G_TRAIN, "weight of the main (classification/survival) loss"),
    D(aux_alpha, "0", 0, INF, V2, G_TRAIN, "weight of the teacher-student consistency loss"),
    B(auto_resume, "false", SW | V1, G_TRAIN, "resume from <run_dir>/ckp.pt"),
    I(num_epoch, "200", 1, INF, 0, G_TRAIN, "epochs; also the length of every schedule"),
    I(epoch_start, "0", 0, INF, V2, G_TRAIN, "first epoch number"),
    B(early_stopping, "true", MHIM_OPT_STORE_FALSE, G_TRAIN,
      "early stopping (argparse store_false: the bare flag turns it OFF; the original then crashes, mhim "
      "trains all epochs)"),
    I(max_epoch, "130", 0, INF, 0, G_TRAIN, "no early stop before this epoch (v2: min(max_epoch, num_epoch))"),
    I(warmup_epochs, "0", 0, INF, V2, G_TRAIN, "LR warm-up epochs"),
    D(warmup_lr, "1e-6", 0, INF, V2, G_TRAIN, "LR at the start of warm-up"),
    I(patient, "20", 1, INF, V2, G_TRAIN, "early-stopping patience (epochs)"),
    I(input_dim, "1024", 1, INF, V2, G_TRAIN, "feature dimension of the bags (checked against the data)"),
    I(n_classes, "2", 2, INF, 0, G_TRAIN, "number of classes (survival: 4 time bins)"),
    I(batch_size, "1", 1, INF, 0, G_TRAIN, "bags per step (MHIM supports 1 only)"),
    S(max_patch_train, NULL, V2 | NE, G_TRAIN, "maximum patches per training bag (end-to-end models)"),
    I(p_batch_size, "512", 1, INF, V2 | NE, G_TRAIN, "patch batch size (end-to-end models)"),
    I(p_batch_size_v, "2048", 1, INF, V2 | NE, G_TRAIN, "patch batch size for validation (end-to-end models)"),
    C(loss, "ce", "ce|bce|asl|nll_surv", 0, G_TRAIN, "loss: ce, nll_surv (v2 survival); bce and asl are refused"),
    C(opt, "adam", "adam|adamw", 0, G_TRAIN, "optimiser (adam: coupled L2 decay; adamw: decoupled)"),
    D(save_best_model_stage, "0", 0, 1, V1, G_TRAIN,
      "select/early-stop only from epoch ceil(stage*num_epoch)"),
    S(model, "mhim", 0, G_TRAIN, "v1: mhim|pure; v2: mhim|mhim_pure (other original models are not in mhim)"),
    I(seed, "2021", -INF, INF, 0, G_TRAIN, "random seed"),
    D(lr, "2e-4", 0, INF, 0, G_TRAIN, "initial learning rate"),
    C(lr_sche, "cosine", "cosine|step|const", 0, G_TRAIN,
      "LR schedule (const crashes the original at checkpointing; mhim runs it)"),
    B(lr_supi, "false", SW, G_TRAIN, "step the LR schedule per iteration instead of per epoch"),
    D(weight_decay, "1e-5", 0, INF, 0, G_TRAIN, "weight decay"),
    I(accumulation_steps, "1", 1, INF, 0, G_TRAIN, "v1: divides the loss only; v2: real gradient accumulation"),
    D(clip_grad, "0", 0, INF, NE, G_TRAIN, "gradient clipping (dead in both originals; v2 default None)"),
    B(always_test, "false", SW, G_TRAIN,
      "also evaluate the test fold every epoch (v1: forced on for tcga; v2: forced off when val=test)"),
    B(best_thr_val, "false", SW | V1, G_TRAIN, "test with the validation-selected threshold"),
    I(best_metric_index, "-1", -1, INF, V2, G_TRAIN,
      "metric for model selection; -1 = AUC/C-index (binary, survival) or macro accuracy (multi-class)"),
    B(model_ema, "false", SW | V2 | NE, G_TRAIN, "generic model EMA (not used by MHIM)"),
    B(no_determ, "false", SW | V2 | NE, G_TRAIN, "disable deterministic mode"),
    B(no_deter_algo, "false", SW | V2 | NE, G_TRAIN, "disable deterministic algorithms"),
    B(deter_algo, "false", SW | V2 | NE, G_TRAIN, "enable deterministic algorithms"),
    B(channels_last, "false", SW | V2 | NE, G_TRAIN, "channels_last memory layout"),
    B(no_drop_last, "false", SW | V2 | NE, G_TRAIN, "keep the last incomplete batch (no effect at batch 1)"),

    /* ---- evaluation ---- */
    I(num_bootstrap, "1000", 0, INF, V2, G_EVAL, "bootstrap resamples of the test metrics"),
    C(bootstrap_mode, "test", "test|none|val|test_val", V2, G_EVAL, "which sets are bootstrapped"),
    B(bin_metric, "false", SW | V2, G_EVAL, "binary (not macro) metrics for 2 classes"),

    /* ---- model ---- */
    C(baseline, "selfattn", "attn|selfattn|dsmil", 0, G_MODEL, "MIL encoder: attn = ABMIL, selfattn = TransMIL, dsmil"),
    C(act, "relu", "relu|gelu|none", 0, G_MODEL, "activation after the input projection"),
    D(dropout, "0.25", 0, 1, MHIM_OPT_MAX_OPEN, G_MODEL, "dropout after the input projection"),
    I(n_heads, "8", 1, INF, 0, G_MODEL, "heads of the TransMIL Nystrom attention"),
    C(da_act, "relu", "relu|gelu|tanh", 0, G_MODEL, "activation inside the ABMIL attention MLP"),
    B(ds_average, "false", SW | V1 | NE, G_MODEL, "stand-alone DSMIL option"),
    B(patch_shuffle, "false", SW, G_MODEL, "randomly permute the instances of every training bag"),
    B(group_shuffle, "false", SW | V1, G_MODEL, "group shuffle augmentation"),
    I(shuffle_group, "0", 0, INF, V1, G_MODEL, "number of shuffle groups"),
    S(mil_norm, NULL, V2 | NE, G_MODEL, "MIL normalisation of comparison models"),
    B(no_mil_bias, "false", SW | V2 | NE, G_MODEL, "comparison models"),
    B(mil_bias, "false", SW | V2 | NE, G_MODEL, "comparison models"),
    I(inner_dim, "512", 1, INF, V2 | NE, G_MODEL, "inner dimension (MHIM hard-codes 512)"),
    B(da_gated, "false", SW | V2 | NE, G_MODEL, "gated attention of comparison models"),
    S(pos, NULL, V2 | NE, G_MODEL, "position encoding of comparison models"),
    I(n_layers, "2", 1, INF, V2 | NE, G_MODEL, "transformer layers of comparison models"),
    S(pool, "cls_token", V2 | NE, G_MODEL, "pooling of comparison models"),
    D(attn_dropout, "0", 0, 1, V2 | NE, G_MODEL, "attention dropout of comparison models"),
    B(ffn, "false", SW | V2 | NE, G_MODEL, "FFN in comparison models"),
    S(sdpa_type, "torch", V2 | NE, G_MODEL, "attention kernel of comparison models"),
    S(attn_type, "sa", V2 | NE, G_MODEL, "attention type of comparison models"),
    D(ffn_dp, "0", 0, 1, V2 | NE, G_MODEL, "FFN dropout of comparison models"),
    D(ffn_ratio, "4", 0, INF, V2 | NE, G_MODEL, "FFN expansion of comparison models"),

    /* ---- MHIM ---- */
    D(mask_ratio, "0", 0, 1, 0, G_MHIMM, "random mask ratio (v1 style)"),
    D(mask_ratio_l, "0", 0, 1, 0, G_MHIMM, "low-score mask ratio (v1 style)"),
    D(mask_ratio_h, "0", 0, 1, 0, G_MHIMM, "high-score (hard instance) mask ratio"),
    D(mask_ratio_hr, "1", 0, 1, MHIM_OPT_MIN_OPEN, G_MHIMM, "fraction of the high-score candidates actually masked"),
    B(mrh_sche, "false", SW, G_MHIMM, "cosine decay of mask_ratio_h to 0 over training"),
    C(msa_fusion, "vote", "vote|mean", V1, G_MHIMM, "multi-head fusion of TransMIL attention"),
    I(attn_layer, "0", -2, 1, V1, G_MHIMM, "TransMIL layer whose attention guides masking (v2 hard-codes 0)"),
    B(attn2score, "false", SW | V2, G_MHIMM, "class-aware instance probability as the masking score"),
    D(cl_alpha, "0", 0, INF, V1, G_MHIMM, "weight of the consistency loss (forced 0 for --model=pure)"),
    D(temp_t, "0.1", 0, INF, MHIM_OPT_MIN_OPEN, G_MHIMM, "teacher temperature"),
    S(teacher_init, "none", MHIM_OPT_NULLABLE, G_MHIMM,
      "teacher weights: folder with fold_{k}_model_best(_auc).pt or one .pt file (v1 default none, v2 null)"),
    B(no_tea_init, "false", SW | V1, G_MHIMM, "do not load the teacher (v2 hard-codes false)"),
    C(init_stu_type, "none", "none|fc|all", V1, G_MHIMM,
      "student init from the teacher file: none, fc (input projection), all (v2 hard-codes none)"),
    C(tea_type, "none", "none|same", V1, G_MHIMM, "same = the teacher is the student (no EMA; v2 hard-codes none)"),
    D(mm, "0.9999", 0, 1, 0, G_MHIMM, "teacher EMA momentum"),
    D(mm_final, "1.0", 0, 1, V1, G_MHIMM, "final momentum of the mm schedule (v2: 1.0)"),
    B(mm_sche, "false", SW, G_MHIMM, "cosine schedule of the momentum from mm to mm_final"),
    B(merge_enable, "false", SW | V2, G_MHIMM, "random masking with global recycling (Merge); required by v2 mhim"),
    I(merge_k, "1", 1, INF, V2, G_MHIMM, "number of recycled (global query) tokens"),
    D(merge_ratio, "0.2", 0, 1, V2 | MHIM_OPT_MAX_OPEN, G_MHIMM, "fraction of the kept instances NOT recycled"),
    D(merge_mm, "0.9998", 0, 1, V2, G_MHIMM, "EMA momentum of the global queries (must be < 1)"),
    B(merge_test, "false", SW | V2, G_MHIMM, "also merge at test time"),

    /* ---- comparison models of v2 ---- */
    I(epeg_k, "15", 1, INF, V2 | NE, G_CMP, "RRT"),
    I(crmsa_k, "3", 1, INF, V2 | NE, G_CMP, "RRT"),
    I(region_num, "8", 1, INF, V2 | NE, G_CMP, "RRT"),
    I(rrt_n_heads, "8", 1, INF, V2 | NE, G_CMP, "RRT"),
    I(rrt_n_layers, "2", 1, INF, V2 | NE, G_CMP, "RRT"),
    S(rrt_pool, "attn", V2 | NE, G_CMP, "RRT"),
    S(confounder_path, NULL, V2 | NE, G_CMP, "IBMIL"),
    I(confounder_k, "1", 1, INF, V2 | NE, G_CMP, "IBMIL"),
    I(mambamil_dim, "128", 1, INF, V2 | NE, G_CMP, "MambaMIL"),
    I(mambamil_rate, "10", 1, INF, V2 | NE, G_CMP, "MambaMIL"),
    I(mambamil_state_dim, "16", 1, INF, V2 | NE, G_CMP, "MambaMIL"),
    I(mambamil_layer, "1", 1, INF, V2 | NE, G_CMP, "MambaMIL"),
    B(mambamil_inner_layernorms, "false", SW | V2 | NE, G_CMP, "MambaMIL"),
    S(mambamil_type, NULL, V2 | NE, G_CMP, "MambaMIL"),
    B(pscan, "true", V2 | NE, G_CMP, "MambaMIL"),
    B(cuda_pscan, "false", SW | V2 | NE, G_CMP, "MambaMIL"),
    D(pos_emb_dropout, "0", 0, 1, V2 | NE, G_CMP, "MambaMIL"),
    B(mamba_2d, "false", SW | V2 | NE, G_CMP, "2D-Mamba"),
    C(mamba_2d_pad_token, "trainable", "zero|trainable", V2 | NE, G_CMP, "2D-Mamba"),
    I(mamba_2d_patch_size, "1", 1, INF, V2 | NE, G_CMP, "2D-Mamba"),
    S(mamba_2d_pos_emb_type, NULL, V2 | NE, G_CMP, "2D-Mamba"),

    /* ---- misc ---- */
    S(title, "default", 0, G_MISC, "run title (last part of the run directory)"),
    S(project, "mil_new_c16", 0, G_MISC, "project name (middle part of the run directory)"),
    I(log_iter, "100", 1, INF, 0, G_MISC, "log every this many training bags"),
    B(wandb, "false", SW | NE, G_MISC, "Weights & Biases logging"),
    B(wandb_watch, "false", SW | V2 | NE, G_MISC, "Weights & Biases gradient watching"),
    B(no_log, "false", SW | V1 | NE, G_MISC, "disable logging"),
    S(model_path, NULL, 0, G_MISC, "v1: output folder, run directory = model_path/project/title (v2: unused)"),
    S(output_path, NULL, V2, G_MISC, "v2 output folder, run directory = output_path/project/title"),
    B(amp, "false", SW | V2 | NE, G_MISC, "mixed precision (mhim trains in fp32)"),
    B(amp_test, "false", SW | V2 | NE, G_MISC, "mixed precision at test time"),
    I(amp_scale_index, "16", 0, INF, V2 | NE, G_MISC, "initial GradScaler scale 2^index"),
    I(amp_growth_interval, "2000", 1, INF, V2 | NE, G_MISC, "GradScaler growth interval"),
    B(amp_unscale, "false", SW | V2 | NE, G_MISC, "disable the GradScaler"),
    B(no_amp, "false", SW | V2 | NE, G_MISC, "force amp off"),
    S(local_rank, NULL, V2 | NE, G_MISC, "set by torch launchers (mhim: MPI rank)"),
    B(save_result, "false", SW | V2 | NE, G_MISC, "save test predictions"),
    C(script_mode, "all", "all|no_train|test|only_train", V2, G_MISC, "what to run (mhim runs 'all')"),
    B(profile, "false", SW | V2 | NE, G_MISC, "profiling"),
    B(debug, "false", SW | V2 | NE, G_MISC, "autograd anomaly detection"),
};

/* v2 (`options.py` on master) defaults that differ from v1's. */
static const mhim_opt_default v2_defaults[] = {
    {"datasets", "panda"},    {"cv_fold", "5"},        {"num_workers", "6"},
    {"model", "e2e_r18_abmilx"}, {"mm", "0.9997"},     {"teacher_init", NULL},
};

const mhim_option *mhim_config_options(int *n) {
    *n = (int)MHIM_ARRAY_LEN(table);
    return table;
}

const mhim_opt_default *mhim_config_v2_defaults(int *n) {
    *n = (int)MHIM_ARRAY_LEN(v2_defaults);
    return v2_defaults;
}
