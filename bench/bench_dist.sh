#!/usr/bin/env bash
# Distributed-training benchmark (docs/benchmarks.md, "Distributed training"): on one synthetic cohort,
#   1. fold-parallel: --cv_fold 2 in one process (folds one after the other) vs 2 ranks (one fold each);
#   2. data-parallel: 1 process with --bags_per_step 2 vs a 2-rank group (--group_size 2), same steps;
#   3. the all-reduce cost per step of the flat gradient buffer (bench_allreduce) on 2 ranks.
# Prints wall seconds of each run and the median epoch seconds from metrics.jsonl, then the all-reduce table.
#
#   BUILD=build bench/bench_dist.sh     (env: WORK, N_SLIDES, MEAN, DIM, EPOCHS, BASELINE, THREADS, KEEP)
set -euo pipefail
BUILD=${BUILD:-build}
WORK=${WORK:-/tmp/mhim_bench_dist}
N_SLIDES=${N_SLIDES:-40}
MEAN=${MEAN:-2000}
DIM=${DIM:-1024}
EPOCHS=${EPOCHS:-3}
BASELINE=${BASELINE:-attn}
THREADS=${THREADS:-1}
bin="$BUILD/mhim"
[ -x "$bin" ] && [ -x "$BUILD/bench/bench_allreduce" ] || { echo "build first: $bin / bench_allreduce missing" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "mpirun not found" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_WAIT_POLICY=passive
rm -rf "$WORK"
mkdir -p "$WORK/models"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
"$bin" synth --out "$WORK/cohort" --n_slides "$N_SLIDES" --mean_instances "$MEAN" --min_instances 200 \
    --max_instances $((4 * MEAN)) --feature_dim "$DIM" >/dev/null
args=(train --dataset_root "$WORK/cohort" --model_path "$WORK/models" --project b --baseline "$BASELINE"
      --num_epoch "$EPOCHS" --cv_fold 2 --threads "$THREADS" --quiet --log_level error --cl_alpha 0.1
      --mask_ratio_h 0.03)

# median of the epoch_seconds fields of the metrics.jsonl files under a run folder
epoch_median() {
    cat "$1"/metrics*.jsonl | sed -n 's/.*"epoch_seconds":\([0-9.]*\).*/\1/p' | sort -g |
        awk '{v[NR]=$1} END {print (NR ? v[int((NR+1)/2)] : "nan")}'
}
row() { # row LABEL TITLE CMD...
    local label=$1 title=$2 t0 t1
    shift 2
    t0=$(date +%s.%N)
    "$@" --title "$title" >"$WORK/$title.out" 2>&1 || { cat "$WORK/$title.out"; exit 1; }
    t1=$(date +%s.%N)
    printf '| %s | %.2f | %s |\n' "$label" "$(echo "$t1 - $t0" | bc)" "$(epoch_median "$WORK/models/b/$title")"
}
echo "cohort: $N_SLIDES slides, mean $MEAN instances, $DIM features; $BASELINE, $EPOCHS epochs, 2 folds, $THREADS thread(s)/rank"
echo
echo "| run | wall s | median epoch s |"
echo "|---|---|---|"
row "fold-parallel, 1 process (folds in turn)" f1 "$bin" "${args[@]}"
row "fold-parallel, 2 ranks (one fold each)" f2 mpirun -n 2 --bind-to none "$bin" "${args[@]}"
row "2 bags/step, 1 process (--bags_per_step 2)" d1 "$bin" "${args[@]}" --bags_per_step 2
row "2 bags/step, 2-rank group (--group_size 2)" d2 mpirun -n 2 --bind-to none "$bin" "${args[@]}" --group_size 2
echo
mpirun -n 2 --bind-to none "$BUILD/bench/bench_allreduce" "$DIM" 50
