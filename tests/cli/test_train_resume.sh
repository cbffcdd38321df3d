#!/usr/bin/env bash
# `mhim train --auto_resume`: a run killed with SIGKILL mid-way, then resumed, ends with results.csv, the per-fold
# best checkpoints and ckp.h5 byte-identical to an uninterrupted run; SIGTERM (and SIGUSR1) write ckp.h5 and exit 0,
# and the resumed run is again byte-identical. A second run into the folder of a live one is refused (run lock),
# and the lock of a SIGKILLed run does not block its resume.
set -u
bin=${MHIM_BIN:?MHIM_BIN not set}
tmp=${MHIM_TEST_TMP:-/tmp}/train_resume_cli
rm -rf "$tmp" && mkdir -p "$tmp/models"
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
export OMP_WAIT_POLICY=passive

"$bin" synth --out "$tmp/coh" --n_slides 16 --mean_instances 300 --min_instances 100 --max_instances 600 \
    --feature_dim 64 --seed 5 >/dev/null 2>&1 || { echo "FAIL synth"; exit 1; }
args=(train --dataset_root "$tmp/coh" --model_path "$tmp/models" --project p --title run --baseline attn
      --num_epoch 8 --cv_fold 2 --threads 1 --quiet --auto_resume --cl_alpha 0.1 --mask_ratio 0.5
      --mask_ratio_h 0.05 --mask_ratio_hr 0.5 --mrh_sche --mm_sche --log_level warn)
run=$tmp/models/p/run
files=(results.csv fold_0_model_best_auc.h5 fold_1_model_best_auc.h5 ckp.h5)

"$bin" "${args[@]}" >/dev/null 2>"$tmp/err" || { bad "reference run"; cat "$tmp/err"; exit 1; }
mv "$run" "$tmp/ref"

same_as_ref() {
    local what=$1 f diff=""
    for f in "${files[@]}"; do
        if [[ $f == *.h5 ]] && command -v h5diff >/dev/null; then
            h5diff -q "$tmp/ref/$f" "$run/$f" >/dev/null 2>&1 || diff="$diff $f"
        else
            cmp -s "$tmp/ref/$f" "$run/$f" || diff="$diff $f"
        fi
    done
    if [ -z "$diff" ]; then ok "$what: ${files[*]} identical"; else bad "$what: differ:$diff"; fi
    local a b
    a=$(sed 's/,"epoch_seconds".*//' "$tmp/ref/metrics.jsonl" | md5sum)
    b=$(sed 's/,"epoch_seconds".*//' "$run/metrics.jsonl" | md5sum)
    [ "$a" = "$b" ] && ok "$what: metrics.jsonl equal (timing fields aside)" || bad "$what: metrics.jsonl differ"
}

# wait_lines N PID: until metrics.jsonl has N lines (0 if the run ended first)
wait_lines() {
    local n=$1 pid=$2
    while kill -0 "$pid" 2>/dev/null; do
        [ "$(grep -c '' "$run/metrics.jsonl" 2>/dev/null || echo 0)" -ge "$n" ] && return 0
        sleep 0.01
    done
    return 1
}

# SIGKILL in fold 1, resume
"$bin" "${args[@]}" >/dev/null 2>"$tmp/err" &
pid=$!
if wait_lines 11 $pid; then
    "$bin" "${args[@]}" >/dev/null 2>"$tmp/err2"; rc=$? # a second run into the same folder while the first lives
    [ $rc -eq 2 ] && grep -q "ckp.h5.lock: another mhim process (pid $pid) is training into this run folder" "$tmp/err2" &&
        ok "a second run on the live run's folder is refused: $(tail -1 "$tmp/err2")" ||
        { bad "second concurrent run: rc=$rc (want 2 and the lock message)"; cat "$tmp/err2"; }
    kill -9 $pid; wait $pid 2>/dev/null
    done_lines=$(grep -c '' "$run/metrics.jsonl")
    echo "killed with SIGKILL after $done_lines epoch lines"
    grep -q '^mean' "$run/results.csv" 2>/dev/null && bad "killed run already finished" || ok "SIGKILL mid-run"
    "$bin" "${args[@]}" >/dev/null 2>"$tmp/err" || { bad "resume after SIGKILL"; cat "$tmp/err"; }
    same_as_ref "SIGKILL + resume"
else
    bad "the run ended before it could be killed"
fi

# SIGTERM / SIGUSR1: checkpoint and exit 0, then resume
for sig in TERM USR1; do
    rm -rf "$run"
    "$bin" "${args[@]}" >/dev/null 2>"$tmp/err" &
    pid=$!
    if wait_lines 3 $pid; then
        sleep 0.03 # land inside the next epoch's bags
        kill -$sig $pid; wait $pid; rc=$?
        grep -o "written at fold [0-9]* epoch [0-9]* iteration [0-9]*" "$run/train.log"
        [ $rc -eq 0 ] && grep -q "stop requested" "$run/train.log" && ok "SIG$sig: exit 0 with checkpoint" ||
            bad "SIG$sig: rc=$rc (want 0 and 'stop requested' in train.log)"
        "$bin" "${args[@]}" >/dev/null 2>"$tmp/err" || { bad "resume after SIG$sig"; cat "$tmp/err"; }
        same_as_ref "SIG$sig + resume"
    else
        bad "the run ended before SIG$sig"
    fi
done
exit $fail
