#!/usr/bin/env bash
# Kill and --resume of an MPI sweep: the job is killed (SIGKILL to the launcher and every rank) after a few
# units wrote their checkpoints; the same command with --resume skips the finished units, resumes the others, and
# ends with every point's results.csv and sweep_results.csv identical to an uninterrupted run.
name=resume
source "$(dirname "$0")/mpi_common.sh"
make_cohort "$tmp/coh"
cat >"$tmp/sweep.yaml" <<'YAML'
baseline: attn
sweep:
  mask_ratio_h: [0.01, 0.05]
  lr: [2e-4, 1e-3]
YAML
args=(train -c "$tmp/sweep.yaml" --dataset_root "$tmp/coh" --model_path "$tmp/models" --project p --num_epoch 10
      --cv_fold 2 --threads 1 --quiet --cl_alpha 0.1 --log_level error --resume)
m=$tmp/models/p
mpi 2 "${args[@]}" --title ref >"$tmp/ref.out" 2>&1 || { bad "reference run"; cat "$tmp/ref.out"; exit 1; }
setsid mpirun -n 2 --bind-to none "$bin" "${args[@]}" --title run >"$tmp/killed.out" 2>&1 &
pid=$!
n=0
for _ in $(seq 1 1500); do
    n=$(ls "$m"/run/*/ckp_fold_*.h5 2>/dev/null | wc -l)
    [ "$n" -ge 2 ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.02
done
kill_session $pid
wait $pid 2>/dev/null
echo "killed with $n unit checkpoints written"
[ -f "$m/run/sweep_results.csv" ] && bad "the killed run had already finished (make it longer)" || ok "killed mid-sweep"
mpi 2 "${args[@]}" --title run >"$tmp/resumed.out" 2>&1 || { bad "resumed run"; cat "$tmp/resumed.out"; exit 1; }
same_file "sweep_results.csv after kill + --resume" "$m/ref/sweep_results.csv" "$m/run/sweep_results.csv"
for d in "$m"/ref/*/; do
    p=$(basename "$d")
    same_file "$p/results.csv" "$d/results.csv" "$m/run/$p/results.csv"
done
exit $fail
