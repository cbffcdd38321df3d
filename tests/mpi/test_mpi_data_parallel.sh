#!/usr/bin/env bash
# Data-parallel groups: a group of 2 ranks (each reading its shard of the bags, one gradient all-reduce per step)
# gives the same weights as one process with --bags_per_step 2. Tolerance: 0 for 2 ranks (a + b is exact in either
# order), 1e-6 absolute for 3 ranks (the all-reduce may add three terms in another order). The 3-rank runs use
# --cv_fold 4 (13-14 training bags, 4-5 test bags per fold): unequal shards, a last step with fewer bags, ranks
# without a bag in it, and sharded evaluation of unequal parts, without deadlock. With the CPU bf16 GEMMs
# (--precision bf16 and bf16_linear, where the CPU has AVX512_BF16) the 2-rank group again equals --bags_per_step 2
# exactly.
name=data_parallel
source "$(dirname "$0")/mpi_common.sh"
command -v h5diff >/dev/null || { echo "SKIP: h5diff not found"; exit 77; }
make_cohort "$tmp/coh"
args=(train --dataset_root "$tmp/coh" --model_path "$tmp/models" --project p --baseline attn --num_epoch 2
      --cv_fold 3 --threads 1 --quiet --cl_alpha 0.1 --mask_ratio_h 0.05 --log_level error)
run() { local t=$1; shift; "$@" >"$tmp/$t.out" 2>&1 || { bad "run $t"; cat "$tmp/$t.out"; exit 1; }; }
run bps1 "$bin" "${args[@]}" --title bps1
run bps2 "$bin" "${args[@]}" --title bps2 --bags_per_step 2
run dp2 mpi 2 "${args[@]}" --title dp2 --group_size 2
run bps3 "$bin" "${args[@]}" --title bps3 --bags_per_step 3 --cv_fold 4
run dp3 mpi 3 "${args[@]}" --title dp3 --group_size 3 --cv_fold 4
m=$tmp/models/p
for k in 0 1 2; do
    same_weights "fold $k: 2-rank group vs --bags_per_step 2" "$m/bps2/fold_${k}_model_best_auc.h5" "$m/dp2/fold_${k}_model_best_auc.h5" 0
done
for k in 0 1 2 3; do
    same_weights "fold $k: 3-rank group vs --bags_per_step 3" "$m/bps3/fold_${k}_model_best_auc.h5" "$m/dp3/fold_${k}_model_best_auc.h5" 1e-6
done
same_file "results.csv (2-rank group vs --bags_per_step 2)" "$m/bps2/results.csv" "$m/dp2/results.csv"
for prec in bf16 bf16_linear bf16_all; do
    if "$bin" "${args[@]}" --title bps2_$prec --bags_per_step 2 --precision $prec >"$tmp/bps2_$prec.out" 2>&1; then
        run dp2_$prec mpi 2 "${args[@]}" --title dp2_$prec --group_size 2 --precision $prec
        for k in 0 1 2; do
            same_weights "fold $k, --precision $prec: 2-rank group vs --bags_per_step 2" \
                "$m/bps2_$prec/fold_${k}_model_best_auc.h5" "$m/dp2_$prec/fold_${k}_model_best_auc.h5" 0
        done
    elif grep -q AVX512_BF16 "$tmp/bps2_$prec.out"; then
        echo "skip the $prec pair: $(cat "$tmp/bps2_$prec.out")"
    else
        bad "run bps2_$prec"; cat "$tmp/bps2_$prec.out"
    fi
done
if h5diff -q "$m/bps1/fold_0_model_best_auc.h5" "$m/bps2/fold_0_model_best_auc.h5" /model /model >/dev/null 2>&1; then
    bad "--bags_per_step 2 trained the same weights as 1 bag per step (the steps are not averaged)"
else
    ok "--bags_per_step 2 differs from one bag per step (as it must)"
fi
exit $fail
