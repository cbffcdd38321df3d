#!/usr/bin/env bash
# MHIM-v2 stage 2 of the original v2 main.py and of `mhim train` started from the SAME random student: it separates
# the student's initial weights from everything else the two programs do (docs/results.md, "mhim next to the
# original v2 code (MUSK1)").
#
#   bench/original_v2_same_init.sh ORIGINAL_V2_CHECKOUT ACCURACY_WORK
#
# ACCURACY_WORK is the WORK folder of a finished bench/accuracy_original_v2.sh run (its data/, stubs/, the stage-1
# teachers runs_orig/acc/mhim_pure_s<seed> and runs_mhim/acc/mhim_pure_s<seed>, and orig_mhim_s<seed>.jsonl, the
# original's own stage-2 record). For every seed of SEEDS:
# 1. mhim writes its initial student: a 1-epoch stage-2 run with --lr=1e-30 --lr_sche=const and a Merge momentum of
#    1 − 1e-8 leaves every weight where the seeded init put it (the same for every fold: both programs re-seed before
#    each fold), saved in fold_0_model_best.h5;
# 2. the original runs stage 2 with that student (MHIM_ORIG_STUDENT_INIT of bench/original_v2_stubs.sh) and its own
#    teacher, with everything else its own (random streams, bag order, shuffles);
# 3. mhim runs stage 2 as accuracy_original_v2.sh does.
# Printed per seed: the mean validation AUC over the folds of the first CURVE epochs and the mean test macro
# accuracy / AUC (bootstrap means) of the best students, for the original with its own init (from ACCURACY_WORK),
# the original with mhim's init, and mhim.
# With SWEEP="1 2 3 ..." the original also runs the first seed's stage 2 for SWEEP_EPOCHS epochs with its student
# initialised from torch.manual_seed(S) for each S (MHIM_ORIG_INIT_SEED; nothing else changes) and prints its
# validation AUC curve: how far the init alone moves the fold mean.
# With SWAP_TEACHERS=1, each seed also runs the original (mhim's init) with mhim's stage-1 teachers (saved as .pt
# state dicts) and mhim with the original's teachers, and prints the mean consistency (aux) loss over the folds after
# epochs 0, 10, 20 and the last of all four runs (docs/results.md, "The consistency loss": this found that mhim's
# stage-2 student started at its own teachers' initial weights).
# Knobs: SEEDS ("2021 2022"), EPOCHS (50), CURVE (5), SWEEP (""), SWAP_TEACHERS (0), SWEEP_EPOCHS (2), CV_FOLD (10), VAL_RATIO (0.2),
# THREADS (1), BUILD (build), PYTHON (python3: the original's Python, see accuracy_original_v2.sh),
# WORK (/tmp/mhim_original_v2_same_init), STAGE2 (the stage-2 switches of accuracy_original_v2.sh).
set -euo pipefail
orig=${1:?usage: original_v2_same_init.sh ORIGINAL_V2_CHECKOUT ACCURACY_WORK}
acc=${2:?usage: original_v2_same_init.sh ORIGINAL_V2_CHECKOUT ACCURACY_WORK}
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$root/build} SEEDS=${SEEDS:-2021 2022} EPOCHS=${EPOCHS:-50} CURVE=${CURVE:-5} SWEEP=${SWEEP:-}
SWEEP_EPOCHS=${SWEEP_EPOCHS:-2} SWAP_TEACHERS=${SWAP_TEACHERS:-0} CV_FOLD=${CV_FOLD:-10} VAL_RATIO=${VAL_RATIO:-0.2} THREADS=${THREADS:-1}
PYTHON=${PYTHON:-python3} WORK=${WORK:-/tmp/mhim_original_v2_same_init}
STAGE2=${STAGE2:---attn2score --merge_enable --merge_mm=0.9999 --aux_alpha=0.5 --mask_ratio_h=0.03 --merge_ratio=0.8 --merge_k=5}
mhim=$BUILD/mhim
[ -x "$mhim" ] || { echo "no $mhim: build first (cmake --build $BUILD)"; exit 2; }
[ -f "$orig/main.py" ] && [ -f "$orig/modules/mhim_modules/merge.py" ] ||
    { echo "$orig is not a checkout of the original repository at master (v2): no main.py / modules/mhim_modules"; exit 2; }
[ -f "$acc/data/label.csv" ] && [ -d "$acc/runs_orig/acc" ] && [ -d "$acc/runs_mhim/acc" ] ||
    { echo "$acc is not the WORK folder of a finished bench/accuracy_original_v2.sh run (data/, runs_orig/, runs_mhim/)"; exit 2; }
export CUDA_VISIBLE_DEVICES= OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS LC_ALL=C

rm -rf "$WORK" && mkdir -p "$WORK/runs_orig" "$WORK/runs_mhim"
. "$root/bench/original_v2_stubs.sh"
write_original_v2_stubs "$WORK/stubs"
helper=$root/bench/bench_train_helper.py
dim=$("$PYTHON" -c "import torch, sys, os; d = sys.argv[1]; f = sorted(os.listdir(d))[0]; \
print(torch.load(os.path.join(d, f)).shape[1])" "$acc/data/pt_files")
read -r -a stage2 <<<"$STAGE2"
common=(--datasets=panda --dataset_root="$acc/data" --input_dim="$dim" --cv_fold="$CV_FOLD" --val_ratio="$VAL_RATIO"
        --baseline=attn --model=mhim "${stage2[@]}")

# original TITLE SEED EPOCHS [ENV=VALUE...]: the original's stage 2 with its own teacher (the folder $TEACHERS when
# set); record $WORK/orig_TITLE.jsonl
original() {
    local title=$1 seed=$2 epochs=$3 teachers=${TEACHERS:-$acc/runs_orig/acc/mhim_pure_s$2}
    shift 3
    (cd "$orig" && env "$@" MHIM_ORIG_WANDB_LOG="$WORK/orig_$title.jsonl" PYTHONPATH="$WORK/stubs" nice -n 5 \
        "$PYTHON" main.py -c config/feat_cls.yaml --output_path="$WORK/runs_orig" --project=same --num_workers=0 \
        --wandb "${common[@]}" --seed="$seed" --num_epoch="$epochs" --title="$title" \
        --teacher_init="$teachers" >"$WORK/orig_$title.log" 2>&1) ||
        { echo "original $title failed: see $WORK/orig_$title.log"; exit 1; }
}

# mhim_run TITLE SEED EPOCHS [OPTIONS...]: mhim's stage 2 with its own teacher (the folder $TEACHERS when set), into
# $WORK/runs_mhim/same/TITLE
mhim_run() {
    local title=$1 seed=$2 epochs=$3 teachers=${TEACHERS:-$acc/runs_mhim/acc/mhim_pure_s$2}
    shift 3
    nice -n 5 "$mhim" train -c "$root/configs/v2_feat_cls.yaml" --output_path="$WORK/runs_mhim" --project=same \
        --threads="$THREADS" --quiet "${common[@]}" --seed="$seed" --num_epoch="$epochs" --title="$title" \
        --teacher_init="$teachers" "$@" >"$WORK/mhim_$title.log" 2>&1 ||
        { echo "mhim $title failed: see $WORK/mhim_$title.log"; exit 1; }
}

echo "# stage 2 ($STAGE2), $EPOCHS epochs; validation AUC = mean over the $CV_FOLD folds of epochs 0..$((CURVE - 1));"\
     "test = mean over the folds of the best students (bootstrap means)"
echo "| seed | run | validation AUC, epochs 0..$((CURVE - 1)) | test balanced accuracy | test AUC |"
echo "|---|---|---|---|---|"
for seed in $SEEDS; do
    mhim_run "init_s$seed" "$seed" 1 --lr=1e-30 --lr_sche=const --merge_mm=0.99999999
    init=$WORK/runs_mhim/same/init_s$seed/fold_0_model_best.h5
    [ -f "$init" ] || { echo "mhim wrote no $init (fold 0 validated at AUC 0?): see $WORK/mhim_init_s$seed.log"; exit 1; }
    original "minit_s$seed" "$seed" "$EPOCHS" MHIM_ORIG_STUDENT_INIT="$init"
    grep -q "MHIM_ORIG_STUDENT_INIT:.*All keys matched" "$WORK/orig_minit_s$seed.log" ||
        { echo "the original did not load every tensor of $init: see $WORK/orig_minit_s$seed.log"; exit 1; }
    mhim_run "mhim_s$seed" "$seed" "$EPOCHS"
    own=$acc/orig_mhim_s$seed.jsonl
    if [ -f "$own" ]; then
        read -r a b _ < <("$PYTHON" "$helper" original_v2_test "$own")
        echo "| $seed | original, its own init | $("$PYTHON" "$helper" val_auc_curve "$own" "$CURVE") | $a | $b |"
    fi
    read -r a b _ < <("$PYTHON" "$helper" original_v2_test "$WORK/orig_minit_s$seed.jsonl")
    echo "| $seed | original, mhim's init | $("$PYTHON" "$helper" val_auc_curve "$WORK/orig_minit_s$seed.jsonl" \
        "$CURVE") | $a | $b |"
    read -r a b < <(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } $1 == "mean" { print $c["acc"], $c["auc"] }' \
        "$WORK/runs_mhim/same/mhim_s$seed/results.csv")
    echo "| $seed | mhim | $("$PYTHON" "$helper" val_auc_curve "$WORK/runs_mhim/same/mhim_s$seed/metrics.jsonl" \
        "$CURVE") | $a | $b |"
    [ "$SWAP_TEACHERS" = 1 ] || continue
    mkdir -p "$WORK/mhim_teachers_s$seed"
    for h5 in "$acc/runs_mhim/acc/mhim_pure_s$seed"/fold_*_model_best.h5; do
        "$PYTHON" "$helper" h5_to_pt "$h5" "$WORK/mhim_teachers_s$seed/$(basename "$h5" .h5).pt"
    done
    TEACHERS=$WORK/mhim_teachers_s$seed original "mtea_s$seed" "$seed" "$EPOCHS" MHIM_ORIG_STUDENT_INIT="$init"
    TEACHERS=$acc/runs_orig/acc/mhim_pure_s$seed mhim_run "otea_s$seed" "$seed" "$EPOCHS"
    alpha=$(sed -n 's/.*--aux_alpha=\([^ ]*\).*/\1/p' <<<"$STAGE2")
    epochs=$(for e in 0 10 20; do [ "$e" -lt "$((EPOCHS - 1))" ] && printf '%s ' "$e"; done; echo $((EPOCHS - 1)))
    echo "seed $seed, consistency loss after epochs $epochs (mean over the folds; the same initial student):"
    for run in "original, its own teachers|$WORK/orig_minit_s$seed.jsonl" \
               "original, mhim's teachers|$WORK/orig_mtea_s$seed.jsonl" \
               "mhim, the original's teachers|$WORK/runs_mhim/same/otea_s$seed/metrics.jsonl" \
               "mhim, its own teachers|$WORK/runs_mhim/same/mhim_s$seed/metrics.jsonl"; do
        echo "  ${run%%|*}: $("$PYTHON" "$helper" consistency_curve "${run#*|}" "${alpha:-0.5}" $epochs)"
    done
done
first=${SEEDS%% *}
for s in $SWEEP; do
    original "sweep_i$s" "$first" "$SWEEP_EPOCHS" MHIM_ORIG_INIT_SEED="$s"
    echo "original, seed $first, student init torch.manual_seed($s): validation AUC of epochs" \
         "0..$((SWEEP_EPOCHS - 1)): $("$PYTHON" "$helper" val_auc_curve "$WORK/orig_sweep_i$s.jsonl" "$SWEEP_EPOCHS")"
done
