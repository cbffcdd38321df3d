#!/usr/bin/env bash
# Fold-parallel MPI run: 3 ranks x --cv_fold=3 (one fold per rank) give the same results.csv and the same per-fold
# best checkpoints as the single-process run.
name=folds
source "$(dirname "$0")/mpi_common.sh"
command -v h5diff >/dev/null || { echo "SKIP: h5diff not found"; exit 77; }
make_cohort "$tmp/coh"
args=(train --dataset_root "$tmp/coh" --model_path "$tmp/models" --project p --baseline attn --num_epoch 2
      --cv_fold 3 --threads 1 --quiet --cl_alpha 0.1 --mask_ratio_h 0.05 --log_level error)
"$bin" "${args[@]}" --title single >"$tmp/single.out" 2>&1 || { bad "single-process run"; cat "$tmp/single.out"; exit 1; }
mpi 3 "${args[@]}" --title mpi3 >"$tmp/mpi3.out" 2>&1 || { bad "3-rank run"; cat "$tmp/mpi3.out"; exit 1; }
echo "--- single-process results.csv"; cat "$tmp/models/p/single/results.csv"
echo "--- 3-rank results.csv"; cat "$tmp/models/p/mpi3/results.csv"
same_file "results.csv (3 ranks vs 1 process)" "$tmp/models/p/single/results.csv" "$tmp/models/p/mpi3/results.csv"
for k in 0 1 2; do
    same_weights "fold $k best checkpoint" "$tmp/models/p/single/fold_${k}_model_best_auc.h5" \
        "$tmp/models/p/mpi3/fold_${k}_model_best_auc.h5" 0
    [ -f "$tmp/models/p/mpi3/ckp_fold_$k.h5" ] && ok "per-unit checkpoint ckp_fold_$k.h5" || bad "no ckp_fold_$k.h5"
done
grep -q "^\[fold 2\]" "$tmp/models/p/mpi3/train.log" && ok "train.log merged from the units" || bad "train.log not merged"
exit $fail
