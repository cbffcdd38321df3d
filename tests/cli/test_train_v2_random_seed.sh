#!/usr/bin/env bash
# --random_seed (v2): every fold k draws its random choices from --seed + 100·k, as the original's one_fold re-seeds
# (seed_ori + 100·fold); without it every fold starts from the same seeded initial weights.
# The initial weights are read from 1-epoch runs with --lr=1e-30 --lr_sche=const: Adam moves every weight by at most
# 1e-30 (the zero biases visibly, the others not at all), so weights are compared to 1e-20.
#  1. Without --random_seed, fold 0 and fold 1 start from the same student.
#  2. With it, fold 0 starts from the same student as without (seed + 0) and fold 1 from another one.
#  3. With normal training, fold 0 is bit-identical with and without --random_seed; fold 1 is not.
#  4. --random_fold (the original's per-fold Split-column CSV, not supported) fails with an error naming it.
set -u
bin=${MHIM_BIN:?MHIM_BIN not set}
tmp=${MHIM_TEST_TMP:-/tmp}/train_v2_random_seed
rm -rf "$tmp" && mkdir -p "$tmp/out"
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
export OMP_WAIT_POLICY=passive
command -v h5diff >/dev/null || { echo "skip: h5diff not found"; exit 77; }

"$bin" synth --out "$tmp/coh" --n_slides 24 --mean_instances 20 --min_instances 8 --max_instances 30 \
    --feature_dim 16 --seed 5 >/dev/null 2>&1 || { echo "FAIL synth"; exit 1; }
common=(train --mhim_version 2 --model mhim_pure --baseline attn --dataset_root "$tmp/coh" --output_path "$tmp/out"
    --project p --num_epoch 1 --cv_fold 3 --threads 1 --quiet --num_bootstrap 10 --log_level warn --seed 7)
run() { local title=$1; shift; "$bin" "${common[@]}" --title "$title" "$@" >/dev/null 2>"$tmp/err" ||
    { bad "run $title"; cat "$tmp/err"; }; }
# same WHAT A B WANT: the /model groups of two fold files agree to 1e-20 (WANT 1) or do not (WANT 0)
same() {
    local what=$1 a=$2 b=$3 want=$4
    if h5diff -q -d 1e-20 "$a" "$b" /model /model >/dev/null 2>&1; then
        [ "$want" = 1 ] && ok "$what: identical" || bad "$what: identical, expected different weights"
    else
        [ "$want" = 0 ] && ok "$what: different" || bad "$what: different, expected identical weights"
    fi
}
init=(--lr=1e-30 --lr_sche=const)
run init_one "${init[@]}"
run init_rand "${init[@]}" --random_seed
o=$tmp/out/p
same "initial student of fold 0 vs fold 1 without --random_seed" "$o/init_one/fold_0_model_best.h5" \
    "$o/init_one/fold_1_model_best.h5" 1
same "initial student of fold 0, without vs with --random_seed" "$o/init_one/fold_0_model_best.h5" \
    "$o/init_rand/fold_0_model_best.h5" 1
same "initial student of fold 0 vs fold 1 with --random_seed" "$o/init_rand/fold_0_model_best.h5" \
    "$o/init_rand/fold_1_model_best.h5" 0

run train_one
run train_rand --random_seed
same "trained fold 0, without vs with --random_seed" "$o/train_one/fold_0_model_best.h5" \
    "$o/train_rand/fold_0_model_best.h5" 1
same "trained fold 1, without vs with --random_seed" "$o/train_one/fold_1_model_best.h5" \
    "$o/train_rand/fold_1_model_best.h5" 0
if "$bin" "${common[@]}" --title rf --random_fold >/dev/null 2>"$tmp/err"; then
    bad "--random_fold was accepted"
elif grep -q -- "--random_fold: .*--random_seed" "$tmp/err"; then
    ok "--random_fold refused: $(head -1 "$tmp/err")"
else
    bad "--random_fold: unexpected error"; cat "$tmp/err"
fi
exit $fail
