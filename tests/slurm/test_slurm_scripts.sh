#!/usr/bin/env bash
# The batch scripts of slurm/ on a real single-host Slurm (slurmctld, two slurmd virtual nodes n1/n2, munged; see
# slurm_cluster.sh), each submitted with sbatch (its end polled with scontrol) on a tiny synthetic cohort, against
# runs of mhim outside Slurm:
#   train_folds.sbatch          3 ranks x --cv_fold 3: results.csv identical to the single-process run
#   sweep_array.sbatch          6-point grid as a 6-task array: sweep_results.csv identical to the one-process sweep
#   sweep_mpi.sbatch            the same grid, 3 ranks over both nodes: the same sweep_results.csv
#   train_ddp_multinode.sbatch  2 nodes x 2 fake GPUs (gres), CPU build: one rank per GPU bound by SLURM_LOCALID,
#                               weights equal to one process with --bags_per_step 4 (float tolerance)
#   chain.sh                    2 links; USR1 to the first link's batch shell (as --signal=B:USR1@120 does) stops
#                               it with a checkpoint, the second link resumes: results.csv identical to an
#                               uninterrupted run
# plus the refusals (an array script without --array, more ranks per node than GPUs). Skips (77) without Slurm.
set -u
bin=${MHIM_BIN:?MHIM_BIN not set}
src=${MHIM_SOURCE_DIR:?MHIM_SOURCE_DIR not set}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/slurm_cluster.sh"
cluster_require
command -v h5diff >/dev/null || { echo "SKIP: h5diff not found"; exit 77; }
[ "${MHIM_WITH_MPI:-1}" = 1 ] || { echo "SKIP: this mhim was built with -DMHIM_USE_MPI=OFF"; exit 77; }
tmp=${MHIM_TEST_TMP:-/tmp}/slurm_scripts
rm -rf "$tmp" && mkdir -p "$tmp/work" "$tmp/runs" "$tmp/ref"
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
same_file() {
    if cmp -s "$2" "$3"; then ok "$1: identical"; else bad "$1: $2 and $3 differ"; diff "$2" "$3" | head -5; fi
}

cluster_start "$tmp/cluster"

"$bin" synth --out "$tmp/coh" --n_slides 18 --mean_instances 60 --min_instances 20 --max_instances 120 \
    --feature_dim 32 --seed 3 >/dev/null 2>&1 || { echo "FAIL synth"; exit 1; }
cat >"$tmp/sweep.yaml" <<'YAML'
baseline: attn
sweep:
  mask_ratio_h: [0.01, 0.03, 0.05]
  lr: [2e-4, 1e-3]
YAML
common="--baseline attn --quiet --cl_alpha 0.1 --log_level error"
# what the jobs inherit (sbatch exports the environment): the site variables of slurm/README.md
export MHIM_BIN=$bin MHIM_DATA=$tmp/coh MHIM_RUNS=$tmp/runs MHIM_PROJECT=p
export OMP_WAIT_POLICY=passive
export OMPI_MCA_btl=self,tcp # ranks on two virtual nodes of one host: shared-memory transport breaks across them
# ... and over the loopback interface only: all "nodes" are this host, and connections to its other address (the
# sandbox's eth0) failed now and then under load ("failed to TCP connect to a peer", then a rank crashed in Open MPI)
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
# sanitizer builds: Open MPI's own allocations are suppressed as in the MPI tests
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$src/tests/mpi/lsan_mpi.supp"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
submitted=()
submit() { # submit NAME SBATCH-ARGS...: sbatch from the work folder; the job id in $tmp/NAME.sbatch
    local name=$1
    shift
    if (cd "$tmp/work" && sbatch --parsable --job-name="$name" --output="$tmp/$name-%j.out" "$@") >"$tmp/$name.sbatch" 2>&1
    then
        submitted+=("$name")
    else
        echo "sbatch refused: $(cat "$tmp/$name.sbatch")" >"$tmp/$name.rc"
    fi
}
# job_state ID: "active" while any task of job ID (an array: every task) is pending or running, else its exit status
# as `sbatch --wait` gives it: the largest task exit code, 1 where a task ended otherwise (cancelled, timed out, ...)
job_state() {
    scontrol -o show job "$1" 2>/dev/null | awk 'BEGIN { rc = 0 }
        /JobState=(PENDING|RUNNING|COMPLETING|CONFIGURING|SUSPENDED|REQUEUED)/ { active = 1 }
        { match($0, / ExitCode=[0-9]+/); c = substr($0, RSTART + 10, RLENGTH - 10) + 0
          if ($0 !~ /JobState=COMPLETED/ && c == 0) c = 1
          if (c > rc) rc = c; n++ }
        END { print active ? "active" : (n ? rc : "unknown") }'
}
# wait_submitted SECONDS: polls the submitted jobs every 0.25 s (sbatch --wait polls at 2, 8, 32 s) until each has
# ended, writing its status to $tmp/NAME.rc; "timeout" for jobs still active after SECONDS
wait_submitted() {
    local deadline=$((SECONDS + $1)) pending=("${submitted[@]}") left name state
    while :; do
        left=()
        for name in "${pending[@]}"; do
            state=$(job_state "$(cut -d';' -f1 "$tmp/$name.sbatch")")
            if [ "$state" = active ]; then left+=("$name"); else echo "$state" >"$tmp/$name.rc"; fi
        done
        pending=("${left[@]}")
        ((${#pending[@]})) || return 0
        if ((SECONDS >= deadline)); then
            for name in "${pending[@]}"; do echo timeout >"$tmp/$name.rc"; done
            return 0
        fi
        sleep 0.25
    done
}
job_rc() { cat "$tmp/$1.rc" 2>/dev/null || echo missing; }

echo "--- submitting the four scripts and two refusals (concurrently)"
MHIM_ARGS="$common --num_epoch 2" submit folds --ntasks=3 --cpus-per-task=1 "$src/slurm/train_folds.sbatch"
MHIM_ARGS="$common --num_epoch 1 --cv_fold 2" MHIM_CONFIG=$tmp/sweep.yaml \
    submit sweeparr --array=0-5 --cpus-per-task=1 "$src/slurm/sweep_array.sbatch"
MHIM_ARGS="$common --num_epoch 1 --cv_fold 2" MHIM_CONFIG=$tmp/sweep.yaml \
    submit sweepmpi --ntasks=3 --nodes=2 --cpus-per-task=1 "$src/slurm/sweep_mpi.sbatch"
MHIM_ARGS="$common --num_epoch 2 --cv_fold 2" submit ddp --partition=gpu --nodes=2 --ntasks-per-node=2 \
    --gres=gpu:2 --cpus-per-task=1 "$src/slurm/train_ddp_multinode.sbatch"
submit noarray --cpus-per-task=1 "$src/slurm/sweep_array.sbatch"
submit toomany --partition=gpu --nodes=1 --ntasks-per-node=3 --gres=gpu:2 --cpus-per-task=1 \
    "$src/slurm/train_ddp_multinode.sbatch"

echo "--- reference runs outside Slurm (t=${SECONDS}s)"
ref() { local t=$1; shift; "$bin" train --dataset_root "$tmp/coh" --model_path "$tmp/ref" --project p --title "$t" \
    --threads 1 $common "$@" >"$tmp/ref-$t.out" 2>&1 || { bad "reference run $t"; cat "$tmp/ref-$t.out"; }; }
ref folds --num_epoch 2 --cv_fold 3
ref sweep --num_epoch 1 --cv_fold 2 -c "$tmp/sweep.yaml"
ref ddp --num_epoch 2 --cv_fold 2 --bags_per_step 4
wait_submitted 240
echo "--- job outputs (t=${SECONDS}s)"
for f in "$tmp"/*.sbatch "$tmp"/*-*.out; do echo "== $(basename "$f")"; cat "$f"; done
r=$tmp/runs/p

[ "$(job_rc folds)" = 0 ] && ok "train_folds.sbatch exit 0" || bad "train_folds.sbatch exit $(job_rc folds)"
echo "--- train_folds results.csv"; cat "$r/folds/results.csv" 2>/dev/null
same_file "train_folds: results.csv, 3 ranks vs 1 process" "$tmp/ref/p/folds/results.csv" "$r/folds/results.csv"

[ "$(job_rc sweeparr)" = 0 ] && ok "sweep_array.sbatch exit 0 (6 tasks)" || bad "sweep_array.sbatch exit $(job_rc sweeparr)"
[ "$(ls -d "$r"/sweeparr/*=*/ 2>/dev/null | wc -l)" -eq 6 ] && ok "sweep_array: 6 point folders" || bad "sweep_array: point folders"
echo "--- sweep_results.csv (job array)"; cat "$r/sweeparr/sweep_results.csv" 2>/dev/null
same_file "sweep_array: sweep_results.csv vs one-process sweep" "$tmp/ref/p/sweep/sweep_results.csv" \
    "$r/sweeparr/sweep_results.csv"

[ "$(job_rc sweepmpi)" = 0 ] && ok "sweep_mpi.sbatch exit 0" || bad "sweep_mpi.sbatch exit $(job_rc sweepmpi)"
same_file "sweep_mpi: sweep_results.csv (3 ranks on n1+n2) vs one-process sweep" "$tmp/ref/p/sweep/sweep_results.csv" \
    "$r/sweepmpi/sweep_results.csv"

[ "$(job_rc ddp)" = 0 ] && ok "train_ddp_multinode.sbatch exit 0" || bad "train_ddp_multinode.sbatch exit $(job_rc ddp)"
binds=$(grep -h "mhim-slurm: rank" "$tmp"/ddp-*.out | sed 's/.*mhim-slurm: //' | sort)
echo "--- GPU binding per rank"; echo "$binds"
expected=$(printf '%s\n' "rank 0 node n1 local 0 gpu 0" "rank 1 node n1 local 1 gpu 1" "rank 2 node n2 local 0 gpu 0" \
    "rank 3 node n2 local 1 gpu 1")
[ "$binds" = "$expected" ] && ok "ddp: one rank per fake GPU, device = SLURM_LOCALID on each node" ||
    bad "ddp: GPU binding differs from: $expected"
for k in 0 1; do
    for g in model teacher; do
        out=$(h5diff -d 1e-5 "$tmp/ref/p/ddp/fold_${k}_model_best_auc.h5" "$r/ddp/fold_${k}_model_best_auc.h5" "/$g" "/$g" 2>&1) &&
            ok "ddp: fold $k /$g equal to --bags_per_step 4 within 1e-5" ||
            bad "ddp: fold $k /$g differs from --bags_per_step 4: $(echo "$out" | tail -1)"
    done
done

[ "$(job_rc noarray)" = 2 ] && grep -q "not a job array: submit with --array" "$tmp"/noarray-*.out &&
    ok "sweep_array.sbatch without --array refused (exit 2)" || bad "sweep_array without --array: exit $(job_rc noarray)"
[ "$(job_rc toomany)" != 0 ] && grep -q "node-local rank 2 but n[12] has only 2 GPUs" "$tmp"/toomany-*.out &&
    ok "3 ranks on a 2-GPU node refused with a message" || bad "3 ranks on 2 GPUs: exit $(job_rc toomany)"

echo "--- chain.sh: 2 links of train_folds.sbatch, USR1 to the first link's batch shell (t=${SECONDS}s)"
# 300 epochs (~4 s per fold on one core): the first link must still be training when USR1 reaches it through
# slurmctld, slurmd and the batch shell (with 80, a loaded machine once delivered it after the link had finished)
ref chain --num_epoch 300 --cv_fold 2 &
ref_chain=$!
chain_ids=$(cd "$tmp/work" && MHIM_ARGS="$common --num_epoch 300" "$src/slurm/chain.sh" -n 2 \
    "$src/slurm/train_folds.sbatch" --job-name=chain --ntasks=2 --cpus-per-task=1 --output="$tmp/chain-%j.out" 2>"$tmp/chain.err")
echo "chain.sh: $chain_ids $(cat "$tmp/chain.err")"
first=$(echo "$chain_ids" | head -1)
last=$(echo "$chain_ids" | tail -1)
[ "$(echo "$chain_ids" | wc -l)" -eq 2 ] && [ "$first" != "$last" ] || { bad "chain.sh printed no 2 job ids"; exit 1; }
# wait until the first link trains (an epoch line in a fold's metrics), then signal its batch shell only
for ((i = 0; i < 300; i++)); do
    [ -s "$r/chain/metrics_fold_0.jsonl" ] && break
    sleep 0.1
done
scancel --batch --signal=USR1 "$first" && ok "USR1 sent to the batch shell of job $first" || bad "scancel --batch"
# the chain ends with its last link (scontrol every 0.25 s: sbatch --wait would poll at 2, 8, 32 s)
for ((i = 0; i < 960; i++)); do
    scontrol -o show job "$last" | grep -qE 'JobState=(PENDING|RUNNING|COMPLETING|CONFIGURING)' || break
    sleep 0.25
done
for j in $first $last; do
    echo "== job $j: $(scontrol -o show job "$j" | grep -o 'JobState=[A-Z]* .*ExitCode=[0-9:]*' | sed 's/ Reason.*ExitCode/ ExitCode/')"
    cat "$tmp/chain-$j.out"
    scontrol -o show job "$j" | grep -q 'JobState=COMPLETED.*ExitCode=0:0' && ok "chain link $j completed, exit 0" ||
        bad "chain link $j did not complete with exit 0"
done
grep -q "USR1 received: forwarding it to the step" "$tmp/chain-$first.out" && ok "first link forwarded USR1 to the step" ||
    bad "first link: no forwarding"
grep -q "not every fold finished (stopped)" "$tmp/chain-$first.out" && ok "first link stopped with a checkpoint" ||
    bad "first link finished before the signal (nothing to resume)"
wait "$ref_chain"
grep -q "resuming from" "$r/chain/train.log" && ok "second link resumed from the checkpoint" || bad "no resume in train.log"
same_file "chain: results.csv vs an uninterrupted run" "$tmp/ref/p/chain/results.csv" "$r/chain/results.csv"
echo "--- done (t=${SECONDS}s)"
exit $fail
