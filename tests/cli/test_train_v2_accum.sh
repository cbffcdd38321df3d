#!/usr/bin/env bash
# MHIM-v2 gradient accumulation (--accumulation_steps K), as the original's training loop: the loss of each bag is
# divided by K (the last, partial group of an epoch by its size), the gradients of K consecutive bags are summed,
# and the optimiser and the teacher EMA step once per group.
#  1. K larger than the training set = one update per epoch over every training bag, which is what
#     --bags_per_step with as many bags computes: mhim_pure gives the same weights (1e-6: the sums run in another
#     order); --model=mhim agrees within 1e-3 (the bags visit in another order, and each forward moves the global
#     queries G, so Adam's first steps differ by up to 2·lr on near-zero gradients; one update per bag would move
#     the weights by ~50·lr). K = 1 differs (it must).
#  2. The number of optimiser updates: ceil(n_train / K) per epoch, read from the Adam step count of ckp.h5 (the
#     teacher EMA runs with each Adam step, in engine_step_apply).
#  3. A run stopped by SIGTERM mid-epoch stops at a group boundary (a checkpoint never holds half a group) and
#     its resume ends byte-identical to the uninterrupted run.
#  4. Accumulation with several bags per step is refused.
set -u
bin=${MHIM_BIN:?MHIM_BIN not set}
tmp=${MHIM_TEST_TMP:-/tmp}/train_v2_accum
rm -rf "$tmp" && mkdir -p "$tmp/out"
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
export OMP_WAIT_POLICY=passive
command -v h5diff >/dev/null && command -v h5dump >/dev/null || { echo "skip: h5diff/h5dump not found"; exit 77; }

"$bin" synth --out "$tmp/coh" --n_slides 24 --mean_instances 30 --min_instances 10 --max_instances 50 \
    --feature_dim 32 --seed 3 >/dev/null 2>&1 || { echo "FAIL synth"; exit 1; }
common=(train --mhim_version 2 --dataset_root "$tmp/coh" --output_path "$tmp/out" --project p --num_epoch 3
    --cv_fold 3 --threads 1 --quiet --num_bootstrap 10 --baseline attn --log_level warn)
v2=(--attn2score --merge_enable --merge_mm=0.9999 --aux_alpha=0.5 --mask_ratio_h=0.03 --merge_ratio=0.8 --merge_k=5)
run() { local title=$1; shift; "$bin" "${common[@]}" --title "$title" "$@" >/dev/null 2>"$tmp/err" ||
    { bad "run $title"; cat "$tmp/err"; }; }

# same_weights WHAT A B TOL: every tensor of /model and /teacher of the fold files within TOL
same_weights() {
    local what=$1 a=$2 b=$3 tol=$4 k g out diff=""
    for k in 0 1 2; do
        for g in model teacher; do
            h5dump -g "/$g" "$a/fold_${k}_model_best.h5" >/dev/null 2>&1 || continue
            out=$(h5diff -d "$tol" "$a/fold_${k}_model_best.h5" "$b/fold_${k}_model_best.h5" "/$g" "/$g" 2>&1) ||
                diff="$diff fold$k/$g"
        done
    done
    [ -z "$diff" ] && ok "$what (within $tol)" || bad "$what: differ in$diff"
}

# 1. one update per epoch over all 16 training bags: accumulation vs bags per step
run pure_bps --model mhim_pure --bags_per_step 32
run pure_acc --model mhim_pure --accumulation_steps 32
run pure_one --model mhim_pure
same_weights "mhim_pure: --accumulation_steps 32 == --bags_per_step 32" "$tmp/out/p/pure_bps" "$tmp/out/p/pure_acc" 1e-6
run mhim_bps --model mhim --teacher_init "$tmp/out/p/pure_one" "${v2[@]}" --bags_per_step 32
run mhim_acc --model mhim --teacher_init "$tmp/out/p/pure_one" "${v2[@]}" --accumulation_steps 32
same_weights "mhim: --accumulation_steps 32 == --bags_per_step 32 (student and teacher EMA)" \
    "$tmp/out/p/mhim_bps" "$tmp/out/p/mhim_acc" 1e-3
if h5diff -q "$tmp/out/p/pure_one/fold_0_model_best.h5" "$tmp/out/p/pure_acc/fold_0_model_best.h5" /model /model \
    >/dev/null 2>&1; then
    bad "--accumulation_steps 32 trained the same weights as one bag per update"
else
    ok "--accumulation_steps 32 differs from one bag per update (as it must)"
fi

# 2. updates per epoch = ceil(n_train / K): the Adam step count of the last fold after 3 epochs
run mhim_k5 --model mhim --teacher_init "$tmp/out/p/pure_one" "${v2[@]}" --accumulation_steps 5
ntrain=$(grep -o '\[fold 2\] [0-9]* train' "$tmp/out/p/mhim_k5/train.log" | grep -o '[0-9]* train' | cut -d' ' -f1)
steps=$(h5dump -a /adam_step "$tmp/out/p/mhim_k5/ckp.h5" 2>/dev/null | grep -A1 'DATA {' | tail -1 | grep -o '[0-9]*$')
want=$((3 * ((ntrain + 4) / 5)))
echo "fold 2: $ntrain training bags, K = 5, 3 epochs: $steps Adam steps (want $want)"
[ -n "$steps" ] && [ "$steps" = "$want" ] && ok "one optimiser update per group of 5 (last group partial)" ||
    bad "Adam steps $steps (want $want)"

# 3. SIGTERM mid-epoch with K = 3, resume: identical to the uninterrupted run
"$bin" synth --out "$tmp/big" --n_slides 16 --mean_instances 300 --min_instances 100 --max_instances 600 \
    --feature_dim 64 --seed 5 >/dev/null 2>&1 || { echo "FAIL synth big"; exit 1; }
args=(train --mhim_version 2 --dataset_root "$tmp/big" --output_path "$tmp/out" --project r --title run --baseline attn
    --model mhim "${v2[@]}" --num_epoch 6 --cv_fold 2 --threads 1
    --quiet --resume --num_bootstrap 10 --accumulation_steps 3 --log_level warn)
r=$tmp/out/r/run
"$bin" "${args[@]}" >/dev/null 2>"$tmp/err" || { bad "reference run"; cat "$tmp/err"; }
mv "$r" "$tmp/ref"
"$bin" "${args[@]}" >/dev/null 2>"$tmp/err" &
pid=$!
while kill -0 $pid 2>/dev/null && [ "$(grep -c '' "$r/metrics.jsonl" 2>/dev/null || echo 0)" -lt 3 ]; do sleep 0.01; done
sleep 0.05 # land inside the next epoch's groups
kill -TERM $pid 2>/dev/null
wait $pid
where=$(grep -o "written at fold [0-9]* epoch [0-9]* iteration [0-9]*" "$r/train.log")
echo "stopped: $where (iteration = optimiser update of the epoch)"
[ -n "$where" ] && ok "SIGTERM: checkpoint at a group boundary" || bad "SIGTERM: no checkpoint line in train.log"
"$bin" "${args[@]}" >/dev/null 2>"$tmp/err" || { bad "resume"; cat "$tmp/err"; }
diff=""
for f in fold_0_model_best.h5 fold_1_model_best.h5 fold_0_ema_model_best.h5 fold_1_ema_model_best.h5 ckp.h5; do
    h5diff -q "$tmp/ref/$f" "$r/$f" >/dev/null 2>&1 || diff="$diff $f"
done
cmp -s "$tmp/ref/results.csv" "$r/results.csv" || diff="$diff results.csv"
[ -z "$diff" ] && ok "resume after SIGTERM: checkpoints and results.csv identical" || bad "resume differs:$diff"

# 4. accumulation together with several bags per step is refused
"$bin" "${common[@]}" --title bad --model mhim_pure --accumulation_steps 2 --bags_per_step 2 >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "accumulation_steps" "$tmp/err" && ok "--accumulation_steps with --bags_per_step refused" ||
    { bad "accumulation + bags_per_step: rc=$rc"; cat "$tmp/err"; }
exit $fail
